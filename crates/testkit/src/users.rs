//! Accounts for tests of the services that trust auth's tokens: a real `auth.users` row,
//! a live session and a token for it, made without going through the auth service.

use authn::Role;
use db::auth::NewUser;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{Tokens, open_session};

/// A user that exists in `auth.users`, with an access token for a live session.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub token: String,
}

/// Creates the account `name` (email `name@example.com`) with `role`, opens a session for
/// it and signs a token with `tokens`.
pub async fn create_user(pool: &PgPool, tokens: &Tokens, name: &str, role: Role) -> User {
    let email = format!("{name}@example.com");
    let account = NewUser {
        email: &email,
        username: name,
        full_name: "Test User",
        // Never checked: these tests sign their own tokens instead of logging in.
        password_hash: "not-a-real-hash",
    };
    let user = db::auth::users::insert(pool, &account)
        .await
        .expect("insert user");
    if role != Role::User {
        db::auth::admin::set_role(pool, user.id, role.as_str())
            .await
            .expect("set role");
    }
    let session = open_session(pool, user.id.0).await;
    User {
        id: user.id.0,
        token: tokens.issue(user.id.0, session, role),
    }
}

#[cfg(test)]
mod tests {
    use db::{
        auth::sessions::{LiveSession, live},
        ids::{SessionId, UserId},
    };

    use super::*;

    #[sqlx::test(migrator = "db::MIGRATOR")]
    async fn the_token_names_a_live_session_of_the_user_with_the_role(pool: PgPool) {
        let tokens = Tokens::new();
        let admin = create_user(&pool, &tokens, "root", Role::Admin).await;
        let claims = tokens.verifier().verify(&admin.token).expect("verifies");
        assert_eq!((claims.sub, claims.role), (admin.id, Role::Admin));
        let session = live(&pool, SessionId(claims.sid)).await.expect("query");
        let expected = LiveSession {
            user_id: UserId(admin.id),
            role: "admin".into(),
        };
        assert_eq!(session, Some(expected));
    }
}
