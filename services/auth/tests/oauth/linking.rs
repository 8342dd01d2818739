//! Linking a GitHub identity to an existing password account with the same email, and the
//! cases where linking must void the password or not happen at all.

use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::{
    common::PASSWORD,
    mock_github::{GitHubUser, OCTOCAT_AVATAR, octocat},
    support::{JSON_ACCEPT, audit_details, setup, sign_in, sign_in_json, user_count},
};

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_account_with_the_same_verified_email_is_linked(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let alice = app.register("alice").await;
    let user_id = alice["user"]["id"].as_str().expect("id");
    let uuid: uuid::Uuid = user_id.parse().expect("uuid");
    sqlx::query!(
        "UPDATE auth.users SET is_verified = true WHERE id = $1",
        uuid
    )
    .execute(&app.pool)
    .await
    .expect("verify");
    let mona = GitHubUser {
        id: 7,
        login: "mona".into(),
        email: Some("Alice@Example.COM".into()),
        ..octocat()
    };
    let body = sign_in_json(&app, &github, mona).await;
    assert_eq!(body["user"]["id"], user_id);
    assert_eq!(
        body["user"]["username"], "alice",
        "the account keeps its name"
    );
    assert_eq!(body["user"]["github_linked"], true);
    assert_eq!(
        body["user"]["avatar_url"], OCTOCAT_AVATAR,
        "an empty avatar is filled"
    );
    assert_eq!(
        app.audit_trail(user_id).await,
        ["register:true", "oauth_link:true", "oauth_login:true"]
    );
    let link = &audit_details(&app, user_id, "oauth_link").await[0];
    assert_eq!(
        (link["provider"].as_str(), link["github_id"].as_str()),
        (Some("github"), Some("7"))
    );
    // A verified account keeps its password and its sessions.
    assert_eq!(app.login("alice", PASSWORD).await.status, StatusCode::OK);
    let old_session = app
        .get_as("/api/auth/me", alice["access_token"].as_str().expect("t"))
        .await;
    assert_eq!(old_session.status, StatusCode::OK);
    assert_eq!(user_count(&app).await, 1);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn linking_keeps_an_avatar_the_user_chose(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let alice = app.register("alice").await;
    let token = alice["access_token"].as_str().expect("token");
    let chosen = "https://cdn.example/alice.png";
    let patched = app
        .patch_as("/api/auth/me", json!({ "avatar_url": chosen }), token)
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    sqlx::query!("UPDATE auth.users SET is_verified = true")
        .execute(&app.pool)
        .await
        .expect("verify");
    let mona = octocat().with_email("alice@example.com");
    let body = sign_in_json(&app, &github, mona).await;
    assert_eq!(body["user"]["avatar_url"], chosen);
}

/// Someone registered the victim's address with their own password before the victim ever
/// signed in: when the victim arrives through GitHub (which proved the address), the
/// squatter's password and sessions must stop working.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn linking_an_unverified_account_voids_its_password_and_sessions(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let squatter = app.register("alice").await;
    let user_id = squatter["user"]["id"].as_str().expect("id");
    assert_eq!(squatter["user"]["is_verified"], false);
    let victim = octocat().with_email("alice@example.com");
    let body = sign_in_json(&app, &github, victim).await;
    assert_eq!(body["user"]["id"], user_id);
    assert_eq!(body["user"]["is_verified"], true);

    let login = app.login("alice", PASSWORD).await;
    assert_eq!(
        (login.status, login.code()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    let refresh = app
        .post(
            "/api/auth/refresh",
            json!({ "refresh_token": squatter["refresh_token"] }),
        )
        .await;
    assert_eq!(refresh.status, StatusCode::UNAUTHORIZED, "{}", refresh.body);
    let old = app
        .get_as(
            "/api/auth/me",
            squatter["access_token"].as_str().expect("t"),
        )
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let fresh = app
        .get_as("/api/auth/me", body["access_token"].as_str().expect("t"))
        .await;
    assert_eq!(fresh.status, StatusCode::OK);
    let link = &audit_details(&app, user_id, "oauth_link").await[0];
    assert_eq!(link["password_cleared"], true);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_account_linked_to_another_github_account_is_not_relinked(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let first = sign_in_json(&app, &github, octocat()).await;
    let impostor = GitHubUser {
        id: 999,
        login: "someone-else".into(),
        ..octocat()
    };
    let reply = sign_in(&app, &github, impostor, JSON_ACCEPT).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::CONFLICT, "github_account_conflict")
    );
    let github_id = sqlx::query_scalar!("SELECT github_id FROM auth.users")
        .fetch_one(&app.pool)
        .await
        .expect("user");
    assert_eq!(github_id.as_deref(), Some("583231"));
    let user_id = first["user"]["id"].as_str().expect("id");
    assert_eq!(
        app.audit_trail(user_id).await,
        ["register:true", "oauth_login:false"]
    );
}
