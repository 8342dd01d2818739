//! Group commit of single-document ingestions. Each request checks, chunks and embeds its
//! own document, then queues it here. A request that gets a turn takes everything queued
//! and writes it as one group with the batch path's code ([`super::write`]): one transaction
//! with multi-row statements and one index upsert (one flush) before its chunks are written,
//! marked indexed. Requests that arrive meanwhile queue for the next group, so a group is as large
//! as the load makes it and nobody waits on a timer (leader/follower group commit).
//!
//! - **Acknowledgement**: a request is answered after its group's commit and index upsert,
//!   as before: its rows are committed, and its vectors are flushed or its chunks are left
//!   pending for the background indexer. The answers carry the stored documents, read in
//!   one query for the whole group.
//! - **Overlap**: [`MAX_GROUPS_IN_FLIGHT`] groups' transactions (each storing its vectors
//!   before writing its chunks) run at once, and a turn ends at commit, so one group's
//!   statements and upsert overlap another's (the index orders concurrent upserts itself).
//! - **One document per key at a time**: a second copy of a re-ingestion key waits until
//!   the group holding the first has committed and sees it (unchanged or updated), as if
//!   sent after it. Copies of an owner's text without one may share a group (the first is
//!   stored, the others answered with it) but never run in two groups at once.
//! - **Isolation**: when the database refuses a group, its documents are written one by one,
//!   so only the one at fault fails.
//! - **Cancellation**: a spawned task writes the group, so a client that goes away cannot
//!   abandon the others' documents half-written; its own document, if still queued, leaves
//!   the queue unwritten.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use db::memory::{Document, DocumentKey, NewChunk, NewDocument, documents::ContentKey};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, oneshot};
use uuid::Uuid;

use super::{
    existing::{content_key, key_of},
    write::{DocumentWriter, ItemResult, Outcome, Prepared, Written},
};
use crate::error::ApiError;

/// A request's answer: its document as stored (with its chunk counts) and what happened.
pub type Answer = Result<(Document, Outcome), ApiError>;

/// Most documents in one group; more wait for the next one.
const MAX_GROUP_DOCUMENTS: usize = 256;
/// Most chunks in one group (a group's first document is taken whatever its size).
const MAX_GROUP_CHUNKS: usize = 4096;
/// Groups whose transactions run at once: the next one's statements overlap this one's
/// commit (its WAL flush), which would otherwise leave the cores idle.
pub const MAX_GROUPS_IN_FLIGHT: usize = 2;

/// The queue of documents waiting to be written, and the turns to write the next groups.
pub struct GroupCommit {
    writer: DocumentWriter,
    queue: Arc<Mutex<Queue>>,
    /// A permit is held from taking a group until its transaction ends.
    turns: Arc<Semaphore>,
    /// Wakes the requests whose documents wait behind a group in flight when it ends.
    group_ended: Arc<Notify>,
    groups: AtomicU64,
    documents: AtomicU64,
}

#[derive(Debug, Default)]
struct Queue {
    waiting: VecDeque<Waiting>,
    next_ticket: u64,
    /// The keys of the groups whose transactions run: a copy waits until that one ends.
    in_flight: HashSet<Key>,
}

/// What two documents must not be written under by two transactions at once: the same
/// re-ingestion key (the second must see the first committed), or the same text of one
/// owner (the second would wait on the first's unique-index entry).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Reingestion(DocumentKey),
    Content(ContentKey),
}

impl Key {
    fn of(document: &NewDocument) -> Option<Key> {
        key_of(document)
            .map(Key::Reingestion)
            .or_else(|| content_key(document).map(Key::Content))
    }
}

#[derive(Debug)]
struct Waiting {
    ticket: u64,
    document: NewDocument,
    chunks: Vec<NewChunk>,
    vectors: Vec<Vec<f32>>,
    reply: oneshot::Sender<Answer>,
}

/// What the group commit has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupStats {
    /// Groups whose transaction was attempted.
    pub groups: u64,
    /// Documents in those groups.
    pub documents: u64,
}

impl GroupCommit {
    pub fn new(writer: DocumentWriter) -> Self {
        Self {
            writer,
            queue: Arc::default(),
            turns: Arc::new(Semaphore::new(MAX_GROUPS_IN_FLIGHT)),
            group_ended: Arc::default(),
            groups: AtomicU64::default(),
            documents: AtomicU64::default(),
        }
    }

    /// Writes `document` with its chunks and their vectors in the next group; returns once
    /// the group is committed and its vectors stored (or left pending).
    pub async fn submit(
        &self,
        document: NewDocument,
        chunks: Vec<NewChunk>,
        vectors: Vec<Vec<f32>>,
    ) -> Answer {
        let (reply, mut answer) = oneshot::channel();
        let ticket = {
            let mut queue = self.lock_queue();
            let ticket = queue.next_ticket;
            queue.next_ticket += 1;
            queue.waiting.push_back(Waiting {
                ticket,
                document,
                chunks,
                vectors,
                reply,
            });
            ticket
        };
        let _leave = LeaveOnDrop {
            groups: self,
            ticket,
        };
        loop {
            tokio::select! {
                // An answer beats a turn: a group that took this document has ended.
                biased;
                answered = &mut answer => return answered.unwrap_or_else(|_| Err(unanswered())),
                permit = Arc::clone(&self.turns).acquire_owned() => {
                    let permit = permit.expect("the group commit never closes its turns");
                    // Registered before looking at the queue, so no ending is missed.
                    let ended = self.group_ended.notified();
                    tokio::pin!(ended);
                    ended.as_mut().enable();
                    let (group, keys) = self.take_group();
                    let took = !group.is_empty();
                    if took {
                        self.groups.fetch_add(1, Ordering::Relaxed);
                        self.documents.fetch_add(group.len() as u64, Ordering::Relaxed);
                        let turn = Turn {
                            permit: Some(permit),
                            keys,
                            queue: Arc::clone(&self.queue),
                            ended: Arc::clone(&self.group_ended),
                        };
                        tokio::spawn(write_group(self.writer.clone(), group, turn));
                    } else {
                        // Free for a document that can go while this one waits.
                        drop(permit);
                    }
                    // Left queued (behind a copy of its key, or past the size limits): the
                    // next turn, once a group in flight has ended if nothing could be taken.
                    if !self.is_queued(ticket) {
                        break;
                    }
                    if !took {
                        ended.await;
                    }
                }
            }
        }
        answer.await.unwrap_or_else(|_| Err(unanswered()))
    }

    pub fn stats(&self) -> GroupStats {
        GroupStats {
            groups: self.groups.load(Ordering::Relaxed),
            documents: self.documents.load(Ordering::Relaxed),
        }
    }

    /// Documents waiting for a group.
    pub fn queued(&self) -> usize {
        self.lock_queue().waiting.len()
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        lock(&self.queue)
    }

    fn is_queued(&self, ticket: u64) -> bool {
        self.lock_queue()
            .waiting
            .iter()
            .any(|waiting| waiting.ticket == ticket)
    }

    /// The next group, in arrival order, with the keys it holds: at most one document per
    /// re-ingestion key, none whose key a group in flight holds (later copies stay queued,
    /// in order), and within the size limits.
    fn take_group(&self) -> (Vec<Waiting>, Vec<Key>) {
        let mut queue = self.lock_queue();
        let mut group: Vec<Waiting> = Vec::new();
        let mut left = VecDeque::new();
        let mut keys = HashSet::new();
        let mut chunks = 0;
        while let Some(waiting) = queue.waiting.pop_front() {
            let full = !group.is_empty()
                && (group.len() == MAX_GROUP_DOCUMENTS
                    || chunks + waiting.chunks.len() > MAX_GROUP_CHUNKS);
            if full {
                left.push_back(waiting);
                left.append(&mut queue.waiting);
                break;
            }
            if let Some(key) = Key::of(&waiting.document) {
                // Copies of a text may share a group: the transaction stores the first and
                // answers the others with it.
                let repeated = matches!(key, Key::Reingestion(_)) && keys.contains(&key);
                if repeated || queue.in_flight.contains(&key) {
                    left.push_back(waiting);
                    continue;
                }
                keys.insert(key);
            }
            chunks += waiting.chunks.len();
            group.push(waiting);
        }
        queue.waiting = left;
        let keys: Vec<Key> = keys.into_iter().collect();
        queue.in_flight.extend(keys.iter().cloned());
        (group, keys)
    }
}

fn lock(queue: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
    // Every critical section only moves entries: a panic cannot leave it half-done.
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A group's turn: while it lives, its transaction may run and its keys are held. Dropped
/// when the transaction ends (or its task panics), it frees both and wakes the requests
/// waiting behind them.
struct Turn {
    permit: Option<OwnedSemaphorePermit>,
    keys: Vec<Key>,
    queue: Arc<Mutex<Queue>>,
    ended: Arc<Notify>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut queue = lock(&self.queue);
        for key in &self.keys {
            queue.in_flight.remove(key);
        }
        drop(queue);
        drop(self.permit.take());
        self.ended.notify_waiters();
    }
}

/// Takes a cancelled request's document out of the queue (a no-op once a group has it).
struct LeaveOnDrop<'a> {
    groups: &'a GroupCommit,
    ticket: u64,
}

impl Drop for LeaveOnDrop<'_> {
    fn drop(&mut self) {
        let ticket = self.ticket;
        self.groups
            .lock_queue()
            .waiting
            .retain(|waiting| waiting.ticket != ticket);
    }
}

fn unanswered() -> ApiError {
    ApiError::Internal("the task writing this document's group ended without an answer".into())
}

/// Writes one group and answers each of its requests. The turn ends at commit.
async fn write_group(writer: DocumentWriter, group: Vec<Waiting>, turn: Turn) {
    let mut replies = Vec::with_capacity(group.len());
    let mut prepared = Vec::with_capacity(group.len());
    for (index, waiting) in group.into_iter().enumerate() {
        replies.push(waiting.reply);
        prepared.push(Prepared {
            index,
            document: waiting.document,
            chunks: waiting.chunks,
            vectors: waiting.vectors,
        });
    }
    let mut results: Vec<Option<ItemResult>> = replies.iter().map(|_| None).collect();
    let written = match writer.write(&mut prepared, &mut results).await {
        Ok(written) => written,
        // The server refused a statement, maybe over one document's rows (e.g. its owner
        // was deleted meanwhile): alone, the others commit and that one gets its own error.
        Err(error @ sqlx::Error::Database(_)) if prepared.len() > 1 => {
            tracing::warn!(%error, documents = prepared.len(),
                "a group of ingestions was refused; writing its documents one by one");
            let mut all = Written::default();
            for item in prepared.chunks_mut(1) {
                match writer.write(item, &mut results).await {
                    Ok(written) => all.append(written),
                    Err(error) => results[item[0].index] = Some(Err(error.into())),
                }
            }
            all
        }
        Err(error) if prepared.len() == 1 => {
            results[prepared[0].index] = Some(Err(error.into()));
            Written::default()
        }
        // The database cannot be reached: writing one by one would fail (slowly) alike.
        Err(error) => {
            let message = error.to_string();
            for item in &prepared {
                results[item.index] = Some(Err(ApiError::Internal(message.clone())));
            }
            Written::default()
        }
    };
    drop(turn);
    writer.finish(written).await;
    for (reply, answer) in replies.into_iter().zip(read_back(&writer, results).await) {
        // The request may have gone away (client disconnected); its document stands.
        let _ = reply.send(answer);
    }
}

/// Each result with its document as stored now (one query for the group).
async fn read_back(writer: &DocumentWriter, results: Vec<Option<ItemResult>>) -> Vec<Answer> {
    let ids: Vec<Uuid> = results
        .iter()
        .filter_map(|result| match result {
            Some(Ok((id, _))) => Some(*id),
            _ => None,
        })
        .collect();
    let stored: Result<HashMap<Uuid, Document>, sqlx::Error> = if ids.is_empty() {
        Ok(HashMap::new())
    } else {
        db::memory::documents::by_ids(writer.pool(), &ids)
            .await
            .map(|documents| documents.into_iter().map(|d| (d.id, d)).collect())
    };
    results
        .into_iter()
        .map(|result| {
            let (id, outcome) = result.unwrap_or_else(|| Err(unanswered()))?;
            match &stored {
                Ok(stored) => stored
                    .get(&id)
                    .cloned()
                    .map(|document| (document, outcome))
                    // Deleted by a concurrent request since the group committed.
                    .ok_or(ApiError::NotFound("the document was deleted meanwhile")),
                Err(error) => Err(ApiError::Internal(format!(
                    "reading back ingested documents: {error}"
                ))),
            }
        })
        .collect()
}
