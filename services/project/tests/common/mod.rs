//! The project service on the testkit harness: `project::app()` over a fresh database, with
//! its own `PROJECTS_DIR` and token key.

#![allow(dead_code)]

pub mod disk;
pub mod members;

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
        Self::with_storage_quota(pool, project::config::default_storage_quota_bytes())
    }

    /// The app with `PROJECT_STORAGE_QUOTA_BYTES` at `quota_bytes`.
    pub fn with_storage_quota(pool: PgPool, quota_bytes: u64) -> Self {
        let tokens = Tokens::new();
        let files_dir = std::env::temp_dir().join(format!("project-tests-{}", Uuid::new_v4()));
        let state = AppState::new(
            pool.clone(),
            tokens.verifier(),
            &files_dir,
            Default::default(),
        );
        let state = AppState {
            storage_quota_bytes: quota_bytes,
            ..state
        };
        Self::from_state(pool, tokens, state, files_dir)
    }

    /// The app over a state the caller built (e.g. on another file store) with `tokens`'
    /// verifier; `files_dir` is removed on drop.
    pub fn from_state(pool: PgPool, tokens: Tokens, state: AppState, files_dir: PathBuf) -> Self {
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

    /// A user whose email is verified, as after the mailed link or a GitHub sign-up: what
    /// most tests need, since adding members and transferring projects require it.
    pub async fn user_with_role(&self, name: &str, role: Role) -> User {
        let user = self.unverified_user_with_role(name, role).await;
        db::auth::users::mark_verified(&self.pool, db::ids::UserId(user.id))
            .await
            .expect("mark verified");
        user
    }

    /// A user who registered with a password and never used the verification link.
    pub async fn unverified_user(&self, name: &str) -> User {
        self.unverified_user_with_role(name, Role::User).await
    }

    async fn unverified_user_with_role(&self, name: &str, role: Role) -> User {
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

    /// Makes `member` a member of `project` (an id or a `/api/projects/{id}` path) with
    /// `role`, as its owner.
    pub async fn add_member(&self, project: &str, member: &User, role: &str, owner: &User) {
        let id = project.rsplit('/').next().expect("project id");
        let path = format!("/api/projects/{id}/members/{}", member.id);
        let reply = self.put_as(&path, json!({ "role": role }), owner).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
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

    /// Creates a task under `base` (a project path) and returns its JSON.
    pub async fn create_task(&self, base: &str, body: Value, user: &User) -> Value {
        let reply = self.post_as(&format!("{base}/tasks"), body, user).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    /// Every task of a list, following `next_cursor` with pages of `limit`: the numbers in
    /// list order. `query` is the part after `?` (without `limit` and `cursor`).
    pub async fn all_task_numbers(
        &self,
        base: &str,
        query: &str,
        limit: u32,
        user: &User,
    ) -> Vec<i64> {
        let mut numbers = Vec::new();
        let mut cursor = String::new();
        loop {
            let path = format!("{base}/tasks?{query}&limit={limit}&cursor={cursor}");
            let reply = self.get_as(&path, user).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
            let items = reply.body["items"].as_array().expect("items");
            assert!(items.len() <= limit as usize, "{path}");
            numbers.extend(
                items
                    .iter()
                    .map(|task| task["number"].as_i64().expect("number")),
            );
            match reply.body["next_cursor"].as_str() {
                Some(next) => cursor = next.to_owned(),
                None => return numbers,
            }
        }
    }

    /// Activity entries of a project with one action, oldest first.
    pub async fn activity_of(&self, project: &str, action: &str, user: &User) -> Vec<Value> {
        let reply = self
            .get_as(&format!("/api/projects/{project}/activity?limit=100"), user)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let mut entries: Vec<Value> = reply.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|item| item["action"] == action)
            .cloned()
            .collect();
        entries.reverse();
        entries
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

/// The boundary of the forms [`form`] builds.
pub const FORM_BOUNDARY: &str = "devmentor-test-boundary-7MA4YWxk";

/// One part of a `multipart/form-data` body: a text field, or a file with `file_name`.
pub struct FormPart<'a> {
    pub name: &'a str,
    pub file_name: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub bytes: Vec<u8>,
}

impl<'a> FormPart<'a> {
    pub fn text(name: &'a str, value: &str) -> Self {
        Self {
            name,
            file_name: None,
            content_type: None,
            bytes: value.as_bytes().to_vec(),
        }
    }

    pub fn file(file_name: &'a str, content_type: &'a str, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            name: "file",
            file_name: Some(file_name),
            content_type: Some(content_type),
            bytes: bytes.into(),
        }
    }
}

/// A whole `multipart/form-data` body of `parts`, delimited by [`FORM_BOUNDARY`].
pub fn form(parts: &[FormPart<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{FORM_BOUNDARY}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", part.name);
        if let Some(file_name) = part.file_name {
            disposition.push_str(&format!("; filename=\"{file_name}\""));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(content_type) = part.content_type {
            body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&part.bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{FORM_BOUNDARY}--\r\n").as_bytes());
    body
}

impl TestApp {
    /// `GET /api/projects/{project}/files/{path}` with extra request headers.
    pub async fn download(
        &self,
        project: &str,
        path: &str,
        headers: &[(&str, &str)],
        user: &User,
    ) -> Reply {
        self.request(
            Method::GET,
            &format!("/api/projects/{project}/files/{path}"),
        )
        .bearer(user)
        .headers(headers)
        .send()
        .await
    }

    /// `POST /api/projects/{project}/files` of a form body built by [`form`].
    pub async fn upload_form(&self, project: &str, body: impl Into<Body>, user: &User) -> Reply {
        let content_type = format!("multipart/form-data; boundary={FORM_BOUNDARY}");
        self.request(Method::POST, &format!("/api/projects/{project}/files"))
            .bearer(user)
            .header("content-type", &content_type)
            .body(body)
            .send()
            .await
    }
}
