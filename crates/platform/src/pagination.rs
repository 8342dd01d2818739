//! Keyset pagination cursors: the `(created_at, id)` of a page's last row, opaque to
//! clients (URL-safe base64), so pages stay stable and cheap at any depth.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The cursor a client passes back to get the page after the row `(created_at, id)`.
pub fn encode_cursor(created_at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", created_at.to_rfc3339()))
}

/// `None` when the text is not a cursor [`encode_cursor`] made.
pub fn decode_cursor(cursor: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (at, id) = text.split_once('|')?;
    let at = DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc);
    Some((at, id.parse().ok()?))
}

/// Message for a cursor [`decode_cursor`] refused.
pub const INVALID_CURSOR: &str = "cursor is not one this API returned";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_to_the_microsecond() {
        let at = DateTime::parse_from_rfc3339("2026-11-25T18:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let id = Uuid::new_v4();
        assert_eq!(decode_cursor(&encode_cursor(at, id)), Some((at, id)));
    }

    #[test]
    fn foreign_text_is_not_a_cursor() {
        for bad in [
            "",
            "not base64!",
            "aGVsbG8",
            &URL_SAFE_NO_PAD.encode("2026|x"),
        ] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }
}
