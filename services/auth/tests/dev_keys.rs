//! The committed development key pair (`deploy/dev-keys`) signs and verifies in development
//! only: anyone can mint tokens with it, so every other environment refuses it in every slot.

mod common;

use std::path::PathBuf;

use auth::AppState;
use common::config;
use serde_json::json;
use sqlx::PgPool;

fn dev_key(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "../../deploy/dev-keys", name]
        .iter()
        .collect();
    path.to_str().expect("utf-8 path").to_owned()
}

async fn start_error(pool: &PgPool, overrides: serde_json::Value) -> Option<String> {
    AppState::new(pool.clone(), config(overrides), Default::default())
        .await
        .err()
        .map(|error| error.to_string())
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_development_signing_key_is_refused_outside_development(pool: PgPool) {
    for env in ["staging", "production", "test"] {
        let as_file = json!({
            "app_env": env,
            "jwt_private_key": null,
            "jwt_private_key_file": dev_key("jwt-ed25519.pem"),
        });
        let error = start_error(&pool, as_file).await.expect("refused");
        assert!(error.contains("development key"), "{env}: {error}");
        let inline = json!({
            "app_env": env,
            "jwt_private_key": std::fs::read_to_string(dev_key("jwt-ed25519.pem")).expect("pem"),
        });
        let error = start_error(&pool, inline).await.expect("refused");
        assert!(error.contains("development key"), "{env}: {error}");
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_development_key_is_refused_as_a_previous_key_too(pool: PgPool) {
    let previous = json!({
        "app_env": "staging",
        "jwt_previous_keys_file": dev_key("jwt-ed25519.pub.pem"),
    });
    let error = start_error(&pool, previous).await.expect("refused");
    assert!(error.contains("JWT_PREVIOUS_KEYS_FILE"), "{error}");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn development_keeps_its_key(pool: PgPool) {
    let development = json!({
        "app_env": "development",
        "jwt_private_key": null,
        "jwt_private_key_file": dev_key("jwt-ed25519.pem"),
    });
    assert_eq!(start_error(&pool, development).await, None);
}
