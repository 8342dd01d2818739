-- Creates the memory schema: relational metadata for RAG documents and their chunks (vectors live in Qdrant).
-- Every column of the guide's DDL is kept exactly (type, default, nullability); additions are
-- ownership, content hashes, embedding bookkeeping and named integrity constraints.

CREATE SCHEMA memory;
COMMENT ON SCHEMA memory IS 'RAG memory: ingested documents and their chunks; embeddings are in Qdrant, keyed by chunk id.';

-- ---------------------------------------------------------------------------------------------
-- memory.documents
-- ---------------------------------------------------------------------------------------------
CREATE TABLE memory.documents (
    id           UUID NOT NULL DEFAULT gen_random_uuid(),
    external_id  VARCHAR(255),
    source       VARCHAR(100) NOT NULL,
    type         VARCHAR(50) DEFAULT 'document',
    path         TEXT,
    tags         TEXT[] DEFAULT '{}',
    metadata     JSONB DEFAULT '{}',
    created_at   TIMESTAMPTZ DEFAULT now(),
    updated_at   TIMESTAMPTZ DEFAULT now(),
    -- NULL owner: shared/system knowledge (e.g. platform docs) visible to everyone.
    owner_id     UUID,
    title        TEXT,
    -- Nullable so documents backfilled from legacy Qdrant-only data can be imported without content.
    content_hash TEXT,

    CONSTRAINT documents_pkey PRIMARY KEY (id),
    -- Re-ingesting the same external document updates it instead of duplicating it. A plain UNIQUE
    -- constraint already ignores rows whose external_id IS NULL, and works with ON CONFLICT ON CONSTRAINT.
    CONSTRAINT documents_source_external_id_key UNIQUE (source, external_id),
    -- CASCADE: a user's private knowledge goes with the account (the service also deletes the Qdrant points).
    CONSTRAINT documents_owner_id_fkey FOREIGN KEY (owner_id)
        REFERENCES auth.users (id) ON DELETE CASCADE,
    CONSTRAINT documents_tags_check CHECK (array_position(tags, NULL) IS NULL),
    CONSTRAINT documents_metadata_check CHECK (jsonb_typeof(metadata) = 'object'),
    CONSTRAINT documents_content_hash_check CHECK (content_hash ~ '^[0-9a-f]{64}$')
);
COMMENT ON TABLE memory.documents IS 'Ingested knowledge documents: origin (source, external_id, path), owner, tags and content hash.';
COMMENT ON COLUMN memory.documents.content_hash IS 'Lower-case hex SHA-256 of the full text; unchanged hash means re-ingestion can be skipped.';

CREATE INDEX idx_memory_documents_source ON memory.documents (source);
CREATE INDEX idx_memory_documents_type ON memory.documents (type);
-- Keyset pagination of an owner's documents; also serves the user-delete cascade.
CREATE INDEX documents_owner_id_created_at_id_idx ON memory.documents (owner_id, created_at, id);
-- Tag filters: tags @> ARRAY['rust'].
CREATE INDEX documents_tags_idx ON memory.documents USING gin (tags);

CREATE TRIGGER update_memory_documents_updated_at
    BEFORE UPDATE ON memory.documents
    FOR EACH ROW
    EXECUTE FUNCTION public.update_updated_at_column();

-- ---------------------------------------------------------------------------------------------
-- memory.chunks
-- ---------------------------------------------------------------------------------------------
CREATE TABLE memory.chunks (
    id              UUID NOT NULL DEFAULT gen_random_uuid(),
    document_id     UUID,
    chunk_index     INTEGER NOT NULL,
    content         TEXT NOT NULL,
    qdrant_point_id UUID,
    embedding_model VARCHAR(100),
    score           FLOAT,
    metadata        JSONB DEFAULT '{}',
    created_at      TIMESTAMPTZ DEFAULT now(),
    embedding_dim   INTEGER,
    content_hash    TEXT,
    token_count     INTEGER,

    CONSTRAINT chunks_pkey PRIMARY KEY (id),
    CONSTRAINT chunks_document_id_chunk_index_key UNIQUE (document_id, chunk_index),
    CONSTRAINT chunks_document_id_fkey FOREIGN KEY (document_id)
        REFERENCES memory.documents (id) ON DELETE CASCADE,
    CONSTRAINT chunks_chunk_index_check CHECK (chunk_index >= 0),
    -- The Qdrant point id IS the chunk id; the column only records that the point has been upserted.
    CONSTRAINT chunks_qdrant_point_id_check CHECK (qdrant_point_id IS NULL OR qdrant_point_id = id),
    CONSTRAINT chunks_metadata_check CHECK (jsonb_typeof(metadata) = 'object'),
    CONSTRAINT chunks_embedding_dim_check CHECK (embedding_dim > 0),
    CONSTRAINT chunks_content_hash_check CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT chunks_token_count_check CHECK (token_count >= 0)
);
COMMENT ON TABLE memory.chunks IS 'Ordered text chunks of a document; each chunk''s id is its Qdrant point id.';
COMMENT ON COLUMN memory.chunks.qdrant_point_id IS 'NULL until the vector is upserted into Qdrant, then equal to id.';
COMMENT ON COLUMN memory.chunks.score IS 'Last retrieval score, if recorded (the guide''s column; not an ordering key).';

-- Guide indexes (idx_memory_chunks_document_id is kept although the UNIQUE key above covers it).
CREATE INDEX idx_memory_chunks_document_id ON memory.chunks (document_id);
CREATE INDEX idx_memory_chunks_qdrant_id ON memory.chunks (qdrant_point_id);
