//! The periodic orphan sweep every replica runs (`PROJECT_SWEEP_INTERVAL_SECS`). Replicas do
//! not coordinate: each removal is judged on its own right before it happens (see
//! [`super::judge`]), and removing an object another replica just removed is a no-op.

use std::time::{Duration, SystemTime};

use db::PgPool;
use futures::TryStreamExt;
use tokio::task::JoinHandle;

use super::{ORPHAN_GRACE, Verdict, judge, verify::VerifyError};
use crate::storage::FileStore;

/// Sweeps now and then every `every`, for as long as the runtime runs.
pub fn start(pool: PgPool, store: FileStore, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match sweep_once(&pool, &store, ORPHAN_GRACE).await {
                Ok(0) => tracing::debug!("orphan sweep: nothing to remove"),
                Ok(removed) => tracing::info!(removed, "orphan sweep done"),
                Err(error) => tracing::warn!(%error, "orphan sweep stopped early"),
            }
        }
    })
}

/// Removes every orphan older than `grace` in the store, logging each; returns how many
/// went. An object that cannot be removed is logged and skipped.
pub async fn sweep_once(
    pool: &PgPool,
    store: &FileStore,
    grace: Duration,
) -> Result<usize, VerifyError> {
    let now = SystemTime::now();
    let mut removed = 0;
    let mut files = store.list();
    while let Some(file) = files.try_next().await? {
        if judge(pool, &file, grace, now).await? != Verdict::Orphan {
            continue;
        }
        match super::remove(store, &file).await {
            Ok(()) => {
                removed += 1;
                tracing::info!(file = %file.relative, "removed orphaned file");
            }
            Err(error) => {
                tracing::warn!(file = %file.relative, %error, "cannot remove orphaned file")
            }
        }
    }
    Ok(removed)
}
