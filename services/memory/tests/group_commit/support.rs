//! Holding requests in a group: the gate, waiting for the group commit to reach a state,
//! and texts of their own to send.

use std::time::Duration;

use axum::http::StatusCode;
use memory::ingest::group::MAX_GROUPS_IN_FLIGHT;
use serde_json::{Value, json};
use testkit::{Reply, User};
use tokio::task::JoinHandle;

pub use crate::common::gate::Gate;
use crate::common::{TOPICS, TestApp, replies};

pub const DOCUMENTS: &str = "/api/memory/documents";

/// Sends an ingestion on its own task, as a concurrent client would.
pub fn send(app: &TestApp, user: &User, body: Value) -> JoinHandle<Reply> {
    app.spawn_post(DOCUMENTS, body, user)
}

/// Waits until the group commit has taken `groups` groups and `queued` documents wait.
pub async fn until(app: &TestApp, groups: u64, queued: usize) {
    let commit = &app.state.ingest_groups;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while commit.stats().groups != groups || commit.queued() != queued {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?} and {} queued, not {groups} groups and {queued} queued",
            commit.stats(),
            commit.queued()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Groups whose transactions can run at once: as many as wait at the gate.
pub const GATED: u64 = MAX_GROUPS_IN_FLIGHT as u64;

/// The text of the `n`th request held at the gate.
pub fn gated_text(n: u64) -> String {
    format!("Group {n} waits at the gate.")
}

/// Requests written alone in the first groups, one per turn, all waiting at the closed
/// gate: every turn is taken, so what is sent next queues.
pub struct AtTheGate(pub Vec<JoinHandle<Reply>>);

impl AtTheGate {
    pub async fn fill(app: &TestApp, user: &User) -> Self {
        let mut held = Vec::new();
        for n in 0..GATED {
            held.push(send(
                app,
                user,
                json!({"source": "notes", "content": gated_text(n)}),
            ));
            until(app, n + 1, 0).await;
        }
        Self(held)
    }

    /// Waits for their answers: each was created.
    pub async fn created(self) {
        for reply in replies(self.0).await {
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        }
    }
}

/// A short text of its own for each `n` (one chunk): searching for it finds that document.
pub fn note(n: usize) -> String {
    format!("Note {n} on {} and {}.", TOPICS[n % 8], TOPICS[(n / 8) % 8])
}
