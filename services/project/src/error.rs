//! `ApiError`: every way a project request can fail, and the one place failures from below
//! (typed constraint violations from `db`, file storage errors) become HTTP answers. The
//! shared JSON shape and headers come from `platform::error::render`.

use crate::storage::{MAX_FILE_BYTES, WriteError};

platform::service_error! {
    /// Besides these, `Validation` (bad slug, unknown epic, ...), `BadRequest` (bad cursor,
    /// broken upload, ...), `Forbidden` (someone else's project that the caller may see but
    /// not change: admins reading), `Conflict` and `Internal`, as in every service
    /// (`platform::service_error!`).
    #[derive(Debug, thiserror::Error)]
    pub enum ApiError {
        /// Missing, deleted, or someone else's: the three are indistinguishable on purpose.
        #[error("{0} not found")]
        NotFound(&'static str) => (NOT_FOUND, "not_found"),
        #[error(
            "this {entity} was changed by someone else (now at version {current}): reload and retry"
        )]
        VersionConflict { entity: &'static str, current: i32 } => (CONFLICT, "version_conflict"),
        #[error("files are limited to {MAX_FILE_BYTES} bytes")]
        PayloadTooLarge => (PAYLOAD_TOO_LARGE, "payload_too_large"),
        /// 413 rather than 507: the request is what does not fit (the project's
        /// `PROJECT_STORAGE_QUOTA_BYTES`), not a server out of space; a smaller file may.
        #[error(
            "this project's files take {used} of its {limit} bytes of storage, too little room for {size} more: delete files to make room"
        )]
        StorageQuotaExceeded { used: u64, limit: u64, size: u64 } => (PAYLOAD_TOO_LARGE, "storage_quota_exceeded"),
        /// Adding members and transferring a project need a verified email: whoever
        /// registered an address they do not own must not leave members behind in projects
        /// the address's owner takes over with the account.
        #[error("verify your email address first: adding members and transferring projects need a verified email")]
        EmailUnverified => (FORBIDDEN, "email_unverified"),
        /// A token too weak for the action (`AuthUser::require_aal2`: 403 `step_up_required`).
        #[error(transparent)]
        Auth(#[from] authn::AuthError) => |error| (error.status(), error.code()),
    }
}

/// Maps constraint violations to what the caller did wrong and a pool that stayed exhausted
/// to 503 `busy`; anything else is our bug (500).
/// Most rules are also checked before the query; these are the backstop (and the race
/// loser's answer). The messages state the limits the migrations enforce.
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if matches!(error, sqlx::Error::PoolTimedOut) {
            return ApiError::DatabaseBusy(error.to_string());
        }
        use db::Violation as V;
        let Some(violation) = V::of(&error) else {
            return ApiError::internal(error);
        };
        let invalid = |code, message: &str| ApiError::validation(code, message);
        match violation {
            V::ProjectSlugTaken => ApiError::Conflict {
                code: "slug_taken",
                message: "you already have a project with this slug",
            },
            V::InvalidProjectName => invalid("invalid_name", "name must be 1 to 200 characters"),
            V::InvalidProjectSlug => invalid("invalid_slug", SLUG_RULE),
            V::InvalidEpicTitle => invalid("invalid_title", "title must be 1 to 200 characters"),
            V::InvalidTaskTitle => invalid("invalid_title", "title must be 1 to 500 characters"),
            V::EpicTargetBeforeStart => {
                invalid("invalid_dates", "target_date must not be before start_date")
            }
            V::NonFinitePosition => invalid("invalid_position", "position must be a finite number"),
            V::NegativeEstimate => invalid("invalid_estimate", "estimate must not be negative"),
            V::UnknownEpic => invalid("unknown_epic", "no such epic in this project"),
            V::UnknownAssignee => invalid("unknown_assignee", "no such user to assign"),
            V::CompletedTaskStillOpen => invalid(
                "invalid_status",
                "completed_at needs status done or cancelled",
            ),
            V::InvalidFilePath => invalid("invalid_file_path", FILE_PATH_RULE),
            V::InvalidFileMimeType => invalid("invalid_content_type", MEDIA_TYPE_RULE),
            V::FileTooLarge => ApiError::PayloadTooLarge,
            V::FileVersionTaken => ApiError::Conflict {
                code: "upload_conflict",
                message: "another upload of this path finished first: retry",
            },
            // Account and document violations: other services' tables, so a bug if seen here.
            _ => ApiError::internal(error),
        }
    }
}

/// What an explicit slug must look like: `validate::slug` checks it before SQL, the
/// migration's `projects_slug_check` after, and both answer with this.
pub const SLUG_RULE: &str = "slug must be lower-case letters and digits separated by single hyphens, at most 100 characters";

/// What an upload's Content-Type must look like: `routes::files` checks it before reading
/// the body, the migration's `project_files_mime_type_check` at INSERT, and both answer with
/// this.
pub const MEDIA_TYPE_RULE: &str = "Content-Type must be a media type such as text/plain";

/// What a file path must look like: `routes::files` checks it before SQL (in NFC, and with a
/// message of its own for look-alike names), the migration's path check after, and both
/// answer with this.
pub const FILE_PATH_RULE: &str = "file paths are relative, at most 1024 characters and 2048 bytes, without '.', '..' or empty segments, segments ending in a dot or space, backslashes, control or invisible formatting characters";

impl From<WriteError> for ApiError {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::TooLarge => ApiError::PayloadTooLarge,
            WriteError::Body(message) => ApiError::bad_request("upload_interrupted", message),
            WriteError::Io(error) => error.into(),
        }
    }
}

impl From<std::io::Error> for ApiError {
    fn from(error: std::io::Error) -> Self {
        ApiError::Internal(format!("file storage: {error}"))
    }
}

/// The failures many endpoints document alike in the OpenAPI spec, one type per answer, so a
/// handler's `#[utoipa::path(responses(...))]` names the ones it can give and each
/// description is written once (an answer particular to one endpoint stays with it).
pub mod documented {
    use platform::openapi::ApiErrorBody;
    pub use platform::openapi::Unauthenticated;
    use utoipa::IntoResponses;

    #[derive(IntoResponses)]
    #[response(
        status = 404,
        description = "not_found: no such project (or not yours)"
    )]
    pub struct ProjectNotFound(pub ApiErrorBody);

    #[derive(IntoResponses)]
    #[response(status = 403, description = "admins may not change others' projects")]
    pub struct AdminsMayNotChange(pub ApiErrorBody);

    #[derive(IntoResponses)]
    #[response(status = 409, description = "version_conflict")]
    pub struct VersionConflict(pub ApiErrorBody);

    #[derive(IntoResponses)]
    #[response(status = 422, description = "invalid input")]
    pub struct InvalidInput(pub ApiErrorBody);
}
