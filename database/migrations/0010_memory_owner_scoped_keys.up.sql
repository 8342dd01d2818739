-- Re-ingestion keys become per owner, and chunks still waiting for their vector are cheap to find.
--
-- 0004 made (source, external_id) unique across all owners, so one user's document could
-- block -- or, on an upsert, be taken over by -- another user's document with the same key.
-- The key is now (owner, source, external_id); shared documents (owner NULL) form their own
-- namespace through the COALESCE to the nil UUID, which no account can have.

ALTER TABLE memory.documents DROP CONSTRAINT documents_source_external_id_key;

CREATE UNIQUE INDEX documents_owner_source_external_id_key ON memory.documents
    (COALESCE(owner_id, '00000000-0000-0000-0000-000000000000'::uuid), source, external_id)
    WHERE external_id IS NOT NULL;

-- The indexer polls for chunks whose vector is not in the index yet (qdrant_point_id NULL):
-- normally none or a few, so a partial index keeps that poll O(pending).
CREATE INDEX chunks_pending_idx ON memory.chunks (created_at, id) WHERE qdrant_point_id IS NULL;
