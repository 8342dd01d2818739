//! A test instance of the project API over a fresh database, called in-process, with its
//! own `PROJECTS_DIR` and token key.

#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use authn::{Audience, Role, SigningKey, TokenIssuer, TokenVerifier};
use axum::{
    Router,
    body::{Body, Bytes},
    http::{HeaderMap, Method, Request, StatusCode},
};
use http_body_util::BodyExt;
use project::{AppState, storage::FileStore};
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

pub struct TestApp {
    pub router: Router,
    pub pool: PgPool,
    pub files_dir: PathBuf,
    issuer: TokenIssuer,
}

/// A user that exists in `auth.users`, with an access token.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub token: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Bytes,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.files_dir);
    }
}

impl TestApp {
    pub async fn new(pool: PgPool) -> Self {
        let audience = Audience {
            issuer: "devmentor-auth".into(),
            audience: "devmentor".into(),
        };
        let key = SigningKey::generate().expect("key");
        let verifier = TokenVerifier::new([key.public_key().clone()], &audience);
        let issuer = TokenIssuer::new(key, audience, Duration::from_secs(900));
        let files_dir = std::env::temp_dir().join(format!("project-tests-{}", Uuid::new_v4()));
        let state = AppState {
            pool: pool.clone(),
            verifier,
            sessions: authn::LiveSessions::new(pool.clone()),
            files: FileStore::new(&files_dir),
            common: Default::default(),
        };
        let router = project::app(state);
        Self {
            router,
            pool,
            files_dir,
            issuer,
        }
    }

    /// Creates an account `name` and a token for it with `role`.
    pub async fn user_with_role(&self, name: &str, role: Role) -> User {
        let email = format!("{name}@example.com");
        let user = db::auth::users::insert(
            &self.pool,
            &db::auth::NewUser {
                email: &email,
                username: name,
                full_name: "Test User",
                password_hash: "not-a-real-hash",
            },
        )
        .await
        .expect("insert user");
        if role != Role::User {
            db::auth::admin::set_role(&self.pool, user.id, role.as_str())
                .await
                .expect("set role");
        }
        let session = testkit::open_session(&self.pool, user.id.0).await;
        let token = self
            .issuer
            .issue(user.id.0, session, role)
            .expect("token")
            .token;
        User {
            id: user.id.0,
            token,
        }
    }

    /// A correctly signed token naming a session that was never opened.
    pub fn token_without_session(&self, user: &User) -> String {
        self.issuer
            .issue(user.id, Uuid::new_v4(), Role::User)
            .expect("token")
            .token
    }

    pub async fn user(&self, name: &str) -> User {
        self.user_with_role(name, Role::User).await
    }

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
            headers,
            bytes,
            body,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
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

    pub async fn get(&self, path: &str, user: &User) -> Reply {
        self.call(Method::GET, path, None, Some(&user.token)).await
    }

    pub async fn post(&self, path: &str, body: Value, user: &User) -> Reply {
        self.call(Method::POST, path, Some(body), Some(&user.token))
            .await
    }

    pub async fn patch(&self, path: &str, body: Value, user: &User) -> Reply {
        self.call(Method::PATCH, path, Some(body), Some(&user.token))
            .await
    }

    pub async fn delete(&self, path: &str, user: &User) -> Reply {
        self.call(Method::DELETE, path, None, Some(&user.token))
            .await
    }

    /// Uploads raw bytes to `/api/projects/{project}/files/{path}`.
    pub async fn upload(
        &self,
        project: &str,
        path: &str,
        content_type: &str,
        bytes: impl Into<Body>,
        user: &User,
    ) -> Reply {
        let request = Request::put(format!("/api/projects/{project}/files/{path}"))
            .header("authorization", format!("Bearer {}", user.token))
            .header("content-type", content_type)
            .body(bytes.into())
            .expect("request");
        self.send(request).await
    }

    /// Creates a project and returns its JSON.
    pub async fn project(&self, name: &str, user: &User) -> Value {
        let reply = self
            .post("/api/projects", json!({ "name": name }), user)
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    /// Every file under `PROJECTS_DIR`, relative to it (temporary files included).
    pub fn stored_files(&self) -> Vec<String> {
        let mut found = Vec::new();
        collect(&self.files_dir, &self.files_dir, &mut found);
        found.sort();
        found
    }

    /// Activity actions of a project, oldest first.
    pub async fn actions(&self, project: &str, user: &User) -> Vec<String> {
        let reply = self
            .get(&format!("/api/projects/{project}/activity?limit=200"), user)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let mut actions: Vec<String> = reply.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| item["action"].as_str().expect("action").to_owned())
            .collect();
        actions.reverse();
        actions
    }
}

fn collect(root: &Path, dir: &Path, found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect(root, &path, found);
        } else {
            let relative = path.strip_prefix(root).expect("under root");
            found.push(relative.to_string_lossy().into_owned());
        }
    }
}
