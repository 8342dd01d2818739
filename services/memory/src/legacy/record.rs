//! Making a document of one legacy record, liberal in what it accepts: the text under
//! `content`, `text` or `pageContent`; `source`, `type`, `path`, `title`, `tags` and the time
//! at the top level or, when the top level lacks them, inside `metadata` (as LangChain writes
//! them). Nothing given is dropped: what has no field of its own is kept in the metadata.
//!
//! What the metadata gains, beside the record's own `metadata`:
//! - `legacy_source`: the record's `source` (the document's source is `legacy`);
//! - `legacy_type`: the `type` as given, when it had to be cleaned to be one (`Code Snippet`
//!   is stored as `code_snippet`);
//! - `legacy_created_at`: the time as given at the top level (so a changed time is a change);
//! - `legacy_fields`: top-level fields used nowhere else (a second text, an unknown field, a
//!   value of the wrong kind);
//! - `legacy_metadata`: a `metadata` that is not an object.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::{
    Location, PointId, RawRecord,
    time::{self, Time},
};
use crate::ingest::sha256_hex;

/// The names the text goes by, the first non-blank one taken.
pub const TEXT_FIELDS: [&str; 3] = ["content", "text", "pageContent"];
const TIME_FIELDS: [&str; 3] = ["created_at", "createdAt", "timestamp"];
const ID_FIELDS: [&str; 2] = ["id", "_id"];
/// The longest type the service accepts.
const MAX_KIND_CHARS: usize = 50;

/// A legacy record's id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LegacyId {
    /// A UUID (a point id, or a file's id shaped like one): the first chunk's id, if free.
    Uuid(Uuid),
    /// A numeric point id: the first chunk gets a new id (it is re-keyed).
    Point(u64),
    /// Any other id from a file.
    Text(String),
}

impl LegacyId {
    pub fn external_id(&self) -> String {
        match self {
            LegacyId::Uuid(uuid) => uuid.to_string(),
            LegacyId::Point(number) => number.to_string(),
            LegacyId::Text(text) => text.clone(),
        }
    }

    /// As the mapping file shows it: numeric point ids stay numbers.
    pub fn to_json(&self) -> Value {
        match self {
            LegacyId::Point(number) => Value::from(*number),
            other => Value::from(other.external_id()),
        }
    }
}

/// A record that can become a document.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyRecord {
    pub at: Location,
    pub id: Option<LegacyId>,
    /// As given (the document's content and hash are of this text).
    pub text: String,
    /// Which of [`TEXT_FIELDS`] held it.
    pub text_field: &'static str,
    pub kind: Option<String>,
    /// The type as given, when it had to be cleaned.
    pub kind_given: Option<String>,
    pub path: Option<String>,
    pub title: Option<String>,
    pub tags: Vec<String>,
    pub metadata: Map<String, Value>,
    /// `None`: the record has no time (the document gets the import's).
    pub time: Option<Time>,
}

impl LegacyRecord {
    /// The re-ingestion key: the legacy id, or the text's hash for records without one.
    pub fn external_id(&self) -> String {
        match &self.id {
            Some(id) => id.external_id(),
            None => format!("sha256:{}", sha256_hex(&self.text)),
        }
    }
}

/// Why a record was not imported.
#[derive(Debug, Clone, PartialEq)]
pub enum Skip {
    /// An NDJSON line that is not JSON.
    InvalidJson(String),
    /// Neither an object nor a string.
    NotARecord(&'static str),
    /// No text under any of [`TEXT_FIELDS`], or only blanks.
    NoText,
    /// An id that is an object, array or boolean.
    UnusableId(&'static str),
    /// Same id (or, without one, same text) as the record found first.
    Duplicate { first: Location, same_text: bool },
    /// Refused by the service's checks, with its error code (as over HTTP).
    Refused { code: &'static str, message: String },
}

impl Skip {
    /// The heading the report groups skipped records under.
    pub fn reason(&self) -> String {
        match self {
            Skip::InvalidJson(_) => "invalid JSON".into(),
            Skip::NotARecord(_) => "not a record".into(),
            Skip::NoText => "no text".into(),
            Skip::UnusableId(_) => "unusable id".into(),
            Skip::Duplicate { .. } => "duplicate".into(),
            Skip::Refused { code, .. } => format!("refused ({code})"),
        }
    }

    /// What the report says about one record.
    pub fn detail(&self) -> Option<String> {
        match self {
            Skip::InvalidJson(message) => Some(message.clone()),
            Skip::NotARecord(kind) => Some(format!("a JSON {kind}")),
            Skip::NoText => None,
            Skip::UnusableId(kind) => Some(format!("the id is a JSON {kind}")),
            Skip::Duplicate { first, same_text } => Some(format!(
                "same {} as {first}",
                if *same_text { "text (and no id)" } else { "id" }
            )),
            Skip::Refused { message, .. } => Some(message.clone()),
        }
    }
}

/// Makes a document of a raw record, or says why it cannot be one.
pub fn interpret(raw: RawRecord) -> Result<LegacyRecord, Skip> {
    let mut fields = match raw.value.map_err(Skip::InvalidJson)? {
        Value::Object(fields) => fields,
        // A bare string in a list of records is a record with only its text.
        Value::String(text) => Map::from_iter([("content".to_owned(), Value::String(text))]),
        other => return Err(Skip::NotARecord(json_type(&other))),
    };
    let mut kept = Map::new();
    let (text, text_field) = take_text(&mut fields, &mut kept).ok_or(Skip::NoText)?;
    let id = match raw.at {
        // A payload's own `id` is just another field: the point id is the record's.
        Location::Point(PointId::Uuid(uuid)) => Some(LegacyId::Uuid(uuid)),
        Location::Point(PointId::Num(number)) => Some(LegacyId::Point(number)),
        Location::Line(_) => take_id(&mut fields)?,
    };
    let mut metadata = match fields.remove("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(metadata)) => metadata,
        // Some stores kept metadata as serialized JSON.
        Some(Value::String(text)) if serde_json::from_str::<Map<_, _>>(&text).is_ok() => {
            serde_json::from_str(&text).unwrap_or_default()
        }
        Some(other) => Map::from_iter([("legacy_metadata".to_owned(), other)]),
    };

    let mut string = |name: &str| take_string(&mut fields, &metadata, &mut kept, name);
    let source = string("source");
    let kind_given = string("type");
    let path = string("path");
    let title = string("title");
    let tags = take_tags(&mut fields, &metadata, &mut kept);
    let (time, top_level_time) = take_time(&mut fields, &metadata);

    let kind = kind_given.as_deref().and_then(clean_kind);
    let kind_given = kind_given.filter(|given| kind.as_deref() != Some(given.as_str()));
    if let Some(source) = source {
        metadata.insert("legacy_source".into(), Value::String(source));
    }
    if let Some(given) = &kind_given {
        metadata.insert("legacy_type".into(), Value::String(given.clone()));
    }
    if let Some(raw_time) = top_level_time {
        metadata.insert("legacy_created_at".into(), raw_time);
    }
    kept.append(&mut fields);
    if !kept.is_empty() {
        metadata.insert("legacy_fields".into(), Value::Object(kept));
    }
    Ok(LegacyRecord {
        at: raw.at,
        id,
        text,
        text_field,
        kind,
        kind_given,
        path,
        title,
        tags,
        metadata,
        time,
    })
}

/// The first non-blank text; other text fields that say something else are kept.
fn take_text(
    fields: &mut Map<String, Value>,
    kept: &mut Map<String, Value>,
) -> Option<(String, &'static str)> {
    let mut chosen: Option<(String, &'static str)> = None;
    for name in TEXT_FIELDS {
        match fields.remove(name) {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) if text.trim().is_empty() => {}
            Some(Value::String(text)) if chosen.is_none() => chosen = Some((text, name)),
            Some(Value::String(text)) if chosen.as_ref().is_some_and(|(c, _)| *c == text) => {}
            Some(other) => {
                kept.insert(name.to_owned(), other);
            }
        }
    }
    chosen
}

fn take_id(fields: &mut Map<String, Value>) -> Result<Option<LegacyId>, Skip> {
    let Some(name) = ID_FIELDS
        .into_iter()
        .find(|name| fields.get(*name).is_some_and(|value| !value.is_null()))
    else {
        return Ok(None);
    };
    match fields.remove(name) {
        Some(Value::String(text)) => {
            let text = text.trim();
            Ok(match Uuid::try_parse(text) {
                // Only the usual 36-character form: a 32-digit hex id stays as it was.
                Ok(uuid) if text.len() == 36 => Some(LegacyId::Uuid(uuid)),
                _ if text.is_empty() => None,
                _ => Some(LegacyId::Text(text.to_owned())),
            })
        }
        Some(Value::Number(number)) => Ok(Some(LegacyId::Text(integer_text(&number)))),
        Some(other) => Err(Skip::UnusableId(json_type(&other))),
        None => Ok(None),
    }
}

/// `42.0` is the id `42`; other numbers as JSON writes them.
fn integer_text(number: &serde_json::Number) -> String {
    match number.as_f64() {
        Some(n) if number.is_f64() && n.fract() == 0.0 && n.abs() < 9.0e15 => {
            format!("{n:.0}")
        }
        _ => number.to_string(),
    }
}

/// A text field from the top level, else from the metadata. A top-level value that is not
/// text (an object, an array) is kept in `legacy_fields`.
fn take_string(
    fields: &mut Map<String, Value>,
    metadata: &Map<String, Value>,
    kept: &mut Map<String, Value>,
    name: &str,
) -> Option<String> {
    let top = match fields.remove(name) {
        Some(value) => match scalar_text(&value) {
            Ok(text) => text,
            Err(()) => {
                kept.insert(name.to_owned(), value);
                None
            }
        },
        None => None,
    };
    top.or_else(|| {
        metadata
            .get(name)
            .and_then(|v| scalar_text(v).ok().flatten())
    })
}

/// Strings trimmed (blank: none), numbers and booleans as text; `Err` for anything else.
fn scalar_text(value: &Value) -> Result<Option<String>, ()> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text.trim().to_owned()).filter(|t| !t.is_empty())),
        Value::Number(_) | Value::Bool(_) => Ok(Some(value.to_string())),
        Value::Array(_) | Value::Object(_) => Err(()),
    }
}

/// Tags from an array (of texts, numbers or booleans) or a comma-separated text.
fn take_tags(
    fields: &mut Map<String, Value>,
    metadata: &Map<String, Value>,
    kept: &mut Map<String, Value>,
) -> Vec<String> {
    let top = match fields.remove("tags") {
        Some(value) => {
            let tags = tags_of(&value);
            if tags.is_none() {
                kept.insert("tags".into(), value);
            }
            tags.unwrap_or_default()
        }
        None => Vec::new(),
    };
    if !top.is_empty() {
        return top;
    }
    metadata.get("tags").and_then(tags_of).unwrap_or_default()
}

/// `None` when some of it cannot be a tag (then it is kept whole).
fn tags_of(value: &Value) -> Option<Vec<String>> {
    let tags = match value {
        Value::Null => Vec::new(),
        Value::String(text) => text.split(',').map(str::to_owned).collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| scalar_text(item).ok().map(Option::unwrap_or_default))
            .collect::<Option<Vec<String>>>()?,
        _ => return None,
    };
    Some(
        tags.into_iter()
            .map(|tag| tag.trim().to_owned())
            .filter(|tag| !tag.is_empty())
            .collect(),
    )
}

/// The time and, when it came from the top level, its value as given.
fn take_time(
    fields: &mut Map<String, Value>,
    metadata: &Map<String, Value>,
) -> (Option<Time>, Option<Value>) {
    for name in TIME_FIELDS {
        if let Some(value) = fields.remove(name).filter(|value| !value.is_null()) {
            return (Some(time::read(&value)), Some(value));
        }
    }
    let nested = TIME_FIELDS
        .into_iter()
        .find_map(|name| metadata.get(name).filter(|value| !value.is_null()));
    (nested.map(time::read), None)
}

/// A type the service accepts (lower-case letters, digits, `_`, `-`; up to 50): lower-cased,
/// every run of other characters one `_`. `None` when nothing is left.
pub fn clean_kind(given: &str) -> Option<String> {
    let mut kind = String::new();
    for ch in given.trim().to_lowercase().chars() {
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-' {
            kind.push(ch);
        } else if !kind.ends_with('_') {
            kind.push('_');
        }
    }
    let kind: String = kind
        .trim_matches('_')
        .chars()
        .take(MAX_KIND_CHARS)
        .collect();
    let kind = kind.trim_end_matches('_');
    (!kind.is_empty()).then(|| kind.to_owned())
}

pub(super) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests;
