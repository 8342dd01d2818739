//! The vocabulary of the index: collections, points, filters, requests and their answers.
//! Both backends accept and return exactly these types, so callers never see Qdrant's.

use serde_json::Value;
use uuid::Uuid;

use crate::{Filter, VectorError};

/// A point's payload: always a JSON object (Qdrant rejects anything else; the type makes
/// the other shapes unrepresentable). Use [`payload_from_json`] for untrusted JSON.
pub type Payload = serde_json::Map<String, Value>;

/// How similarity is scored. With `Cosine`, vectors are normalised on insert and a score
/// is in `[-1, 1]`, higher is closer; `Euclid` scores are distances, lower is closer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distance {
    Cosine,
    Dot,
    Euclid,
}

impl Distance {
    pub fn as_str(self) -> &'static str {
        match self {
            Distance::Cosine => "Cosine",
            Distance::Dot => "Dot",
            Distance::Euclid => "Euclid",
        }
    }
}

/// The type of a payload field that gets an index, so filters on it stay fast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Exact strings, e.g. `document_id`, `source`, `tags` (arrays work too).
    Keyword,
    Integer,
    Float,
    /// RFC 3339 strings, e.g. `"2025-05-01T12:00:00Z"`.
    Datetime,
    /// UUID strings, matched as 128-bit numbers: a filter that checks every candidate (an
    /// owner that matches most points) compares two integers instead of two 36-byte strings.
    /// Store and filter with UUID values only: the index cannot answer for anything else.
    Uuid,
}

impl FieldKind {
    /// The kind's name as collections record it.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Keyword => "keyword",
            FieldKind::Integer => "integer",
            FieldKind::Float => "float",
            FieldKind::Datetime => "datetime",
            FieldKind::Uuid => "uuid",
        }
    }
}

/// A payload field and the index it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadField {
    pub name: String,
    pub kind: FieldKind,
}

impl PayloadField {
    pub fn new(name: impl Into<String>, kind: FieldKind) -> Self {
        Self {
            name: name.into(),
            kind,
        }
    }
}

/// What a collection is created with. `metadata` is stored with the collection as given.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionParams {
    pub dimension: usize,
    pub distance: Distance,
    pub metadata: Payload,
}

/// What an existing collection reports.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionInfo {
    pub params: CollectionParams,
    /// Approximate; use `count` for an exact figure.
    pub points: u64,
}

/// Everything the memory service declares about a collection it uses: the embedding model
/// and dimension its vectors come from (checked on every start), the distance, and the
/// payload fields it filters on.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionSpec {
    pub name: String,
    pub embedding_model: String,
    pub dimension: usize,
    pub distance: Distance,
    pub payload_indexes: Vec<PayloadField>,
}

/// One vector with its id (the chunk's UUID) and payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub id: Uuid,
    pub vector: Vec<f32>,
    pub payload: Payload,
}

impl Point {
    pub fn new(id: Uuid, vector: Vec<f32>, payload: Payload) -> Self {
        Self {
            id,
            vector,
            payload,
        }
    }
}

/// Checks that untrusted JSON is an object before it becomes a payload.
pub fn payload_from_json(value: Value) -> Result<Payload, VectorError> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(VectorError::InvalidRequest(format!(
            "payload must be a JSON object, got {}",
            json_kind(&other)
        ))),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Top-`limit` nearest points to `vector`, optionally filtered; with `score_threshold`,
/// only points scoring at least that well (for `Euclid`: at most that distance).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    pub vector: Vec<f32>,
    pub limit: usize,
    pub filter: Option<Filter>,
    pub score_threshold: Option<f32>,
    pub with_payload: bool,
}

impl SearchRequest {
    pub fn new(vector: Vec<f32>, limit: usize) -> Self {
        Self {
            vector,
            limit,
            filter: None,
            score_threshold: None,
            with_payload: true,
        }
    }
}

/// One search hit, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredPoint {
    pub id: Uuid,
    pub score: f32,
    pub payload: Option<Payload>,
}

/// A page of ids in id order, starting at `offset` (inclusive).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScrollRequest {
    pub filter: Option<Filter>,
    pub offset: Option<Uuid>,
    pub limit: usize,
}

/// Ids of one page; `next_offset` starts the next page, `None` after the last.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScrollPage {
    pub ids: Vec<Uuid>,
    pub next_offset: Option<Uuid>,
}

/// Largest `limit` accepted by search and scroll.
pub const MAX_LIMIT: usize = 10_000;

pub(crate) fn validate_limit(limit: usize) -> Result<(), VectorError> {
    if limit == 0 || limit > MAX_LIMIT {
        return Err(VectorError::InvalidRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}, got {limit}"
        )));
    }
    Ok(())
}

/// Collection names become directory names (embedded) and URL segments (Qdrant REST):
/// keep them to a portable alphabet.
pub fn validate_collection_name(name: &str) -> Result<(), VectorError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(VectorError::InvalidRequest(format!(
            "collection name `{name}` must be 1-64 characters of A-Z, a-z, 0-9, `_`, `-`, `.` \
             and not start with `.` or `-`"
        )))
    }
}

/// Largest vector size accepted: Qdrant's own limit, checked here so both backends refuse
/// the same sizes with the same error.
const MAX_DIMENSION: usize = 65_536;

/// What both backends check before creating a collection: a portable name and a vector size
/// between 1 and [`MAX_DIMENSION`].
pub(crate) fn validate_new_collection(
    name: &str,
    params: &CollectionParams,
) -> Result<(), VectorError> {
    validate_collection_name(name)?;
    if params.dimension == 0 || params.dimension > MAX_DIMENSION {
        return Err(VectorError::InvalidRequest(format!(
            "dimension must be between 1 and {MAX_DIMENSION}, got {}",
            params.dimension
        )));
    }
    Ok(())
}

/// Rejects vectors of the wrong size or with NaN/infinite components.
pub(crate) fn validate_vector(
    collection: &str,
    expected: usize,
    vector: &[f32],
) -> Result<(), VectorError> {
    if vector.len() != expected {
        return Err(VectorError::DimensionMismatch {
            collection: collection.to_owned(),
            expected,
            got: vector.len(),
        });
    }
    if vector.iter().any(|x| !x.is_finite()) {
        return Err(VectorError::InvalidRequest(
            "vector contains NaN or infinite components".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn non_object_payloads_are_rejected_with_their_kind() {
        let error = payload_from_json(json!([1, 2])).expect_err("arrays are not payloads");
        assert_eq!(
            error.to_string(),
            "invalid request: payload must be a JSON object, got an array"
        );
        assert!(payload_from_json(json!({"a": 1})).is_ok());
    }

    #[test]
    fn collection_names_stay_portable() {
        for good in ["chunks", "chunks_v2", "a.b-c"] {
            assert!(validate_collection_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "../etc",
            "a/b",
            ".hidden",
            "-x",
            "white space",
            &"x".repeat(65),
        ] {
            assert!(validate_collection_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn vectors_are_checked_for_size_and_finiteness() {
        let error = validate_vector("c", 3, &[1.0, 2.0]).expect_err("short");
        assert!(matches!(
            error,
            VectorError::DimensionMismatch {
                expected: 3,
                got: 2,
                ..
            }
        ));
        assert!(validate_vector("c", 2, &[1.0, f32::NAN]).is_err());
        assert!(validate_vector("c", 2, &[1.0, 0.5]).is_ok());
    }
}
