//! JSON files: every field where it belongs, reruns, changed records, dry runs, the shapes.

use authn::Role;
use axum::http::StatusCode;
use chrono::Utc;
use memory::legacy::{Location, RawRecord, record::Skip};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::common::{TestApp, hit_documents};
use crate::support::{
    CRAB_ID, account, assert_index_matches_chunks, at, chunks, import, import_file, imported,
    vector_ids,
};

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn json_records_become_legacy_documents_with_their_fields(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let alice = app.user(Role::User).await;
    let summary = import_file(&app, "mixed.json", &account(alice.id), false).await;

    assert_eq!(summary.failure, None, "{}", summary.render());
    assert_eq!(
        (summary.records, summary.created, summary.unchanged),
        (13, 7, 0)
    );
    let skipped: Vec<(Location, String)> = summary
        .skipped
        .iter()
        .map(|(at, skip)| (*at, skip.reason()))
        .collect();
    let line = Location::Line;
    assert_eq!(
        skipped,
        [
            (line(5), "no text".into()),
            (line(7), "duplicate".into()),
            (line(10), "no text".into()),
            (line(12), "not a record".into()),
            (line(13), "duplicate".into()),
            (line(14), "refused (too_many_tags)".into()),
        ]
    );
    let report = summary.render();
    for expected in [
        "no text: 2 (lines 5, 10)",
        "line 7: same id as line 2",
        "line 13: same text (and no id) as line 11",
        "text from:     content 5, pageContent 1, text 2",
        "1 unreadable (line 11: the import's time used",
        "line 6: \"Code Snippet\" -> code_snippet",
    ] {
        assert!(report.contains(expected), "{expected:?} in:\n{report}");
    }
    assert!(summary.rekeyed.is_empty(), "a UUID id is kept: {report}");

    let documents = imported(&pool).await;
    assert_eq!(documents.len(), 7);
    assert!(documents.values().all(|d| d.owner_id == Some(alice.id)));
    let note = &documents["note-1"];
    assert_eq!(
        (note.kind.as_str(), note.tags.clone()),
        ("note", vec!["rust".into(), "ownership".into()])
    );
    assert_eq!(note.created_at, at("2023-03-01T10:00:00Z"));
    assert_eq!(note.metadata["legacy_source"], "notes");
    assert_eq!(note.metadata["legacy_type"], "Note");
    assert_eq!(documents["2"].created_at, at("2023-03-28T10:40:00Z"));
    let lifetimes = documents
        .values()
        .find(|d| d.path.as_deref() == Some("book/ch10-03.md"))
        .expect("nested fields honoured");
    assert!(lifetimes.external_id.starts_with("sha256:"));
    assert_eq!(
        (lifetimes.kind.as_str(), lifetimes.tags.clone()),
        ("chapter", vec!["lifetimes".into()])
    );
    assert_eq!(lifetimes.metadata["legacy_source"], "rust-book.md");
    assert_eq!(lifetimes.created_at, at("2023-07-22T04:26:40Z"));
    let crab = &documents[CRAB_ID];
    assert_eq!(crab.kind, "code_snippet");
    assert_eq!(crab.created_at, at("2023-06-15T08:30:00Z"));
    let pinning = documents
        .values()
        .find(|d| d.metadata.get("legacy_fields").is_some())
        .expect("unknown fields kept");
    assert_eq!(pinning.metadata["legacy_fields"], json!({"author": "ada"}));
    assert_eq!(pinning.metadata["legacy_created_at"], "yesterday");
    assert!(Utc::now() - pinning.created_at < chrono::Duration::minutes(5));

    let crab_chunks: Vec<_> = chunks(&pool)
        .await
        .into_iter()
        .filter(|c| c.2 == crab.id)
        .collect();
    let crab_point = Uuid::parse_str(CRAB_ID).unwrap();
    assert_eq!(
        (crab_chunks[0].0, crab_chunks[0].1),
        (crab_point, Some(crab_point))
    );
    assert!(
        crab_chunks[0].4.contains("e\u{301}te\u{301}"),
        "combining marks kept as given"
    );
    assert_index_matches_chunks(&app).await;

    let found = app
        .search(&alice, json!({"query": "crab 所有权 借用"}))
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    assert_eq!(hit_documents(&found.body)[0], crab.id.to_string());
    // The vectors carry the legacy times: a time filter sees them.
    let early = app
        .search(
            &alice,
            json!({"query": "ownership borrowing", "created_before": "2023-03-15T00:00:00Z"}),
        )
        .await;
    assert_eq!(hit_documents(&early.body), [note.id.to_string()]);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_rerun_imports_nothing_new(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let alice = account(app.user(Role::User).await.id);
    let first = import_file(&app, "mixed.json", &alice, false).await;
    let chunks_before = chunks(&pool).await;
    let vectors_before = vector_ids(&app).await;

    let second = import_file(&app, "mixed.json", &alice, false).await;
    assert_eq!(
        (second.created, second.updated, second.unchanged),
        (0, 0, 7)
    );
    assert_eq!(second.skipped.len(), first.skipped.len());
    assert_eq!(second.mapping.len(), 7, "unchanged records are mapped too");
    assert!(
        second
            .render()
            .contains("imported:      0 (0 new, 0 changed"),
        "{}",
        second.render()
    );
    assert_eq!(chunks(&pool).await, chunks_before);
    assert_eq!(vector_ids(&app).await, vectors_before);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_changed_record_replaces_its_document_and_keeps_its_point_id(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let user = app.user(Role::User).await;
    let alice = account(user.id);
    let record = |text: &str, time: &str| RawRecord {
        at: Location::Line(1),
        value: Ok(json!({"id": CRAB_ID, "content": text, "created_at": time})),
    };
    import(
        &app,
        vec![record(
            "Ferris the crab is the mascot.",
            "2020-01-01T00:00:00Z",
        )],
        &alice,
        false,
    )
    .await;
    let changed = import(
        &app,
        vec![record("Corro the unsafe rat.", "2021-01-01T00:00:00Z")],
        &alice,
        false,
    )
    .await;

    assert_eq!(
        (changed.created, changed.updated),
        (0, 1),
        "{}",
        changed.render()
    );
    let documents = imported(&pool).await;
    assert_eq!(documents[CRAB_ID].created_at, at("2021-01-01T00:00:00Z"));
    let stored = chunks(&pool).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].0,
        Uuid::parse_str(CRAB_ID).unwrap(),
        "the point id is kept"
    );
    assert_index_matches_chunks(&app).await;
    let found = app.search(&user, json!({"query": "unsafe rat"})).await;
    assert_eq!(
        hit_documents(&found.body),
        [documents[CRAB_ID].id.to_string()]
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_dry_run_checks_everything_and_writes_nothing(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let alice = account(app.user(Role::User).await.id);
    let rehearsal = import_file(&app, "mixed.json", &alice, true).await;

    assert_eq!((rehearsal.would_import, rehearsal.created), (7, 0));
    let refused = rehearsal.skipped.iter().any(|(_, skip)| {
        matches!(
            skip,
            Skip::Refused {
                code: "too_many_tags",
                ..
            }
        )
    });
    assert!(
        refused,
        "the service's own checks ran: {}",
        rehearsal.render()
    );
    assert!(
        rehearsal
            .render()
            .ends_with("dry run: nothing was written (the embedding model was not asked)\n")
    );
    assert!(imported(&pool).await.is_empty());
    assert!(chunks(&pool).await.is_empty());
    assert_eq!(app.vectors().await, 0);

    import_file(&app, "mixed.json", &alice, false).await;
    let again = import_file(&app, "mixed.json", &alice, true).await;
    assert_eq!((again.would_import, again.unchanged), (0, 7));
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn wrapped_arrays_and_ndjson_with_a_bad_line_are_read(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let alice = account(app.user(Role::User).await.id);
    let wrapped = import_file(&app, "wrapped.json", &alice, false).await;
    assert_eq!(wrapped.created, 2, "{}", wrapped.render());
    let documents = imported(&pool).await;
    assert_eq!(documents["w-1"].tags, ["traits", "generics"]);
    assert_eq!(
        documents["w-1"].created_at,
        at("2023-11-14T22:13:20Z"),
        "a nested time"
    );

    let lines = import_file(&app, "broken-line.ndjson", &alice, false).await;
    assert_eq!(lines.created, 3, "{}", lines.render());
    let [(Location::Line(2), Skip::InvalidJson(message))] = lines.skipped.as_slice() else {
        panic!("line 2 is reported: {:?}", lines.skipped);
    };
    assert!(message.starts_with("not JSON at column"), "{message}");
    let documents = imported(&pool).await;
    assert_eq!(
        documents["n-1"].created_at,
        at("2023-11-14T22:13:20.123Z"),
        "milliseconds"
    );
    assert_index_matches_chunks(&app).await;
}
