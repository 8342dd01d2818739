//! A batch of documents turned into one array per column: `unnest` turns the arrays back into
//! rows, so that one statement writes the whole batch.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::DocumentFields;

/// What an imported document keeps from where it was exported.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kept {
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// Row `i` of every array is document `i`.
#[derive(Debug, Default)]
pub(crate) struct DocumentColumns {
    pub ids: Vec<Uuid>,
    pub owners: Vec<Option<Uuid>>,
    pub sources: Vec<String>,
    pub external_ids: Vec<Option<String>>,
    pub kinds: Vec<String>,
    pub paths: Vec<Option<String>>,
    pub titles: Vec<Option<String>>,
    /// One JSON array per document: PostgreSQL arrays cannot be ragged.
    pub tags: Vec<Value>,
    pub metadata: Vec<Value>,
    pub projects: Vec<Option<Uuid>>,
    pub hashes: Vec<Option<String>>,
    /// `None`: now, as the columns' defaults would have it.
    pub created: Vec<Option<DateTime<Utc>>>,
    pub updated: Vec<Option<DateTime<Utc>>>,
    /// `None`: 1, a new document's.
    pub versions: Vec<Option<i32>>,
}

impl DocumentColumns {
    /// Appends document `id` of `owner_id` (`None`: shared), with what it keeps from where it
    /// was exported (an import's); without that it is new.
    pub(crate) fn push(
        &mut self,
        id: Uuid,
        owner_id: Option<Uuid>,
        fields: DocumentFields,
        project_id: Option<Uuid>,
        content_hash: Option<String>,
        kept: Option<Kept>,
    ) {
        self.ids.push(id);
        self.owners.push(owner_id);
        self.sources.push(fields.source);
        self.external_ids.push(fields.external_id);
        self.kinds.push(fields.kind);
        self.paths.push(fields.path);
        self.titles.push(fields.title);
        self.tags.push(Value::from(fields.tags));
        self.metadata.push(fields.metadata);
        self.projects.push(project_id);
        self.hashes.push(content_hash);
        self.created.push(kept.map(|kept| kept.created_at));
        self.updated.push(kept.map(|kept| kept.updated_at));
        self.versions.push(kept.map(|kept| kept.version));
    }
}
