//! Retries with exponential backoff for transient gRPC failures, and the mapping of Qdrant's
//! errors onto [`VectorError`]. Every call we retry is idempotent (writes carry ids; deletes
//! and index creation can repeat), so a retry after a timeout is safe.

use std::future::Future;
use std::time::Duration;

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
    pub(crate) async fn run<T, F, Fut>(&self, mut call: F) -> Result<T, QdrantError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, QdrantError>>,
    {
        let mut attempt = 0;
        loop {
            match call().await {
                Ok(value) => return Ok(value),
                Err(error) => {
                    let Some(wait) = transient_wait(&error) else {
                        return Err(error);
                    };
                    if attempt >= self.max_retries {
                        return Err(error);
                    }
                    let delay = wait.unwrap_or_else(|| self.backoff(attempt));
                    tracing::debug!(%error, attempt, delay_ms = delay.as_millis() as u64, "retrying Qdrant call");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Full jitter: a random delay up to `base * 2^attempt`, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(MAX_DELAY);
        ceiling.mul_f64(fastrand::f64().max(0.1))
    }
}

/// `Some(wait)` for errors worth retrying (`wait` = what the server asked for, if anything).
fn transient_wait(error: &QdrantError) -> Option<Option<Duration>> {
    match error {
        QdrantError::ResourceExhaustedError {
            retry_after_seconds,
            ..
        } => {
            let wait = Duration::from_secs(*retry_after_seconds);
            (wait <= MAX_RETRY_AFTER).then_some(Some(wait))
        }
        QdrantError::ResponseError { status } => is_transient(status).then_some(None),
        QdrantError::Io(_) => Some(None),
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
