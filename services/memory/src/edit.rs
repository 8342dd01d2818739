//! Editing a stored document's description (`PATCH /api/memory/documents/{id}`): title,
//! path, type, tags, metadata and project. Its text, owner, source and re-ingestion key stay
//! (re-ingesting changes the text). Each field obeys the rule ingestion applies to it, and
//! the edit names the version it is based on, so that an edit or re-ingestion in between is
//! not overwritten unseen (409 `version_conflict`).
//!
//! The vectors' payloads carry `type`, `tags` and `project_id` (the index filters on them
//! before PostgreSQL confirms each hit), so an edit of one of those upserts the document's
//! vectors again, inside its transaction: the next search sees the edit on both sides. When
//! the embedder or the index fails, the chunks go back to pending instead, and the background
//! indexer upserts them with the fields then stored.

use authn::AuthUser;
use db::memory::{Document, documents::edit::DocumentEdit};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    error::ApiError,
    ingest::{self, project},
    state::AppState,
};

/// `PATCH /api/memory/documents/{id}`: only the fields sent change; on the nullable ones
/// `null` clears the value.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditRequest {
    /// The `version` the edit is based on; another edit or re-ingestion in between gives
    /// 409 `version_conflict`, a version below 1 422 `invalid_version`.
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "platform::extract::whole_number::required")]
    pub version: i32,
    #[serde(default, deserialize_with = "platform::extract::present")]
    #[schema(value_type = Option<String>, nullable, max_length = 300)]
    pub title: Option<Option<String>>,
    /// A file path or URL (up to 1024 characters); the text's chunks stay as they are.
    #[serde(default, deserialize_with = "platform::extract::present")]
    #[schema(value_type = Option<String>, nullable, max_length = 1024)]
    pub path: Option<Option<String>>,
    /// As at ingestion: lower case, up to 50; blank is `document`.
    #[serde(rename = "type")]
    #[schema(max_length = 50, pattern = "^\\s*[a-z0-9_-]*\\s*$")]
    pub kind: Option<String>,
    /// Replaces the tags: up to 32 of up to 64 characters; `[]` removes them all.
    pub tags: Option<Vec<String>>,
    /// Replaces the metadata: a JSON object (up to 16 KiB, numbers within ±1e300); `null`
    /// empties it.
    #[serde(default, deserialize_with = "platform::extract::present")]
    #[schema(value_type = Option<Object>, nullable)]
    pub metadata: Option<Option<Value>>,
    /// Files the document under another project (one you own or are a member of; admins:
    /// any); `null` takes it out of its project.
    #[serde(default, deserialize_with = "platform::extract::present")]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub project_id: Option<Option<Uuid>>,
}

/// The fields an edit sets, each checked; `None`: kept as stored.
struct Changes {
    title: Option<Option<String>>,
    path: Option<Option<String>>,
    kind: Option<String>,
    tags: Option<Vec<String>>,
    metadata: Option<Value>,
    project_id: Option<Option<Uuid>>,
}

impl Changes {
    /// Each field sent, against ingestion's rule for it.
    fn check(request: EditRequest) -> Result<Self, ApiError> {
        Ok(Self {
            title: request.title.map(ingest::check_title).transpose()?,
            path: request.path.map(ingest::check_path).transpose()?,
            kind: request.kind.map(Some).map(ingest::check_kind).transpose()?,
            tags: request.tags.map(ingest::check_tags).transpose()?,
            metadata: request.metadata.map(ingest::check_metadata).transpose()?,
            project_id: request.project_id,
        })
    }

    /// The fields to store: these changes over `stored`.
    fn over(self, stored: &Document) -> DocumentEdit {
        DocumentEdit {
            kind: self.kind.unwrap_or_else(|| stored.kind.clone()),
            path: self.path.unwrap_or_else(|| stored.path.clone()),
            title: self.title.unwrap_or_else(|| stored.title.clone()),
            tags: self.tags.unwrap_or_else(|| stored.tags.clone()),
            metadata: self.metadata.unwrap_or_else(|| stored.metadata.clone()),
            project_id: self.project_id.unwrap_or(stored.project_id),
        }
    }
}

/// Whether `edit` changes a field the document's vectors carry in their payloads.
fn changes_payload(stored: &Document, edit: &DocumentEdit) -> bool {
    stored.kind != edit.kind || stored.tags != edit.tags || stored.project_id != edit.project_id
}

/// Whether `edit` changes anything at all: an edit that does not is no new version.
fn changes_anything(stored: &Document, edit: &DocumentEdit) -> bool {
    changes_payload(stored, edit)
        || stored.path != edit.path
        || stored.title != edit.title
        || stored.metadata != edit.metadata
}

const NOT_FOUND: ApiError = ApiError::NotFound("no such document");

/// Applies `request` to document `id` for `user`; answers with the document as stored now.
pub async fn edit(
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
    request: EditRequest,
) -> Result<Document, ApiError> {
    // Versions start at 1: below is a mistake to point out, not a stale copy.
    if request.version < 1 {
        return Err(ApiError::validation(
            "invalid_version",
            "version must be 1 or more",
        ));
    }
    let based_on = request.version;
    let changes = Changes::check(request)?;
    // As ingestion: a project the writer cannot see is refused, whichever reason.
    if let Some(Some(project_id)) = changes.project_id
        && !project::visible(&state.pool, user, [project_id])
            .await?
            .contains(&project_id)
    {
        return Err(project::unknown_project());
    }

    let mut tx = state.pool.begin().await?;
    let stored = db::memory::documents::edit::lock(&mut *tx, id)
        .await?
        .ok_or(NOT_FOUND)?;
    // Who may edit is who may delete.
    match stored.owner_id {
        Some(owner) if owner == user.user_id => {}
        None if user.role.is_admin() => user.require_aal2()?,
        None => return Err(ApiError::Forbidden("only admins edit shared documents")),
        Some(_) => return Err(NOT_FOUND),
    }
    if stored.version != based_on {
        return Err(ApiError::Conflict {
            code: "version_conflict",
            message: "this document was changed since that version: reload and retry",
        });
    }
    let edit = changes.over(&stored);
    let mut left_pending = false;
    if changes_anything(&stored, &edit) {
        db::memory::documents::edit::apply(&mut *tx, id, &edit).await?;
        if changes_payload(&stored, &edit) {
            left_pending = refresh_payloads(state, &mut tx, id).await?;
        }
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    if left_pending {
        state.indexer_wakeup.notify_one();
    }
    db::memory::documents::get_visible(&state.pool, id, user.user_id)
        .await?
        // Deleted by another request since the commit.
        .ok_or(NOT_FOUND)
}

/// Upserts the vectors of the document's indexed chunks with the payload fields this
/// transaction wrote. When the embedder or the index fails, puts those chunks back to
/// pending instead (returns `true`): the edit is not refused for the index's sake.
async fn refresh_payloads(
    state: &AppState,
    tx: &mut db::Transaction<'_, db::Postgres>,
    id: Uuid,
) -> Result<bool, ApiError> {
    // Pending chunks are left to the background indexer, which reads the fields it upserts
    // when it gets to them.
    let indexed: Vec<Uuid> = db::memory::chunks::of_document(&mut **tx, id)
        .await?
        .into_iter()
        .filter(|chunk| chunk.indexed)
        .map(|chunk| chunk.id)
        .collect();
    let chunks = db::memory::chunks::indexable(&mut **tx, &indexed).await?;
    match state.indexer.refresh_payloads(&chunks).await {
        Ok(()) => Ok(false),
        Err(error) => {
            tracing::warn!(%error, document_id = %id,
                "payloads of an edited document not refreshed; its chunks are pending again");
            db::memory::chunks::mark_pending(&mut **tx, &indexed).await?;
            Ok(true)
        }
    }
}
