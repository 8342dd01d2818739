//! The auth service's settings (see `.env.example`).

use std::{path::PathBuf, time::Duration};

use serde::Deserialize;

/// Read from the environment; field `login_max_failed_attempts` is `LOGIN_MAX_FAILED_ATTEMPTS`.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthConfig {
    /// `APP_ENV`: production refuses the committed development signing key.
    #[serde(default)]
    pub app_env: platform::config::AppEnv,
    /// `JWT_PRIVATE_KEY_FILE`: the Ed25519 PKCS#8 PEM key that signs access tokens.
    pub jwt_private_key_file: Option<PathBuf>,
    /// `JWT_PRIVATE_KEY`: the same key inline (wins over the file).
    pub jwt_private_key: Option<secrecy::SecretString>,
    /// `JWT_PREVIOUS_KEYS_FILE`: PEM keys of retired signing keys, still accepted for verification.
    pub jwt_previous_keys_file: Option<PathBuf>,
    #[serde(default = "defaults::issuer")]
    pub jwt_issuer: String,
    #[serde(default = "defaults::audience")]
    pub jwt_audience: String,
    #[serde(default = "defaults::access_token_ttl_secs")]
    pub access_token_ttl_secs: u64,
    /// Idle lifetime of a session: each refresh extends it by this much.
    #[serde(default = "defaults::refresh_token_ttl_secs")]
    pub refresh_token_ttl_secs: u64,
    #[serde(default = "defaults::login_max_failed_attempts")]
    pub login_max_failed_attempts: i32,
    #[serde(default = "defaults::login_lockout_secs")]
    pub login_lockout_secs: u64,
    /// Login attempts per minute, per client IP and per account.
    #[serde(default = "defaults::login_attempts_per_minute")]
    pub rate_limit_login_per_minute: u32,
    /// Registrations per hour per client IP.
    #[serde(default = "defaults::register_per_hour")]
    pub rate_limit_register_per_hour: u32,
    #[serde(default = "defaults::redis_url")]
    pub redis_url: String,
    /// Key prefix in Redis, so several deployments can share one server.
    #[serde(default = "defaults::rate_limit_prefix")]
    pub rate_limit_prefix: String,
    /// Concurrent password hashes; each takes ~19 MiB and one core for ~tens of ms.
    pub password_hash_concurrency: Option<usize>,
    /// Password-reset requests per hour, per client IP and per email.
    #[serde(default = "defaults::forgot_per_hour")]
    pub rate_limit_forgot_per_hour: u32,
    /// `SMTP_URL`, e.g. `smtps://user:pass@smtp.example.com` or `smtp://localhost:2525`;
    /// unset: mails are written to the log instead (development).
    pub smtp_url: Option<secrecy::SecretString>,
    #[serde(default = "defaults::mail_from")]
    pub mail_from: String,
    /// Where the frontend lives; mailed links point there.
    #[serde(default = "defaults::public_app_url")]
    pub public_app_url: String,
    #[serde(default = "defaults::verify_email_ttl_secs")]
    pub verify_email_ttl_secs: u64,
    #[serde(default = "defaults::password_reset_ttl_secs")]
    pub password_reset_ttl_secs: u64,
    /// `TRUST_PROXY_HEADERS`: take the client IP from `X-Forwarded-For` (only behind a proxy).
    #[serde(default)]
    pub trust_proxy_headers: bool,
    /// `GITHUB_*`: sign-in with GitHub (off unless client id and secret are set).
    #[serde(flatten)]
    pub github: crate::oauth::GitHubConfig,
}

impl AuthConfig {
    pub fn access_token_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl_secs)
    }

    pub fn refresh_token_ttl(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.refresh_token_ttl_secs as i64)
    }
}

mod defaults {
    pub fn issuer() -> String {
        "devmentor-auth".into()
    }
    pub fn audience() -> String {
        "devmentor".into()
    }
    pub fn access_token_ttl_secs() -> u64 {
        15 * 60
    }
    pub fn refresh_token_ttl_secs() -> u64 {
        30 * 24 * 3600
    }
    pub fn login_max_failed_attempts() -> i32 {
        5
    }
    pub fn login_lockout_secs() -> u64 {
        15 * 60
    }
    pub fn login_attempts_per_minute() -> u32 {
        5
    }
    pub fn register_per_hour() -> u32 {
        10
    }
    pub fn redis_url() -> String {
        "redis://127.0.0.1:6379".into()
    }
    pub fn forgot_per_hour() -> u32 {
        5
    }
    pub fn mail_from() -> String {
        "DevMentor <no-reply@devmentor.local>".into()
    }
    pub fn public_app_url() -> String {
        "http://localhost:3000".into()
    }
    pub fn verify_email_ttl_secs() -> u64 {
        24 * 3600
    }
    pub fn password_reset_ttl_secs() -> u64 {
        3600
    }
    pub fn rate_limit_prefix() -> String {
        "devmentor:auth:rl".into()
    }
}
