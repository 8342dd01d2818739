//! The single writer of one embedded collection: a thread that owns every `update`,
//! `flush` and `optimize` call on its shard, because `EdgeShard::flush` panics when it
//! meets another thread inside `update` (and the optimizer takes the locks flush expects
//! free).
//!
//! - **Durability**: the engine never replays its WAL, so data is durable only after
//!   `flush()`. Writes arriving together are applied in arrival order, flushed once (group
//!   commit), and only then acknowledged: an `upsert` that returned Ok survives a crash.
//! - **Optimizer**: HNSW builds, merges and vacuum run here once writes pause
//!   (`optimize_idle`) or every `optimize_every_points`, never inside a request; searches
//!   keep running meanwhile, writes queue behind it.
//! - **WAL bound**: after each group, a WAL above `wal_max_bytes` is compacted by closing the
//!   shard, pruning old segments and reopening it ([`super::shard::ShardPaths::load`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use qdrant_edge::{
    EdgeShard, Filter as EdgeFilter, JsonPath, PayloadFieldSchema, PointId, PointInsertOperations,
    PointOperations, PointStructPersisted, UpdateOperation,
};
use tokio::sync::oneshot;

use super::shard::{
    ShardPaths, ShardSlot, engine_error, guarded, guarded_close, guarded_flush, wal_bytes,
};
use crate::{EmbeddedConfig, VectorError};

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

    /// Applies `op`; returns once it is flushed to disk.
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
    dirty: bool,
}

impl WriterThread {
    fn run(mut self, receiver: Receiver<Command>) {
        loop {
            let first = if self.dirty {
                match receiver.recv_timeout(self.config.optimize_idle) {
                    Ok(command) => command,
                    Err(RecvTimeoutError::Timeout) => {
                        self.optimize_logged();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match receiver.recv() {
                    Ok(command) => command,
                    Err(_) => break,
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
                self.optimize_logged();
            }
            self.compact_wal_if_needed();
        }
    }

    fn run_group(&mut self, group: Vec<Command>) {
        let mut replies = Vec::with_capacity(group.len());
        let mut optimize_waiters = Vec::new();
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
                Command::Optimize(reply) => optimize_waiters.push(reply),
            }
        }
        if replies.iter().any(|(_, result)| result.is_ok())
            && let Err(error) = self.flush()
        {
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
        if !optimize_waiters.is_empty() {
            let result = self.optimize();
            let message = result.as_ref().err().map(ToString::to_string);
            for reply in optimize_waiters {
                let _ = reply.send(match (&result, &message) {
                    (Ok(changed), _) => Ok(*changed),
                    (Err(_), Some(message)) => Err(VectorError::Backend(message.clone())),
                    (Err(_), None) => Err(VectorError::Backend("optimize failed".into())),
                });
            }
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
        self.stats.flushes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn optimize(&mut self) -> Result<bool, VectorError> {
        let changed = self.with_shard(|shard| {
            guarded(|| shard.optimize())?.map_err(|error| engine_error("optimize failed", error))
        })?;
        self.flush()?;
        self.dirty = false;
        self.unoptimized_points = 0;
        self.stats.optimizations.fetch_add(1, Ordering::Relaxed);
        Ok(changed)
    }

    fn optimize_logged(&mut self) {
        let started = std::time::Instant::now();
        match self.optimize() {
            Ok(changed) => tracing::debug!(
                collection = %self.collection,
                changed,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "vector optimizer ran"
            ),
            Err(error) => {
                // Searches still work on unoptimized segments; try again after more writes.
                self.dirty = false;
                tracing::error!(collection = %self.collection, %error, "vector optimizer failed");
            }
        }
    }

    fn compact_wal_if_needed(&mut self) {
        if wal_bytes(&self.paths.wal) < self.config.wal_max_bytes {
            return;
        }
        let mut slot = self.slot.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(shard) = slot.take() {
            // Dropping the shard flushes it; nothing else can hold its locks now.
            if guarded_close(shard).is_err() {
                tracing::error!(collection = %self.collection, "closing the shard for WAL compaction failed");
            }
        }
        match self.paths.load() {
            Ok(shard) => {
                *slot = Some(shard);
                self.stats.wal_compactions.fetch_add(1, Ordering::Relaxed);
            }
            // Left closed: the next command tries again and reports the error meanwhile.
            Err(error) => {
                tracing::error!(collection = %self.collection, %error, "reopening after WAL compaction failed");
            }
        }
    }

    fn reopen(&mut self) -> Result<(), VectorError> {
        let mut slot = self.slot.write().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(self.paths.load().map_err(|error| {
                VectorError::Unavailable(format!(
                    "collection `{}` is closed and could not be reopened: {error}",
                    self.collection
                ))
            })?);
        }
        Ok(())
    }
}
