//! Documents stored already: the keys a new document is matched by (its re-ingestion key
//! `source` + `external_id`, or without one, its owner and text), whether writing it would
//! change the stored one, and the lookups by those keys.

use std::collections::HashMap;

use db::memory::{Document, DocumentKey, NewDocument, documents::ContentKey};
use uuid::Uuid;

use crate::error::ApiError;

/// The re-ingestion key of a document that has one.
pub(crate) fn key_of(document: &NewDocument) -> Option<DocumentKey> {
    Some(DocumentKey {
        owner_id: document.owner_id,
        source: document.fields.source.clone(),
        external_id: document.fields.external_id.clone()?,
    })
}

/// The key under which the owner keeps one copy of this text: for documents without a
/// re-ingestion key only.
pub(crate) fn content_key(document: &NewDocument) -> Option<ContentKey> {
    document.fields.external_id.is_none().then(|| ContentKey {
        owner_id: document.owner_id,
        content_hash: document.content_hash.clone(),
    })
}

/// Whether writing `new` over `stored` would change nothing. A copy of a text without
/// `external_id` never changes the stored one: its fields are the first copy's.
pub(crate) fn is_unchanged(stored: &Document, new: &NewDocument) -> bool {
    let same_text = stored.content_hash.as_deref() == Some(new.content_hash.as_str());
    let fields = &new.fields;
    if fields.external_id.is_none() {
        return same_text && stored.external_id.is_none();
    }
    same_text
        && stored.kind == fields.kind
        && stored.path == fields.path
        && stored.title == fields.title
        && stored.tags == fields.tags
        && stored.metadata == fields.metadata
        && stored.project_id == new.project_id
}

/// The stored document `document` would replace or repeat: the one with the same
/// re-ingestion key, or without one, the owner's copy of the same text.
pub(crate) async fn stored_version(
    pool: &db::PgPool,
    document: &NewDocument,
) -> Result<Option<Document>, ApiError> {
    let Some(external_id) = &document.fields.external_id else {
        let key = content_key(document).into_iter().collect::<Vec<_>>();
        return Ok(db::memory::documents::find_by_contents(pool, &key)
            .await?
            .pop());
    };
    Ok(db::memory::documents::find_by_external_id(
        pool,
        document.owner_id,
        &document.fields.source,
        external_id,
    )
    .await?)
}

/// The stored versions of the documents that have a re-ingestion key, locked inside a
/// transaction until it ends.
pub(crate) async fn stored_versions(
    executor: impl sqlx::PgExecutor<'_>,
    documents: &[&NewDocument],
) -> Result<HashMap<DocumentKey, Document>, sqlx::Error> {
    let mut keys: Vec<DocumentKey> = documents.iter().filter_map(|d| key_of(d)).collect();
    // A stable order: concurrent writers lock shared rows in the same sequence.
    keys.sort_unstable();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let stored = db::memory::documents::find_by_keys(executor, &keys).await?;
    Ok(stored
        .into_iter()
        .filter_map(|document| {
            let key = DocumentKey {
                owner_id: document.owner_id,
                source: document.source.clone(),
                external_id: document.external_id.clone()?,
            };
            Some((key, document))
        })
        .collect())
}

/// The owners' stored copies of these texts (documents without a re-ingestion key): each
/// content key with its document's id.
pub(crate) async fn stored_copies(
    executor: impl sqlx::PgExecutor<'_>,
    keys: &[ContentKey],
) -> Result<HashMap<ContentKey, Uuid>, sqlx::Error> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let stored = db::memory::documents::find_by_contents(executor, keys).await?;
    Ok(stored
        .into_iter()
        .filter_map(|document| {
            let key = ContentKey {
                owner_id: document.owner_id,
                content_hash: document.content_hash?,
            };
            Some((key, document.id))
        })
        .collect())
}
