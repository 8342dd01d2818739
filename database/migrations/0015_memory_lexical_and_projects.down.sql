-- Reverts 0015. Project membership of documents is dropped with its column; identical
-- documents may be stored twice again; lexical search has no column to use.

DROP INDEX memory.documents_owner_content_hash_key;

DROP INDEX memory.documents_project_id_idx;
ALTER TABLE memory.documents DROP COLUMN project_id;

DROP INDEX memory.chunks_search_vector_idx;
ALTER TABLE memory.chunks DROP COLUMN search_vector, DROP COLUMN search_language;
