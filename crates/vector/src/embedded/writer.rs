//! The single writer of one embedded collection: a thread that owns every `update`,
//! `flush` and `optimize` call on its shard, because `EdgeShard::flush` panics when it
//! meets another thread inside `update` (and the optimizer takes the locks flush expects
//! free).
//!
//! - **Durability**: the engine never replays its WAL, so data is durable only after
//!   `flush()`. Writes arriving together are applied in arrival order and acknowledged once
//!   applied (visible to searches); the writer flushes at most
//!   [`EmbeddedConfig::flush_interval`] after the first unflushed write, and on close. A
//!   crash can lose the writes of that window: the data directory then says so
//!   ([`super::EmbeddedIndex`]'s open marker) and the owner of the record reconciles. With a
//!   zero interval, writes arriving together are flushed once (group commit) before they are
//!   acknowledged: an `upsert` that returned Ok survives a crash.
//! - **Optimizer**: HNSW builds, merges and vacuum start once writes pause
//!   (`optimize_idle`) or every `optimize_every_points`, never inside a request, and run on
//!   a thread of their own: searches and writes go on meanwhile, flushes wait ([`optimizer`]).
//! - **WAL bound**: after each group, a WAL above `wal_max_bytes` is compacted by closing the
//!   shard, pruning old segments and reopening it ([`super::shard::ShardPaths::load`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use qdrant_edge::{
    EdgeShard, Filter as EdgeFilter, JsonPath, PayloadFieldSchema, PointId, PointInsertOperations,
    PointOperations, PointStructPersisted, UpdateOperation,
};
use tokio::sync::oneshot;

use super::shard::{ShardPaths, ShardSlot, engine_error, guarded, guarded_flush};
use crate::{EmbeddedConfig, VectorError};

mod compaction;
mod optimizer;

use optimizer::OptimizerState;

/// Commands waiting beyond this make senders wait (backpressure).
const QUEUE: usize = 64;
/// Most commands applied under one flush.
const MAX_GROUP: usize = 64;

pub(crate) enum WriteOp {
    Upsert(Vec<PointStructPersisted>),
    DeleteIds(Vec<PointId>),
    DeleteFilter(EdgeFilter),
    CreateIndex(JsonPath, PayloadFieldSchema),
}

impl WriteOp {
    fn points(&self) -> usize {
        match self {
            WriteOp::Upsert(points) => points.len(),
            _ => 0,
        }
    }
}

enum Command {
    Write(WriteOp, oneshot::Sender<Result<(), VectorError>>),
    Optimize(oneshot::Sender<Result<bool, VectorError>>),
}

/// Counters for tests, benchmarks and logs.
#[derive(Debug, Default)]
pub(crate) struct WriterStats {
    pub(crate) flushes: AtomicU64,
    pub(crate) optimizations: AtomicU64,
    pub(crate) wal_compactions: AtomicU64,
    /// Set when the writer stopped with an optimizer run still holding the shard.
    pub(crate) left_a_run_behind: AtomicBool,
}

pub(crate) struct Writer {
    sender: Mutex<Option<SyncSender<Command>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    pub(crate) stats: Arc<WriterStats>,
    collection: String,
}

impl Writer {
    pub(crate) fn spawn(
        collection: &str,
        slot: Arc<ShardSlot>,
        paths: ShardPaths,
        config: EmbeddedConfig,
    ) -> Result<Self, VectorError> {
        let (sender, receiver) = mpsc::sync_channel(QUEUE);
        let stats = Arc::new(WriterStats::default());
        let state = WriterThread {
            collection: collection.to_owned(),
            slot,
            paths,
            config,
            stats: Arc::clone(&stats),
            unoptimized_points: 0,
            dirty: false,
            last_write: Instant::now(),
            flush_due: None,
            optimizer: OptimizerState::default(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("vector-writer-{collection}"))
            .spawn(move || state.run(receiver))
            .map_err(|error| VectorError::Backend(format!("cannot start writer: {error}")))?;
        Ok(Self {
            sender: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
            stats,
            collection: collection.to_owned(),
        })
    }

    /// Applies `op`; returns once it is applied (and flushed, with a zero flush interval).
    pub(crate) async fn write(&self, op: WriteOp) -> Result<(), VectorError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Write(op, reply)).await?;
        answer.await.map_err(|_| self.stopped())?
    }

    /// Runs the optimizer now (after queued writes); `true` when it changed anything.
    pub(crate) async fn optimize(&self) -> Result<bool, VectorError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Optimize(reply)).await?;
        answer.await.map_err(|_| self.stopped())?
    }

    async fn send(&self, command: Command) -> Result<(), VectorError> {
        let sender = self
            .sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| VectorError::UnknownCollection(self.collection.clone()))?;
        match sender.try_send(command) {
            Ok(()) => Ok(()),
            // Queue full: wait for room on a blocking thread, not on the runtime.
            Err(TrySendError::Full(command)) => {
                tokio::task::spawn_blocking(move || sender.send(command).is_ok())
                    .await
                    .ok()
                    .filter(|sent| *sent)
                    .map(|_| ())
                    .ok_or_else(|| self.stopped())
            }
            Err(TrySendError::Disconnected(_)) => Err(self.stopped()),
        }
    }

    /// Whether the writer stopped with an optimizer run still holding the shard: the shard
    /// must then be left as it is (see [`EmbeddedConfig::shutdown_wait`]).
    pub(crate) fn left_a_run_behind(&self) -> bool {
        self.stats.left_a_run_behind.load(Ordering::SeqCst)
    }

    pub(crate) fn is_running(&self) -> bool {
        self.thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|thread| !thread.is_finished())
    }

    /// Lets queued commands finish, then ends the thread. Blocking; idempotent.
    pub(crate) fn stop(&self) {
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            tracing::error!(collection = %self.collection, "vector writer thread panicked");
        }
    }

    fn stopped(&self) -> VectorError {
        VectorError::Unavailable(format!(
            "the writer of collection `{}` has stopped",
            self.collection
        ))
    }
}

struct WriterThread {
    collection: String,
    slot: Arc<ShardSlot>,
    paths: ShardPaths,
    config: EmbeddedConfig,
    stats: Arc<WriterStats>,
    unoptimized_points: usize,
    /// Written since the last optimizer run.
    dirty: bool,
    last_write: Instant,
    /// When the writes not yet flushed must be: one flush interval after the oldest of
    /// them, later after a failed flush.
    flush_due: Option<Instant>,
    /// The optimizer run in progress, and who waits for a run.
    optimizer: OptimizerState,
}

impl WriterThread {
    fn run(mut self, receiver: Receiver<Command>) {
        loop {
            let first = match self.next_timer() {
                None => match receiver.recv() {
                    Ok(command) => command,
                    Err(_) => break,
                },
                Some(at) => {
                    match receiver.recv_timeout(at.saturating_duration_since(Instant::now())) {
                        Ok(command) => command,
                        Err(RecvTimeoutError::Timeout) => {
                            self.on_timer();
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            };
            let mut group = vec![first];
            while group.len() < MAX_GROUP
                && let Ok(command) = receiver.try_recv()
            {
                group.push(command);
            }
            self.run_group(group);
            if self.unoptimized_points >= self.config.optimize_every_points {
                self.start_optimize();
            }
            if !self.optimizer.is_running() {
                self.compact_wal_if_needed();
            }
        }
        self.finish_optimize_before_shutdown();
        // The final flush is the shard's close (`Collection::close` drops it).
    }

    /// The next moment something is due without a command: the deferred flush, or the
    /// optimizer once writes have paused.
    fn next_timer(&self) -> Option<Instant> {
        if let Some(poll) = self.optimizer.next_poll() {
            return Some(poll);
        }
        let optimize = self
            .dirty
            .then(|| self.last_write + self.config.optimize_idle);
        [self.flush_due, optimize].into_iter().flatten().min()
    }

    fn on_timer(&mut self) {
        if self.optimizer.is_running() {
            self.collect_optimize(false);
            return;
        }
        let now = Instant::now();
        if self.flush_due.is_some_and(|due| now >= due) {
            self.flush_or_retry_later();
        }
        if self.dirty && now >= self.last_write + self.config.optimize_idle {
            self.start_optimize();
        }
    }

    fn run_group(&mut self, group: Vec<Command>) {
        let mut replies = Vec::with_capacity(group.len());
        for command in group {
            match command {
                Command::Write(op, reply) => {
                    let points = op.points();
                    let result = self.apply(op);
                    if result.is_ok() {
                        self.dirty = true;
                        self.unoptimized_points += points;
                    }
                    replies.push((reply, result));
                }
                Command::Optimize(reply) => self.optimizer.wait_for_next_run(reply),
            }
        }
        let applied = replies.iter().any(|(_, result)| result.is_ok());
        if applied {
            self.last_write = Instant::now();
            self.flush_due
                .get_or_insert(self.last_write + self.config.flush_interval);
        }
        if applied
            && self.config.flush_interval.is_zero()
            && let Err(error) = self.flush()
        {
            self.retry_flush_later();
            let message = error.to_string();
            for (_, result) in &mut replies {
                if result.is_ok() {
                    *result = Err(VectorError::Backend(format!("not durable: {message}")));
                }
            }
        }
        for (reply, result) in replies {
            // The caller may have gone away (request cancelled); the write stands.
            let _ = reply.send(result);
        }
        if self.optimizer.has_waiters() {
            self.start_optimize();
        }
    }

    fn with_shard<T>(
        &mut self,
        call: impl FnOnce(&EdgeShard) -> Result<T, VectorError>,
    ) -> Result<T, VectorError> {
        let missing = {
            let guard = self.slot.read().unwrap_or_else(PoisonError::into_inner);
            guard.is_none()
        };
        if missing {
            self.reopen()?;
        }
        let guard = self.slot.read().unwrap_or_else(PoisonError::into_inner);
        let shard = guard
            .as_ref()
            .ok_or_else(|| VectorError::UnknownCollection(self.collection.clone()))?;
        call(shard)
    }

    fn apply(&mut self, op: WriteOp) -> Result<(), VectorError> {
        let batch = self.config.write_batch.max(1);
        self.with_shard(|shard| {
            let update = |operation: UpdateOperation| {
                guarded(|| shard.update(operation))?
                    .map_err(|error| engine_error("write failed", error))
            };
            match op {
                WriteOp::Upsert(points) => {
                    let mut points = points.into_iter();
                    loop {
                        let chunk: Vec<_> = points.by_ref().take(batch).collect();
                        if chunk.is_empty() {
                            return Ok(());
                        }
                        update(UpdateOperation::PointOperation(
                            PointOperations::UpsertPoints(PointInsertOperations::PointsList(chunk)),
                        ))?;
                    }
                }
                WriteOp::DeleteIds(ids) => update(UpdateOperation::PointOperation(
                    PointOperations::DeletePoints { ids },
                )),
                WriteOp::DeleteFilter(filter) => update(UpdateOperation::PointOperation(
                    PointOperations::DeletePointsByFilter(filter),
                )),
                WriteOp::CreateIndex(field_name, schema) => {
                    update(UpdateOperation::FieldIndexOperation(
                        qdrant_edge::FieldIndexOperations::CreateIndex(qdrant_edge::CreateIndex {
                            field_name,
                            field_schema: Some(schema),
                        }),
                    ))
                }
            }
        })
    }

    fn flush(&mut self) -> Result<(), VectorError> {
        self.with_shard(guarded_flush)?;
        self.flush_due = None;
        self.stats.flushes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn flush_or_retry_later(&mut self) {
        if let Err(error) = self.flush() {
            self.retry_flush_later();
            tracing::error!(collection = %self.collection, %error, "vector flush failed");
        }
    }

    /// After a failed flush: not before a second (or one interval) from now.
    fn retry_flush_later(&mut self) {
        let pause = self.config.flush_interval.max(Duration::from_secs(1));
        self.flush_due = Some(Instant::now() + pause);
    }
}
