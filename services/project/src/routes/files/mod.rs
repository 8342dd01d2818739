//! `/api/projects/{project_id}/files`: versioned files. Every upload of a path adds a
//! version: the raw request body (`PUT .../files/{path}`) or a form's file part
//! (`POST .../files`), at most 10 MiB either way. Downloads resume (`Range`) and revalidate
//! (`If-None-Match`); a restore makes an old version the latest again.

mod download;
mod file_path;
mod restore;
mod upload;

use std::time::Duration;

use authn::AuthUser;
use axum::{
    Router,
    extract::{DefaultBodyLimit, State},
    handler::Handler,
    http::{HeaderValue, StatusCode},
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use db::{
    ids::ProjectId,
    projects::{FileKeyset, FileVersion},
};
use platform::{
    extract::{Json, Path, Query},
    http::allow_while_receiving,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use self::file_path::file_path;
use crate::error::documented::{AdminsMayNotChange, ProjectNotFound, Unauthenticated};
use crate::{
    access::{Change, readable},
    error::{ApiError, MEDIA_TYPE_RULE},
    pagination::{self, KeyedPageRequest, Page},
    state::AppState,
};

/// `upload_timeout` (`PROJECT_UPLOAD_TIMEOUT_SECS`) bounds an upload in all.
pub fn router(upload_timeout: Duration) -> Router<AppState> {
    // A 10 MiB upload over a slow uplink takes minutes, far beyond `REQUEST_TIMEOUT_SECS`
    // counted from arrival; counted from the last body bytes instead, it still cuts a
    // stalled upload as soon, however slow a steady one is.
    let receiving = allow_while_receiving(upload_timeout);
    Router::new()
        .route(
            "/api/projects/{project_id}/files",
            // The form's own limit replaces the platform's JSON-sized default for this route.
            get(list).post(
                upload::upload_form
                    .layer(DefaultBodyLimit::max(upload::FORM_LIMIT))
                    .layer(receiving),
            ),
        )
        .route(
            "/api/projects/{project_id}/files/{*path}",
            get(download::download)
                .put(upload::upload.layer(receiving))
                .delete(remove),
        )
        .route(
            "/api/projects/{project_id}/restore-file",
            post(restore::restore),
        )
}

/// Where a file lives, as the OpenAPI documents its path parameters (the handlers take
/// them as `Path<(ProjectId, String)>`).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct FileAt {
    /// Project id
    project_id: Uuid,
    /// Relative file path, e.g. `docs/readme.md`: segments separated by `/`, none empty,
    /// `.` or `..` nor ending in a dot or a space, no backslash, control character or
    /// invisible formatting character (bidi controls, zero-width space, ...; the zero-width
    /// joiners are allowed); at most 1024 characters and 2048 bytes of UTF-8. Paths are
    /// stored in Unicode NFC, and an NFD spelling names the same file; case is significant.
    #[param(
        pattern = "^(?:[^./\\\\\\x00-\\x1f\\x7f-\\x9f][^/\\\\\\x00-\\x1f\\x7f-\\x9f]*|\\.[^./\\\\\\x00-\\x1f\\x7f-\\x9f][^/\\\\\\x00-\\x1f\\x7f-\\x9f]*|\\.\\.[^/\\\\\\x00-\\x1f\\x7f-\\x9f]+)(?:/(?:[^./\\\\\\x00-\\x1f\\x7f-\\x9f][^/\\\\\\x00-\\x1f\\x7f-\\x9f]*|\\.[^./\\\\\\x00-\\x1f\\x7f-\\x9f][^/\\\\\\x00-\\x1f\\x7f-\\x9f]*|\\.\\.[^/\\\\\\x00-\\x1f\\x7f-\\x9f]+))*$",
        max_length = 1024
    )]
    path: String,
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list,
        upload::upload,
        upload::upload_form,
        download::download,
        restore::restore,
        remove
    ),
    components(schemas(FileView, restore::RestoreInput, upload::FileForm)),
    tags((name = "files", description = "Versioned files: raw-body or form upload (10 MiB), resumable downloads, restore"))
)]
pub struct Api;

const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";
/// The media type an upload declares (a request's or a form part's `Content-Type`), kept as
/// sent. Judged before the body is read, so a refused type costs no upload; the migration's
/// `project_files_mime_type_check` says the same and remains the backstop.
fn mime_type(declared: Option<&HeaderValue>) -> Result<String, ApiError> {
    let Some(value) = declared else {
        return Ok(DEFAULT_CONTENT_TYPE.to_owned());
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::validation("invalid_content_type", "Content-Type must be ASCII"))?;
    if !is_media_type(value) {
        return Err(ApiError::validation(
            "invalid_content_type",
            MEDIA_TYPE_RULE,
        ));
    }
    Ok(value.to_owned())
}

const MEDIA_TYPE_MAX: usize = 255;

/// The CHECK's rule: at most 255 characters, `type/subtype` of letters, digits and
/// `!#$&^_.+-` (each starting with a letter or digit), then nothing or `;` and parameters.
fn is_media_type(value: &str) -> bool {
    let token = |part: &str| {
        part.starts_with(|c: char| c.is_ascii_alphanumeric())
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
    };
    let essence = value.split(';').next().unwrap_or_default();
    value.chars().count() <= MEDIA_TYPE_MAX
        && essence
            .split_once('/')
            .is_some_and(|(kind, subtype)| token(kind) && token(subtype))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FileView {
    pub id: Uuid,
    #[schema(example = "docs/readme.md")]
    pub path: String,
    /// 1 for the first upload of this path, then 2, 3, ...
    pub version: i32,
    pub size_bytes: i64,
    /// Lower-case hex SHA-256 of the bytes; the download's `ETag` begins with it (then a
    /// digest of the Content-Type, since the same bytes may be uploaded under another type).
    pub sha256: String,
    pub mime_type: String,
    /// Who uploaded (or restored) this version.
    pub uploaded_by: Option<Uuid>,
    pub is_latest: bool,
    pub created_at: DateTime<Utc>,
}

impl From<FileVersion> for FileView {
    fn from(file: FileVersion) -> Self {
        Self {
            id: file.id.0,
            path: file.path,
            version: file.version,
            size_bytes: file.size_bytes,
            sha256: file.sha256,
            mime_type: file.mime_type,
            uploaded_by: file.uploaded_by.map(|id| id.0),
            is_latest: file.is_latest,
            created_at: file.created_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Lists every version of this path (newest first) instead of the latest of each file.
    #[param(
        pattern = "^(?:[^./\\\\\\x00-\\x1f\\x7f-\\x9f][^/\\\\\\x00-\\x1f\\x7f-\\x9f]*|\\.[^./\\\\\\x00-\\x1f\\x7f-\\x9f][^/\\\\\\x00-\\x1f\\x7f-\\x9f]*|\\.\\.[^/\\\\\\x00-\\x1f\\x7f-\\x9f]+)(?:/(?:[^./\\\\\\x00-\\x1f\\x7f-\\x9f][^/\\\\\\x00-\\x1f\\x7f-\\x9f]*|\\.[^./\\\\\\x00-\\x1f\\x7f-\\x9f][^/\\\\\\x00-\\x1f\\x7f-\\x9f]*|\\.\\.[^/\\\\\\x00-\\x1f\\x7f-\\x9f]+))*$",
        max_length = 1024
    )]
    pub path: Option<String>,
    /// 1..=100; 50 when only `cursor` is sent. Send `limit` or `cursor` to page: without
    /// either, every file comes as one page, as before this list paged.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page (of either list: the order is the same); any other
    /// is 400 `invalid_cursor`.
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/projects/{project_id}/files", tag = "files", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id"), ListQuery), responses((status = 200, description = "the latest version of every file by path, or every version of `path` newest first: a page when `limit` or `cursor` is sent, else all as one page", body = Page<FileView>), (status = 400, description = "invalid_query, invalid_limit, invalid_cursor", body = platform::openapi::ApiErrorBody), (status = 422, description = "invalid_file_path; invalid_text", body = platform::openapi::ApiErrorBody), ProjectNotFound, Unauthenticated))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Path(project_id): Path<ProjectId>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<FileView>>, ApiError> {
    readable(&state.pool, &user, project_id).await?;
    let path = query.path.as_deref().map(file_path).transpose()?;
    let pool = &state.pool;
    if query.limit.is_none() && query.cursor.is_none() {
        // Clients from before this list paged read one page and stop: they get every file.
        let files = match &path {
            Some(path) => db::projects::files::versions(pool, project_id, path).await?,
            None => db::projects::files::list_latest(pool, project_id).await?,
        };
        return Ok(Json(Page::whole(files.into_iter().map(FileView::from))));
    }
    let cursor = query.cursor.as_deref();
    let page = KeyedPageRequest::parse(query.limit, cursor, pagination::decode_file_cursor)?;
    let after = page.after.as_ref();
    let rows =
        db::projects::files::page(pool, project_id, path.as_deref(), after, page.fetch_limit())
            .await?;
    let cursor = |file: &FileVersion| {
        pagination::file_cursor(&FileKeyset {
            path: file.path.clone(),
            version: file.version,
        })
    };
    Ok(Json(pagination::keyed_page(
        rows,
        &page,
        cursor,
        FileView::from,
    )))
}

#[utoipa::path(delete, path = "/api/projects/{project_id}/files/{path}", tag = "files", security(("bearer" = [])), params(FileAt), responses((status = 204, description = "every version removed, bytes included"), ProjectNotFound, AdminsMayNotChange, Unauthenticated))]
/// Deletes every version of the path: rows in the transaction, bytes after commit (only
/// bytes no other row still references).
pub async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Path((project_id, path)): Path<(ProjectId, String)>,
) -> Result<StatusCode, ApiError> {
    let path = file_path(&path)?;
    let mut change = Change::begin(&state.pool, &user, project_id).await?;
    let latest = db::projects::files::find(change.tx(), project_id, &path, None)
        .await?
        .ok_or(ApiError::NotFound("file"))?;
    let deleted = db::projects::files::delete_path(change.tx(), project_id, &path).await?;
    let details = json!({ "path": path, "versions_removed": deleted.versions });
    change.commit("file.deleted", latest.id.0, details).await?;
    for key in &deleted.unreferenced_keys {
        state.files.remove(key).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::is_media_type;

    #[test]
    fn media_types_follow_the_migrations_check() {
        for good in [
            "text/plain",
            "application/vnd.api+json",
            "text/plain; charset=utf-8",
            "text/plain;",
            "x-a/b.c",
        ] {
            assert!(is_media_type(good), "{good:?}");
        }
        let long = format!("text/{}", "a".repeat(251));
        for bad in [
            "",
            "text",
            "not a media type",
            "text/",
            "/plain",
            "text/plain ; charset=utf-8",
            "-text/plain",
            "text/plain/x",
            long.as_str(),
        ] {
            assert!(!is_media_type(bad), "{bad:?}");
        }
    }
}
