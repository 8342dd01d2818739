//! Password hashing: argon2id with OWASP parameters, on a fixed set of hashing threads so a
//! login storm queues instead of starving the server or exhausting memory. (Not tokio's
//! blocking pool: hashes would land on ever more threads, and the allocator keeps each
//! thread's 19 MiB block — the login bench measured 2 GiB that way.) Legacy bcrypt
//! hashes (imported users) verify too and are flagged for rehashing.
//!
//! The queue in front of those threads is bounded: when it is full a caller is told at once
//! ([`HashError::Busy`], answered as 503 with `Retry-After`) instead of waiting behind work
//! that would outlive its request. A job whose caller has gone (client hung up, request timed
//! out) is skipped when its turn comes.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicU64, AtomicUsize, Ordering},
    mpsc,
};

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version,
    password_hash::SaltString,
};

/// OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19_456;
const PASSES: u32 = 2;
const LANES: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("every password-hashing slot is taken")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// The outcome of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    No,
    /// Correct; `rehash` when the stored hash uses older parameters or bcrypt.
    Yes {
        rehash: bool,
    },
}

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct Passwords {
    jobs: mpsc::SyncSender<Job>,
    /// Jobs queued and not yet started: the queue's depth, which `/metrics` reports.
    waiting: Arc<AtomicUsize>,
    /// Jobs dropped unrun because their caller had gone.
    skipped: Arc<AtomicU64>,
    /// New password hashes computed: the expensive work callers ask for.
    hashed: Arc<AtomicU64>,
    /// Password verifications run (dummy-hash ones included).
    verified: Arc<AtomicU64>,
    /// Verified against for unknown users, so "no such user" costs as much as a wrong password.
    dummy_hash: Arc<str>,
}

fn argon2id() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

impl Passwords {
    /// `concurrency` hashes may run at once; up to `queue_capacity` more callers wait their
    /// turn, and beyond that callers get [`HashError::Busy`].
    pub async fn new(concurrency: usize, queue_capacity: usize) -> Result<Self, HashError> {
        let (jobs, queue) = mpsc::sync_channel::<Job>(queue_capacity.max(1));
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..concurrency.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    // Ends when every `Passwords` (every sender) is gone.
                    loop {
                        let job = match queue.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|error| HashError::Failed(error.to_string()))?;
        }
        let waiting = Arc::new(AtomicUsize::new(0));
        crate::metrics::hash_queue_depth(waiting.clone());
        let skipped = Arc::new(AtomicU64::new(0));
        let hashed = Arc::new(AtomicU64::new(0));
        let verified = Arc::new(AtomicU64::new(0));
        let dummy = Self {
            jobs: jobs.clone(),
            waiting: waiting.clone(),
            skipped: skipped.clone(),
            hashed: hashed.clone(),
            verified: verified.clone(),
            dummy_hash: Arc::from(""),
        };
        let dummy_hash = dummy
            .hash("dummy password for unknown users".to_owned())
            .await?;
        Ok(Self {
            jobs,
            waiting,
            skipped,
            hashed,
            verified,
            dummy_hash: Arc::from(dummy_hash),
        })
    }

    /// How many new password hashes were computed (the dummy hash included).
    pub fn hashed(&self) -> u64 {
        self.hashed.load(Ordering::Relaxed)
    }

    /// How many password verifications ran.
    pub fn verified(&self) -> u64 {
        self.verified.load(Ordering::Relaxed)
    }

    /// How many jobs are queued and not yet started.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// How many queued jobs were dropped because their caller had gone.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let hashed = self.hashed.clone();
        self.blocking(move || {
            hashed.fetch_add(1, Ordering::Relaxed);
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            argon2id()
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|error| HashError::Failed(error.to_string()))
        })
        .await?
    }

    /// Checks `password` against `stored`, or against a dummy hash when there is no account.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<Verified, HashError> {
        let (stored, real) = match stored {
            Some(hash) => (hash, true),
            None => (self.dummy_hash.to_string(), false),
        };
        let count = self.verified.clone();
        let verified = self
            .blocking(move || {
                count.fetch_add(1, Ordering::Relaxed);
                check(&password, &stored)
            })
            .await?;
        Ok(if real { verified } else { Verified::No })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let skipped = self.skipped.clone();
        let waiting = self.waiting.clone();
        let job: Job = Box::new(move || {
            waiting.fetch_sub(1, Ordering::Relaxed);
            // The caller's future was dropped: nobody waits for this hash.
            if done.is_closed() {
                skipped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let _ = done.send(work());
        });
        // Counted before the send, so a thread that starts the job at once never takes the
        // count below zero.
        self.waiting.fetch_add(1, Ordering::Relaxed);
        self.jobs.try_send(job).map_err(|error| {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            match error {
                mpsc::TrySendError::Full(_) => {
                    crate::metrics::hash_queue_full();
                    HashError::Busy
                }
                mpsc::TrySendError::Disconnected(_) => {
                    HashError::Failed("the hashing threads have stopped".into())
                }
            }
        })?;
        result
            .await
            .map_err(|_| HashError::Failed("a hashing thread failed".into()))
    }
}

fn check(password: &str, stored: &str) -> Verified {
    if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
        return match bcrypt::verify(password, stored) {
            Ok(true) => Verified::Yes { rehash: true },
            _ => Verified::No,
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verified::No;
    };
    if argon2id()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Verified::No;
    }
    let current = Params::try_from(&parsed).ok();
    let rehash = parsed.algorithm.as_str() != "argon2id"
        || current
            .is_none_or(|p| (p.m_cost(), p.t_cost(), p.p_cost()) != (MEMORY_KIB, PASSES, LANES));
    Verified::Yes { rehash }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Occupies the only hashing thread until the returned sender is dropped or sent to.
    async fn hold_the_thread(
        passwords: &Passwords,
    ) -> (
        mpsc::Sender<()>,
        tokio::task::JoinHandle<Result<(), HashError>>,
    ) {
        let (release, held) = mpsc::channel::<()>();
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let passwords = passwords.clone();
        let blocker = tokio::spawn(async move {
            passwords
                .blocking(move || {
                    let _ = started_tx.send(());
                    let _ = held.recv();
                })
                .await
        });
        started.await.expect("the blocker runs");
        (release, blocker)
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_at_once() {
        let passwords = Passwords::new(1, 2).await.expect("init");
        let (release, blocker) = hold_the_thread(&passwords).await;
        let queued: Vec<_> = (0..2)
            .map(|_| {
                tokio::spawn({
                    let passwords = passwords.clone();
                    async move { passwords.hash("queued password".into()).await }
                })
            })
            .collect();
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(
            passwords.waiting(),
            2,
            "the queue's depth, as /metrics reports it"
        );
        let refused = passwords.hash("one too many".into()).await;
        assert!(matches!(refused, Err(HashError::Busy)), "{refused:?}");
        assert_eq!(passwords.waiting(), 2, "a refused job is not counted");
        drop(release);
        blocker.await.expect("join").expect("blocker");
        for job in queued {
            job.await.expect("join").expect("queued jobs still run");
        }
        assert_eq!(passwords.waiting(), 0);
    }

    #[tokio::test]
    async fn jobs_whose_caller_left_are_skipped() {
        use futures::FutureExt as _;
        let passwords = Passwords::new(1, 8).await.expect("init");
        let (release, blocker) = hold_the_thread(&passwords).await;
        for _ in 0..4 {
            // Polled once (so queued), then dropped: the request went away.
            let abandoned = passwords.hash("abandoned".into());
            assert!(abandoned.now_or_never().is_none());
        }
        drop(release);
        blocker.await.expect("join").expect("blocker");
        passwords.hash("after".into()).await.expect("runs");
        assert_eq!(passwords.skipped(), 4);
    }

    #[tokio::test]
    async fn argon2id_hashes_verify_with_owasp_parameters() {
        let passwords = Passwords::new(2, 16).await.expect("init");
        let hash = passwords.hash("correct horse".into()).await.expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let ok = passwords
            .verify("correct horse".into(), Some(hash.clone()))
            .await
            .expect("verify");
        assert_eq!(ok, Verified::Yes { rehash: false });
        let wrong = passwords
            .verify("wrong horse".into(), Some(hash))
            .await
            .expect("verify");
        assert_eq!(wrong, Verified::No);
    }

    #[tokio::test]
    async fn bcrypt_hashes_verify_and_ask_for_a_rehash() {
        let passwords = Passwords::new(1, 16).await.expect("init");
        let legacy = bcrypt::hash("legacy pass", 4).expect("bcrypt");
        let ok = passwords
            .verify("legacy pass".into(), Some(legacy.clone()))
            .await
            .expect("verify");
        assert_eq!(ok, Verified::Yes { rehash: true });
        assert_eq!(
            passwords
                .verify("nope".into(), Some(legacy))
                .await
                .expect("v"),
            Verified::No
        );
    }

    #[tokio::test]
    async fn unknown_users_and_garbage_hashes_never_verify() {
        let passwords = Passwords::new(1, 16).await.expect("init");
        let dummy = "dummy password for unknown users".to_owned();
        assert_eq!(
            passwords.verify(dummy, None).await.expect("v"),
            Verified::No
        );
        assert_eq!(
            passwords
                .verify("x".into(), Some("not a hash".into()))
                .await
                .expect("v"),
            Verified::No
        );
    }

    #[tokio::test]
    async fn weaker_argon2_parameters_ask_for_a_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).expect("p"),
        );
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let hash = weak
            .hash_password(b"pw123456", &salt)
            .expect("hash")
            .to_string();
        assert_eq!(check("pw123456", &hash), Verified::Yes { rehash: true });
    }
}
