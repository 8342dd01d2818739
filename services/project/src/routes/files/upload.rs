//! Uploads: the raw request body (`PUT .../files/{path}`) or a `multipart/form-data` file
//! part (`POST .../files`). Either way the bytes stream to the file store (never more than
//! [`MAX_FILE_BYTES`] of them) before the row that makes them the path's next version is
//! committed.

use authn::AuthUser;
use axum::{
    body::Body,
    extract::{
        FromRequest, FromRequestParts, Multipart, Request, State, multipart::MultipartError,
    },
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::Response,
};
use db::{
    ids::{FileId, ProjectId},
    projects::{FileVersion, NewFileVersion},
};
use futures::TryStreamExt;
use platform::extract::{Json, Path};
use serde_json::json;
use utoipa::ToSchema;

use super::{FileAt, FileView, file_path, file_path::FILE_PATH_MAX_BYTES, mime_type};
use crate::error::documented::{
    AdminsMayNotChange, InvalidInput, ProjectNotFound, Unauthenticated,
};
use crate::{
    access::{self, Change, caller},
    error::ApiError,
    metrics,
    state::AppState,
    storage::{FileStore, MAX_FILE_BYTES, StoredBlob, WriteError},
};

/// A form's whole body: the file's 10 MiB plus room for boundaries, part headers and the
/// `path` field. The file's own bytes are counted separately, against [`MAX_FILE_BYTES`].
pub const FORM_LIMIT: usize = MAX_FILE_BYTES as usize + FORM_OVERHEAD;
const FORM_OVERHEAD: usize = 64 * 1024;
/// The `path` field read, in bytes: room for a path at [`FILE_PATH_MAX_BYTES`] once in NFC
/// sent decomposed (NFD Hangul takes three times the bytes); the limits are checked on the
/// NFC spelling after reading.
const PATH_FIELD_MAX: usize = 4 * FILE_PATH_MAX_BYTES;

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

#[utoipa::path(put, path = "/api/projects/{project_id}/files/{path}", tag = "files", security(("bearer" = [])), params(FileAt), request_body(content = Option<Vec<u8>>, content_type = "application/octet-stream", description = "The file (may be empty: a zero-byte file); its Content-Type is kept"), responses((status = 201, body = FileView), ProjectNotFound, AdminsMayNotChange, (status = 413, description = "payload_too_large: over 10 MiB; storage_quota_exceeded: the project's stored files (every version) would pass PROJECT_STORAGE_QUOTA_BYTES", body = platform::openapi::ApiErrorBody), (status = 415, description = "unsupported_content_encoding: a Content-Encoding other than identity", body = platform::openapi::ApiErrorBody), InvalidInput, Unauthenticated))]
/// Stores the bytes first (visible under their key only once whole and durable), then
/// commits the row; if the database refuses, the bytes are removed again. A crash in between
/// leaves unreferenced bytes, never a row without bytes.
pub async fn upload(
    State(state): State<AppState>,
    user: AuthUser,
    Path((project_id, path)): Path<(ProjectId, String)>,
    _: IdentityCoding,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<FileView>), ApiError> {
    let path = file_path(&path)?;
    if declared_length(&headers).is_some_and(|length| length > MAX_FILE_BYTES) {
        metrics::upload_too_large();
        return Err(ApiError::PayloadTooLarge);
    }
    let mime_type = mime_type(headers.get(header::CONTENT_TYPE))?;
    // Checked before reading the body (unlocked: a slow upload must not hold the project).
    access::writable(&state.pool, &user, project_id).await?;

    let file_id = FileId::new();
    let storage_key = FileStore::storage_key(project_id, file_id);
    let blob = state
        .files
        .write(&storage_key, body)
        .await
        .inspect_err(count_too_large)?;
    let received = Received {
        file_id,
        storage_key,
        path,
        mime_type,
        blob,
    };
    settle(state, user, project_id, received).await
}

/// The form `POST .../files` takes (for the OpenAPI document; the handler streams it).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FileForm {
    /// The file, at most 10 MiB; its part's `Content-Type` becomes the file's type
    /// (default `application/octet-stream`).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Where to store it; the file part's filename when absent. Same rule as the `PUT` path
    /// (at most 1024 characters and 2048 bytes of UTF-8).
    #[schema(
        min_length = 1,
        max_length = 1024,
        pattern = "^(?:[^./\\\\\\x00-\\x1f\\x7f-\\x9f][^/\\\\\\x00-\\x1f\\x7f-\\x9f]*|\\.[^./\\\\\\x00-\\x1f\\x7f-\\x9f][^/\\\\\\x00-\\x1f\\x7f-\\x9f]*|\\.\\.[^/\\\\\\x00-\\x1f\\x7f-\\x9f]+)(?:/(?:[^./\\\\\\x00-\\x1f\\x7f-\\x9f][^/\\\\\\x00-\\x1f\\x7f-\\x9f]*|\\.[^./\\\\\\x00-\\x1f\\x7f-\\x9f][^/\\\\\\x00-\\x1f\\x7f-\\x9f]*|\\.\\.[^/\\\\\\x00-\\x1f\\x7f-\\x9f]+))*$"
    )]
    path: Option<String>,
}

#[utoipa::path(post, path = "/api/projects/{project_id}/files", tag = "files", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id")), request_body(content = FileForm, content_type = "multipart/form-data", description = "One `file` part, optionally a `path` field; other fields (a submit button's name, say) are read past"), responses((status = 201, body = FileView), (status = 400, description = "malformed_multipart, upload_interrupted", body = platform::openapi::ApiErrorBody), ProjectNotFound, AdminsMayNotChange, (status = 413, description = "payload_too_large: a file over 10 MiB (or a form over 10 MiB + 64 KiB); storage_quota_exceeded: the project's stored files (every version) would pass PROJECT_STORAGE_QUOTA_BYTES", body = platform::openapi::ApiErrorBody), (status = 415, description = "unsupported_media_type: not multipart/form-data; unsupported_content_encoding: a Content-Encoding other than identity", body = platform::openapi::ApiErrorBody), (status = 422, description = "missing_file, duplicate_field, invalid_file_path, invalid_content_type", body = platform::openapi::ApiErrorBody), Unauthenticated))]
/// The form twin of `PUT .../files/{path}`, for browsers: the same limit, checks and
/// answer. The file part streams to the store as it arrives; it is removed again if the rest of
/// the form turns out wrong.
pub async fn upload_form(
    State(state): State<AppState>,
    user: AuthUser,
    Path(project_id): Path<ProjectId>,
    _: FormContentType,
    _: IdentityCoding,
    request: Request,
) -> Result<(StatusCode, Json<FileView>), ApiError> {
    if declared_length(request.headers()).is_some_and(|length| length > FORM_LIMIT as u64) {
        metrics::upload_too_large();
        return Err(ApiError::PayloadTooLarge);
    }
    access::writable(&state.pool, &user, project_id).await?;
    let multipart = Multipart::from_request(request, &state)
        .await
        .map_err(|rejection| ApiError::bad_request("malformed_multipart", rejection.body_text()))?;

    let file_id = FileId::new();
    let storage_key = FileStore::storage_key(project_id, file_id);
    let (written, path, mime_type) = receive_form(&state.files, &storage_key, multipart).await?;
    let received = Received {
        file_id,
        storage_key,
        path,
        mime_type,
        blob: written.keep(),
    };
    settle(state, user, project_id, received).await
}

/// Proof that the request says it is `multipart/form-data`; anything else is refused with
/// 415 before the project is even looked up (a missing boundary is the parser's 400).
pub struct FormContentType;

impl<S: Send + Sync> FromRequestParts<S> for FormContentType {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let essence = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .unwrap_or("")
            .trim();
        if essence.eq_ignore_ascii_case("multipart/form-data") {
            Ok(Self)
        } else {
            Err(platform::error::error_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected a multipart/form-data body with a `file` part",
            ))
        }
    }
}

/// Proof that the body carries no content coding (`Content-Encoding` absent or `identity`).
/// Nothing here decodes one, so a gzip body would be stored, hashed and served back as if it
/// were the file, and its coding lost: refused with 415 instead, as RFC 9110 §15.5.16 says.
pub struct IdentityCoding;

impl<S: Send + Sync> FromRequestParts<S> for IdentityCoding {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let identity = parts
            .headers
            .get_all(header::CONTENT_ENCODING)
            .iter()
            .flat_map(|value| value.to_str().unwrap_or("?").split(','))
            .map(str::trim)
            .all(|coding| coding.is_empty() || coding.eq_ignore_ascii_case("identity"));
        if identity {
            return Ok(Self);
        }
        let mut refusal = platform::error::error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_encoding",
            "send the file as it is, without a Content-Encoding",
        );
        refusal.headers_mut().insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        Err(refusal)
    }
}

/// Reads the whole form: the `file` part into the store under `key`, the `path` field, and past
/// anything else. The bytes are kept only when the form is whole and right.
async fn receive_form(
    files: &FileStore,
    key: &str,
    mut multipart: Multipart,
) -> Result<(crate::storage::Written, String, String), ApiError> {
    let mut file = None;
    let mut path_field = None;
    while let Some(mut field) = multipart.next_field().await.map_err(form_error)? {
        match field.name() {
            Some("file") => {
                if file.is_some() {
                    return Err(duplicate_field("file"));
                }
                let file_name = field.file_name().map(str::to_owned);
                let mime_type = mime_type(field.headers().get(header::CONTENT_TYPE))?;
                let chunks = field.map_err(chunk_error);
                let written = files
                    .write_stream(key, chunks)
                    .await
                    .inspect_err(count_too_large)?;
                file = Some((written, file_name, mime_type));
            }
            Some("path") => {
                if path_field.is_some() {
                    return Err(duplicate_field("path"));
                }
                let mut text = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(form_error)? {
                    if text.len() + chunk.len() > PATH_FIELD_MAX {
                        return Err(invalid_path());
                    }
                    text.extend_from_slice(&chunk);
                }
                let text = String::from_utf8(text).map_err(|_| invalid_path())?;
                // Checked now, so a bad path refuses the form before its file is stored.
                path_field = Some(file_path(&text)?);
            }
            // Other fields (a submit button's name, say) are read past, within the form's limit.
            _ => while field.chunk().await.map_err(form_error)?.is_some() {},
        }
    }
    let Some((written, file_name, mime_type)) = file else {
        return Err(ApiError::validation(
            "missing_file",
            "the form has no `file` part",
        ));
    };
    let path = match (path_field, file_name) {
        (Some(path), _) => path,
        (None, Some(file_name)) => file_path(&file_name)?,
        (None, None) => {
            return Err(ApiError::validation(
                "invalid_file_path",
                "send a `path` field, or a filename with the file part",
            ));
        }
    };
    Ok((written, path, mime_type))
}

fn invalid_path() -> ApiError {
    ApiError::validation("invalid_file_path", crate::error::FILE_PATH_RULE)
}

fn duplicate_field(name: &str) -> ApiError {
    ApiError::validation(
        "duplicate_field",
        format!("the form has more than one `{name}` field: send one file per request"),
    )
}

/// A form the parser gave up on: over the form's limit, malformed, or cut off.
fn form_error(error: MultipartError) -> ApiError {
    match error.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            metrics::upload_too_large();
            ApiError::PayloadTooLarge
        }
        StatusCode::BAD_REQUEST => ApiError::bad_request("malformed_multipart", error.body_text()),
        _ => ApiError::bad_request("upload_interrupted", error.body_text()),
    }
}

/// The same, met while the file part streams to the store.
fn chunk_error(error: MultipartError) -> WriteError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        WriteError::TooLarge
    } else {
        WriteError::Body(error.body_text())
    }
}

fn count_too_large(error: &WriteError) {
    if matches!(error, WriteError::TooLarge) {
        metrics::upload_too_large();
    }
}

/// Bytes stored under their final key, waiting for their row.
struct Received {
    file_id: FileId,
    storage_key: String,
    path: String,
    mime_type: String,
    blob: StoredBlob,
}

/// Commits the row of bytes already stored, or removes them when that fails. Runs as its
/// own task so a client that hangs up now cannot leave bytes without a row (or, cancelled
/// inside the commit, a row without bytes).
async fn settle(
    state: AppState,
    user: AuthUser,
    project_id: ProjectId,
    received: Received,
) -> Result<(StatusCode, Json<FileView>), ApiError> {
    let settle = tokio::spawn(async move {
        let row = NewFileVersion {
            id: received.file_id,
            project_id,
            path: &received.path,
            size_bytes: received.blob.size_bytes as i64,
            sha256: &received.blob.sha256,
            mime_type: &received.mime_type,
            storage_key: &received.storage_key,
            uploaded_by: caller(&user),
        };
        let outcome = commit_upload(&state, &user, &row).await;
        match outcome {
            Ok(_) => metrics::file_stored(received.blob.size_bytes),
            Err(_) => state.files.remove(&received.storage_key).await,
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
) -> Result<FileVersion, ApiError> {
    // Again, locked: the project may have been deleted while the bytes streamed in, and
    // the room left is judged under the lock, so concurrent uploads take it in turn.
    let mut change = Change::begin(&state.pool, user, row.project_id).await?;
    let used = db::projects::files::stored_bytes(change.tx(), row.project_id).await?;
    ensure_room(used, row.size_bytes, state.storage_quota_bytes)?;
    let file = db::projects::files::insert_version(change.tx(), row).await?;
    let details = json!({
        "path": file.path,
        "version": file.version,
        "size_bytes": file.size_bytes,
        "sha256": file.sha256,
    });
    change.commit("file.uploaded", file.id.0, details).await?;
    Ok(file)
}

/// Refuses `size` more bytes when the project's files already keep `used` stored and the
/// quota is `limit`. A new version counts in full: old versions keep their bytes.
fn ensure_room(used: i64, size: i64, limit: u64) -> Result<(), ApiError> {
    let (used, size) = (used.max(0) as u64, size.max(0) as u64);
    if used.saturating_add(size) > limit {
        metrics::upload_over_quota();
        return Err(ApiError::StorageQuotaExceeded { used, limit, size });
    }
    Ok(())
}
