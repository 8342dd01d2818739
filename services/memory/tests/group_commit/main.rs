//! Group commit of single ingestions (`POST /api/memory/documents`): concurrent requests are
//! written together, each answered as if alone. Requests are held in a group deterministically
//! by a gate: a table lock on `memory.chunks` that stops the transactions of the groups in
//! flight while the requests behind them queue up.

#[path = "../common/mod.rs"]
mod common;

mod copies;
mod failures;
mod groups;
mod support;
