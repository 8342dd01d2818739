//! `POST /api/projects/{project_id}/restore-file`: an old version becomes the latest again
//! as a new version, so history only ever grows. The new row shares the old one's stored
//! bytes (its `storage_key`): stored files never change in place, and deletes remove only
//! bytes no row references any more, so nothing is copied and nothing can be lost.

use authn::AuthUser;
use axum::{extract::State, http::StatusCode};
use db::{
    ids::{FileId, ProjectId},
    projects::NewFileVersion,
};
use platform::extract::{Json, Path};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::{FileView, file_path};
use crate::error::documented::{AdminsMayNotChange, Unauthenticated};
use crate::{
    access::{Change, caller},
    error::ApiError,
    state::AppState,
    validate,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreInput {
    /// The file's path, as in `.../files/{path}`.
    #[schema(
        example = "docs/readme.md",
        min_length = 1,
        max_length = 1024,
        pattern = "^(?:[^./\\\\\\x00-\\x1f\\x7f-\\x9f][^/\\\\\\x00-\\x1f\\x7f-\\x9f]*|\\.[^./\\\\\\x00-\\x1f\\x7f-\\x9f][^/\\\\\\x00-\\x1f\\x7f-\\x9f]*|\\.\\.[^/\\\\\\x00-\\x1f\\x7f-\\x9f]+)(?:/(?:[^./\\\\\\x00-\\x1f\\x7f-\\x9f][^/\\\\\\x00-\\x1f\\x7f-\\x9f]*|\\.[^./\\\\\\x00-\\x1f\\x7f-\\x9f][^/\\\\\\x00-\\x1f\\x7f-\\x9f]*|\\.\\.[^/\\\\\\x00-\\x1f\\x7f-\\x9f]+))*$"
    )]
    pub path: String,
    /// The version whose bytes become the latest (restoring the latest itself also adds a
    /// version: every restore is one step in the history).
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "platform::extract::whole_number::required")]
    pub version: i32,
}

#[utoipa::path(post, path = "/api/projects/{project_id}/restore-file", tag = "files", security(("bearer" = [])), params(("project_id" = Uuid, Path, description = "Project id")), request_body = RestoreInput, responses((status = 201, description = "the new latest version, with the restored version's bytes, size, SHA-256 and media type", body = FileView), (status = 404, description = "not_found: no such project (or not yours), path or version", body = platform::openapi::ApiErrorBody), AdminsMayNotChange, (status = 422, description = "invalid_file_path, invalid_version, invalid_body", body = platform::openapi::ApiErrorBody), (status = 400, description = "malformed_json", body = platform::openapi::ApiErrorBody), Unauthenticated))]
/// One transaction under the project's lock: read the old version, add the new one, record
/// `file.restored`. No bytes move, so there is nothing to clean up if it fails.
pub async fn restore(
    State(state): State<AppState>,
    user: AuthUser,
    Path(project_id): Path<ProjectId>,
    Json(input): Json<RestoreInput>,
) -> Result<(StatusCode, Json<FileView>), ApiError> {
    let path = file_path(&input.path)?;
    let version = validate::version(input.version)?;
    let mut change = Change::begin(&state.pool, &user, project_id).await?;
    let old = db::projects::files::find(change.tx(), project_id, &path, Some(version))
        .await?
        .ok_or(ApiError::NotFound("file version"))?;
    let row = NewFileVersion {
        id: FileId::new(),
        project_id,
        path: &path,
        size_bytes: old.size_bytes,
        sha256: &old.sha256,
        mime_type: &old.mime_type,
        storage_key: &old.storage_key,
        uploaded_by: caller(&user),
    };
    let file = db::projects::files::insert_version(change.tx(), &row).await?;
    let details = json!({
        "path": file.path,
        "version": file.version,
        "restored_version": old.version,
        "size_bytes": file.size_bytes,
        "sha256": file.sha256,
    });
    change.commit("file.restored", file.id.0, details).await?;
    Ok((StatusCode::CREATED, Json(file.into())))
}
