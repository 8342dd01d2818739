//! Retries for transient gRPC failures (the loop is backon's), and the mapping of Qdrant's
//! errors onto [`VectorError`]. Every call we retry is idempotent (writes carry ids; deletes
//! and index creation can repeat), so a retry after a timeout is safe.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use qdrant_client::QdrantError;
use tonic::Code;

use crate::VectorError;

const MAX_DELAY: Duration = Duration::from_secs(5);
/// A server asking us to wait longer than this is treated as down.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub(crate) max_retries: u32,
    pub(crate) base_delay: Duration,
}

impl RetryPolicy {
    /// Runs `call` until it succeeds, fails permanently, or the retries are used up.
    pub(crate) async fn run<T, F, Fut>(&self, call: F) -> Result<T, QdrantError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, QdrantError>>,
    {
        call.retry(self.backoff())
            .when(retryable)
            .adjust(|error, backoff| {
                // `None` means the retries are used up; a server's wait replaces ours.
                backoff.map(|delay| requested_wait(error).unwrap_or(delay))
            })
            .notify(|error, delay| {
                tracing::debug!(%error, delay_ms = delay.as_millis() as u64, "retrying Qdrant call");
            })
            .await
    }

    /// Doubling from `base_delay`, capped, with jitter. backon's jitter adds up to 100% on top
    /// of each step, so the steps start at half: every wait stays below `base * 2^n` and the
    /// cap, as [`crate::RemoteConfig`] documents.
    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::new()
            .with_min_delay(self.base_delay / 2)
            .with_max_delay(MAX_DELAY / 2)
            .with_jitter()
            .with_max_times(self.max_retries as usize)
    }
}

/// Transient statuses and I/O errors, and rate limits that ask for a bearable wait.
fn retryable(error: &QdrantError) -> bool {
    match error {
        QdrantError::ResourceExhaustedError { .. } => {
            requested_wait(error).is_some_and(|wait| wait <= MAX_RETRY_AFTER)
        }
        QdrantError::ResponseError { status } => is_transient(status),
        QdrantError::Io(_) => true,
        _ => false,
    }
}

/// What the server asked us to wait, if it did.
fn requested_wait(error: &QdrantError) -> Option<Duration> {
    match error {
        QdrantError::ResourceExhaustedError {
            retry_after_seconds,
            ..
        } => Some(Duration::from_secs(*retry_after_seconds)),
        _ => None,
    }
}

fn is_transient(status: &tonic::Status) -> bool {
    match status.code() {
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Aborted => {
            true
        }
        // qdrant-client reports a refused connection as INTERNAL "Failed to connect to …".
        Code::Internal => status.message().starts_with(CONNECT_FAILED),
        // tonic reports its own client-side request timeout as CANCELLED "Timeout expired".
        Code::Cancelled => status.message() == TIMEOUT_EXPIRED,
        _ => false,
    }
}

const CONNECT_FAILED: &str = "Failed to connect";
const TIMEOUT_EXPIRED: &str = "Timeout expired";

/// Maps a final error; `collection` names the collection the call was about.
pub(crate) fn map_error(error: QdrantError, collection: &str) -> VectorError {
    let status = match &error {
        QdrantError::ResponseError { status }
        | QdrantError::ResourceExhaustedError { status, .. } => status,
        QdrantError::Io(_) => return VectorError::Unavailable(error.to_string()),
        QdrantError::InvalidUri(_) => return VectorError::Config(error.to_string()),
        _ => return VectorError::Backend(error.to_string()),
    };
    let message = status.message().to_owned();
    if is_transient(status) {
        return VectorError::Unavailable(format!("Qdrant: {message}"));
    }
    match status.code() {
        Code::NotFound if message.contains("ollection") => {
            VectorError::UnknownCollection(collection.to_owned())
        }
        Code::AlreadyExists => VectorError::CollectionExists(collection.to_owned()),
        Code::InvalidArgument if message.contains("already exists") => {
            VectorError::CollectionExists(collection.to_owned())
        }
        Code::InvalidArgument => VectorError::InvalidRequest(message),
        Code::Unauthenticated | Code::PermissionDenied => VectorError::Config(format!(
            "Qdrant refused the request ({message}): check QDRANT_API_KEY"
        )),
        _ => VectorError::Backend(format!("Qdrant: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn status(code: Code, message: &str) -> QdrantError {
        QdrantError::ResponseError {
            status: tonic::Status::new(code, message),
        }
    }

    const FAST: RetryPolicy = RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(1),
    };

    #[tokio::test]
    async fn transient_errors_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let result = FAST
            .run(|| async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Err(status(Code::Unavailable, "down")),
                    _ => Ok("done"),
                }
            })
            .await;
        assert_eq!(result.expect("third call succeeds"), "done");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = FAST
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(status(Code::InvalidArgument, "bad"))
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn retries_stop_after_the_limit() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = FAST
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(status(Code::DeadlineExceeded, "slow"))
            })
            .await;
        assert!(matches!(
            map_error(result.expect_err("gives up"), "c"),
            VectorError::Unavailable(_)
        ));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            4,
            "one call and three retries"
        );
    }

    #[tokio::test]
    async fn rate_limits_are_retried_only_when_the_wait_is_bearable() {
        let exhausted = |seconds| QdrantError::ResourceExhaustedError {
            status: tonic::Status::new(Code::ResourceExhausted, "busy"),
            retry_after_seconds: seconds,
        };
        assert!(retryable(&exhausted(0)));
        assert!(!retryable(&exhausted(3600)), "a long wait means down");
        let calls = AtomicU32::new(0);
        let result = FAST
            .run(|| async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(exhausted(0)),
                    _ => Ok(()),
                }
            })
            .await;
        assert!(result.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn jittered_waits_stay_under_the_doubling_ceiling() {
        use backon::BackoffBuilder;
        let policy = RetryPolicy {
            max_retries: 8,
            base_delay: Duration::from_millis(100),
        };
        let waits: Vec<Duration> = policy.backoff().build().collect();
        assert_eq!(waits.len(), 8, "one wait per retry");
        // backon computes in f32: allow for its rounding.
        let slack = Duration::from_millis(1);
        for (n, wait) in waits.into_iter().enumerate() {
            let ceiling = (policy.base_delay * 2u32.pow(n as u32)).min(MAX_DELAY);
            assert!(
                wait + slack >= ceiling / 2 && wait <= ceiling + slack,
                "retry {n}: {wait:?}"
            );
        }
    }

    #[test]
    fn missing_collections_and_bad_input_map_to_their_variants() {
        let missing = status(Code::NotFound, "Not found: Collection `c` doesn't exist!");
        assert!(
            matches!(map_error(missing, "c"), VectorError::UnknownCollection(name) if name == "c")
        );
        let exists = status(
            Code::InvalidArgument,
            "Wrong input: Collection `c` already exists!",
        );
        assert!(matches!(
            map_error(exists, "c"),
            VectorError::CollectionExists(_)
        ));
        let bad = status(Code::InvalidArgument, "Wrong input: vector dimension");
        assert!(matches!(
            map_error(bad, "c"),
            VectorError::InvalidRequest(_)
        ));
        let refused = status(
            Code::Internal,
            "Failed to connect to http://q:6334/: refused",
        );
        assert!(matches!(
            map_error(refused, "c"),
            VectorError::Unavailable(_)
        ));
        let auth = status(Code::Unauthenticated, "Invalid api-key");
        assert!(map_error(auth, "c").to_string().contains("QDRANT_API_KEY"));
    }
}
