//! Which account a GitHub sign-in creates or finds: a new verified user with working
//! tokens, the same user on every return, the email GitHub vouches for, a unique username.

use axum::http::{StatusCode, header};
use serde_json::json;
use sqlx::PgPool;

use crate::{
    mock_github::{GitHubUser, OCTOCAT_AVATAR, octocat},
    support::{
        APP_URL, BROWSER_ACCEPT, audit_details, fragment_tokens, location, set_cookie, setup,
        sign_in, sign_in_json, user_count,
    },
};

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn callback_creates_a_verified_user_and_redirects_with_working_tokens(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let reply = sign_in(&app, &github, octocat(), BROWSER_ACCEPT).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
    let target = location(&reply);
    assert!(target.starts_with(&format!("{APP_URL}#")), "{target}");
    let tokens = fragment_tokens(target);
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], "900");
    assert!(!tokens["refresh_token"].is_empty());
    assert_eq!(tokens["aal"], "aal1", "GitHub alone is one factor");
    let cleared = set_cookie(&reply);
    assert!(
        cleared.starts_with("devmentor_oauth_state=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );

    let me = app.get_as("/api/auth/me", &tokens["access_token"]).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["email"], "octocat@github.example");
    assert_eq!(me.body["username"], "octocat");
    assert_eq!(me.body["full_name"], "The Octocat");
    assert_eq!(me.body["is_verified"], true);
    assert_eq!(me.body["github_linked"], true);
    assert_eq!(me.body["avatar_url"], OCTOCAT_AVATAR);
    let refreshed = app
        .post(
            "/api/auth/refresh",
            json!({ "refresh_token": tokens["refresh_token"] }),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);

    let user_id = me.body["id"].as_str().expect("id");
    let row = sqlx::query!(
        "SELECT github_id, password_hash FROM auth.users WHERE id = $1",
        user_id.parse::<uuid::Uuid>().expect("uuid"),
    )
    .fetch_one(&app.pool)
    .await
    .expect("user");
    assert_eq!(row.github_id.as_deref(), Some("583231"));
    assert!(
        row.password_hash.starts_with("$argon2id$"),
        "an unusable but well-formed hash"
    );
    assert_eq!(app.audit_trail(user_id).await[0], "register:true");
    let details = &audit_details(&app, user_id, "register").await[0];
    assert_eq!(details["provider"], "github");
    // No password opens this account.
    let login = app.login("octocat", "").await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn signing_in_again_finds_the_same_user(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let first = sign_in_json(&app, &github, octocat()).await;
    // GitHub profile changes (new login, email) do not make a new account.
    let renamed = GitHubUser {
        login: "octocat-renamed".into(),
        email: Some("new-address@github.example".into()),
        ..octocat()
    };
    let second = sign_in_json(&app, &github, renamed).await;
    assert_eq!(first["user"]["id"], second["user"]["id"]);
    assert_ne!(first["session_id"], second["session_id"]);
    assert_eq!(second["user"]["username"], "octocat");
    assert!(second["user"]["last_login_at"].is_string());
    assert_eq!(second["token_type"], "Bearer");
    assert_eq!(user_count(&app).await, 1);
    let user_id = second["user"]["id"].as_str().expect("id");
    assert_eq!(
        app.audit_trail(user_id).await,
        ["register:true", "oauth_login:true"]
    );
    assert_eq!(
        audit_details(&app, user_id, "oauth_login").await[0]["provider"],
        "github"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_primary_verified_email_is_used_when_the_profile_shows_none(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let private = GitHubUser {
        email: None,
        emails: vec![
            json!({ "email": "old@example.com", "primary": false, "verified": true, "visibility": null }),
            json!({ "email": "Mona@Example.com", "primary": true, "verified": true, "visibility": "private" }),
            json!({ "email": "typo@example.com", "primary": false, "verified": false, "visibility": null }),
        ],
        ..octocat()
    };
    let body = sign_in_json(&app, &github, private).await;
    assert_eq!(body["user"]["email"], "mona@example.com");

    let unverified = GitHubUser {
        id: 42,
        login: "nobody".into(),
        email: None,
        emails: vec![json!({ "email": "nobody@example.com", "primary": true, "verified": false })],
        ..octocat()
    };
    let refused = sign_in(&app, &github, unverified, BROWSER_ACCEPT).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "github_email_unverified")
    );
    assert_eq!(user_count(&app).await, 1);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn usernames_are_made_unique(pool: PgPool) {
    let (app, github) = setup(pool).await;
    app.register("octocat").await;
    let namesake = octocat().with_email("cat@github.example");
    let body = sign_in_json(&app, &github, namesake).await;
    assert_eq!(body["user"]["username"], "octocat-2");
    let short = GitHubUser {
        id: 5,
        login: "x".into(),
        name: None,
        email: Some("x@github.example".into()),
        ..octocat()
    };
    let body = sign_in_json(&app, &github, short).await;
    assert_eq!(body["user"]["username"], "x-github");
    assert_eq!(
        body["user"]["full_name"], "x",
        "the login stands in for a missing name"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_github_login_that_is_a_reserved_name_is_skipped_like_a_taken_one(pool: PgPool) {
    let (app, github) = setup(pool).await;
    let staff_like = GitHubUser {
        id: 7,
        login: "Admin".into(),
        email: Some("admin@github.example".into()),
        ..octocat()
    };
    let body = sign_in_json(&app, &github, staff_like).await;
    assert_eq!(body["user"]["username"], "Admin-2");
}
