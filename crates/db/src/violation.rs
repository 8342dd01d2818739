//! [`Violation`]: what a violated constraint means, so services can answer it without
//! knowing constraint names.
//!
//! The names matched below are the ones declared in `database/migrations`, and this is the
//! only place outside the migrations that spells them. `tests/violations.rs` provokes every
//! one against a migrated database, so renaming a constraint in a migration fails a test
//! here instead of silently turning a service's 409 or 422 into a 500.

/// A constraint violation that is the caller's doing (a duplicate, an out-of-range value, a
/// reference to nothing) rather than a bug. Services check most of these rules before they
/// write; the constraint is the backstop, and the answer the loser of a race gets.
///
/// Only the violations some service answers are listed; any other constraint is a bug in
/// the query or its caller, and [`Violation::of`] returns `None` for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// Another account has this email, compared case-insensitively.
    EmailTaken,
    /// Another account has this username, compared case-insensitively.
    UsernameTaken,
    /// This GitHub account is already linked to another DevMentor account.
    GithubAccountLinked,

    /// The owner already has a live project with this slug.
    ProjectSlugTaken,
    /// A project name that is blank or too long.
    InvalidProjectName,
    /// A project slug that is not lower-case words joined by single hyphens, or too long.
    InvalidProjectSlug,

    /// An epic title that is blank or too long.
    InvalidEpicTitle,
    /// An epic whose target date is before its start date.
    EpicTargetBeforeStart,
    /// An epic or task position that is infinite or NaN, which would break ordering.
    NonFinitePosition,

    /// A task title that is blank or too long.
    InvalidTaskTitle,
    /// A task estimate below zero.
    NegativeEstimate,
    /// A task's epic does not exist in the task's project.
    UnknownEpic,
    /// A task's assignee is not an account.
    UnknownAssignee,
    /// A task with `completed_at` set whose status is neither done nor cancelled.
    CompletedTaskStillOpen,

    /// A file path that is absolute, has `.`/`..`/empty segments, backslashes or control
    /// characters, or is too long.
    InvalidFilePath,
    /// A file media type that is not `type/subtype[; parameters]`.
    InvalidFileMimeType,
    /// A file over the platform's size limit.
    FileTooLarge,
    /// Another upload of the same path took this version (or became the latest) first.
    FileVersionTaken,

    /// The owner already has a document from this source with this external id; another
    /// ingest of it is under way.
    DocumentExternalIdTaken,
}

impl Violation {
    /// What `error` means, if it is a constraint violation a service answers; `None` for
    /// any other error, including violations of constraints not listed here.
    pub fn of(error: &sqlx::Error) -> Option<Self> {
        let constraint = error.as_database_error()?.constraint()?;
        // Pairs exist where the migrations back a guide's exact-case key with a
        // case-insensitive unique index, or guard one rule with two keys: either may fire.
        let violation = match constraint {
            "users_email_key" | "users_email_lower_key" => Self::EmailTaken,
            "users_username_key" | "users_username_lower_key" => Self::UsernameTaken,
            "users_github_id_key" => Self::GithubAccountLinked,

            "projects_owner_id_slug_key" => Self::ProjectSlugTaken,
            "projects_name_check" => Self::InvalidProjectName,
            "projects_slug_check" => Self::InvalidProjectSlug,

            "epics_title_check" => Self::InvalidEpicTitle,
            "epics_target_date_check" => Self::EpicTargetBeforeStart,
            "epics_position_check" | "tasks_position_check" => Self::NonFinitePosition,

            "tasks_title_check" => Self::InvalidTaskTitle,
            "tasks_estimate_check" => Self::NegativeEstimate,
            "tasks_epic_id_fkey" => Self::UnknownEpic,
            "tasks_assignee_id_fkey" => Self::UnknownAssignee,
            "tasks_completed_at_check" => Self::CompletedTaskStillOpen,

            "project_files_path_check" => Self::InvalidFilePath,
            "project_files_mime_type_check" => Self::InvalidFileMimeType,
            "project_files_size_bytes_check" => Self::FileTooLarge,
            "project_files_project_id_path_version_key"
            | "project_files_project_id_path_latest_key" => Self::FileVersionTaken,

            "documents_owner_source_external_id_key" => Self::DocumentExternalIdTaken,
            _ => return None,
        };
        Some(violation)
    }
}
