//! The auth service's settings (see `.env.example`).

use std::{path::PathBuf, time::Duration};

use platform::client::TrustedProxies;
use serde::{Deserialize, Deserializer, de::Error as _};

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
    /// Login attempts per minute, per client IP and per account. Every "per client IP" limit
    /// counts an IPv6 client by its /64 (`rate_limit::client_key`).
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
    /// Hashes that may wait for a hashing thread; past that, requests get 503 at once.
    #[serde(default = "defaults::password_hash_queue")]
    pub password_hash_queue: usize,
    /// A session ends this long after sign-in however often it is refreshed.
    #[serde(default = "defaults::session_max_lifetime_secs")]
    pub session_max_lifetime_secs: u64,
    /// `AAL2_MAX_AGE_SECS`: how long a second-factor proof (a login finished with a code, a
    /// step-up) keeps a session at `aal2`: refreshed tokens carry `aal2` while the proof is
    /// younger than this, then `aal1` until the next step-up.
    #[serde(default = "defaults::aal2_max_age_secs")]
    pub aal2_max_age_secs: u64,
    /// Password-reset requests per hour, per client IP and per email.
    #[serde(default = "defaults::forgot_per_hour")]
    pub rate_limit_forgot_per_hour: u32,
    /// Uses of mailed links (reset-password, verify-email confirm) per hour per client IP, and
    /// password resets per hour per account.
    #[serde(default = "defaults::links_per_hour")]
    pub rate_limit_links_per_hour: u32,
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
    /// `TRUSTED_PROXIES`: comma-separated CIDR ranges of the proxies (the gateway) whose
    /// `X-Forwarded-For` names the client; default `127.0.0.1/32, ::1/128`, empty: none.
    #[serde(default, deserialize_with = "trusted_proxies")]
    pub trusted_proxies: TrustedProxies,
    /// `MFA_ENCRYPTION_KEY`: base64 of 32 random bytes that encrypt TOTP secrets at rest;
    /// required in staging and production, a committed development key otherwise.
    pub mfa_encryption_key: Option<secrecy::SecretString>,
    /// `DEVICE_TOKEN_SECRET`: base64 of at least 32 random bytes that sign device tokens
    /// (`crate::device`); required in staging and production, a committed development
    /// secret otherwise.
    pub device_token_secret: Option<secrecy::SecretString>,
    /// `WEBAUTHN_RP_ORIGIN`: the origin the frontend runs at, which browsers put in every
    /// passkey ceremony (`https://app.example.com`; plain http only for localhost); default
    /// `PUBLIC_APP_URL`.
    pub webauthn_rp_origin: Option<String>,
    /// `WEBAUTHN_RP_ID`: the relying-party id passkeys are bound to, the origin's host or a
    /// parent domain of it (`example.com`); default the origin's host. Changing it orphans
    /// every registered passkey.
    pub webauthn_rp_id: Option<String>,
    /// `WEBAUTHN_RP_NAME`: the name authenticators show when creating a passkey.
    #[serde(default = "defaults::webauthn_rp_name")]
    pub webauthn_rp_name: String,
    /// `GITHUB_*`: sign-in with GitHub (off unless client id and secret are set).
    #[serde(flatten)]
    pub github: crate::oauth::github::GitHubConfig,
}

impl AuthConfig {
    pub fn access_token_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl_secs)
    }

    pub fn refresh_token_ttl(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.refresh_token_ttl_secs as i64)
    }

    pub fn session_max_lifetime(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.session_max_lifetime_secs as i64)
    }

    /// The assurance level a session's tokens carry, given its last second-factor proof.
    pub fn aal_at(
        &self,
        second_factor_at: Option<chrono::DateTime<chrono::Utc>>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> authn::Aal {
        let age = second_factor_at.map(|at| (now - at).num_seconds().max(0) as u64);
        match age {
            Some(age) if age < self.aal2_max_age_secs => authn::Aal::Aal2,
            _ => authn::Aal::Aal1,
        }
    }

    /// Seconds left before a proof made at `second_factor_at` stops lifting refreshed tokens.
    pub fn aal2_left_secs(
        &self,
        second_factor_at: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> u64 {
        let age = (now - second_factor_at).num_seconds().max(0) as u64;
        self.aal2_max_age_secs.saturating_sub(age)
    }
}

/// The variable's name goes into the message: envy's errors do not say which one failed.
fn trusted_proxies<'de, D: Deserializer<'de>>(deserializer: D) -> Result<TrustedProxies, D::Error> {
    let raw = String::deserialize(deserializer)?;
    raw.parse()
        .map_err(|error| D::Error::custom(format!("TRUSTED_PROXIES: {error}")))
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
    /// A login storm of a few hundred queues (seconds of work on two cores); more is refused.
    pub fn password_hash_queue() -> usize {
        256
    }
    pub fn session_max_lifetime_secs() -> u64 {
        90 * 24 * 3600
    }
    pub fn aal2_max_age_secs() -> u64 {
        12 * 3600
    }
    pub fn redis_url() -> String {
        "redis://127.0.0.1:6379".into()
    }
    pub fn forgot_per_hour() -> u32 {
        5
    }
    pub fn links_per_hour() -> u32 {
        20
    }
    pub fn mail_from() -> String {
        "DevMentor <no-reply@devmentor.local>".into()
    }
    pub fn webauthn_rp_name() -> String {
        "DevMentor".into()
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(settings: serde_json::Value) -> Result<AuthConfig, serde_json::Error> {
        serde_json::from_value(settings)
    }

    #[test]
    fn trusted_proxies_default_to_a_loopback_gateway() {
        let config = parse(json!({})).expect("defaults");
        assert_eq!(config.trusted_proxies, TrustedProxies::default());
        let config = parse(json!({"trusted_proxies": "10.0.0.0/8, 172.20.0.10"})).expect("list");
        assert_eq!(
            config.trusted_proxies.to_string(),
            "10.0.0.0/8, 172.20.0.10/32"
        );
        let config = parse(json!({"trusted_proxies": ""})).expect("empty");
        assert!(config.trusted_proxies.is_empty());
    }

    #[test]
    fn a_second_factor_proof_lifts_tokens_for_the_window_only() {
        use authn::Aal;
        let config = parse(json!({})).expect("defaults");
        assert_eq!(config.aal2_max_age_secs, 12 * 3600);
        let now = chrono::Utc::now();
        let ago = |secs| Some(now - chrono::Duration::seconds(secs));
        assert_eq!(config.aal_at(None, now), Aal::Aal1, "never proved");
        assert_eq!(config.aal_at(ago(0), now), Aal::Aal2);
        assert_eq!(config.aal_at(ago(12 * 3600 - 1), now), Aal::Aal2);
        assert_eq!(config.aal_at(ago(12 * 3600), now), Aal::Aal1);
        let ahead = Some(now + chrono::Duration::seconds(3));
        assert_eq!(config.aal_at(ahead, now), Aal::Aal2, "clock skew is no age");
        assert_eq!(
            config.aal2_left_secs(now - chrono::Duration::hours(2), now),
            10 * 3600
        );
        assert_eq!(
            config.aal2_left_secs(now - chrono::Duration::hours(13), now),
            0
        );
        let off = parse(json!({ "aal2_max_age_secs": 0 })).expect("zero");
        assert_eq!(
            off.aal_at(ago(0), now),
            Aal::Aal1,
            "0: refreshes never keep aal2"
        );
        let huge = parse(json!({ "aal2_max_age_secs": u64::MAX })).expect("huge");
        assert_eq!(huge.aal_at(ago(10 * 365 * 24 * 3600), now), Aal::Aal2);
    }

    #[test]
    fn a_bad_trusted_proxy_names_the_variable_and_the_entry() {
        let error = parse(json!({"trusted_proxies": "10.0.0.0/8, gateway"})).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("TRUSTED_PROXIES: `gateway`"),
            "{message}"
        );
    }
}
