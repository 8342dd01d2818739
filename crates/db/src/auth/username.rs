//! What a valid username is: 3 to 50 of ASCII letters, digits, `_`, `.` and `-`, starting with
//! a letter or digit. Registration and profile edits (auth), GitHub sign-in (auth) and the
//! legacy import (migrator) all apply this one rule.
//!
//! `auth.users` itself only checks `VARCHAR(50)` and non-blank; the rest lives here so that
//! every way into the table agrees, and so that case-insensitive uniqueness
//! (`users_username_lower_key`) compares plain ASCII.

pub const MIN_CHARS: usize = 3;
pub const MAX_CHARS: usize = 50;

/// Whether `name` follows the rule as it stands (no trimming: callers decide about spaces).
pub fn is_valid(name: &str) -> bool {
    (MIN_CHARS..=MAX_CHARS).contains(&name.chars().count())
        && name.starts_with(can_start)
        && name.chars().all(is_allowed_char)
}

pub fn is_allowed_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Separators may appear inside a name but not lead it.
fn can_start(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// The closest thing to `source` that follows the rule apart from the minimum length:
/// characters outside the rule become `replacement` (or are dropped when it is `None`),
/// leading separators are dropped, and the rest is cut to [`MAX_CHARS`]. The result may be
/// shorter than [`MIN_CHARS`], even empty: each caller pads it in its own way.
pub fn sanitise(source: &str, replacement: Option<char>) -> String {
    // A replacement outside the rule would be dropped rather than break it.
    let replacement = replacement.filter(|&c| is_allowed_char(c));
    source
        .chars()
        .filter_map(|c| {
            if is_allowed_char(c) {
                Some(c)
            } else {
                replacement
            }
        })
        .skip_while(|&c| !can_start(c))
        .take(MAX_CHARS)
        .collect()
}

/// `stem` + `suffix`, cutting `stem` so the whole fits [`MAX_CHARS`]; used to tell namesakes
/// apart (`octocat-2`, `alice_7`).
pub fn with_suffix(stem: &str, suffix: &str) -> String {
    let room = MAX_CHARS.saturating_sub(suffix.chars().count());
    let stem: String = stem.chars().take(room).collect();
    format!("{stem}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_3_to_50_allowed_characters_led_by_a_letter_or_digit() {
        for good in [
            "abc",
            "alice_01",
            "Mona-Lisa",
            "first.last",
            "0x0",
            &"a".repeat(50),
        ] {
            assert!(is_valid(good), "{good:?}");
        }
        for bad in [
            "",
            "ab",
            "_alice",
            ".alice",
            "-alice",
            "al ice",
            "al/ice",
            "josé",
            " alice",
            &"a".repeat(51),
        ] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }

    #[test]
    fn sanitising_replaces_or_drops_what_the_rule_forbids() {
        assert_eq!(sanitise("john doe", Some('_')), "john_doe");
        assert_eq!(sanitise("john doe", None), "johndoe");
        assert_eq!(sanitise("__José", Some('_')), "Jos_");
        assert_eq!(sanitise("--ab", None), "ab");
        assert_eq!(sanitise("é", None), "");
        assert_eq!(
            sanitise("a b", Some(' ')),
            "ab",
            "a forbidden replacement is dropped"
        );
        assert_eq!(sanitise(&"x".repeat(80), None), "x".repeat(50));
        for source in ["octocat", "__José!!", "日本 user", &"z-".repeat(40)] {
            for replacement in [None, Some('_')] {
                let name = sanitise(source, replacement);
                assert!(
                    name.chars().count() < MIN_CHARS || is_valid(&name),
                    "{name:?}"
                );
            }
        }
    }

    #[test]
    fn suffixes_always_fit() {
        assert_eq!(with_suffix("octocat", "-2"), "octocat-2");
        assert_eq!(
            with_suffix(&"a".repeat(50), "-2"),
            format!("{}-2", "a".repeat(48))
        );
    }
}
