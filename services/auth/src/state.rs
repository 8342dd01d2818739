//! `AppState`: what every handler can reach.

use std::{path::Path, sync::Arc};

use authn::{Audience, LiveSessions, PublicKey, SigningKey, TokenIssuer, TokenVerifier};
use axum::extract::FromRef;
use db::PgPool;
use platform::{
    config::{AppEnv, CommonConfig},
    service::StartError,
};
use secrecy::ExposeSecret;

use tokio::sync::Notify;
use webauthn_rs::Webauthn;

use crate::{
    config::AuthConfig,
    device::token::DeviceTokens,
    mail::{LogMailer, Mailer, SmtpMailer, worker::OutboxWorker},
    mfa::cipher::SecretCipher,
    oauth::github::GitHub,
    password::Passwords,
    rate_limit::RateLimiter,
    relying_party,
};

/// The committed development key, relative to the repository root (where `scripts/dev` runs).
const DEVELOPMENT_KEY_FILE: &str = "deploy/dev-keys/jwt-ed25519.pem";

/// Each field's type can be extracted on its own (`FromRef`): `authn::AuthUser` reads the
/// verifier and the live sessions that way.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub pool: PgPool,
    /// Settings every service shares (timeouts, body limits, log format).
    pub common: Arc<CommonConfig>,
    pub config: Arc<AuthConfig>,
    pub issuer: TokenIssuer,
    pub verifier: TokenVerifier,
    /// Whether a token's session is still live, and its user's current role.
    pub sessions: LiveSessions,
    pub passwords: Passwords,
    pub limiter: Arc<RateLimiter>,
    pub mailer: Arc<dyn Mailer>,
    /// Nudges the outbox worker when a handler has queued mail.
    pub mail_wakeup: Arc<Notify>,
    /// GitHub sign-in; `None` when `GITHUB_CLIENT_ID`/`GITHUB_CLIENT_SECRET` are unset.
    pub github: Option<Arc<GitHub>>,
    /// Seals and opens TOTP secrets (`MFA_ENCRYPTION_KEY`).
    pub mfa_cipher: Arc<SecretCipher>,
    /// Signs and verifies device tokens (`DEVICE_TOKEN_SECRET`).
    pub device_tokens: Arc<DeviceTokens>,
    /// The passkey relying party (`WEBAUTHN_RP_ID`, `WEBAUTHN_RP_ORIGIN`, `WEBAUTHN_RP_NAME`).
    pub webauthn: Arc<Webauthn>,
}

impl AppState {
    /// Loads the signing keys, prepares password hashing and connects the rate limiter.
    pub async fn new(
        pool: PgPool,
        config: AuthConfig,
        common: CommonConfig,
    ) -> Result<Self, StartError> {
        let signing = signing_key(&config)?;
        authn::refuse_development_key(
            config.app_env,
            "the signing key (JWT_PRIVATE_KEY_FILE / JWT_PRIVATE_KEY)",
            std::slice::from_ref(signing.public_key()),
        )
        .map_err(StartError::new)?;
        let mut accepted = vec![signing.public_key().clone()];
        if let Some(path) = &config.jwt_previous_keys_file {
            let bundle = read(path)?;
            let previous = PublicKey::all_from_pem_bundle(&bundle).map_err(|error| {
                StartError::new(format!(
                    "JWT_PREVIOUS_KEYS_FILE {}: {error}",
                    path.display()
                ))
            })?;
            authn::refuse_development_key(config.app_env, "JWT_PREVIOUS_KEYS_FILE", &previous)
                .map_err(StartError::new)?;
            accepted.extend(previous);
        }
        let audience = Audience {
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
        };
        let verifier = TokenVerifier::new(accepted, &audience);
        let issuer = TokenIssuer::new(signing, audience, config.access_token_ttl());
        let concurrency = config
            .password_hash_concurrency
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
        let passwords = Passwords::new(concurrency, config.password_hash_queue)
            .await
            .map_err(StartError::new)?;
        let limiter = Arc::new(RateLimiter::new(
            &config.redis_url,
            config.rate_limit_prefix.clone(),
        ));
        let mailer: Arc<dyn Mailer> = match &config.smtp_url {
            Some(url) => Arc::new(
                SmtpMailer::new(url.expose_secret(), &config.mail_from).map_err(StartError::new)?,
            ),
            None => LogMailer::for_env(config.app_env).map_err(StartError::new)?,
        };
        let mfa_cipher = SecretCipher::for_env(config.mfa_encryption_key.as_ref(), config.app_env)
            .map_err(StartError::new)?;
        let device_tokens =
            DeviceTokens::for_env(config.device_token_secret.as_ref(), config.app_env)
                .map_err(StartError::new)?;
        let webauthn = relying_party::build(&config).map_err(StartError::new)?;
        let github = GitHub::from_config(&config.github)
            .map_err(StartError::new)?
            .map(Arc::new);
        Ok(Self {
            sessions: LiveSessions::uncached(pool.clone()),
            pool,
            common: Arc::new(common),
            config: Arc::new(config),
            issuer,
            verifier,
            passwords,
            limiter,
            mailer,
            mail_wakeup: Arc::new(Notify::new()),
            github,
            mfa_cipher: Arc::new(mfa_cipher),
            device_tokens: Arc::new(device_tokens),
            webauthn: Arc::new(webauthn),
        })
    }

    /// The worker that delivers this state's outbox with its mailer.
    pub fn outbox_worker(&self) -> OutboxWorker {
        OutboxWorker::new(
            self.pool.clone(),
            self.mailer.clone(),
            self.mail_wakeup.clone(),
        )
    }
}

fn signing_key(config: &AuthConfig) -> Result<SigningKey, StartError> {
    let (pem, source) = match (&config.jwt_private_key, &config.jwt_private_key_file) {
        (Some(inline), _) => (
            inline.expose_secret().to_owned(),
            "JWT_PRIVATE_KEY".to_owned(),
        ),
        (None, Some(path)) => (
            read(path)?,
            format!("JWT_PRIVATE_KEY_FILE {}", path.display()),
        ),
        // Working defaults for a fresh checkout: development falls back to the committed key.
        (None, None)
            if config.app_env == AppEnv::Development
                && Path::new(DEVELOPMENT_KEY_FILE).exists() =>
        {
            tracing::warn!(
                "JWT_PRIVATE_KEY_FILE unset: signing with the development key {DEVELOPMENT_KEY_FILE}"
            );
            (
                read(Path::new(DEVELOPMENT_KEY_FILE))?,
                DEVELOPMENT_KEY_FILE.to_owned(),
            )
        }
        (None, None) => {
            return Err(StartError::new(
                "no signing key: set JWT_PRIVATE_KEY_FILE to an Ed25519 PEM key \
                 (openssl genpkey -algorithm ed25519 -out key.pem)",
            ));
        }
    };
    SigningKey::from_pem(&pem).map_err(|error| StartError::new(format!("{source}: {error}")))
}

fn read(path: &Path) -> Result<String, StartError> {
    std::fs::read_to_string(path)
        .map_err(|error| StartError::new(format!("cannot read {}: {error}", path.display())))
}
