//! Export and import of documents as NDJSON, one [`record::DocumentRecord`] per line: the
//! export streams an owner's documents out of one consistent snapshot, the import reads a
//! body line by line and writes the documents under the ids they had (copies of another
//! owner's documents under ids of their own), their chunks pending for the background
//! indexer. Both hold a bounded amount in memory, whatever the size.

mod check;
pub mod copies;
pub mod export;
pub mod import;
mod lines;
pub mod record;
pub mod report;
mod write;

/// The media type of both directions.
pub const NDJSON: &str = "application/x-ndjson";
