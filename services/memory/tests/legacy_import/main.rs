//! `memory import-legacy`: the old service's JSON file or Qdrant collection becomes documents
//! in PostgreSQL and vectors in the index, through the service's own ingestion; reruns import
//! nothing new; a dry run writes nothing; bad input is reported, never half-imported.

#[path = "../common/mod.rs"]
mod common;

mod binary;
mod json;
mod qdrant;
mod refusals;
mod stand_in;
mod support;
