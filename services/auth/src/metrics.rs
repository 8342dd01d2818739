//! The auth service's own Prometheus series: the signals to alert on when logins hurt.
//! Requests and the database pool are recorded for every service by `platform::metrics`.
//! (`::metrics` below is the crate.)

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

/// Gauge: password hashes and verifications waiting for a hashing thread. Near
/// `PASSWORD_HASH_QUEUE`, callers are about to be refused with 503 `busy`.
pub const HASH_QUEUE_DEPTH: &str = "auth_password_hash_queue_depth";
/// Counter: hashing requests refused because the queue was full (503 `busy`).
pub const HASH_QUEUE_FULL: &str = "auth_password_hash_queue_full_total";
/// Counter, by `rule`: requests refused by a rate limit (429).
pub const RATE_LIMIT_REFUSALS: &str = "auth_rate_limit_refusals_total";
/// Counter: accounts locked after repeated wrong passwords.
pub const ACCOUNT_LOCKOUTS: &str = "auth_account_lockouts_total";

/// Gives the series their `# HELP` lines; needs the recorder, so installs it first.
pub fn describe() {
    platform::metrics::install();
    ::metrics::describe_gauge!(
        HASH_QUEUE_DEPTH,
        "Password hashes and verifications waiting for a hashing thread"
    );
    ::metrics::describe_counter!(
        HASH_QUEUE_FULL,
        "Password hashing requests refused because the queue was full"
    );
    ::metrics::describe_counter!(
        RATE_LIMIT_REFUSALS,
        "Requests refused by a rate limit, by rule"
    );
    ::metrics::describe_counter!(
        ACCOUNT_LOCKOUTS,
        "Accounts locked after repeated wrong passwords"
    );
}

/// Reports `waiting` as the hash queue's depth at each scrape.
pub fn hash_queue_depth(waiting: Arc<AtomicUsize>) {
    platform::metrics::gauge_fn(
        HASH_QUEUE_DEPTH,
        Vec::<::metrics::Label>::new(),
        move || waiting.load(Ordering::Relaxed) as f64,
    );
}

pub fn hash_queue_full() {
    ::metrics::counter!(HASH_QUEUE_FULL).increment(1);
}

pub fn rate_limited(rule: &'static str) {
    ::metrics::counter!(RATE_LIMIT_REFUSALS, "rule" => rule).increment(1);
}

pub fn account_locked() {
    ::metrics::counter!(ACCOUNT_LOCKOUTS).increment(1);
}
