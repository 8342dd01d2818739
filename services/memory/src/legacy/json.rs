//! Reading a legacy JSON file: an array of records, an object holding one array of records
//! (under any key), a single record, or NDJSON (one record per line; a line that is not JSON
//! is skipped and reported, the others are imported). Every record knows the line it starts
//! on. Anything else that is not JSON is refused with its line and column.

use std::path::Path;

use serde::de::IgnoredAny;
use serde_json::{Map, Value};

use super::{
    ImportError, Location, RawRecord,
    record::{TEXT_FIELDS, json_type},
};

/// How the file holds its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    Array,
    /// The array under this key of the top-level object.
    Wrapped(String),
    /// The file is one record.
    Single,
    Lines,
}

impl Shape {
    pub fn describe(&self) -> String {
        match self {
            Shape::Array => "a JSON array".into(),
            Shape::Wrapped(key) => format!("the array under `{key}`"),
            Shape::Single => "a single record".into(),
            Shape::Lines => "NDJSON".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct JsonFile {
    pub shape: Shape,
    pub records: Vec<RawRecord>,
}

/// Reads `path`; `.ndjson` and `.jsonl` files are always read line by line.
pub fn read(path: &Path) -> Result<JsonFile, ImportError> {
    let source = |message: String| ImportError::Source(format!("{}: {message}", path.display()));
    let bytes = std::fs::read(path).map_err(|error| source(format!("cannot read: {error}")))?;
    let text = String::from_utf8(bytes).map_err(|error| {
        source(format!(
            "not UTF-8 text (invalid byte at offset {})",
            error.utf8_error().valid_up_to()
        ))
    })?;
    let lines = path
        .extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| {
            ["ndjson", "jsonl"].contains(&extension.to_ascii_lowercase().as_str())
        });
    parse(&text, lines).map_err(source)
}

/// Finds the records in `text`; `lines`: it is NDJSON whatever it looks like.
pub fn parse(text: &str, lines: bool) -> Result<JsonFile, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(start) = text.find(|c: char| !c.is_whitespace()) else {
        return Err("the file is empty".into());
    };
    if lines {
        return Ok(ndjson(text));
    }
    let at = Lines::new(text);
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => Ok(JsonFile {
            shape: Shape::Array,
            records: located(text, &at, start, items),
        }),
        Ok(Value::Object(object)) => object_file(text, &at, start, object),
        Ok(other) => Err(format!(
            "expected records (an array, an object or NDJSON), found a JSON {}",
            json_type(&other)
        )),
        // Several values, one per line: NDJSON, even if a later line is broken.
        Err(_) if first_line_is_a_value(text) => Ok(ndjson(text)),
        Err(error) => Err(format!(
            "invalid JSON at line {}, column {}: {}",
            error.line(),
            error.column(),
            message(&error)
        )),
    }
}

/// A top-level object: a record itself, or the holder of the array of records.
fn object_file(
    text: &str,
    at: &Lines,
    start: usize,
    object: Map<String, Value>,
) -> Result<JsonFile, String> {
    if TEXT_FIELDS.iter().any(|field| object.contains_key(*field)) {
        return Ok(JsonFile {
            shape: Shape::Single,
            records: vec![RawRecord {
                at: Location::Line(at.line_of(start)),
                value: Ok(Value::Object(object)),
            }],
        });
    }
    let arrays: Vec<&String> = object
        .iter()
        .filter(|(_, value)| value.is_array())
        .map(|(key, _)| key)
        .collect();
    // Beside the records there may be other lists (e.g. of collection names): the records
    // are the one holding objects.
    let holding_objects: Vec<&String> = arrays
        .iter()
        .copied()
        .filter(|key| {
            object[key.as_str()]
                .as_array()
                .is_some_and(|items| items.iter().any(Value::is_object))
        })
        .collect();
    let key = match (arrays.as_slice(), holding_objects.as_slice()) {
        ([only], _) | (_, [only]) => (*only).clone(),
        ([], _) => {
            let keys: Vec<&str> = object.keys().map(String::as_str).collect();
            return Err(format!(
                "the top-level object is not a record (no {}) and holds no array of records \
                 (its keys: {})",
                TEXT_FIELDS.join(", "),
                keys.join(", ")
            ));
        }
        _ => {
            let keys: Vec<&str> = arrays.iter().map(|key| key.as_str()).collect();
            return Err(format!(
                "the top-level object holds several arrays ({}); extract the one with the \
                 records, e.g. `jq '.{}' FILE`",
                keys.join(", "),
                keys[0]
            ));
        }
    };
    let open = member_value_start(text, start, &key)
        .ok_or_else(|| format!("cannot locate the array under `{key}`"))?;
    let Some(Value::Array(items)) = object.into_iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    else {
        return Err(format!("cannot locate the array under `{key}`"));
    };
    Ok(JsonFile {
        shape: Shape::Wrapped(key),
        records: located(text, at, open, items),
    })
}

/// The records of the (valid) array opening at `open`, each with its line.
fn located(text: &str, at: &Lines, open: usize, items: Vec<Value>) -> Vec<RawRecord> {
    element_starts(text, open)
        .into_iter()
        .zip(items)
        .map(|(start, value)| RawRecord {
            at: Location::Line(at.line_of(start)),
            value: Ok(value),
        })
        .collect()
}

/// Where each element of the array opening at `open` starts (the text is valid JSON).
fn element_starts(text: &str, open: usize) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut starts = Vec::new();
    let mut pos = skip_whitespace(bytes, open + 1);
    if bytes.get(pos) == Some(&b']') {
        return starts;
    }
    loop {
        starts.push(pos);
        pos = skip_whitespace(bytes, value_end(text, pos));
        if bytes.get(pos) != Some(&b',') {
            return starts;
        }
        pos = skip_whitespace(bytes, pos + 1);
    }
}

/// Where the value of `key` in the (valid) object opening at `open` starts; the last one when
/// the key repeats, as the parsed object keeps the last.
fn member_value_start(text: &str, open: usize, key: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut found = None;
    let mut pos = skip_whitespace(bytes, open + 1);
    while bytes.get(pos) == Some(&b'"') {
        let mut stream = serde_json::Deserializer::from_str(&text[pos..]).into_iter::<String>();
        let name = stream.next()?.ok()?;
        // Past the name and the colon.
        pos = skip_whitespace(bytes, pos + stream.byte_offset());
        pos = skip_whitespace(bytes, pos + 1);
        if name == key {
            found = Some(pos);
        }
        pos = skip_whitespace(bytes, value_end(text, pos));
        if bytes.get(pos) != Some(&b',') {
            break;
        }
        pos = skip_whitespace(bytes, pos + 1);
    }
    found
}

/// The offset just past the JSON value starting at `start`.
fn value_end(text: &str, start: usize) -> usize {
    let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<IgnoredAny>();
    let _ = stream.next();
    start + stream.byte_offset()
}

fn skip_whitespace(bytes: &[u8], mut pos: usize) -> usize {
    while bytes.get(pos).is_some_and(u8::is_ascii_whitespace) {
        pos += 1;
    }
    pos
}

fn first_line_is_a_value(text: &str) -> bool {
    text.lines()
        .find(|line| !line.trim().is_empty())
        .is_some_and(|line| serde_json::from_str::<IgnoredAny>(line).is_ok())
}

/// One record per non-blank line.
fn ndjson(text: &str) -> JsonFile {
    let records = text
        .split('\n')
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| RawRecord {
            at: Location::Line(index + 1),
            value: serde_json::from_str(line.trim_end_matches('\r')).map_err(|error| {
                format!("not JSON at column {}: {}", error.column(), message(&error))
            }),
        })
        .collect();
    JsonFile {
        shape: Shape::Lines,
        records,
    }
}

/// serde_json's message without its " at line L column C" (we say where ourselves).
fn message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rsplit_once(" at line ") {
        Some((message, _)) => message.to_owned(),
        None => text,
    }
}

/// Line numbers of byte offsets.
struct Lines {
    newlines: Vec<usize>,
}

impl Lines {
    fn new(text: &str) -> Self {
        Self {
            newlines: text.match_indices('\n').map(|(at, _)| at).collect(),
        }
    }

    fn line_of(&self, offset: usize) -> usize {
        self.newlines.partition_point(|&newline| newline < offset) + 1
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn lines_of(file: &JsonFile) -> Vec<usize> {
        file.records
            .iter()
            .map(|record| match record.at {
                Location::Line(line) => line,
                Location::Point(_) => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn array_elements_know_their_lines() {
        let text =
            "\u{feff}[\n  {\"text\": \"a, [b]\"},\n\n  \"bare\", 42,\n  [1, {\"x\": \"}\"}]\n]\n";
        let file = parse(text, false).unwrap();
        assert_eq!(file.shape, Shape::Array);
        assert_eq!(lines_of(&file), [2, 4, 4, 5]);
        assert_eq!(file.records[2].value, Ok(json!(42)));
        assert_eq!(parse("[]", false).unwrap().records, []);
    }

    #[test]
    fn the_one_array_of_records_in_an_object_is_found() {
        let text = "{\"version\": 2, \"names\": [\"a\"],\n \"documents\": [\n {\"text\": \"x\"}\n ],\n \"documents\": [\n\n {\"text\": \"y\"}]}";
        let file = parse(text, false).unwrap();
        assert_eq!(file.shape, Shape::Wrapped("documents".into()));
        assert_eq!(
            lines_of(&file),
            [7],
            "the last of a repeated key, as parsed"
        );
        let several = parse(r#"{"a": [{"text": "x"}], "b": [{"text": "y"}]}"#, false);
        assert!(several.unwrap_err().contains("several arrays (a, b)"));
        let none = parse(r#"{"a": 1}"#, false);
        assert!(none.unwrap_err().contains("its keys: a"));
        let single = parse(r#"{"content": "x", "tags": ["a"]}"#, false).unwrap();
        assert_eq!(single.shape, Shape::Single);
    }

    #[test]
    fn ndjson_keeps_going_past_a_bad_line() {
        let text = "{\"text\": \"a\"}\r\n\n{\"text\": \"b\"\n{\"text\": \"c\"}\n";
        let file = parse(text, false).unwrap();
        assert_eq!(file.shape, Shape::Lines);
        assert_eq!(lines_of(&file), [1, 3, 4]);
        let bad = file.records[1].value.clone().unwrap_err();
        assert!(bad.starts_with("not JSON at column 12: EOF"), "{bad}");
    }

    #[test]
    fn unreadable_files_say_why() {
        let dir = tempfile::TempDir::new().unwrap();
        let latin1 = dir.path().join("latin1.json");
        std::fs::write(&latin1, b"[\"caf\xe9\"]").unwrap();
        let error = read(&latin1).unwrap_err().to_string();
        assert!(
            error.ends_with("latin1.json: not UTF-8 text (invalid byte at offset 5)"),
            "{error}"
        );
        let missing = read(&dir.path().join("missing.json"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("missing.json: cannot read: "), "{missing}");
        let lines = dir.path().join("notes.JSONL");
        std::fs::write(&lines, "{\"text\": \"a\"}").unwrap();
        assert_eq!(
            read(&lines).unwrap().shape,
            Shape::Lines,
            "by extension, any case"
        );
    }

    #[test]
    fn broken_json_is_refused_with_line_and_column() {
        let error = parse("[\n {\"text\": \"a\"},\n {\"text\" \"b\"}\n]", false).unwrap_err();
        assert_eq!(error, "invalid JSON at line 3, column 10: expected `:`");
        assert_eq!(parse(" \n ", false).unwrap_err(), "the file is empty");
        assert!(
            parse("\"text\"", false)
                .unwrap_err()
                .contains("found a JSON string")
        );
    }
}
