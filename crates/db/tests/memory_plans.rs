//! Memory queries that must stay on their indexes whatever PostgreSQL's statistics say: the
//! search hit join (`db::memory::search::hits`: the viewer's and shared chunks in the
//! index's order, found by primary key), and the lookups of an ingestion's write, planned
//! generically (`db::memory::start_ingest_write`).

mod common;

use db::memory::{
    DocumentKey,
    documents::{ContentKey, find_by_contents, find_by_keys},
    search::SearchFilter,
};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

async fn account(pool: &PgPool, name: &str) -> Uuid {
    common::account(pool, name).await.id.0
}

/// `documents` documents of `owner` (shared when `None`) with two chunks each, written in
/// one go and never analyzed; returns the chunk ids.
async fn bulk_documents(pool: &PgPool, owner: Option<Uuid>, documents: i32) -> Vec<Uuid> {
    sqlx::query(
        "INSERT INTO memory.documents (owner_id, source, external_id, content_hash)
         SELECT $1, 'bulk', g::text || '-' || gen_random_uuid(), repeat('a', 64)
         FROM generate_series(1, $2) g",
    )
    .bind(owner)
    .bind(documents)
    .execute(pool)
    .await
    .expect("documents");
    sqlx::query_scalar(
        "INSERT INTO memory.chunks (document_id, chunk_index, content, content_hash)
         SELECT d.id, i, repeat('word ', 150), repeat('b', 64)
         FROM memory.documents d CROSS JOIN generate_series(0, 1) i
         WHERE NOT EXISTS (SELECT 1 FROM memory.chunks c WHERE c.document_id = d.id)
         RETURNING id",
    )
    .fetch_all(pool)
    .await
    .expect("chunks")
}

/// A bulk ingest of 1,500 documents of `owner` into fresh tables that nothing analyzes
/// (autovacuum kept off so that it cannot while the test runs); returns the chunk ids.
async fn unanalyzed_bulk(pool: &PgPool, owner: Uuid) -> Vec<Uuid> {
    sqlx::raw_sql(
        "ALTER TABLE memory.chunks SET (autovacuum_enabled = false);
         ALTER TABLE memory.documents SET (autovacuum_enabled = false);",
    )
    .execute(pool)
    .await
    .unwrap();
    bulk_documents(pool, Some(owner), 1500).await
}

/// Sequential scans of the two memory tables in this transaction so far.
async fn sequential_scans(tx: &mut Transaction<'_, Postgres>) -> (i64, i64) {
    sqlx::query_as(
        "SELECT COALESCE(sum(seq_scan) FILTER (WHERE relname = 'chunks'), 0)::bigint,
                COALESCE(sum(seq_scan) FILTER (WHERE relname = 'documents'), 0)::bigint
         FROM pg_stat_xact_user_tables WHERE schemaname = 'memory'",
    )
    .fetch_one(&mut **tx)
    .await
    .expect("scan counts")
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn hits_are_found_by_primary_key_right_after_a_bulk_ingest(pool: PgPool) {
    let alice = account(&pool, "alice").await;
    let chunks = unanalyzed_bulk(&pool, alice).await;
    let never_analyzed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_user_tables
         WHERE schemaname = 'memory' AND last_analyze IS NULL AND last_autoanalyze IS NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(never_analyzed, 2);
    let hits: Vec<Uuid> = chunks.iter().step_by(297).copied().collect();

    let mut tx = pool.begin().await.unwrap();
    // Prepared statements switch to a generic plan after five runs; check both kinds.
    for mode in ["force_custom_plan", "force_generic_plan"] {
        sqlx::raw_sql(&format!("SET LOCAL plan_cache_mode = {mode}"))
            .execute(&mut *tx)
            .await
            .unwrap();
        let before = sequential_scans(&mut tx).await;
        let rows = db::memory::search::hits(&mut *tx, &hits, &SearchFilter::visible_to(alice))
            .await
            .unwrap();
        assert_eq!(rows.len(), hits.len());
        assert_eq!(
            sequential_scans(&mut tx).await,
            before,
            "{mode}: the hit join scanned a whole table"
        );
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn hits_keep_the_index_order_and_only_what_the_viewer_may_read(pool: PgPool) {
    let alice = account(&pool, "alice").await;
    let bob = account(&pool, "bob").await;
    let mine = bulk_documents(&pool, Some(alice), 2).await;
    let shared = bulk_documents(&pool, None, 1).await;
    let bobs = bulk_documents(&pool, Some(bob), 1).await;
    let ranked = [mine[3], bobs[0], shared[1], Uuid::new_v4(), mine[0]];

    let rows = db::memory::search::hits(&pool, &ranked, &SearchFilter::visible_to(alice))
        .await
        .unwrap();
    let found: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    assert_eq!(found, [mine[3], shared[1], mine[0]]);
    assert_eq!(rows[0].owner_id, Some(alice));
    assert_eq!(rows[1].owner_id, None, "shared documents are visible");
    assert_eq!(rows[1].kind, "document");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_ingestions_lookups_planned_generically_stay_on_their_indexes(pool: PgPool) {
    let alice = account(&pool, "alice").await;
    unanalyzed_bulk(&pool, alice).await;
    let stored: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, external_id FROM memory.documents ORDER BY external_id LIMIT 3")
            .fetch_all(&pool)
            .await
            .unwrap();
    let keys: Vec<DocumentKey> = stored
        .iter()
        .map(|(_, external_id)| DocumentKey {
            owner_id: Some(alice),
            source: "bulk".into(),
            external_id: external_id.clone(),
        })
        .collect();
    let texts = [ContentKey {
        owner_id: Some(alice),
        content_hash: "not stored".into(),
    }];
    let ids: Vec<Uuid> = stored.iter().map(|(id, _)| *id).collect();

    let mut tx = pool.begin().await.unwrap();
    db::memory::start_ingest_write(&mut *tx).await.unwrap();
    let before = sequential_scans(&mut tx).await;
    // Past the five runs after which a prepared statement would pick its plan on its own.
    for _ in 0..7 {
        assert_eq!(find_by_keys(&mut *tx, &keys).await.unwrap().len(), 3);
        assert!(find_by_contents(&mut *tx, &texts).await.unwrap().is_empty());
    }
    let replaced = db::memory::chunks::delete_of_documents(&mut *tx, &ids)
        .await
        .unwrap();
    assert_eq!(replaced.len(), 6);
    assert_eq!(
        sequential_scans(&mut tx).await,
        before,
        "a lookup scanned a whole table"
    );
    tx.commit().await.unwrap();

    let mode: String = sqlx::query_scalar("SHOW plan_cache_mode")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(mode, "auto", "the setting ended with the transaction");
}
