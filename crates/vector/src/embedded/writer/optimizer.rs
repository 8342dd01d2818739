//! When the writer runs the optimizer (HNSW builds, merges, vacuum) and how it answers those
//! waiting for it.
//!
//! The engine's optimizer is built to run beside updates (it swaps proxy segments in and
//! out under the engine's own locks), so a run goes to a thread of its own and writes keep
//! being applied and acknowledged meanwhile: an optimize of 100k points takes minutes, and
//! no write should wait for it. What cannot meet a run is `flush()`, which `expect`s the
//! segment lock free: while a run lasts the writer defers its flushes (the unflushed window
//! grows to the run's length; the open marker covers a crash in it, see
//! [`crate::VectorIndex::may_have_lost_writes`]) and its WAL compaction, and flushes once the
//! run ends. With a zero flush interval every write must be flushed before it is answered,
//! so there the run stays on the writer thread and writes wait for it, as that setting asks.

use std::sync::Arc;
use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::WriterThread;
use crate::VectorError;
use crate::embedded::shard::{engine_error, guarded};

/// How often the writer looks whether a background run has ended.
const POLL: Duration = Duration::from_millis(25);

type Waiter = oneshot::Sender<Result<bool, VectorError>>;

/// The optimizer's side of the writer: a run in progress, and who waits for the next one.
#[derive(Default)]
pub(super) struct OptimizerState {
    running: Option<BackgroundRun>,
    /// Asked for a run after the current one started: they get the next run's answer.
    waiting: Vec<Waiter>,
}

struct BackgroundRun {
    thread: JoinHandle<Result<bool, VectorError>>,
    started: Instant,
    waiters: Vec<Waiter>,
}

impl OptimizerState {
    /// `true` while a background run holds the shard: no flush or compaction may start.
    pub(super) fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// When the writer should next look at a background run.
    pub(super) fn next_poll(&self) -> Option<Instant> {
        self.running.as_ref().map(|_| Instant::now() + POLL)
    }

    pub(super) fn wait_for_next_run(&mut self, waiter: Waiter) {
        self.waiting.push(waiter);
    }

    pub(super) fn has_waiters(&self) -> bool {
        !self.waiting.is_empty()
    }
}

impl WriterThread {
    /// Starts a run unless one is in progress (it then follows when that one ends, for
    /// those waiting). Points written from here on count towards the next run.
    pub(super) fn start_optimize(&mut self) {
        if self.optimizer.is_running() {
            return;
        }
        // Also after a failed run: the next pause in writes (or the next asker) tries again.
        self.dirty = false;
        self.unoptimized_points = 0;
        if self.config.flush_interval.is_zero() {
            let started = Instant::now();
            let result = self.optimize_here();
            let waiters = std::mem::take(&mut self.optimizer.waiting);
            self.finish_run(started, result, waiters);
            return;
        }
        // Reopens a shard a failed WAL compaction left closed, or says why it cannot.
        if let Err(error) = self.with_shard(|_| Ok(())) {
            let waiters = std::mem::take(&mut self.optimizer.waiting);
            self.finish_run(Instant::now(), Err(error), waiters);
            return;
        }
        let slot = Arc::clone(&self.slot);
        let collection = self.collection.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("vector-optimizer-{collection}"))
            .spawn(move || {
                let result = {
                    // Held for the run: the writer never takes the slot's write lock meanwhile
                    // (compaction waits for the run), so its own reads are not blocked.
                    let guard = slot.read().unwrap_or_else(PoisonError::into_inner);
                    match guard.as_ref() {
                        Some(shard) => guarded(|| shard.optimize()).and_then(|optimized| {
                            optimized.map_err(|error| engine_error("optimize failed", error))
                        }),
                        None => Err(VectorError::UnknownCollection(collection)),
                    }
                };
                // A run left behind at close may hold the shard's last reference: dropping
                // it flushes, which must not take this thread down.
                let _ = guarded(move || drop(slot));
                result
            });
        let waiters = std::mem::take(&mut self.optimizer.waiting);
        match spawned {
            Ok(thread) => {
                self.optimizer.running = Some(BackgroundRun {
                    thread,
                    started: Instant::now(),
                    waiters,
                });
            }
            Err(error) => {
                let error = VectorError::Backend(format!("cannot start the optimizer: {error}"));
                self.finish_run(Instant::now(), Err(error), waiters);
            }
        }
    }

    /// Ends a background run that has finished (or, with `wait`, waits for it): flushes
    /// what it changed and what was written meanwhile, answers its waiters, and starts the
    /// next run if anyone asked for one meanwhile.
    pub(super) fn collect_optimize(&mut self, wait: bool) {
        let finished = self
            .optimizer
            .running
            .as_ref()
            .is_some_and(|run| wait || run.thread.is_finished());
        if !finished {
            return;
        }
        let Some(run) = self.optimizer.running.take() else {
            return;
        };
        let result = run.thread.join().unwrap_or_else(|_| {
            Err(VectorError::Backend(
                "the optimizer thread panicked".to_owned(),
            ))
        });
        if self.flush_due.is_some() || matches!(result, Ok(true)) {
            self.flush_or_retry_later();
        }
        self.finish_run(run.started, result, run.waiters);
        if self.optimizer.has_waiters() && !wait {
            self.start_optimize();
        }
    }

    /// At shutdown: lets a run in progress end within [`crate::EmbeddedConfig::shutdown_wait`]
    /// and collects it. A run still going then is left behind (the engine cannot stop it):
    /// its waiters hear so, and the writer reports it so that the shard is not closed under it.
    pub(super) fn finish_optimize_before_shutdown(&mut self) {
        let deadline = Instant::now() + self.config.shutdown_wait;
        while self
            .optimizer
            .running
            .as_ref()
            .is_some_and(|run| !run.thread.is_finished())
            && Instant::now() < deadline
        {
            std::thread::sleep(POLL);
        }
        let still_running = self
            .optimizer
            .running
            .as_ref()
            .is_some_and(|run| !run.thread.is_finished());
        if !still_running {
            self.collect_optimize(true);
            return;
        }
        let Some(run) = self.optimizer.running.take() else {
            return;
        };
        self.stats.left_a_run_behind.store(true, Ordering::SeqCst);
        tracing::warn!(
            collection = %self.collection,
            running_for_ms = run.started.elapsed().as_millis() as u64,
            "closing with an optimizer run in progress: left unflushed, the next start reconciles"
        );
        let stopped =
            || VectorError::Unavailable("the index closed during the optimizer run".into());
        for waiter in run
            .waiters
            .into_iter()
            .chain(std::mem::take(&mut self.optimizer.waiting))
        {
            let _ = waiter.send(Err(stopped()));
        }
        // Dropping the handle detaches the thread; it ends with the process (or finishes first).
        drop(run.thread);
    }

    /// Runs the optimizer on this thread (zero flush interval: writes wait for it).
    fn optimize_here(&mut self) -> Result<bool, VectorError> {
        let changed = self.with_shard(|shard| {
            guarded(|| shard.optimize())?.map_err(|error| engine_error("optimize failed", error))
        })?;
        // A run that changed nothing leaves pending writes to the flush interval.
        if changed {
            self.flush()?;
        }
        Ok(changed)
    }

    fn finish_run(
        &mut self,
        started: Instant,
        result: Result<bool, VectorError>,
        waiters: Vec<Waiter>,
    ) {
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(changed) => {
                self.stats.optimizations.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(collection = %self.collection, changed, elapsed_ms, "vector optimizer ran");
            }
            // Searches still work on unoptimized segments; the next pause in writes tries again.
            Err(error) => {
                tracing::error!(collection = %self.collection, %error, elapsed_ms, "vector optimizer failed");
            }
        }
        for waiter in waiters {
            let _ = waiter.send(match &result {
                Ok(changed) => Ok(*changed),
                Err(error) => Err(VectorError::Backend(error.to_string())),
            });
        }
    }
}
