//! A test instance of the auth API over a fresh database, called in-process.

#![allow(dead_code)]

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use auth::{
    AppState,
    config::AuthConfig,
    mail::{Mail, Mailer},
};
use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode},
};
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt;

pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub router: Router,
    pub pool: PgPool,
    pub state: AppState,
    pub mail: Arc<RecordingMailer>,
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

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// Settings for tests: a fresh signing key, generous limits, an unshared Redis prefix.
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
        let mut state = AppState::new(pool.clone(), config, Default::default())
            .await
            .expect("state");
        let mail = Arc::new(RecordingMailer::default());
        state.mailer = mail.clone();
        let router = auth::app(state.clone());
        Self {
            router,
            pool,
            state,
            mail,
        }
    }

    /// Delivers the outbox once, as the background worker would.
    pub async fn deliver_mail(&self) -> usize {
        self.state.outbox_worker().run_once().await.expect("outbox")
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
        ip: &str,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("x-forwarded-for", ip)
            .header("user-agent", "auth-tests/1.0");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).expect("request")).await
    }

    /// Sends a request through the router in-process; for requests [`Self::call`] cannot
    /// build, such as ones carrying cookies.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            headers,
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body), None, "203.0.113.7")
            .await
    }

    pub async fn post_as(&self, path: &str, body: Value, token: &str) -> Reply {
        self.call(Method::POST, path, Some(body), Some(token), "203.0.113.7")
            .await
    }

    pub async fn get_as(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, None, Some(token), "203.0.113.7")
            .await
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

    pub async fn login(&self, login: &str, password: &str) -> Reply {
        self.post(
            "/api/auth/login",
            json!({ "login": login, "password": password }),
        )
        .await
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
