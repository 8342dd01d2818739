//! Deleting and transferring a project are sensitive: an owner with a second factor does them
//! only with an `aal2` token (403 `step_up_required` otherwise), checked through the same
//! live-session path as every request, so a factor enrolled after the token was signed counts.

mod common;

use authn::Aal;
use axum::http::StatusCode;
use common::TestApp;
use serde_json::json;
use sqlx::PgPool;
use testkit::{Reply, User, assert_step_up_required};

async fn transfer(app: &TestApp, project: &str, to: &User, by: &User) -> Reply {
    let path = format!("/api/projects/{project}/transfer");
    app.post_as(&path, json!({ "user_id": to.id }), by).await
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_owner_with_a_factor_deletes_and_transfers_only_at_aal2(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.user("owner").await;
    let heir = app.user("heir").await;
    testkit::give_second_factor(&app.pool, owner.id).await;
    let doomed = app.project_id("Doomed", &owner).await;
    let legacy = app.project_id("Legacy", &owner).await;
    let path = format!("/api/projects/{legacy}/members/{}", heir.id);
    let added = app
        .put_as(&path, json!({ "role": "maintainer" }), &owner)
        .await;
    assert_eq!(
        added.status,
        StatusCode::CREATED,
        "everyday work needs no step-up"
    );

    assert_step_up_required(
        &app.delete_as(&format!("/api/projects/{doomed}"), &owner)
            .await,
    );
    assert_step_up_required(&transfer(&app, &legacy, &heir, &owner).await);
    let still = app.get_as(&format!("/api/projects/{doomed}"), &owner).await;
    assert_eq!(still.status, StatusCode::OK, "nothing was deleted");
    let actions = app.actions(&legacy, &owner).await;
    assert!(
        !actions.contains(&"project.transferred".to_owned()),
        "{actions:?}"
    );

    let stepped_up = app.tokens.user_at(&owner, Aal::Aal2);
    let moved = transfer(&app, &legacy, &heir, &stepped_up).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let deleted = app
        .delete_as(&format!("/api/projects/{doomed}"), &stepped_up)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_owner_without_a_factor_needs_no_step_up(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.user("owner").await;
    let project = app.project_id("Plain", &owner).await;
    let deleted = app
        .delete_as(&format!("/api/projects/{project}"), &owner)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_factor_enrolled_after_the_token_was_signed_counts_within_a_second(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.user("owner").await;
    let project = app.project_id("Watched", &owner).await;
    let seen = app
        .get_as(&format!("/api/projects/{project}"), &owner)
        .await;
    assert_eq!(seen.status, StatusCode::OK, "the session is now remembered");
    testkit::give_second_factor(&app.pool, owner.id).await;
    tokio::time::sleep(authn::REMEMBER_FOR + std::time::Duration::from_millis(100)).await;
    assert_step_up_required(
        &app.delete_as(&format!("/api/projects/{project}"), &owner)
            .await,
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn others_are_refused_as_before_whatever_their_level(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.user("owner").await;
    let maintainer = app.user("maintainer").await;
    testkit::give_second_factor(&app.pool, maintainer.id).await;
    let project = app.project_id("Shared", &owner).await;
    let path = format!("/api/projects/{project}/members/{}", maintainer.id);
    app.put_as(&path, json!({ "role": "maintainer" }), &owner)
        .await;
    for token in [
        maintainer.clone(),
        app.tokens.user_at(&maintainer, Aal::Aal2),
    ] {
        let reply = app
            .delete_as(&format!("/api/projects/{project}"), &token)
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "the owner rule comes first: {}",
            reply.body
        );
    }
}
