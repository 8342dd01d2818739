-- Memory search (issue 16): the join that turns the vector index's hits into rows, as a
-- function whose plan is made once per connection. Expand-only: a new function that older
-- builds never call.
--
-- As a prepared statement the join was planned again on every search: PostgreSQL keeps a
-- custom plan when the generic one's estimate is higher, and here it always was (the generic
-- plan cannot fold `cardinality($n) = 0 OR ...` away), although both plans are the same
-- primary-key lookups. Planning took 0.2 ms, running 0.05 ms, on every search. PL/pgSQL
-- caches the statement's plan for the connection, and the function's own setting makes that
-- the generic plan. Its shape still does not depend on the tables' statistics: each hit
-- drives one primary-key lookup of its chunk and one of that chunk's document (`LIMIT 1`
-- keeps the lateral subquery from being flattened into a join the planner could reorder).
CREATE FUNCTION memory.search_hits(
    hit_ids uuid[],
    viewer_id uuid,
    own_documents boolean,
    shared_documents boolean,
    wanted_sources text[],
    wanted_kinds text[],
    wanted_tags text[],
    wanted_document_ids uuid[],
    wanted_project_ids uuid[],
    created_after timestamptz,
    created_before timestamptz
)
RETURNS TABLE (
    id uuid,
    chunk_index integer,
    content text,
    embedding_model character varying,
    chunk_metadata jsonb,
    document_id uuid,
    owner_id uuid,
    source character varying,
    external_id character varying,
    kind character varying,
    path text,
    title text,
    tags text[],
    document_metadata jsonb,
    created_at timestamptz
)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT h.id, h.chunk_index, h.content, h.embedding_model, h.chunk_metadata,
           h.document_id, h.owner_id, h.source, h.external_id, h.kind, h.path, h.title,
           h.tags, h.document_metadata, h.created_at
    FROM unnest(hit_ids) WITH ORDINALITY AS hit(id, rank)
    CROSS JOIN LATERAL (
        SELECT c.id, c.chunk_index, c.content, c.embedding_model,
               COALESCE(c.metadata, '{}') AS chunk_metadata,
               d.id AS document_id, d.owner_id, d.source, d.external_id,
               COALESCE(d.type, 'document') AS kind, d.path, d.title,
               COALESCE(d.tags, '{}') AS tags,
               COALESCE(d.metadata, '{}') AS document_metadata,
               COALESCE(d.created_at, 'epoch') AS created_at
        FROM memory.chunks c
        JOIN memory.documents d ON d.id = c.document_id
        WHERE c.id = hit.id
          AND ((d.owner_id = viewer_id AND own_documents)
               OR (d.owner_id IS NULL AND shared_documents))
          AND (cardinality(wanted_sources) = 0 OR d.source = ANY(wanted_sources))
          AND (cardinality(wanted_kinds) = 0
               OR COALESCE(d.type, 'document') = ANY(wanted_kinds))
          AND (cardinality(wanted_tags) = 0 OR d.tags && wanted_tags)
          AND (cardinality(wanted_document_ids) = 0 OR d.id = ANY(wanted_document_ids))
          AND (cardinality(wanted_project_ids) = 0 OR d.project_id = ANY(wanted_project_ids))
          AND (created_after IS NULL OR COALESCE(d.created_at, 'epoch') >= created_after)
          AND (created_before IS NULL OR COALESCE(d.created_at, 'epoch') < created_before)
        LIMIT 1
    ) h
    ORDER BY hit.rank;
END;
$$;

COMMENT ON FUNCTION memory.search_hits IS
    'Rows of vector hits (in hit order) that pass a search''s filter; see migration 0018.';
