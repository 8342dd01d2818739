//! The PostgreSQL side of memory search: full-text matching over `memory.chunks`
//! (`search_vector`, migration 0015) and the join that turns hits, vector or lexical, into
//! rows. Both apply the same [`SearchFilter`], so a lexical hit and a vector hit obey the same
//! rules.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{Acquire, PgExecutor, Postgres};
use uuid::Uuid;

use super::{ChunkHit, Scope};

/// `sqlx::query_as!` for a statement that takes `filter` as its parameters `$2` to `$11`, in
/// the order of `memory.search_hits`' arguments, after `$first` (`$1`) and before `$rest`
/// (`$12` on). Both search statements apply the filter, and its ten binds are written here
/// once, so that the two cannot bind them in different orders.
macro_rules! query_filtered {
    ($out:path, $sql:literal, $first:expr, $filter:expr $(, $rest:expr)* $(,)?) => {{
        let filter: &SearchFilter = $filter;
        let (mine, shared) = filter.scope.owners();
        sqlx::query_as!(
            $out,
            $sql,
            $first,
            filter.viewer,
            mine,
            shared,
            &filter.sources,
            &filter.kinds,
            &filter.tags,
            &filter.document_ids,
            &filter.project_ids,
            filter.created_after,
            filter.created_before,
            $($rest,)*
        )
    }};
}

/// Which chunks a search may return: what `viewer` may read within `scope`, narrowed by
/// the request. An empty list means "no restriction" on that field; several values mean
/// "any of them" (for `tags`: the document carries at least one).
#[derive(Debug, Clone)]
pub struct SearchFilter {
    pub viewer: Uuid,
    pub scope: Scope,
    pub sources: Vec<String>,
    pub kinds: Vec<String>,
    pub tags: Vec<String>,
    pub document_ids: Vec<Uuid>,
    pub project_ids: Vec<Uuid>,
    /// Documents created at or after this time.
    pub created_after: Option<DateTime<Utc>>,
    /// Documents created before this time.
    pub created_before: Option<DateTime<Utc>>,
}

impl SearchFilter {
    /// Everything `viewer` may read: their documents and the shared ones.
    pub fn visible_to(viewer: Uuid) -> Self {
        Self {
            viewer,
            scope: Scope::All,
            sources: Vec::new(),
            kinds: Vec::new(),
            tags: Vec::new(),
            document_ids: Vec::new(),
            project_ids: Vec::new(),
            created_after: None,
            created_before: None,
        }
    }
}

/// A chunk found by its words, with its `ts_rank_cd` score.
#[derive(Debug, Clone, PartialEq)]
pub struct LexicalHit {
    /// Cover density rank normalised to `[0, 1)` (`rank / (rank + 1)`), higher is better.
    pub rank: f32,
    pub hit: ChunkHit,
}

/// A chunk id with its `ts_rank_cd` score, as the lexical search ranks them.
struct Ranked {
    id: Uuid,
    rank: f32,
}

/// The best `limit` chunks matching `query` (web search syntax: every word must appear,
/// `"quoted phrase"`, `or`, `-excluded`), best first; ties in chunk id order. The query is
/// parsed with the text-search configuration `language`.
///
/// Its statements run in a transaction of their own (a savepoint inside the caller's) that
/// plans the search for the values at hand, never with a cached generic plan: a prepared
/// statement switches to one after five runs, and a generic plan cannot see that an empty
/// filter list means "no condition", takes the documents for one row and reads every
/// visible chunk, whatever the word. With the values, a rare word is found through the GIN
/// index on `search_vector`, and a common one is checked per visible document when that is
/// cheaper. The query is parsed first, on its own, so that the search holds it as a
/// constant: parsed inside, through the configuration's name (a lookup PostgreSQL does not
/// fold), it would be parsed again for every candidate row.
pub async fn lexical<'c>(
    connection: impl Acquire<'c, Database = Postgres>,
    language: &str,
    query: &str,
    filter: &SearchFilter,
    limit: i64,
) -> sqlx::Result<Vec<LexicalHit>> {
    let mut tx = connection.begin().await?;
    let parsed = sqlx::query!(
        r#"SELECT set_config('plan_cache_mode', 'force_custom_plan', true) AS "plans!",
                  websearch_to_tsquery($1::text::regconfig, $2)::text AS "query!""#,
        language,
        query,
    )
    .fetch_one(&mut *tx)
    .await?
    .query;
    if parsed.is_empty() {
        // Only stop words or operators: nothing can match (and `@@` would warn).
        return Ok(Vec::new());
    }
    let ranked = query_filtered!(
        Ranked,
        r#"SELECT c.id, ts_rank_cd(c.search_vector, $1::text::tsquery, 32) AS "rank!"
           FROM memory.chunks c
           JOIN memory.documents d ON d.id = c.document_id
           WHERE c.search_vector @@ $1::text::tsquery
             AND ((d.owner_id = $2 AND $3) OR (d.owner_id IS NULL AND $4))
             AND (cardinality($5::text[]) = 0 OR d.source = ANY($5))
             AND (cardinality($6::text[]) = 0 OR COALESCE(d.type, 'document') = ANY($6))
             AND (cardinality($7::text[]) = 0 OR d.tags && $7)
             AND (cardinality($8::uuid[]) = 0 OR d.id = ANY($8))
             AND (cardinality($9::uuid[]) = 0 OR d.project_id = ANY($9))
             AND ($10::timestamptz IS NULL OR COALESCE(d.created_at, 'epoch') >= $10)
             AND ($11::timestamptz IS NULL OR COALESCE(d.created_at, 'epoch') < $11)
           ORDER BY "rank!" DESC, c.id
           LIMIT $12"#,
        parsed,
        filter,
        limit,
    )
    .fetch_all(&mut *tx)
    .await?;
    // The rows are read as a vector search reads its hits, so both kinds are built alike. In
    // the same transaction a chunk can still vanish in between (its document deleted): it is
    // absent then, as it would have been a moment later.
    let ids: Vec<Uuid> = ranked.iter().map(|row| row.id).collect();
    let rows = hits(&mut *tx, &ids, filter).await?;
    tx.commit().await?;
    let ranks: HashMap<Uuid, f32> = ranked.into_iter().map(|row| (row.id, row.rank)).collect();
    Ok(rows
        .into_iter()
        .map(|hit| LexicalHit {
            rank: ranks[&hit.id],
            hit,
        })
        .collect())
}

/// The rows of vector hits `ids` that pass `filter`, in the order of `ids`. The index
/// filtered on the vectors' payloads already; this re-checks everything against the record,
/// because a payload can be stale (a deleted project leaves `project_id` in it) and a vector
/// can be an orphan (its chunk is gone): such ids are simply absent.
///
/// The join is the function `memory.search_hits` (migration 0018): its plan does not depend
/// on the tables' statistics (each hit drives one primary-key lookup of its chunk and one of
/// its document; a plain `c.id = ANY($1)` join let the planner, right after a bulk ingest
/// and before ANALYZE, start from a sequential scan of `memory.documents`), and it is made
/// once per connection instead of on every search.
pub async fn hits(
    executor: impl PgExecutor<'_>,
    ids: &[Uuid],
    filter: &SearchFilter,
) -> sqlx::Result<Vec<ChunkHit>> {
    query_filtered!(
        ChunkHit,
        r#"SELECT id AS "id!", chunk_index AS "chunk_index!", content AS "content!",
                  embedding_model, chunk_metadata AS "chunk_metadata!",
                  document_id AS "document_id!", owner_id, source AS "source!", external_id,
                  kind AS "kind!", path, title, tags AS "tags!",
                  document_metadata AS "document_metadata!", created_at AS "created_at!"
           FROM memory.search_hits($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"#,
        ids,
        filter,
    )
    .fetch_all(executor)
    .await
}

/// Whether PostgreSQL has a text-search configuration `name` on the search path (what
/// `name::regconfig` resolves), e.g. `english`, `german`, `simple`.
pub async fn language_exists(executor: impl PgExecutor<'_>, name: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (
               SELECT 1 FROM pg_catalog.pg_ts_config
               WHERE cfgname = $1 AND pg_catalog.pg_ts_config_is_visible(oid)
           ) AS "exists!""#,
        name,
    )
    .fetch_one(executor)
    .await
}
