//! What several of `db`'s test files need.

use db::auth::{NewUser, User, users};
use sqlx::PgPool;

/// A new account named `name` (email `name@example.com`).
pub async fn account(pool: &PgPool, name: &str) -> User {
    let email = format!("{name}@example.com");
    let new_user = NewUser {
        email: &email,
        username: name,
        full_name: name,
        password_hash: "x",
    };
    users::insert(pool, &new_user).await.expect("insert")
}
