//! The account queries that share one SELECT and one UPDATE of `auth.users`: each lookup
//! matches only its own key, and each change writes only its own columns.

mod common;

use common::account;
use db::auth::{ProfileChanges, User, admin, oauth, users};
use sqlx::PgPool;

async fn reload(pool: &PgPool, user: &User) -> User {
    users::find(pool, user.id)
        .await
        .expect("find")
        .expect("user")
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn each_lookup_matches_only_its_own_key(pool: PgPool) {
    let alice = account(&pool, "alice").await;
    let bob = account(&pool, "bob").await;

    let by_login = users::find_by_login(&pool, "ALICE@example.com")
        .await
        .expect("login");
    assert_eq!(by_login.map(|user| user.id), Some(alice.id));
    let by_login = users::find_by_login(&pool, "Bob").await.expect("login");
    assert_eq!(by_login.map(|user| user.id), Some(bob.id));
    let by_email = users::find_by_email(&pool, "BOB@example.com")
        .await
        .expect("email");
    assert_eq!(by_email.map(|user| user.id), Some(bob.id));
    assert!(
        users::find_by_email(&pool, "bob")
            .await
            .expect("email")
            .is_none(),
        "a username is no email"
    );
    assert!(
        oauth::find_user_by_github_id(&pool, "1")
            .await
            .expect("github")
            .is_none(),
        "no account is linked"
    );

    let page = admin::list_users(&pool, Some("ali"), None, 10)
        .await
        .expect("list");
    assert_eq!(
        page.iter().map(|user| user.id).collect::<Vec<_>>(),
        vec![alice.id]
    );
    let page = admin::list_users(&pool, None, None, 10)
        .await
        .expect("list");
    assert_eq!(
        page.iter().map(|user| user.id).collect::<Vec<_>>(),
        vec![bob.id, alice.id],
        "newest first"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn each_change_writes_only_its_own_columns(pool: PgPool) {
    let alice = account(&pool, "alice").await;
    users::record_failed_login(&pool, alice.id, 5, 900.0)
        .await
        .expect("failure");

    users::mark_verified(&pool, alice.id).await.expect("verify");
    users::record_passwordless_login(&pool, alice.id)
        .await
        .expect("login");
    users::update_password_hash(&pool, alice.id, "y")
        .await
        .expect("hash");
    let changed = reload(&pool, &alice).await;
    assert!(changed.is_verified);
    assert!(changed.last_login_at.is_some());
    assert_eq!(changed.password_hash, "y");
    assert_eq!(changed.failed_login_attempts, 1, "the failure still counts");
    assert_eq!(
        (&changed.username, &changed.role, changed.is_active),
        (&alice.username, &alice.role, alice.is_active)
    );

    let changes = ProfileChanges {
        full_name: Some("Alice A."),
        ..ProfileChanges::default()
    };
    let profiled = users::update_profile(&pool, alice.id, &changes)
        .await
        .expect("profile");
    assert_eq!(profiled.full_name, "Alice A.");
    assert_eq!(profiled.username, "alice");
    assert_eq!(profiled.password_hash, "y");

    users::reset_password(&pool, alice.id, "z")
        .await
        .expect("reset");
    let reset = reload(&pool, &alice).await;
    assert_eq!(
        (reset.password_hash.as_str(), reset.failed_login_attempts),
        ("z", 0)
    );
    assert!(reset.is_verified, "verification survives a reset");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn github_links_once_and_only_fills_an_empty_avatar(pool: PgPool) {
    let alice = account(&pool, "alice").await;
    let linked = oauth::link_github(&pool, alice.id, "1", Some("https://a.example/1.png"))
        .await
        .expect("link")
        .expect("linked");
    assert_eq!(linked.github_id.as_deref(), Some("1"));
    assert_eq!(
        linked.avatar_url.as_deref(),
        Some("https://a.example/1.png")
    );
    assert!(linked.is_verified);

    let again = oauth::link_github(&pool, alice.id, "2", None)
        .await
        .expect("link");
    assert!(again.is_none(), "an account links one GitHub account");
    let found = oauth::find_user_by_github_id(&pool, "1")
        .await
        .expect("github");
    assert_eq!(found.map(|user| user.id), Some(alice.id));

    let bob = account(&pool, "bob").await;
    let chosen = ProfileChanges {
        avatar_url: Some(Some("https://b.example/me.png")),
        ..ProfileChanges::default()
    };
    users::update_profile(&pool, bob.id, &chosen)
        .await
        .expect("profile");
    let linked = oauth::link_github(&pool, bob.id, "3", Some("https://a.example/3.png"))
        .await
        .expect("link")
        .expect("linked");
    assert_eq!(
        linked.avatar_url.as_deref(),
        Some("https://b.example/me.png")
    );
}
