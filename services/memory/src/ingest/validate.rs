//! Checking an ingestion request field by field, with a clear error for each rule, and
//! turning it into the document to store.

use db::memory::{NewDocument, documents::DocumentFields};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{chunking::TextFormat, error::ApiError};

/// `POST /api/memory/documents`. Sending the same `source` + `external_id` again updates
/// that document (or does nothing when nothing changed).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestRequest {
    #[schema(schema_with = source_schema)]
    pub source: String,
    /// The document's id in its source; makes re-ingestion an update (up to 255 characters).
    #[schema(max_length = 255)]
    pub external_id: Option<String>,
    /// A kind for filtering, e.g. `document`, `code`, `note` (lower case, up to 50).
    #[serde(rename = "type")]
    #[schema(max_length = 50, pattern = "^\\s*[a-z0-9_-]*\\s*$")]
    pub kind: Option<String>,
    /// A file path or URL, shown with results; `.md` selects Markdown-aware chunking.
    #[schema(max_length = 1024)]
    pub path: Option<String>,
    #[schema(max_length = 300)]
    pub title: Option<String>,
    /// Up to 32 tags of up to 64 characters, for filtering.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Any JSON object (up to 16 KiB), returned with results. Its numbers must lie within
    /// ±1e300: beyond, PostgreSQL's decimal copy may not read back as a double.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    #[schema(schema_with = content_schema)]
    pub content: String,
    /// `text` or `markdown`; default: Markdown for `.md` paths, text otherwise.
    pub format: Option<Format>,
    /// Shared knowledge, visible to every user (admins only).
    #[serde(default)]
    pub shared: bool,
    /// The project the document belongs to: one you own or are a member of (admins: any).
    pub project_id: Option<Uuid>,
}

/// `source`: not blank, as [`check_fields`] requires.
#[allow(deprecated)] // `example` (3.0's spelling): what the derive writes for the other fields
fn source_schema() -> utoipa::openapi::Object {
    platform::openapi::non_blank_text(Some(SOURCE_MAX_CHARS))
        .description(Some(format!(
            "Where the document comes from, e.g. `github`, `notes`, `docs` \
             (1-{SOURCE_MAX_CHARS} characters)."
        )))
        .example(Some("notes".into()))
        .build()
}

/// `content`: not blank, as [`check`] requires; its limit is in bytes, configured.
fn content_schema() -> utoipa::openapi::Object {
    platform::openapi::non_blank_text(None)
        .description(Some("The full text: not only whitespace."))
        .build()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Text,
    Markdown,
}

/// A request that passed every rule: the document row to write, and the text to split.
#[derive(Debug, Clone)]
pub struct Checked {
    pub document: NewDocument,
    pub content: String,
    pub format: TextFormat,
}

const SOURCE_MAX_CHARS: usize = 100;
const MAX_TAGS: usize = 32;
const MAX_METADATA_BYTES: usize = 16 * 1024;

/// What describes a document besides its text, as sent: ingestion and import check these
/// alike.
#[derive(Debug, Clone)]
pub struct Fields {
    pub source: String,
    pub external_id: Option<String>,
    pub kind: Option<String>,
    pub path: Option<String>,
    pub title: Option<String>,
    pub tags: Vec<String>,
    pub metadata: Option<Value>,
}

/// [`Fields`] that passed every rule: trimmed, defaults applied; stored as they are.
pub type CheckedFields = DocumentFields;

/// Checks the fields of a document, each against its rule.
pub fn check_fields(fields: Fields) -> Result<CheckedFields, ApiError> {
    let source = required("source", &fields.source, SOURCE_MAX_CHARS)?;
    let external_id = optional("external_id", fields.external_id, 255)?;
    Ok(CheckedFields {
        source,
        external_id,
        kind: check_kind(fields.kind)?,
        path: check_path(fields.path)?,
        title: check_title(fields.title)?,
        tags: check_tags(fields.tags)?,
        metadata: check_metadata(fields.metadata)?,
    })
}

/// `type`: absent or blank, `document`.
pub fn check_kind(kind: Option<String>) -> Result<String, ApiError> {
    match optional("type", kind, 50)? {
        None => Ok("document".to_owned()),
        Some(kind) if is_kind(&kind) => Ok(kind),
        Some(_) => Err(ApiError::validation(
            "invalid_type",
            "type must be lower-case letters, digits, `_` or `-`",
        )),
    }
}

pub fn check_path(path: Option<String>) -> Result<Option<String>, ApiError> {
    optional("path", path, 1024)
}

pub fn check_title(title: Option<String>) -> Result<Option<String>, ApiError> {
    optional("title", title, 300)
}

/// Checks `request`, to be stored for `owner_id` (`None`: shared).
pub fn check(
    request: IngestRequest,
    owner_id: Option<Uuid>,
    max_content_bytes: usize,
) -> Result<Checked, ApiError> {
    let fields = check_fields(Fields {
        source: request.source,
        external_id: request.external_id,
        kind: request.kind,
        path: request.path,
        title: request.title,
        tags: request.tags,
        metadata: request.metadata,
    })?;
    if request.content.len() > max_content_bytes {
        return Err(ApiError::TooLarge(format!(
            "content is {} bytes; the limit is {max_content_bytes} (MEMORY_MAX_DOCUMENT_BYTES): \
             split the document",
            request.content.len()
        )));
    }
    if request.content.trim().is_empty() {
        return Err(ApiError::validation(
            "empty_content",
            "content must not be blank",
        ));
    }
    let format = match request.format {
        Some(Format::Text) => TextFormat::Plain,
        Some(Format::Markdown) => TextFormat::Markdown,
        None => TextFormat::guess(fields.path.as_deref()),
    };
    let document = NewDocument {
        owner_id,
        fields,
        project_id: request.project_id,
        content_hash: sha256_hex(&request.content),
    };
    Ok(Checked {
        document,
        content: request.content,
        format,
    })
}

/// The content hash stored with documents and chunks: SHA-256, lower-case hex.
pub fn sha256_hex(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

fn required(field: &str, value: &str, max_chars: usize) -> Result<String, ApiError> {
    optional(field, Some(value.to_owned()), max_chars)?
        .ok_or_else(|| ApiError::validation("missing_field", format!("{field} must not be blank")))
}

/// Trimmed; blank counts as absent.
fn optional(
    field: &str,
    value: Option<String>,
    max_chars: usize,
) -> Result<Option<String>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    // The limit counts the text as sent, as the schema's `maxLength` does (docs/api.md).
    if value.chars().count() > max_chars {
        return Err(ApiError::validation(
            "field_too_long",
            format!("{field} must be at most {max_chars} characters"),
        ));
    }
    if value.contains('\0') {
        return Err(ApiError::validation(
            "invalid_character",
            format!("{field} must not contain NUL characters"),
        ));
    }
    let value = value.trim();
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

fn is_kind(kind: &str) -> bool {
    kind.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'))
}

/// Trimmed, blank ones dropped, duplicates removed, order kept.
pub fn check_tags(raw: Vec<String>) -> Result<Vec<String>, ApiError> {
    let mut tags: Vec<String> = Vec::new();
    for tag in raw {
        if let Some(tag) = optional("a tag", Some(tag), 64)?
            && !tags.contains(&tag)
        {
            // Refused as soon as one too many is kept: each tag is compared with those
            // kept, so letting the list grow to what a body holds would take quadratic time.
            if tags.len() == MAX_TAGS {
                return Err(ApiError::validation(
                    "too_many_tags",
                    format!("at most {MAX_TAGS} tags"),
                ));
            }
            tags.push(tag);
        }
    }
    Ok(tags)
}

/// Absent or `null`: `{}`; otherwise a JSON object within the size and number bounds.
pub fn check_metadata(raw: Option<Value>) -> Result<Value, ApiError> {
    match raw {
        None | Some(Value::Null) => Ok(Value::Object(Default::default())),
        Some(value @ Value::Object(_)) => {
            if value.to_string().len() > MAX_METADATA_BYTES {
                return Err(ApiError::validation(
                    "metadata_too_large",
                    format!("metadata must be at most {MAX_METADATA_BYTES} bytes of JSON"),
                ));
            }
            if !numbers_within_bounds(&value) {
                return Err(ApiError::validation(
                    "invalid_metadata",
                    format!("numbers in metadata must lie within ±{MAX_METADATA_NUMBER:e}"),
                ));
            }
            Ok(value)
        }
        Some(_) => Err(ApiError::validation(
            "invalid_metadata",
            "metadata must be a JSON object",
        )),
    }
}

/// PostgreSQL keeps a JSON number as an exact decimal and prints it back in full; next to
/// `f64::MAX` that decimal can round above it, and the document would no longer load.
const MAX_METADATA_NUMBER: f64 = 1e300;

fn numbers_within_bounds(value: &Value) -> bool {
    match value {
        Value::Number(number) => number
            .as_f64()
            .is_some_and(|n| n.abs() <= MAX_METADATA_NUMBER),
        Value::Array(items) => items.iter().all(numbers_within_bounds),
        Value::Object(fields) => fields.values().all(numbers_within_bounds),
        Value::Null | Value::Bool(_) | Value::String(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(value: Value) -> IngestRequest {
        serde_json::from_value(value).expect("request shape")
    }

    fn code(error: ApiError) -> &'static str {
        match error {
            ApiError::Validation { code, .. } => code,
            ApiError::TooLarge(_) => "document_too_large",
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn fields_are_trimmed_and_defaults_applied() {
        let checked = check(
            request(
                json!({"source": " notes ", "content": "text", "tags": [" a ", "a", "", "b"],
                           "path": "x/README.md", "external_id": "  "}),
            ),
            None,
            100,
        )
        .unwrap();
        let document = &checked.document;
        assert_eq!(document.fields.source, "notes");
        assert_eq!(document.fields.kind, "document");
        assert_eq!(document.fields.tags, ["a", "b"]);
        assert_eq!(document.fields.external_id, None);
        assert_eq!(document.fields.metadata, json!({}));
        assert_eq!(document.content_hash, sha256_hex("text"));
        assert_eq!(checked.format, TextFormat::Markdown);
    }

    #[test]
    fn content_hashes_are_lower_case_hex_sha256() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn each_rule_has_its_own_code() {
        let base = json!({"source": "s", "content": "text"});
        let with = |key: &str, value: Value| {
            let mut body = base.clone();
            body[key] = value;
            check(request(body), None, 10).expect_err("refused")
        };
        assert_eq!(code(with("source", json!("  "))), "missing_field");
        assert_eq!(code(with("type", json!("Code!"))), "invalid_type");
        assert_eq!(code(with("metadata", json!([1]))), "invalid_metadata");
        assert_eq!(code(with("content", json!(" \n "))), "empty_content");
        assert_eq!(
            code(with("content", json!("x".repeat(11)))),
            "document_too_large"
        );
        assert_eq!(
            code(with("title", json!("t".repeat(301)))),
            "field_too_long"
        );
        // Limits count the text as sent, spaces included, as the schema's maxLength does.
        let padded = format!(" code{}", " ".repeat(46));
        assert_eq!(code(with("type", json!(padded))), "field_too_long");
        let many: Vec<String> = (0..33).map(|i| format!("t{i}")).collect();
        assert_eq!(code(with("tags", json!(many))), "too_many_tags");
    }

    /// Found by schemathesis: a number next to `f64::MAX` was stored, then every read of the
    /// document failed (500), since PostgreSQL's decimal copy rounded above it.
    #[test]
    fn metadata_numbers_must_read_back_as_doubles() {
        let with = |metadata: Value| {
            check(
                request(json!({"source": "s", "content": "text", "metadata": metadata})),
                None,
                100,
            )
        };
        let refused = with(json!({"nested": [{"n": -1.7976931348623157e308}]}));
        assert_eq!(code(refused.expect_err("refused")), "invalid_metadata");
        let kept = with(json!({"n": 1e300, "small": -2.5, "big": 10789989954362790u64}));
        assert!(kept.is_ok(), "{kept:?}");
    }

    #[test]
    fn unknown_fields_are_rejected_by_the_shape() {
        let parsed: Result<IngestRequest, _> =
            serde_json::from_value(json!({"source": "s", "content": "c", "owner_id": "x"}));
        assert!(parsed.is_err());
    }
}
