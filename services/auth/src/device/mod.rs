//! Device tokens, OWASP's "device cookie": what keeps a stranger who knows a username from
//! locking its owner out. Every sign-in that starts a session answers a token naming a new
//! device, signed for the account. Sent back with `login` or `login/mfa`, a token that
//! verifies for the account being signed in makes the attempt the device's: the account's
//! lock does not refuse it, and its wrong guesses spend the device's own budget
//! (`LOGIN_MAX_FAILED_ATTEMPTS` per `LOGIN_LOCKOUT_SECS`, in Redis) instead of counting toward
//! the account's lock. Strangers can still lock the account, but not for its devices.
//!
//! The budget is strict under concurrency: every attempt takes a place in it before its guess
//! is checked (one atomic Redis step that also checks for room, [`Budget::admit`]), and a
//! right guess gives its place back ([`Budget::give_back`]). Checking for room first and
//! counting the wrong guess after would let any number of simultaneous guesses carrying one
//! stolen token find the same last place free.
//!
//! The tokens themselves (their format, signing and checking) are in [`token`].

use std::time::Duration;

use chrono::Utc;
use db::auth::User;
use uuid::Uuid;

use crate::{rate_limit::Rule, state::AppState};

pub mod token;

pub use token::DeviceId;

/// Whose lockout a sign-in guess spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// The account's: a wrong guess counts toward its lock, and a lock refuses every guess.
    Account,
    /// A device that signed in to the account before: the account's lock does not refuse it,
    /// and its wrong guesses spend a budget of its own. `attempt` names this guess's place in
    /// that budget.
    Device { device: DeviceId, attempt: Uuid },
}

impl Budget {
    /// The budget of a sign-in to `user` that sent `device_token`: the device's when the
    /// token verifies for `user`, else the account's (a forged, foreign or voided token is
    /// as good as none, and nothing in the answer tells which).
    pub fn of(state: &AppState, user: &User, device_token: Option<&str>) -> Self {
        device_token
            .and_then(|token| state.device_tokens.verify(user, token))
            .map_or(Budget::Account, |device| Budget::Device {
                device,
                attempt: Uuid::new_v4(),
            })
    }

    /// Admits a guess at `user`'s credentials before it is checked, or says why not, for
    /// the audit row: `account_locked`, or `device_locked` when a device's budget is spent.
    /// A device's guess takes its place in the budget here, counted as wrong until
    /// [`Budget::give_back`] says otherwise; the account's wrong guesses are counted once
    /// known (PostgreSQL's failure count).
    pub async fn admit(&self, state: &AppState, user: &User) -> Option<&'static str> {
        match self {
            Budget::Account => user.locked_at(Utc::now()).map(|_| "account_locked"),
            Budget::Device { device, attempt } => {
                let (rule, key) = (failure_rule(state), device.0.to_string());
                let taken = state.limiter.reserve(rule, &key, *attempt).await;
                taken.err().map(|_| "device_locked")
            }
        }
    }

    /// The admitted guess was right: a device's place in its budget is free again.
    pub async fn give_back(&self, state: &AppState) {
        if let Budget::Device { device, attempt } = self {
            let rule = failure_rule(state);
            state
                .limiter
                .give_back(rule, &device.0.to_string(), *attempt)
                .await;
        }
    }
}

/// As many wrong guesses per device as lock an account, per lockout period.
fn failure_rule(state: &AppState) -> Rule {
    Rule {
        name: "device_failures",
        limit: state.config.login_max_failed_attempts.max(1) as u32,
        window: Duration::from_secs(state.config.login_lockout_secs),
    }
}
