//! When, and after how long, a provider request is tried again. The loop is backon's; this is
//! the policy it is given: which errors, the backoff, and the provider's own `Retry-After`.

use std::time::Duration;

use backon::ExponentialBuilder;
use reqwest::header;

use crate::EmbedError;

const MAX_DELAY: Duration = Duration::from_secs(10);

/// Doubling from `base_delay`, capped, with jitter, `max_retries` times. backon's jitter adds
/// up to 100% on top of each step, so the steps start at half: every wait stays below
/// `base_delay * 2^n` and the cap, as [`crate::HttpConfig`] documents.
pub(crate) fn backoff(max_retries: u32, base_delay: Duration) -> ExponentialBuilder {
    ExponentialBuilder::new()
        .with_min_delay(base_delay / 2)
        .with_max_delay(MAX_DELAY / 2)
        .with_jitter()
        .with_max_times(max_retries as usize)
}

/// 5xx, timeouts and connection failures, and 429s that ask for a bearable wait. Refusals,
/// bad answers and an open circuit are not retried.
pub(crate) fn retryable(error: &EmbedError, max_retry_after: Duration) -> bool {
    match error {
        EmbedError::Unavailable(_) => true,
        EmbedError::RateLimited { retry_after } => {
            retry_after.is_none_or(|wait| wait <= max_retry_after)
        }
        _ => false,
    }
}

/// backon's `adjust`: `backoff` is `None` once the retries are used up, and a provider's
/// `Retry-After` replaces our own delay.
pub(crate) fn wait(error: &EmbedError, backoff: Option<Duration>) -> Option<Duration> {
    match error {
        EmbedError::RateLimited {
            retry_after: Some(wait),
        } => backoff.map(|_| *wait),
        _ => backoff,
    }
}

/// `Retry-After` in seconds or as an HTTP date.
pub(crate) fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use backon::BackoffBuilder;

    use super::*;

    #[test]
    fn jittered_waits_stay_under_the_doubling_ceiling() {
        let base = Duration::from_millis(200);
        let waits: Vec<Duration> = backoff(8, base).build().collect();
        assert_eq!(waits.len(), 8, "one wait per retry");
        // backon computes in f32: allow for its rounding.
        let slack = Duration::from_millis(1);
        for (n, wait) in waits.into_iter().enumerate() {
            let ceiling = (base * 2u32.pow(n as u32)).min(MAX_DELAY);
            assert!(
                wait + slack >= ceiling / 2 && wait <= ceiling + slack,
                "retry {n}: {wait:?}"
            );
        }
        assert_eq!(backoff(0, base).build().count(), 0, "no retries at all");
    }

    #[test]
    fn only_transient_failures_and_bearable_rate_limits_are_retried() {
        let limit = Duration::from_secs(60);
        let limited = |secs: Option<u64>| EmbedError::RateLimited {
            retry_after: secs.map(Duration::from_secs),
        };
        assert!(retryable(&EmbedError::Unavailable("503".into()), limit));
        assert!(retryable(&limited(None), limit));
        assert!(retryable(&limited(Some(60)), limit));
        assert!(!retryable(&limited(Some(61)), limit));
        let refused = EmbedError::Rejected {
            status: 400,
            message: "bad".into(),
        };
        assert!(!retryable(&refused, limit));
        let open = EmbedError::CircuitOpen {
            retry_in: Duration::ZERO,
        };
        assert!(!retryable(&open, limit));

        let ours = Some(Duration::from_millis(5));
        assert_eq!(wait(&limited(Some(7)), ours), Some(Duration::from_secs(7)));
        assert_eq!(wait(&limited(None), ours), ours);
        assert_eq!(wait(&limited(Some(7)), None), None, "retries used up");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = header::HeaderMap::new();
        headers.insert(header::RETRY_AFTER, "7".parse().expect("header"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let soon = chrono::Utc::now() + chrono::Duration::seconds(30);
        headers.insert(
            header::RETRY_AFTER,
            soon.to_rfc2822().parse().expect("header"),
        );
        let wait = retry_after(&headers).expect("date");
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
    }
}
