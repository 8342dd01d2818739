//! The auth service on the testkit harness: `auth::app()` over a fresh database, mail
//! recorded instead of sent, every request from one client address and user agent.

#![allow(dead_code)]

pub mod gate;
pub mod mfa;
pub mod passkey;

use std::{
    ops::Deref,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use auth::{
    AppState,
    config::AuthConfig,
    mail::{Mail, Mailer},
};
use axum::http::{Method, StatusCode};
use futures::future::BoxFuture;
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::{AppClient, Reply};

pub const PASSWORD: &str = "correct horse battery";
/// What `mfa/totp/enroll` and `passkeys/register/start` take besides the token, from an
/// account with [`PASSWORD`] and no second factor yet (one with a factor proves it with an
/// `aal2` token, and the password does not matter).
pub fn enrolment_proof() -> Value {
    json!({ "password": PASSWORD })
}

/// The address every request comes from, unless a test sends its own `x-forwarded-for`.
pub const CLIENT_IP: &str = "203.0.113.7";
pub const USER_AGENT: &str = "auth-tests/1.0";

pub struct TestApp {
    client: AppClient,
    pub pool: PgPool,
    pub state: AppState,
    pub mail: Arc<RecordingMailer>,
}

/// Requests go straight to the client: `app.post("/api/auth/login", body)`.
impl Deref for TestApp {
    type Target = AppClient;

    fn deref(&self) -> &AppClient {
        &self.client
    }
}

/// Keeps every mail "sent"; fails the first `fail_next` sends.
#[derive(Default)]
pub struct RecordingMailer {
    pub sent: Mutex<Vec<Mail>>,
    pub fail_next: AtomicUsize,
}

impl Mailer for RecordingMailer {
    fn send<'a>(&'a self, mail: &'a Mail) -> BoxFuture<'a, Result<(), String>> {
        let failing = self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if !failing {
            self.sent.lock().expect("lock").push(mail.clone());
        }
        Box::pin(async move {
            if failing {
                Err("smtp: 451 try again later".to_owned())
            } else {
                Ok(())
            }
        })
    }
}

impl RecordingMailer {
    /// The token in the newest mail's link.
    pub fn last_token(&self) -> String {
        let sent = self.sent.lock().expect("lock");
        let body = &sent.last().expect("a mail was sent").body;
        let start = body.find("token=").expect("link with token") + "token=".len();
        body[start..]
            .split_whitespace()
            .next()
            .expect("token")
            .to_owned()
    }

    pub fn count(&self) -> usize {
        self.sent.lock().expect("lock").len()
    }
}

/// Settings for tests: a fresh signing key, generous limits, an unshared Redis prefix;
/// `overrides` replaces any of them.
pub fn config(overrides: Value) -> AuthConfig {
    let mut settings = json!({
        "app_env": "test",
        "jwt_private_key": authn::SigningKey::generate_pem().expect("key"),
        "rate_limit_login_per_minute": 1000,
        "rate_limit_register_per_hour": 1000,
        "rate_limit_prefix": format!("devmentor:test:{}", uuid::Uuid::new_v4()),
        "password_hash_concurrency": 2,
    });
    if let (Some(base), Some(extra)) = (settings.as_object_mut(), overrides.as_object()) {
        base.extend(extra.clone());
    }
    serde_json::from_value(settings).expect("valid test config")
}

impl TestApp {
    pub async fn new(pool: PgPool) -> Self {
        Self::with_config(pool, config(json!({}))).await
    }

    pub async fn with_config(pool: PgPool, config: AuthConfig) -> Self {
        Self::on_pool(pool.clone(), pool, config).await
    }

    /// The app on a pool of one connection ([`testkit::one_connection_pool`]); the test's
    /// own queries use `pool`.
    pub async fn on_one_connection(pool: PgPool) -> Self {
        Self::on_pool(testkit::one_connection_pool(&pool), pool, config(json!({}))).await
    }

    async fn on_pool(app_pool: PgPool, pool: PgPool, config: AuthConfig) -> Self {
        let mut state = AppState::new(app_pool, config, Default::default())
            .await
            .expect("state");
        let mail = Arc::new(RecordingMailer::default());
        state.mailer = mail.clone();
        let client = AppClient::new(auth::app(state.clone()))
            .with_header("x-forwarded-for", CLIENT_IP)
            .with_header("user-agent", USER_AGENT);
        Self {
            client,
            pool,
            state,
            mail,
        }
    }

    /// Delivers the outbox once, as the background worker would.
    pub async fn deliver_mail(&self) -> usize {
        self.state.outbox_worker().run_once().await.expect("outbox")
    }

    /// Registers `name` (email `name@example.com`) with [`PASSWORD`]; returns the reply body.
    pub async fn register(&self, name: &str) -> Value {
        let reply = self
            .post(
                "/api/auth/register",
                json!({ "email": format!("{name}@example.com"), "username": name, "full_name": "Test User", "password": PASSWORD }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    /// Registers `name` as an admin (set in the database); returns the reply body, whose
    /// token is read with the role as it is now.
    pub async fn register_admin(&self, name: &str) -> Value {
        let signed_in = self.register(name).await;
        let id = signed_in["user"]["id"].as_str().expect("id");
        let id = db::ids::UserId(id.parse().expect("uuid"));
        db::auth::admin::set_role(&self.pool, id, "admin")
            .await
            .expect("make an admin");
        signed_in
    }

    /// Registers `name` and returns the access token of its first session.
    pub async fn register_for_token(&self, name: &str) -> String {
        let signed_in = self.register(name).await;
        signed_in["access_token"]
            .as_str()
            .expect("access token")
            .to_owned()
    }

    pub async fn login(&self, login: &str, password: &str) -> Reply {
        self.post(
            "/api/auth/login",
            json!({ "login": login, "password": password }),
        )
        .await
    }

    /// [`Self::login`] from the client address `ip`.
    pub async fn login_from(&self, ip: &str, login: &str, password: &str) -> Reply {
        self.request(Method::POST, "/api/auth/login")
            .header("x-forwarded-for", ip)
            .json(&json!({ "login": login, "password": password }))
            .send()
            .await
    }

    /// `login` now signs in with `new_password`, and no longer with [`PASSWORD`].
    pub async fn assert_password_changed(&self, login: &str, new_password: &str) {
        let old = self.login(login, PASSWORD).await;
        assert_eq!(old.code(), "invalid_credentials", "the old password");
        let new = self.login(login, new_password).await;
        assert_eq!(new.status, StatusCode::OK, "the new password: {}", new.body);
    }

    /// Asks for a password reset of `email` and delivers the mail with its link.
    pub async fn ask_password_reset(&self, email: &str) {
        let asked = self
            .post("/api/auth/forgot-password", json!({ "email": email }))
            .await;
        assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
        self.deliver_mail().await;
    }

    /// Failed sign-ins in a row of `username`'s account: at the limit, it locks.
    pub async fn failed_attempts(&self, username: &str) -> i32 {
        sqlx::query_scalar("SELECT failed_login_attempts FROM auth.users WHERE username = $1")
            .bind(username)
            .fetch_one(&self.pool)
            .await
            .expect("user")
    }

    /// `reply` refused a wrong password, and it was the first failure `username`'s lockout
    /// counted.
    pub async fn assert_wrong_password_counted(&self, reply: &Reply, username: &str) {
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            "{}",
            reply.body
        );
        let attempts = self.failed_attempts(username).await;
        assert_eq!(attempts, 1, "a wrong password counts toward the lockout");
    }

    /// Audit actions recorded for a user, oldest first, as `action:success`.
    pub async fn audit_trail(&self, user_id: &str) -> Vec<String> {
        let id = db::ids::UserId(user_id.parse().expect("uuid"));
        let mut rows = db::auth::audit::for_user(&self.pool, id, 100)
            .await
            .expect("audit");
        rows.reverse();
        rows.into_iter()
            .map(|row| format!("{}:{}", row.action, row.success))
            .collect()
    }
}
