-- Memory beyond a vector store: full-text search over chunks, documents that belong to a
-- project, and one copy of identical content per owner.

-- ---------------------------------------------------------------------------------------------
-- Lexical search: a tsvector per chunk, derived by PostgreSQL itself so it can never disagree
-- with the text. The text-search configuration is stored per chunk (the service writes its
-- MEMORY_SEARCH_LANGUAGE there): changing the setting later re-derives a chunk's vector with
-- `UPDATE memory.chunks SET search_language = 'german'`, no re-ingest needed.
-- ---------------------------------------------------------------------------------------------
ALTER TABLE memory.chunks
    ADD COLUMN search_language regconfig NOT NULL DEFAULT 'english',
    ADD COLUMN search_vector tsvector
        GENERATED ALWAYS AS (to_tsvector(search_language, content)) STORED;
COMMENT ON COLUMN memory.chunks.search_language IS
    'Text-search configuration the chunk''s search_vector is derived with.';
COMMENT ON COLUMN memory.chunks.search_vector IS
    'Full-text vector of content (generated); lexical and hybrid search match it with websearch_to_tsquery.';

CREATE INDEX chunks_search_vector_idx ON memory.chunks USING gin (search_vector);

-- ---------------------------------------------------------------------------------------------
-- A document may belong to a project. Deleting the project keeps the notes (they are the
-- owner's), they simply belong to no project any more.
-- ---------------------------------------------------------------------------------------------
ALTER TABLE memory.documents
    ADD COLUMN project_id UUID,
    ADD CONSTRAINT documents_project_id_fkey FOREIGN KEY (project_id)
        REFERENCES projects.projects (id) ON DELETE SET NULL;
COMMENT ON COLUMN memory.documents.project_id IS
    'The project the document belongs to, if any; a filter field of its vectors too.';

CREATE INDEX documents_project_id_idx ON memory.documents (project_id) WHERE project_id IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Identical content from one owner, sent without an external id, is stored once: the second
-- ingest answers with the first document. Shared documents (owner NULL) are their own
-- namespace, as in documents_owner_source_external_id_key.
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
    duplicates bigint;
BEGIN
    SELECT count(*) INTO duplicates FROM (
        SELECT 1 FROM memory.documents
        WHERE external_id IS NULL AND content_hash IS NOT NULL
        GROUP BY COALESCE(owner_id, '00000000-0000-0000-0000-000000000000'::uuid), content_hash
        HAVING count(*) > 1
    ) AS groups;
    IF duplicates > 0 THEN
        RAISE EXCEPTION '% group(s) of identical documents without an external_id share an owner; '
            'nothing was changed: delete the extra copies (same owner_id and content_hash, '
            'external_id NULL), then migrate again', duplicates;
    END IF;
END;
$$;

CREATE UNIQUE INDEX documents_owner_content_hash_key ON memory.documents
    (COALESCE(owner_id, '00000000-0000-0000-0000-000000000000'::uuid), content_hash)
    WHERE external_id IS NULL AND content_hash IS NOT NULL;
