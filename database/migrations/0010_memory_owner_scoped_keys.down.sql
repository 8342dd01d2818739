-- Reverts 0010. Fails (and changes nothing) if two owners now hold the same
-- (source, external_id): resolve those documents first.

DROP INDEX memory.chunks_pending_idx;
DROP INDEX memory.documents_owner_source_external_id_key;

ALTER TABLE memory.documents
    ADD CONSTRAINT documents_source_external_id_key UNIQUE (source, external_id);
