//! Copies of other owners' documents: a line whose id, or one of whose chunk ids, belongs
//! to a document of another owner (another account's, or a shared one when importing into
//! an account) is stored under ids of its own, derived from the importing owner and the ids
//! it had. An export can so be imported into another account of the same database, and
//! importing it again finds those copies instead of making more.

use std::collections::HashMap;

use uuid::{Uuid, uuid};

use super::check::Checked;

/// The namespace of the ids of copies imported as shared documents (which have no owner to
/// take it from).
pub const SHARED_NAMESPACE: Uuid = uuid!("094255f8-a9e8-4561-9fb4-2a3ccb737aa5");

/// The id that what had `original` elsewhere takes as a copy owned by `owner` (`None`:
/// shared): a UUID v5 in the owner's namespace (their user id), named by the original's 16
/// bytes. The same line imported by the same owner always gets the same id.
pub fn copy_id(owner: Option<Uuid>, original: Uuid) -> Uuid {
    Uuid::new_v5(&owner.unwrap_or(SHARED_NAMESPACE), original.as_bytes())
}

/// Where a line goes, by who holds its ids.
pub(super) enum Placement {
    /// Its owner holds it already: under its own id, or (`copy`) under its copy's.
    Held { copy: Option<Uuid> },
    /// Under its own ids.
    AsIs,
    /// Under the ids of its copy.
    Copy(Box<Checked>),
    /// Its own id is another owner's document and its copy's too (taken on purpose: no
    /// third choice is made).
    IdTaken,
    /// A chunk id is another of the owner's documents' (or one of the copy's ids is taken).
    ChunkTaken,
}

/// The owners of the documents holding the ids, or the copy ids, of some lines (`None`:
/// shared), read in the transaction that writes them.
pub(super) struct Holders {
    documents: HashMap<Uuid, Option<Uuid>>,
    chunks: HashMap<Uuid, Option<Uuid>>,
}

impl Holders {
    pub(super) async fn read<'a>(
        tx: &mut sqlx::PgTransaction<'_>,
        lines: impl Iterator<Item = &'a Checked> + Clone,
    ) -> Result<Self, sqlx::Error> {
        let wanted_chunks: Vec<Uuid> = lines.clone().flat_map(chunk_ids).collect();
        // Chunks first, documents second: each statement sees what has committed by then,
        // so a concurrent import of the same lines that commits in between shows its
        // documents (held) rather than only its chunks (which would read as another's).
        let chunks = db::memory::transfer::chunk_owners(&mut **tx, &wanted_chunks).await?;
        let wanted: Vec<Uuid> = lines.flat_map(document_ids).collect();
        let documents = db::memory::transfer::owners(&mut **tx, &wanted).await?;
        Ok(Self {
            documents: documents.into_iter().collect(),
            chunks: chunks.into_iter().collect(),
        })
    }

    pub(super) fn place(&self, checked: &Checked) -> Placement {
        let (id, owner) = (checked.document.id, checked.document.owner_id);
        let copy = copy_id(owner, id);
        if self.documents.get(&id) == Some(&owner) {
            return Placement::Held { copy: None };
        }
        if self.documents.get(&copy) == Some(&owner) {
            return Placement::Held { copy: Some(copy) };
        }
        let another_owners = |holder: Option<&Option<Uuid>>| holder.is_some_and(|h| *h != owner);
        let elsewhere = another_owners(self.documents.get(&id))
            || checked
                .chunks
                .iter()
                .any(|chunk| another_owners(self.chunks.get(&chunk.id)));
        if !elsewhere {
            return match self.any_chunk_taken(checked) {
                true => Placement::ChunkTaken,
                false => Placement::AsIs,
            };
        }
        let copy = as_copy(checked);
        if self.documents.contains_key(&copy.document.id) {
            Placement::IdTaken
        } else if self.any_chunk_taken(&copy) {
            Placement::ChunkTaken
        } else {
            Placement::Copy(Box::new(copy))
        }
    }

    fn any_chunk_taken(&self, checked: &Checked) -> bool {
        checked
            .chunks
            .iter()
            .any(|chunk| self.chunks.contains_key(&chunk.id))
    }
}

/// The ids the document of `checked` may be stored under: its own and its copy's.
pub(super) fn document_ids(checked: &Checked) -> [Uuid; 2] {
    let document = &checked.document;
    [document.id, copy_id(document.owner_id, document.id)]
}

/// The ids the chunks of `checked` may be stored under: their own and their copies'.
pub(super) fn chunk_ids(checked: &Checked) -> impl Iterator<Item = Uuid> + '_ {
    let owner = checked.document.owner_id;
    checked
        .chunks
        .iter()
        .flat_map(move |chunk| [chunk.id, copy_id(owner, chunk.id)])
}

/// `checked` under its copy's ids: the document's and each chunk's.
fn as_copy(checked: &Checked) -> Checked {
    let owner = checked.document.owner_id;
    let mut copy = checked.clone();
    copy.document.id = copy_id(owner, checked.document.id);
    for chunk in &mut copy.chunks {
        chunk.id = copy_id(owner, chunk.id);
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The derivation is part of the API (documented, so a client can find its copies):
    /// pinned so that it cannot change unnoticed and make re-imports copy again.
    #[test]
    fn copy_ids_are_uuid_v5_in_the_owners_namespace() {
        let owner = Uuid::from_u128(0x0193_f1c2_7e4b_7c1d_9a2e_3f5d_6c7b_8a90);
        let original = Uuid::from_u128(0xd0c0_0001);
        let copy = copy_id(Some(owner), original);
        // Computed apart: SHA-1 of the owner's 16 bytes then the original's, as RFC 9562 says.
        assert_eq!(copy, uuid!("061c19ca-e055-562b-8e72-5b650da56e99"));
        assert_ne!(copy, copy_id(None, original));
        assert_ne!(copy, copy_id(Some(original), owner));
    }
}
