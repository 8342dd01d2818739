//! `PROJECT_STORAGE_QUOTA_BYTES`: the bytes a project's files keep stored (every version;
//! bytes a restore shares counted once) are capped. An upload past the cap is 413
//! `storage_quota_exceeded` and leaves no bytes behind, however many race for the room.

mod common;

use axum::http::StatusCode;
use common::{FormPart, TestApp, form};
use serde_json::json;
use sqlx::PgPool;
use testkit::{Reply, User};

const QUOTA: u64 = 100;

async fn quota_app(pool: PgPool) -> (TestApp, User, String) {
    let app = TestApp::with_storage_quota(pool, QUOTA);
    let alice = app.user("alice").await;
    let id = app.project_id("Quota", &alice).await;
    (app, alice, id)
}

async fn put(app: &TestApp, id: &str, path: &str, size: usize, alice: &User) -> Reply {
    app.upload(id, path, "application/octet-stream", vec![7u8; size], alice)
        .await
}

async fn assert_stored(app: &TestApp, id: &str, path: &str, size: usize, alice: &User) {
    let reply = put(app, id, path, size, alice).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{path}: {}", reply.body);
}

fn assert_over_quota(reply: &Reply, used: u64) {
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.body
    );
    assert_eq!(reply.code(), "storage_quota_exceeded");
    let message = reply.body["error"]["message"].as_str().expect("message");
    let used_of_limit = format!("{used} of its {QUOTA} bytes");
    assert!(message.contains(&used_of_limit), "{message}");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn uploads_past_the_quota_are_413_and_leave_no_bytes(pool: PgPool) {
    let (app, alice, id) = quota_app(pool).await;

    assert_stored(&app, &id, "a.bin", 60, &alice).await;
    // An old version keeps its bytes, so a new version of the same path counts in full.
    assert_over_quota(&put(&app, &id, "a.bin", 41, &alice).await, 60);
    let form_body = form(&[FormPart::file("b.bin", "text/plain", vec![b'x'; 41])]);
    assert_over_quota(&app.upload_form(&id, form_body, &alice).await, 60);
    assert_eq!(
        app.stored_files().len(),
        1,
        "refused uploads leave no bytes"
    );

    // Up to the quota exactly is allowed.
    assert_stored(&app, &id, "a.bin", 40, &alice).await;
    assert_over_quota(&put(&app, &id, "c.bin", 1, &alice).await, 100);
    // A restore shares the old version's bytes: it takes no room.
    let restored = app
        .post_as(
            &format!("/api/projects/{id}/restore-file"),
            json!({ "path": "a.bin", "version": 1 }),
            &alice,
        )
        .await;
    assert_eq!(restored.status, StatusCode::CREATED, "{}", restored.body);
    assert_eq!(app.stored_files().len(), 2);
    // The quota is per project.
    let other = app.project_id("Other", &alice).await;
    assert_stored(&app, &other, "a.bin", 100, &alice).await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn deleting_a_file_frees_its_room(pool: PgPool) {
    let (app, alice, id) = quota_app(pool).await;

    assert_stored(&app, &id, "old.bin", 50, &alice).await;
    assert_stored(&app, &id, "old.bin", 50, &alice).await;
    assert_over_quota(&put(&app, &id, "new.bin", 10, &alice).await, 100);
    let deleted = app
        .delete_as(&format!("/api/projects/{id}/files/old.bin"), &alice)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_stored(&app, &id, "new.bin", 100, &alice).await;
}

/// Each upload checks the room under the project's lock, in the transaction that inserts
/// its row: of two uploads that each fit alone but not together, one is refused.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn of_two_concurrent_uploads_only_one_fits(pool: PgPool) {
    let (app, alice, id) = quota_app(pool).await;

    for round in 0..4 {
        let project = if round == 0 {
            id.clone()
        } else {
            app.project_id(&format!("Quota {round}"), &alice).await
        };
        let (first, second) = tokio::join!(
            put(&app, &project, "a.bin", 60, &alice),
            put(&app, &project, "b.bin", 60, &alice),
        );
        let mut statuses = [first.status, second.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::CREATED, StatusCode::PAYLOAD_TOO_LARGE],
            "round {round}: {} / {}",
            first.body,
            second.body
        );
    }
    assert_eq!(app.stored_files().len(), 4, "one stored file per project");
}
