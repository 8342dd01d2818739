//! The project service on the testkit harness: `project::app()` over a fresh database, with
//! its own `PROJECTS_DIR` and token key.

#![allow(dead_code)]

use std::{
    ops::Deref,
    path::{Path, PathBuf},
};

use authn::Role;
use axum::{
    body::Body,
    http::{Method, StatusCode},
};
use project::AppState;
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::{AppClient, Reply, Tokens, User};
use uuid::Uuid;

pub struct TestApp {
    client: AppClient,
    pub pool: PgPool,
    pub files_dir: PathBuf,
    pub tokens: Tokens,
}

/// Requests go straight to the client: `app.get_as(path, &alice)`.
impl Deref for TestApp {
    type Target = AppClient;

    fn deref(&self) -> &AppClient {
        &self.client
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.files_dir);
    }
}

impl TestApp {
    pub async fn new(pool: PgPool) -> Self {
        let tokens = Tokens::new();
        let files_dir = std::env::temp_dir().join(format!("project-tests-{}", Uuid::new_v4()));
        let state = AppState::new(
            pool.clone(),
            tokens.verifier(),
            &files_dir,
            Default::default(),
        );
        Self {
            client: AppClient::new(project::app(state)),
            pool,
            files_dir,
            tokens,
        }
    }

    pub async fn user(&self, name: &str) -> User {
        self.user_with_role(name, Role::User).await
    }

    pub async fn user_with_role(&self, name: &str, role: Role) -> User {
        testkit::create_user(&self.pool, &self.tokens, name, role).await
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
        self.request(
            Method::PUT,
            &format!("/api/projects/{project}/files/{path}"),
        )
        .bearer(user)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
    }

    /// Uploads `mebibytes` MiB in 1 MiB chunks without a Content-Length, so the service
    /// learns the size only while streaming.
    pub async fn upload_streamed(
        &self,
        project: &str,
        path: &str,
        mebibytes: usize,
        user: &User,
    ) -> Reply {
        let chunks = (0..mebibytes).map(|_| Ok::<_, std::io::Error>(vec![1u8; 1024 * 1024]));
        let chunks = futures::stream::iter(chunks);
        self.request(
            Method::PUT,
            &format!("/api/projects/{project}/files/{path}"),
        )
        .bearer(user)
        .body(Body::from_stream(chunks))
        .send()
        .await
    }

    /// Creates a project and returns its JSON.
    pub async fn project(&self, name: &str, user: &User) -> Value {
        let reply = self
            .post_as("/api/projects", json!({ "name": name }), user)
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    /// Creates a project and returns its id.
    pub async fn project_id(&self, name: &str, user: &User) -> String {
        let project = self.project(name, user).await;
        project["id"].as_str().expect("id").to_owned()
    }

    /// Creates a project and returns its path, `/api/projects/{id}`.
    pub async fn project_path(&self, name: &str, user: &User) -> String {
        format!("/api/projects/{}", self.project_id(name, user).await)
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
            .get_as(&format!("/api/projects/{project}/activity?limit=100"), user)
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
