//! Hearing committed changes: one `LISTEN project_activity` connection per process (started
//! by the first live stream) hears every activity row any replica commits, and wakes the
//! streams of that project. Streams read the rows themselves (`routes::events`), so a
//! wake-up carries only which project changed, and a missed one costs only latency.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use db::{PgPool, ids::ProjectId};
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;

/// The channel migration 0013's trigger notifies, with payload `"<project_id> <seq>"`.
const CHANNEL: &str = "project_activity";

/// Wake-ups buffered per stream; a stream that falls further behind re-reads, it loses nothing.
const BACKLOG: usize = 1024;

/// Why a stream should look for new rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeUp {
    /// A row of this project was committed.
    Project(ProjectId),
    /// The listener (re)connected, so notifications may have been missed: everyone re-reads.
    Everything,
}

/// The process's ear on `project_activity`, shared by every stream.
#[derive(Clone)]
pub struct ActivityFeed {
    pool: PgPool,
    sender: broadcast::Sender<WakeUp>,
    listening: Arc<OnceLock<()>>,
}

impl ActivityFeed {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            sender: broadcast::channel(BACKLOG).0,
            listening: Arc::default(),
        }
    }

    /// Wake-ups from now on. The first call starts the listener; it announces
    /// [`WakeUp::Everything`] once it listens, so rows committed before that are read too.
    pub fn subscribe(&self) -> broadcast::Receiver<WakeUp> {
        let receiver = self.sender.subscribe();
        self.listening.get_or_init(|| {
            tokio::spawn(listen(self.pool.clone(), self.sender.clone()));
        });
        receiver
    }
}

/// Forwards notifications for as long as the process runs, reconnecting after failures.
async fn listen(pool: PgPool, sender: broadcast::Sender<WakeUp>) {
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => forward(&mut listener, &sender).await,
                Err(error) => tracing::warn!(%error, "cannot LISTEN for project activity"),
            },
            Err(error) => tracing::warn!(%error, "cannot connect to hear project activity"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Forwards until the connection fails. sqlx's listener reconnects by itself; each
/// reconnection may have missed notifications, so it announces [`WakeUp::Everything`].
async fn forward(listener: &mut PgListener, sender: &broadcast::Sender<WakeUp>) {
    let _ = sender.send(WakeUp::Everything);
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                if let Some(project) = project_of(notification.payload()) {
                    // No receivers is fine: nobody streams this project right now.
                    let _ = sender.send(WakeUp::Project(project));
                }
            }
            Ok(None) => {
                tracing::warn!("lost the project activity listener's connection; reconnecting");
                let _ = sender.send(WakeUp::Everything);
            }
            Err(error) => {
                tracing::warn!(%error, "project activity listener failed");
                return;
            }
        }
    }
}

fn project_of(payload: &str) -> Option<ProjectId> {
    let (project, _seq) = payload.split_once(' ')?;
    project.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_names_its_project_and_anything_else_is_ignored() {
        let id = ProjectId::new();
        assert_eq!(project_of(&format!("{id} 42")), Some(id));
        assert_eq!(project_of("not-a-uuid 1"), None);
        assert_eq!(project_of(""), None);
    }
}
