//! The file storage behaviours, written once and run against every backend: the local
//! directory and S3 (moto's server on loopback). `tests/storage_backends.rs` makes one test
//! per behaviour and backend.

pub mod cleanup;
pub mod harness;
pub mod moto;
/// S3 alone: settings and a bucket that can be wrong or unreachable.
pub mod s3_settings;
pub mod transfer;

pub use harness::{Backend, StorageApp};
