//! `memory import-legacy`: the old memory service's data — the documents its demo endpoint
//! wrote to a JSON file, or the vectors of a Qdrant collection whose payloads hold the text —
//! brought into PostgreSQL and the configured vector index (the guide's phase 6.3).
//!
//! - [`json`] and [`qdrant`] read a source into [`RawRecord`]s, each with where it was found;
//! - [`record`] makes a document of one, liberal in what it accepts (its time: [`time`]);
//! - [`import`] skips blank and repeated records and ingests the rest with the service's own
//!   batch ingestion (validation, chunking, embedding, transactions and indexing as over
//!   HTTP), then gives each new document its legacy time and its first chunk the legacy
//!   point id ([`db::memory::legacy`]); [`embedders`] spares the model a second call for that
//!   and lets a dry run go through the same checks without writing;
//! - [`report`] says what happened.
//!
//! Every record becomes one document with source `legacy` and, as its re-ingestion key, the
//! legacy id (`sha256:<hex of the text>` without one): a rerun finds the documents unchanged.

pub mod embedders;
pub mod import;
pub mod json;
pub mod qdrant;
pub mod record;
pub mod report;
pub mod time;

use std::fmt;

use serde_json::Value;
use uuid::Uuid;

pub use import::{Options, Owner, import};
pub use report::Summary;

/// The `source` of every imported document; the record's own source is kept in
/// `metadata.legacy_source`.
pub const SOURCE: &str = "legacy";

/// A legacy vector's point id: Qdrant allows unsigned integers and UUIDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PointId {
    Num(u64),
    Uuid(Uuid),
}

impl fmt::Display for PointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PointId::Num(number) => write!(f, "{number}"),
            PointId::Uuid(uuid) => write!(f, "{uuid}"),
        }
    }
}

/// Where a record was found, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Location {
    /// The line of the file its JSON starts on (1-based).
    Line(usize),
    /// A point of the Qdrant collection.
    Point(PointId),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(line) => write!(f, "line {line}"),
            Location::Point(id) => write!(f, "point {id}"),
        }
    }
}

/// One record as a source holds it, before it is made sense of.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    pub at: Location,
    /// The record's JSON (a Qdrant point's payload), or why it could not be read (an NDJSON
    /// line that is not JSON).
    pub value: Result<Value, String>,
}

/// Why an import could not start, or stopped: the CLI's one error line.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file or the Qdrant collection cannot be read.
    #[error("{0}")]
    Source(String),
    /// `--owner` names no account.
    #[error("{0}")]
    Owner(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}
