//! Error messages fit to send back: client input quoted in them (a path parameter, an enum
//! value, a JSON key) shows as a short, marked excerpt with its control characters escaped,
//! so a 60 KB value is not echoed whole and an ANSI escape sequence never reaches a client's
//! terminal or a log viewer raw.

use std::fmt::Write as _;

/// How many characters of one piece of client input a message quotes.
pub const EXCERPT_CHARS: usize = 64;

/// The most characters a message shows: a backstop for input quoted without quote marks
/// (our own messages are far shorter).
pub const MAX_MESSAGE_CHARS: usize = 400;

/// The marker of text cut short.
const CUT: char = '…';

/// `input` as a message quotes it: its first [`EXCERPT_CHARS`] characters, then `…` when
/// there were more, control characters escaped as `\u001b`.
pub fn excerpt(input: &str) -> String {
    let mut shown = String::new();
    push_excerpt(&mut shown, input);
    shown
}

/// `message` fit to send: every span in backticks or double quotes (how serde, axum and our
/// own messages quote input) is an [`excerpt`], control characters are escaped everywhere,
/// and the whole is at most [`MAX_MESSAGE_CHARS`] (then ending in `…`).
///
/// In double quotes a backslash escapes the next character (serde quotes strings as Rust
/// debug output does); a quote left open runs to the end of the message.
pub fn bounded(message: &str) -> String {
    let mut shown = String::new();
    let mut rest = message;
    while let Some(open) = rest.find(['`', '"']) {
        push_escaped(&mut shown, &rest[..open]);
        let quote = char::from(rest.as_bytes()[open]);
        let inside = &rest[open + 1..];
        shown.push(quote);
        match closing(inside, quote) {
            Some(close) => {
                push_excerpt(&mut shown, &inside[..close]);
                shown.push(quote);
                rest = &inside[close + 1..];
            }
            None => {
                push_excerpt(&mut shown, inside);
                rest = "";
            }
        }
        if shown.len() > MAX_MESSAGE_CHARS * 4 {
            break;
        }
    }
    push_escaped(&mut shown, rest);
    match shown.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((end, _)) => {
            shown.truncate(end);
            shown.push(CUT);
            shown
        }
        None => shown,
    }
}

/// Where the quote opened before `inside` closes, as a byte offset into `inside`.
fn closing(inside: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (at, c) in inside.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quote == '"' => escaped = true,
            _ if c == quote => return Some(at),
            _ => {}
        }
    }
    None
}

fn push_excerpt(shown: &mut String, input: &str) {
    let mut chars = input.chars();
    for c in chars.by_ref().take(EXCERPT_CHARS) {
        push_char(shown, c);
    }
    if chars.next().is_some() {
        shown.push(CUT);
    }
}

fn push_escaped(shown: &mut String, text: &str) {
    // Stops early on a huge unquoted run: only the first MAX_MESSAGE_CHARS are kept anyway.
    for c in text.chars().take(MAX_MESSAGE_CHARS + 1) {
        push_char(shown, c);
    }
}

fn push_char(shown: &mut String, c: char) {
    if needs_escape(c) {
        // Writing to a String cannot fail.
        let _ = write!(shown, "\\u{:04x}", u32::from(c));
    } else {
        shown.push(c);
    }
}

/// Control characters, and the bidirectional overrides that make text display in another
/// order than it reads.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_input_is_quoted_whole_and_long_input_cut_and_marked() {
        assert_eq!(excerpt("todo"), "todo");
        assert_eq!(excerpt(&"x".repeat(64)), "x".repeat(64));
        assert_eq!(excerpt(&"é".repeat(65)), format!("{}…", "é".repeat(64)));
    }

    #[test]
    fn control_characters_and_bidi_overrides_are_escaped() {
        assert_eq!(excerpt("\u{1b}[31m\tx\u{202e}"), r"\u001b[31m\u0009x\u202e");
        assert_eq!(bounded("line\nbreak"), r"line\u000abreak");
    }

    #[test]
    fn only_long_quoted_spans_are_shortened() {
        let message = "unknown variant `todo`, expected `done`";
        assert_eq!(bounded(message), message);
        let long = "y".repeat(1000);
        let cut = format!("{}…", "y".repeat(64));
        assert_eq!(
            bounded(&format!("unknown variant `{long}`, expected `done`")),
            format!("unknown variant `{cut}`, expected `done`")
        );
        // serde quotes strings as Rust debug output does: an escaped quote stays inside.
        let debug = format!("invalid value: string \"a\\\"{long}\", expected a date");
        assert_eq!(
            bounded(&debug),
            format!(
                "invalid value: string \"a\\\"{}…\", expected a date",
                "y".repeat(61)
            )
        );
        assert_eq!(bounded(&format!("open `{long}")), format!("open `{cut}"));
    }

    #[test]
    fn unquoted_input_is_held_to_the_message_limit() {
        let shown = bounded(&format!("{}: unknown field", "k".repeat(100_000)));
        assert_eq!(shown.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(shown.ends_with(&format!("k{CUT}")), "{shown}");
        // Many short spans add up to the same limit.
        let spans = bounded(&"`a` ".repeat(100_000));
        assert_eq!(spans.chars().count(), MAX_MESSAGE_CHARS + 1);
    }
}
