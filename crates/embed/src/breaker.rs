//! A circuit breaker: after `threshold` consecutive failures the provider is left alone for
//! `cooldown` (calls fail fast), then a single probe call decides whether to close again.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::EmbedError;

#[derive(Debug)]
pub(crate) struct CircuitBreaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

impl CircuitBreaker {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::new(State::default()),
        }
    }

    /// Ok when a call may go out; while open (or while the half-open probe is out), fails.
    pub(crate) fn admit(&self) -> Result<(), EmbedError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(open_until) = state.open_until else {
            return Ok(());
        };
        let now = Instant::now();
        if now < open_until {
            return Err(EmbedError::CircuitOpen {
                retry_in: open_until - now,
            });
        }
        if state.probing {
            return Err(EmbedError::CircuitOpen {
                retry_in: Duration::ZERO,
            });
        }
        state.probing = true;
        Ok(())
    }

    pub(crate) fn record_success(&self) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = State::default();
    }

    /// A transient failure (5xx, timeout, connection); opens the circuit at the threshold,
    /// or again at once when the half-open probe fails.
    pub(crate) fn record_failure(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        if state.probing || state.consecutive_failures >= self.threshold {
            state.open_until = Some(Instant::now() + self.cooldown);
            state.probing = false;
            tracing::warn!(
                failures = state.consecutive_failures,
                cooldown_ms = self.cooldown.as_millis() as u64,
                "embedding provider circuit opened"
            );
        }
    }

    /// Ends a probe that neither succeeded nor failed transiently (e.g. a 400).
    pub(crate) fn release_probe(&self) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .probing = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_at_the_threshold_and_half_opens_after_the_cooldown() {
        let breaker = CircuitBreaker::new(2, Duration::from_millis(30));
        breaker.admit().expect("closed");
        breaker.record_failure();
        breaker.admit().expect("one failure is below the threshold");
        breaker.record_failure();
        assert!(matches!(
            breaker.admit(),
            Err(EmbedError::CircuitOpen { .. })
        ));
        std::thread::sleep(Duration::from_millis(40));
        breaker.admit().expect("the probe may go");
        assert!(breaker.admit().is_err(), "only one probe at a time");
        breaker.record_failure();
        assert!(breaker.admit().is_err(), "a failed probe opens it again");
        std::thread::sleep(Duration::from_millis(40));
        breaker.admit().expect("probe");
        breaker.record_success();
        breaker.admit().expect("closed again");
        breaker.admit().expect("and stays closed");
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let breaker = CircuitBreaker::new(2, Duration::from_secs(60));
        breaker.record_failure();
        breaker.record_success();
        breaker.record_failure();
        breaker.admit().expect("failures were not consecutive");
    }
}
