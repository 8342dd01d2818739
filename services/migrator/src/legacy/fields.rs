//! One legacy field made valid for `auth.users`: emails normalised and checked as the
//! column's constraint would, usernames made to follow [`db::auth::username`] and unique
//! ignoring case.

use std::collections::HashSet;

use db::auth::username;

pub(super) fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// What `users_email_check` (`LIKE '_%@_%'`) and the column's 255 characters accept.
pub(super) fn email_plausible(email: &str) -> bool {
    email.chars().count() <= 255
        && email
            .char_indices()
            .any(|(at, c)| c == '@' && at > 0 && at + 1 < email.len())
}

pub(super) fn local_part(email: &str) -> &str {
    email.rsplit_once('@').map_or(email, |(local, _)| local)
}

pub(super) fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// `source` made to follow [`db::auth::username`]: other characters become `_`, leading
/// separators are dropped, too long is cut, too short gets `_<legacy id>`.
pub(super) fn base_username(source: &str, legacy_id: i32) -> String {
    let cleaned = username::sanitise(source, Some('_'));
    match cleaned.chars().count() {
        0 => format!("user_{legacy_id}"),
        n if n < username::MIN_CHARS => format!("{cleaned}_{legacy_id}"),
        _ => cleaned,
    }
}

/// `base`, or `base_<legacy id>[_n]` (cut to fit) when taken ignoring case.
pub(super) fn unique_username(base: &str, legacy_id: i32, taken: &HashSet<String>) -> String {
    let mut candidate = base.to_owned();
    let mut attempt = 1;
    while taken.contains(&candidate.to_lowercase()) {
        let suffix = match attempt {
            1 => format!("_{legacy_id}"),
            n => format!("_{legacy_id}_{n}"),
        };
        candidate = username::with_suffix(base, &suffix);
        attempt += 1;
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(names: &[&str]) -> HashSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn usernames_are_made_to_follow_the_rules() {
        assert_eq!(base_username("alice_01", 7), "alice_01");
        assert_eq!(base_username("john doe", 7), "john_doe");
        assert_eq!(base_username("__José", 7), "Jos_");
        assert_eq!(base_username("al", 7), "al_7");
        assert_eq!(base_username("@@", 7), "user_7");
        assert_eq!(base_username(&"x".repeat(80), 7), "x".repeat(50));
        assert_eq!(local_part("first.last+tag@example.com"), "first.last+tag");
        assert_eq!(
            base_username(local_part("first.last+tag@example.com"), 7),
            "first.last_tag"
        );
    }

    #[test]
    fn taken_usernames_get_the_legacy_id_and_still_fit() {
        assert_eq!(unique_username("alice", 7, &taken(&["bob"])), "alice");
        assert_eq!(unique_username("Alice", 7, &taken(&["alice"])), "Alice_7");
        assert_eq!(
            unique_username("Alice", 7, &taken(&["alice", "alice_7"])),
            "Alice_7_2"
        );
        let long = "y".repeat(50);
        let unique = unique_username(&long, 12345, &taken(&[long.as_str()]));
        assert_eq!(unique, format!("{}_12345", "y".repeat(44)));
        assert!(username::is_valid(&unique));
    }

    #[test]
    fn emails_must_pass_the_column_check() {
        for ok in ["a@b", "x.y@example.com"] {
            assert!(email_plausible(ok), "{ok}");
        }
        for bad in [
            "",
            "@b",
            "a@",
            "plain",
            &format!("{}@x.io", "a".repeat(260)),
        ] {
            assert!(!email_plausible(bad), "{bad}");
        }
    }
}
