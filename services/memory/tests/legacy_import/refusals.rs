//! Owners, and records the service refuses: each one skipped with its reason, the others
//! imported, nobody else's data touched.

use authn::Role;
use memory::legacy::{Location, Owner, RawRecord};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    common::TestApp,
    support::{account, assert_index_matches_chunks, import, import_file, imported},
};

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn shared_imports_are_everyones_and_owners_are_found_by_email(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let carol = app.user(Role::User).await;
    let email: String = sqlx::query_scalar("SELECT email FROM auth.users WHERE id = $1")
        .bind(carol.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    let found = Owner::resolve(&pool, &email.to_uppercase())
        .await
        .expect("found ignoring case");
    assert_eq!(
        found,
        Owner::Account {
            id: carol.id,
            email
        }
    );
    assert_eq!(
        Owner::resolve(&pool, " Shared ").await.unwrap(),
        Owner::Shared
    );
    let unknown = Owner::resolve(&pool, "nobody@example.com")
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        unknown,
        "no account has the email nobody@example.com: create it first, or import with --owner shared"
    );
    let not_email = Owner::resolve(&pool, "carol")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        not_email.contains("must be an account's email or `shared`"),
        "{not_email}"
    );

    let summary = import_file(&app, "wrapped.json", &Owner::Shared, false).await;
    assert_eq!(summary.created, 2, "{}", summary.render());
    assert!(imported(&pool).await.values().all(|d| d.owner_id.is_none()));
    let hits = app
        .search(&carol, json!({"query": "iterators are lazy"}))
        .await;
    let results = hits.body["results"].as_array().expect("results");
    assert!(!results.is_empty(), "{}", hits.body);
    assert!(results.iter().all(|hit| hit["document"]["shared"] == true));
    assert_eq!(results[0]["document"]["external_id"], "w-2");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn hostile_records_are_refused_one_by_one(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let (alice, bob) = (app.user(Role::User).await, app.user(Role::User).await);
    let record = |line: usize, value: Value| RawRecord {
        at: Location::Line(line),
        value: Ok(value),
    };
    let max = app.state.config.memory_max_document_bytes;
    let point = Uuid::new_v4();
    import(
        &app,
        vec![record(1, json!({"id": point, "text": "Alice's note."}))],
        &account(alice.id),
        false,
    )
    .await;

    let summary = import(
        &app,
        vec![
            record(1, json!({"id": "nul", "content": "a \u{0} byte"})),
            record(2, json!({"id": "huge", "content": "x".repeat(max + 1)})),
            record(
                3,
                json!({"id": "path", "content": "ok", "path": "p".repeat(1025)}),
            ),
            record(4, json!({"id": "e".repeat(256), "content": "a long id"})),
            record(
                5,
                json!({"id": "meta", "content": "ok", "metadata": {"blob": "m".repeat(17 * 1024)}}),
            ),
            record(
                6,
                json!({"id": point, "text": "Bob's note under Alice's point id."}),
            ),
        ],
        &account(bob.id),
        false,
    )
    .await;
    let codes: Vec<String> = summary
        .skipped
        .iter()
        .map(|(_, skip)| skip.reason())
        .collect();
    assert_eq!(
        codes,
        [
            "refused (invalid_text)",
            "refused (document_too_large)",
            "refused (field_too_long)",
            "refused (field_too_long)",
            "refused (metadata_too_large)",
        ]
    );
    assert_eq!(summary.created, 1);
    assert_eq!(summary.rekeyed[0].why, "another chunk has this id");
    let owners: Vec<(Option<Uuid>, Uuid)> = sqlx::query_as(
        "SELECT d.owner_id, c.id FROM memory.chunks c JOIN memory.documents d ON d.id = c.document_id
         WHERE d.external_id = $1 ORDER BY d.owner_id = $2 DESC",
    )
    .bind(point.to_string())
    .bind(alice.id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(owners[0], (Some(alice.id), point), "Alice keeps her chunk");
    assert_eq!(owners[1].0, Some(bob.id));
    assert_ne!(owners[1].1, point);
    assert_index_matches_chunks(&app).await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_unavailable_embedder_stops_the_import_with_nothing_half_written(pool: PgPool) {
    let dir = std::sync::Arc::new(tempfile::TempDir::new().unwrap());
    let closed = format!("http://127.0.0.1:{}/v1", testkit::free_port());
    let settings = crate::common::settings_with_provider(&dir, &closed);
    let app = TestApp::with_settings(pool.clone(), settings, dir).await;
    let alice = account(app.user(Role::User).await.id);

    let summary = import_file(&app, "mixed.json", &alice, false).await;
    let failure = summary.failure.clone().expect("the import stops");
    assert!(failure.contains("embedding provider failed"), "{failure}");
    assert!(
        failure.contains("0 records were imported before it, and a rerun continues"),
        "{failure}"
    );
    assert_eq!(summary.created, 0);
    assert!(imported(&pool).await.is_empty());
    assert_eq!(app.vectors().await, 0);
}
