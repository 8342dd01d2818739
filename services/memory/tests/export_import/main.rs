//! Export (`GET /api/memory/export`) and import (`POST /api/memory/import`) as NDJSON: whose
//! documents go out, a round trip into a fresh database (same ids, fields and texts, then
//! searchable), a copy into another account of the same database, idempotence, and each
//! bad line reported on its own while the rest import.

#[path = "../common/mod.rs"]
mod common;

mod between_accounts;
mod export;
mod hostile;
mod import;
mod round_trip;
mod slow_body;
mod support;
mod versions;
