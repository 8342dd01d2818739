//! Text PostgreSQL cannot store: the NUL character (U+0000), which `text` and `jsonb` refuse
//! with an error only after a handler has done its work. The extractors find it in the raw
//! input, so the normal path costs one byte scan and no second parse.

use std::fmt::Write as _;

use serde_json::Value;

use crate::error::message::excerpt;

/// The error code for text PostgreSQL cannot store.
pub const INVALID_TEXT: &str = "invalid_text";

/// The message naming `what` (a field, parameter or "the body") that carried a NUL.
pub fn nul_message(what: &str) -> String {
    format!("{what} cannot contain NUL (\\u0000) characters")
}

/// Whether a JSON document contains a `\u0000` escape, i.e. a string holding NUL.
///
/// Exact for valid JSON: a raw NUL is not valid JSON (control characters must be escaped),
/// so the escape is the only way in. A backslash starts an escape when an even number of
/// backslashes directly precedes it (`\\` pairs up left to right), so `"\\u0000"` (a
/// literal backslash, then `u0000`) is text, while `"\\\u0000"` is a backslash and a NUL.
/// For invalid JSON the answer does not matter: the parse that follows refuses it.
pub fn json_has_nul_escape(json: &[u8]) -> bool {
    const ESCAPE: &[u8] = b"\\u0000";
    let mut preceding_backslashes = 0usize;
    for (at, &byte) in json.iter().enumerate() {
        if byte != b'\\' {
            preceding_backslashes = 0;
            continue;
        }
        if preceding_backslashes.is_multiple_of(2) && json[at..].starts_with(ESCAPE) {
            return true;
        }
        preceding_backslashes += 1;
    }
    false
}

/// Whether a raw (still percent-encoded) query string decodes to text holding NUL.
///
/// Exact: URIs cannot carry a raw NUL, and `%00` is the only encoding of it; its `%` cannot
/// be a hex digit of an earlier escape, and a literal `%` is sent as `%25`, so `%2500` is
/// the text `%00`. Lenient decoding of a stray `%` (`%%00`) still decodes the `%00` after it.
pub fn query_has_nul(query: &str) -> bool {
    query.contains("%00")
}

/// Where in a parsed JSON document the first NUL is, for the error message: `metadata.note`,
/// `tags[2]`, `a key in metadata`, or `the body` for a bare string. `None` when there is none.
pub fn find_nul(document: &Value) -> Option<String> {
    let mut path = String::new();
    locate(document, &mut path).map(|found| match found {
        Found::Value if path.is_empty() => "the body".to_owned(),
        Found::Value => path,
        Found::Key if path.is_empty() => "a key in the body".to_owned(),
        Found::Key => format!("a key in {path}"),
    })
}

enum Found {
    Value,
    Key,
}

/// Depth-first; `path` is left pointing at the string (or the object whose key) holding NUL.
/// Recursion is bounded by serde_json's parse depth limit (128).
fn locate(value: &Value, path: &mut String) -> Option<Found> {
    match value {
        Value::String(text) => text.contains('\0').then_some(Found::Value),
        Value::Array(items) => items.iter().enumerate().find_map(|(index, item)| {
            let parent = path.len();
            // Writing to a String cannot fail.
            let _ = write!(path, "[{index}]");
            let found = locate(item, path);
            if found.is_none() {
                path.truncate(parent);
            }
            found
        }),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                return Some(Found::Key);
            }
            let parent = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            // Keys are echoed in messages; a client's megabyte-long key should not be.
            path.push_str(&excerpt(key));
            let found = locate(item, path);
            if found.is_none() {
                path.truncate(parent);
            }
            found
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The scanner agrees with a real parse on whether any string holds NUL.
    fn agrees(raw: &str) -> bool {
        let parsed: Value = serde_json::from_str(raw).expect("valid JSON");
        let scanned = json_has_nul_escape(raw.as_bytes());
        assert_eq!(scanned, find_nul(&parsed).is_some(), "{raw}");
        scanned
    }

    #[test]
    fn a_nul_escape_anywhere_is_found() {
        for raw in [
            r#""\u0000""#,
            r#"{"title":"a\u0000b"}"#,
            r#"{"metadata":{"note":["x","\u0000"]}}"#,
            r#"{"k\u0000":1}"#,
            r#"["\"\u0000"]"#,
            r#"["\\\u0000"]"#,
            r#"["\\\\\\\u0000"]"#,
            r#"["\u0000\u0000"]"#,
        ] {
            assert!(agrees(raw), "{raw}");
        }
    }

    #[test]
    fn escaped_backslashes_and_look_alikes_are_text() {
        for raw in [
            r#""\\u0000""#,
            r#"{"path":"C:\\\\u0000"}"#,
            r#"["\\\\\\u0000"]"#,
            r#"["a\\", "u0000"]"#,
            r#"["u0000","\\","\/u0000"]"#,
            r#"["\u0001","\u0020","\u2000\u0100"]"#,
            r#"{"n":0,"t":"no escapes at all"}"#,
        ] {
            assert!(!agrees(raw), "{raw}");
        }
    }

    #[test]
    fn a_truncated_escape_is_not_a_nul() {
        assert!(!json_has_nul_escape(br#""\u000"#));
        assert!(!json_has_nul_escape(b"\\"));
        assert!(!json_has_nul_escape(b""));
    }

    #[test]
    fn the_location_names_the_field() {
        let at = |value: Value| find_nul(&value);
        assert_eq!(
            at(json!({"metadata": {"note": "a\0"}})).as_deref(),
            Some("metadata.note")
        );
        assert_eq!(
            at(json!({"tags": ["ok", "b\0"]})).as_deref(),
            Some("tags[1]")
        );
        assert_eq!(at(json!([{"x": ["\0"]}])).as_deref(), Some("[0].x[0]"));
        assert_eq!(at(json!({"m": {"k\0": 1}})).as_deref(), Some("a key in m"));
        assert_eq!(at(json!({"k\0": 1})).as_deref(), Some("a key in the body"));
        assert_eq!(at(json!("\0")).as_deref(), Some("the body"));
        assert_eq!(at(json!({"a": "fine", "b": [1, null, true]})), None);
    }

    #[test]
    fn long_keys_are_shortened_in_the_location() {
        let key = "k".repeat(100);
        let found = find_nul(&json!({ key: "\0" })).expect("found");
        assert_eq!(found, format!("{}…", "k".repeat(64)));
    }

    #[test]
    fn only_an_encoded_nul_in_a_query_counts() {
        for query in ["q=%00", "q=a%00b", "%00=x", "q=%%00", "q=%0%00"] {
            assert!(query_has_nul(query), "{query}");
        }
        for query in ["q=%2500", "q=0%2000", "q=00", "q=%01", ""] {
            assert!(!query_has_nul(query), "{query}");
        }
    }

    /// Why headers need no check: `ClientInfo` stores `User-Agent` in PostgreSQL, and a header
    /// value cannot hold NUL. Safe code cannot build one (only the `unsafe` unchecked
    /// constructor skips this), hyper's parsers refuse it, and `to_str` refuses any control
    /// character but tab on top.
    #[test]
    fn header_values_cannot_carry_nul() {
        use axum::http::HeaderValue;
        assert!(HeaderValue::from_bytes(b"agent/1.0\0").is_err());
        assert!(HeaderValue::from_str("agent/1.0\0").is_err());
        assert!(HeaderValue::from_bytes(b"agent\x01").is_err());
    }

    #[test]
    fn the_message_shows_the_escape() {
        assert_eq!(
            nul_message("title"),
            r"title cannot contain NUL (\u0000) characters"
        );
    }
}
