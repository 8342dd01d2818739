//! A throwaway token-signing key on disk, for service binaries started by tests: they run with
//! `APP_ENV=test`, where the committed development key is refused.

use std::{path::PathBuf, time::Duration};

use authn::{Role, SigningKey, TokenIssuer};
use sqlx::PgPool;

/// A fresh Ed25519 private key in a temporary PEM file, removed on drop. Auth signs with it
/// (`JWT_PRIVATE_KEY_FILE`); project and memory accept the same variable and use its public half.
pub struct SigningKeyFile(PathBuf);

impl SigningKeyFile {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("test-key-{}.pem", uuid::Uuid::new_v4()));
        let pem = SigningKey::generate_pem().expect("generate key");
        std::fs::write(&path, pem).expect("write key");
        Self(path)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().expect("temporary paths are UTF-8")
    }

    /// A token signed with this key for a new user, alice@example.com, in a live session:
    /// what a service binary started with `JWT_PRIVATE_KEY_FILE` = [`Self::path`] accepts.
    pub async fn token_for_new_user(&self, pool: &PgPool) -> String {
        let pem = std::fs::read_to_string(&self.0).expect("read key");
        let issuer = TokenIssuer::new(
            SigningKey::from_pem(&pem).expect("key"),
            crate::audience(),
            Duration::from_secs(900),
        );
        let account = db::auth::NewUser {
            email: "alice@example.com",
            username: "alice",
            full_name: "Alice",
            password_hash: "not-a-real-hash",
        };
        let user = db::auth::users::insert(pool, &account).await.expect("user");
        let session = crate::open_session(pool, user.id.0).await;
        issuer
            .issue(user.id.0, session, Role::User)
            .expect("token")
            .token
    }
}

impl Default for SigningKeyFile {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for SigningKeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
