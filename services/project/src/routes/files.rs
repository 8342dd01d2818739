//! `/api/projects/{project_id}/files`: versioned files. Upload is the raw request body
//! (`PUT .../files/{path}`, `Content-Type` kept as the file's type, at most 10 MiB);
//! every upload of a path adds a version.

use authn::AuthUser;
use axum::{
    Router,
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{DateTime, Utc};
use db::{
    ids::{FileId, ProjectId},
    projects::{FileVersion, NewFileVersion},
};
use platform::{
    extract::{Json, Path, Query},
    pagination::Page,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::{
    access::{self, Change, caller, readable},
    error::{ApiError, FILE_PATH_RULE},
    metrics,
    state::AppState,
    storage::{FileStore, MAX_FILE_BYTES, StoredBlob, WriteError},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/projects/{project_id}/files", get(list))
        .route(
            "/api/projects/{project_id}/files/{*path}",
            get(download).put(upload).delete(remove),
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
    /// `.` or `..`, no backslash or control character.
    #[param(
        pattern = "^(?:[^./\\\\\\x00-\\x1f\\x7f-\\x9f][^/\\\\\\x00-\\x1f\\x7f-\\x9f]*|\\.[^./\\\\\\x00-\\x1f\\x7f-\\x9f][^/\\\\\\x00-\\x1f\\x7f-\\x9f]*|\\.\\.[^/\\\\\\x00-\\x1f\\x7f-\\x9f]+)(?:/(?:[^./\\\\\\x00-\\x1f\\x7f-\\x9f][^/\\\\\\x00-\\x1f\\x7f-\\x9f]*|\\.[^./\\\\\\x00-\\x1f\\x7f-\\x9f][^/\\\\\\x00-\\x1f\\x7f-\\x9f]*|\\.\\.[^/\\\\\\x00-\\x1f\\x7f-\\x9f]+))*$",
        max_length = 1024
    )]
    path: String,
}

#[derive(OpenApi)]
#[openapi(
    paths(list, upload, download, remove),
    components(schemas(FileView)),
    tags((name = "files", description = "Versioned files, raw-body upload (10 MiB)"))
)]
pub struct Api;

const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";
const FILE_PATH_MAX: usize = 1024;

/// A project file path: relative, canonical (no `.`, `..` or empty segments, so `a/./b` and
/// `a//b` cannot alias `a/b`), no backslashes or control characters. It only ever names a
/// row; the bytes live under a key [`FileStore`] makes.
fn file_path(value: &str) -> Result<String, ApiError> {
    let canonical = !value.is_empty()
        && value.chars().count() <= FILE_PATH_MAX
        && !value.contains('\\')
        && !value.chars().any(char::is_control)
        && value
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..");
    if !canonical {
        return Err(ApiError::validation("invalid_file_path", FILE_PATH_RULE));
    }
    Ok(value.to_owned())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FileView {
    pub id: Uuid,
    #[schema(example = "docs/readme.md")]
    pub path: String,
    /// 1 for the first upload of this path, then 2, 3, ...
    pub version: i32,
    pub size_bytes: i64,
    /// Lower-case hex SHA-256 of the bytes; also the download's `ETag`.
    pub sha256: String,
    pub mime_type: String,
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

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

#[utoipa::path(put, path = "/api/projects/{project_id}/files/{path}", tag = "files", security(("bearer" = [])), params(FileAt), request_body(content = Option<Vec<u8>>, content_type = "application/octet-stream", description = "The file (may be empty: a zero-byte file); its Content-Type is kept"), responses((status = 201, body = FileView), (status = 404, description = "not_found: no such project (or not yours)", body = platform::openapi::ApiErrorBody), (status = 403, description = "admins may not change others' projects", body = platform::openapi::ApiErrorBody), (status = 413, description = "payload_too_large: over 10 MiB", body = platform::openapi::ApiErrorBody), (status = 422, description = "invalid input", body = platform::openapi::ApiErrorBody), (status = 401, description = "missing, invalid or expired token", body = platform::openapi::ApiErrorBody)))]
/// Writes the bytes first (temp file, fsync, rename), then commits the row; if the database
/// refuses, the bytes are removed again. A crash in between leaves an unreferenced file,
/// never a row without bytes.
pub async fn upload(
    State(state): State<AppState>,
    user: AuthUser,
    Path((project_id, path)): Path<(ProjectId, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<FileView>), ApiError> {
    let path = file_path(&path)?;
    if declared_length(&headers).is_some_and(|length| length > MAX_FILE_BYTES) {
        metrics::upload_too_large();
        return Err(ApiError::PayloadTooLarge);
    }
    let mime_type = match headers.get(header::CONTENT_TYPE) {
        Some(value) => value.to_str().map_err(|_| {
            ApiError::validation("invalid_content_type", "Content-Type must be ASCII")
        })?,
        None => DEFAULT_CONTENT_TYPE,
    };
    // Checked before reading the body (unlocked: a slow upload must not hold the project).
    access::writable(&state.pool, &user, project_id).await?;

    let file_id = FileId::new();
    let storage_key = FileStore::storage_key(project_id, file_id);
    let blob = state
        .files
        .write(&storage_key, body)
        .await
        .inspect_err(|error| {
            if matches!(error, WriteError::TooLarge) {
                metrics::upload_too_large();
            }
        })?;
    // From here the bytes are on disk: committing their row, or removing them when that
    // fails, runs as its own task so a client that hangs up now cannot leave bytes without
    // a row (or, cancelled inside the commit, a row without bytes).
    let mime_type = mime_type.to_owned();
    let settle = tokio::spawn(async move {
        let row = NewFileVersion {
            id: file_id,
            project_id,
            path: &path,
            size_bytes: blob.size_bytes as i64,
            sha256: &blob.sha256,
            mime_type: &mime_type,
            storage_key: &storage_key,
            uploaded_by: caller(&user),
        };
        let outcome = commit_upload(&state, &user, &row, &blob).await;
        match outcome {
            Ok(_) => metrics::file_stored(blob.size_bytes),
            Err(_) => state.files.remove(&storage_key).await,
        }
        outcome
    });
    match settle.await {
        Ok(outcome) => Ok((StatusCode::CREATED, Json(outcome?.into()))),
        Err(error) => Err(ApiError::Internal(format!("upload task failed: {error}"))),
    }
}

async fn commit_upload(
    state: &AppState,
    user: &AuthUser,
    row: &NewFileVersion<'_>,
    blob: &StoredBlob,
) -> Result<FileVersion, ApiError> {
    // Again, locked: the project may have been deleted while the bytes streamed in.
    let mut change = Change::begin(&state.pool, user, row.project_id).await?;
    let file = db::projects::files::insert_version(change.tx(), row).await?;
    let details = json!({
        "path": file.path,
        "version": file.version,
        "size_bytes": blob.size_bytes,
        "sha256": blob.sha256,
    });
    change.commit("file.uploaded", file.id.0, details).await?;
    Ok(file)
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
}

#[utoipa::path(get, path = "/api/projects/{project_id}/files", tag = "files", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id"), ListQuery), responses((status = 200, description = "the latest version of every file, or every version of `path`, as one page", body = Page<FileView>), (status = 404, description = "not_found: no such project (or not yours)", body = platform::openapi::ApiErrorBody), (status = 401, description = "missing, invalid or expired token", body = platform::openapi::ApiErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Path(project_id): Path<ProjectId>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<FileView>>, ApiError> {
    readable(&state.pool, &user, project_id).await?;
    let files = match query.path {
        Some(path) => {
            let path = file_path(&path)?;
            db::projects::files::versions(&state.pool, project_id, &path).await?
        }
        None => db::projects::files::list_latest(&state.pool, project_id).await?,
    };
    Ok(Json(Page::whole(files.into_iter().map(FileView::from))))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// A specific version; the latest when absent.
    #[param(minimum = 1)]
    pub version: Option<i32>,
}

#[utoipa::path(get, path = "/api/projects/{project_id}/files/{path}", tag = "files", security(("bearer" = [])), params(FileAt, DownloadQuery), responses((status = 200, description = "The bytes, with Content-Type, ETag and X-File-Version", content_type = "application/octet-stream"), (status = 404, description = "not_found: no such project (or not yours)", body = platform::openapi::ApiErrorBody), (status = 401, description = "missing, invalid or expired token", body = platform::openapi::ApiErrorBody)))]
/// The bytes, as an attachment with `nosniff`: uploaded HTML must not run as our origin.
pub async fn download(
    State(state): State<AppState>,
    user: AuthUser,
    Path((project_id, path)): Path<(ProjectId, String)>,
    Query(query): Query<DownloadQuery>,
) -> Result<Response, ApiError> {
    readable(&state.pool, &user, project_id).await?;
    let path = file_path(&path)?;
    let file = db::projects::files::find(&state.pool, project_id, &path, query.version)
        .await?
        .ok_or(ApiError::NotFound("file"))?;
    // Whole-file read: files are at most 10 MiB.
    let bytes = state.files.read(&file.storage_key).await?;
    let content_type = HeaderValue::from_str(&file.mime_type)
        .unwrap_or(HeaderValue::from_static(DEFAULT_CONTENT_TYPE));
    let etag =
        HeaderValue::from_str(&format!("\"{}\"", file.sha256)).map_err(ApiError::internal)?;
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_LENGTH, HeaderValue::from(bytes.len())),
        (header::ETAG, etag),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::HeaderName::from_static("x-file-version"),
            HeaderValue::from(file.version),
        ),
    ];
    Ok((headers, bytes).into_response())
}

#[utoipa::path(delete, path = "/api/projects/{project_id}/files/{path}", tag = "files", security(("bearer" = [])), params(FileAt), responses((status = 204, description = "every version removed, bytes included"), (status = 404, description = "not_found: no such project (or not yours)", body = platform::openapi::ApiErrorBody), (status = 403, description = "admins may not change others' projects", body = platform::openapi::ApiErrorBody), (status = 401, description = "missing, invalid or expired token", body = platform::openapi::ApiErrorBody)))]
/// Deletes every version of the path: rows in the transaction, bytes after commit.
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
    let storage_keys = db::projects::files::delete_path(change.tx(), project_id, &path).await?;
    let details = json!({ "path": path, "versions_removed": storage_keys.len() });
    change.commit("file.deleted", latest.id.0, details).await?;
    for key in &storage_keys {
        state.files.remove(key).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::file_path;

    #[test]
    fn traversal_and_aliasing_paths_are_refused() {
        assert!(file_path("docs/readme.md").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../secret",
            "a/../../b",
            "a/./b",
            "a//b",
            "a/",
            "a\\b",
            "a\nb",
            ".",
        ] {
            assert!(file_path(bad).is_err(), "{bad:?}");
        }
    }
}
