-- Memory documents get a version (PATCH /api/memory/documents/{id}): an edit names the
-- version it is based on and is refused (409 version_conflict) when another edit or a
-- re-ingestion came in between. Every edit and every re-ingestion that changes the document
-- adds 1. Expand-only: older builds neither read nor write the column; their rows take the
-- default, and their re-ingestions leave it as it is.
ALTER TABLE memory.documents
    ADD COLUMN version integer NOT NULL DEFAULT 1
        CONSTRAINT documents_version_positive CHECK (version >= 1);

COMMENT ON COLUMN memory.documents.version IS
    'Starts at 1; +1 on every edit and every re-ingestion that changes the document.';
