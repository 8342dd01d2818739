//! Ownership transfer: only to a maintainer, who then owns everything; refused whole when the
//! new owner already has a project with the same slug.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use common::members::{pairs, put_member, roster};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn ownership_goes_only_to_a_maintainer_who_then_owns_everything(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.user("owner").await;
    let heir = app.user("heir").await;
    let project = app.project_id("Legacy", &owner).await;
    let transfer = format!("/api/projects/{project}/transfer");
    put_member(&app, &project, &heir, "editor", &owner).await;

    let early = app
        .post_as(&transfer, json!({ "user_id": heir.id }), &owner)
        .await;
    assert_eq!(
        early.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        early.body
    );
    assert_eq!(early.code(), "not_a_maintainer");
    put_member(&app, &project, &heir, "maintainer", &owner).await;
    let by_heir = app
        .post_as(&transfer, json!({ "user_id": heir.id }), &heir)
        .await;
    assert_eq!(
        by_heir.status,
        StatusCode::FORBIDDEN,
        "only the owner transfers"
    );

    let done = app
        .post_as(&transfer, json!({ "user_id": heir.id }), &owner)
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["owner_id"], json!(heir.id));
    assert_eq!(done.body["role"], "maintainer", "the caller's role now");
    assert_eq!(
        roster(&app, &project, &heir).await,
        pairs(&[("heir", "owner"), ("owner", "maintainer")])
    );
    let path = format!("/api/projects/{project}");
    assert_eq!(
        app.delete_as(&path, &owner).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.delete_as(&path, &heir).await.status,
        StatusCode::NO_CONTENT
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_transfer_to_someone_with_the_same_slug_is_refused_and_changes_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.user("owner").await;
    let heir = app.user("heir").await;
    let project = app.project_id("Notes", &owner).await;
    app.project_id("Notes", &heir).await;
    put_member(&app, &project, &heir, "maintainer", &owner).await;

    let refused = app
        .post_as(
            &format!("/api/projects/{project}/transfer"),
            json!({ "user_id": heir.id }),
            &owner,
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.code(), "slug_taken");
    assert_eq!(
        roster(&app, &project, &owner).await,
        pairs(&[("owner", "owner"), ("heir", "maintainer")]),
        "the refused transfer rolled back whole"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn ownership_never_goes_to_a_deactivated_account(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.user("owner").await;
    let heir = app.user("heir").await;
    let project = app.project_id("Handover", &owner).await;
    put_member(&app, &project, &heir, "maintainer", &owner).await;
    sqlx::query!(
        "UPDATE auth.users SET is_active = false WHERE id = $1",
        heir.id
    )
    .execute(&app.pool)
    .await
    .expect("deactivate");

    let transfer = format!("/api/projects/{project}/transfer");
    let refused = app
        .post_as(&transfer, json!({ "user_id": heir.id }), &owner)
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a project handed to an account nobody can sign in to has no owner: {}",
        refused.body
    );
    assert_eq!(refused.code(), "account_inactive");
    assert_eq!(
        roster(&app, &project, &owner).await,
        pairs(&[("owner", "owner"), ("heir", "maintainer")])
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_owner_whose_email_is_unverified_cannot_transfer(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.user("owner").await;
    let heir = app.user("heir").await;
    let project = app.project_id("Handover", &owner).await;
    put_member(&app, &project, &heir, "maintainer", &owner).await;
    // An email change leaves the account unverified until the new address is proved.
    sqlx::query!(
        "UPDATE auth.users SET is_verified = false WHERE id = $1",
        owner.id
    )
    .execute(&app.pool)
    .await
    .expect("unverify");

    let refused = app
        .post_as(
            &format!("/api/projects/{project}/transfer"),
            json!({ "user_id": heir.id }),
            &owner,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.code(), "email_unverified");
    assert_eq!(
        roster(&app, &project, &owner).await,
        pairs(&[("owner", "owner"), ("heir", "maintainer")])
    );
}
