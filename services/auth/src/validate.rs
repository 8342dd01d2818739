//! Input rules for accounts: normalised emails, usernames, password lengths, and the display
//! text (names) that other people and mails show.

use db::auth::username;
use platform::trimmed_white_space;
use unicode_normalization::is_nfkc;

use crate::error::ApiError;

pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 128;
pub const FULL_NAME_MAX_CHARS: usize = 255;
pub const AVATAR_URL_MAX_CHARS: usize = 2048;

/// [`username`]'s rule as a JSON Schema (ECMA-262) pattern, for the API's schemas: blanks
/// around 3 to 50 of the characters [`db::auth::username`] allows.
pub const USERNAME_PATTERN: &str = concat!(
    "^[",
    trimmed_white_space!(),
    "]*[A-Za-z0-9][A-Za-z0-9_.-]{2,49}[",
    trimmed_white_space!(),
    "]*$"
);

/// [`avatar_url`]'s rule as a JSON Schema pattern: blanks around an http(s) URL without any.
pub const AVATAR_URL_PATTERN: &str = concat!(
    "^[",
    trimmed_white_space!(),
    "]*https?://[^",
    trimmed_white_space!(),
    "]*[",
    trimmed_white_space!(),
    "]*$"
);

/// Trimmed and lower-cased; syntax checked. Accounts are unique case-insensitively.
/// A bare address only: `email_address` also takes a display name around one by default
/// (`Bob <bob@example.com>`), which mail reaches at bob's mailbox under a string that the
/// one-account-per-address rule would not see as bob's.
///
/// In plain characters only (its own NFKC form): `ａｌｉｃｅ@example.com` (fullwidth), `oﬁce@`
/// (a ligature) or `zoe\u{301}@` (a separate accent) read as `alice@`, `office@` and `zoé@`,
/// and IDNA even delivers a fullwidth domain to the plain one, yet to the
/// one-account-per-address rule they are other strings: a second account that passes for the
/// first. Refused rather than folded, so the account keeps the address its owner typed.
///
/// At a domain name, not an IP address (`bob@[127.0.0.1]`, `bob@127.0.0.1`): see [`at_an_ip`].
pub fn email(raw: &str) -> Result<String, ApiError> {
    let typed = raw.trim();
    let email = typed.to_lowercase();
    if !is_nfkc(typed) || !is_nfkc(&email) {
        return Err(ApiError::validation(
            "invalid_email",
            "email must be typed in plain characters: it holds look-alike forms (such as \
             fullwidth letters, ligatures or separate accents) that read as other characters",
        ));
    }
    let bare = email_address::Options::default()
        .without_display_text()
        .without_domain_literal();
    let malformed = || {
        ApiError::validation(
            "invalid_email",
            "email must be a valid address of at most 255 characters",
        )
    };
    if email.len() > 255 {
        return Err(malformed());
    }
    match email_address::EmailAddress::parse_with_options(&email, bare) {
        Ok(parsed) if ends_in_a_number(parsed.domain()) => Err(at_an_ip()),
        Ok(_) => Ok(email),
        Err(email_address::Error::UnsupportedDomainLiteral) => Err(at_an_ip()),
        Err(_) => Err(malformed()),
    }
}

/// Mail goes to a domain: an address at `[127.0.0.1]`, `[IPv6:::1]` or a bare IP names a
/// host (often an internal one) that no domain's mail setup stands behind.
fn at_an_ip() -> ApiError {
    ApiError::validation(
        "invalid_email",
        "email must be at a domain name, not at an IP address",
    )
}

/// Whether a resolver reads `domain` as an IPv4 address rather than a name: its last label is
/// a number (the WHATWG URL rule: all digits, or `0x` and hex digits), as in `127.0.0.1`,
/// `127.1` or `2130706433`. No top-level domain is all digits (RFC 3696, section 2).
fn ends_in_a_number(domain: &str) -> bool {
    let last = domain.rsplit('.').next().unwrap_or(domain);
    match last.strip_prefix("0x") {
        Some(hex) => hex.chars().all(|c| c.is_ascii_hexdigit()),
        None => last.chars().all(|c| c.is_ascii_digit()),
    }
}

/// Trimmed, then held to the one username rule, [`db::auth::username`].
pub fn username(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if !username::is_valid(name) {
        return Err(ApiError::validation(
            "invalid_username",
            format!(
                "username must be {}-{} letters, digits, '_', '.' or '-', starting with a \
                 letter or digit",
                username::MIN_CHARS,
                username::MAX_CHARS
            ),
        ));
    }
    Ok(name.to_owned())
}

/// Names an account may not take (at register, rename or GitHub sign-up), compared
/// case-insensitively after [`username`]'s trimming: names that would pass for the service
/// itself, its staff or its mail roles, and the words clients print for a missing value.
/// Whole names only (`admin-ann` is fine). Accounts that had one before the list keep it.
/// The auth README lists them too.
pub const RESERVED_USERNAMES: &[&str] = &[
    "abuse",
    "admin",
    "administrator",
    "api",
    "auth",
    "devmentor",
    "help",
    "helpdesk",
    "hostmaster",
    "login",
    "mailer-daemon",
    "me",
    "moderator",
    "no-reply",
    "noreply",
    "null",
    "official",
    "postmaster",
    "root",
    "security",
    "staff",
    "superuser",
    "support",
    "sysadmin",
    "system",
    "undefined",
    "webmaster",
];

pub fn is_reserved_username(name: &str) -> bool {
    RESERVED_USERNAMES
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(name))
}

/// [`username`] for a name an account is about to take: also not one of
/// [`RESERVED_USERNAMES`].
pub fn new_username(raw: &str) -> Result<String, ApiError> {
    let name = username(raw)?;
    if is_reserved_username(&name) {
        return Err(username_reserved());
    }
    Ok(name)
}

pub fn username_reserved() -> ApiError {
    ApiError::validation(
        "username_reserved",
        "this username is reserved (names such as admin, support or devmentor would pass for \
         the service or its staff): choose another",
    )
}

/// The characters [`is_hidden_markup`] refuses, as the inside of a JSON Schema (ECMA-262)
/// character class. A macro rather than a const, so that `concat!` can build patterns from it.
#[macro_export]
macro_rules! hidden_markup {
    () => {
        "\\u0000-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069"
    };
}

/// Characters that display text (a full name, a passkey's name) may not hold: control
/// characters (Unicode Cc: NUL, TAB, CR, LF, ...), which forge lines and headers in the mails
/// the text is written into, and the bidirectional overrides and isolates (U+202A-U+202E,
/// U+2066-U+2069), which make it read differently from what it is ("Trojan Source").
pub fn is_hidden_markup(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// [`full_name`]'s rule as a JSON Schema pattern: no [`is_hidden_markup`] character, and
/// something besides white space.
pub const FULL_NAME_PATTERN: &str = concat!(
    "^[^",
    hidden_markup!(),
    "]*[^",
    hidden_markup!(),
    " \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^",
    hidden_markup!(),
    "]*$"
);

/// 1-255 characters as sent (the schema's maxLength), not only whitespace, without control
/// characters or bidi overrides anywhere (not even around it); trimmed.
pub fn full_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.is_empty() || raw.chars().count() > FULL_NAME_MAX_CHARS {
        return Err(ApiError::validation(
            "invalid_full_name",
            "full_name must be 1-255 characters",
        ));
    }
    if raw.chars().any(is_hidden_markup) {
        return Err(ApiError::validation(
            "invalid_full_name",
            "full_name must not contain control characters (such as line breaks or tabs) or \
             bidirectional text overrides (U+202A-U+202E, U+2066-U+2069)",
        ));
    }
    Ok(name.to_owned())
}

/// 8 to 128 characters. Over-long input is refused before counting characters or hashing.
pub fn password(raw: &str) -> Result<(), ApiError> {
    let too_long = raw.len() > PASSWORD_MAX_CHARS * 4 || raw.chars().count() > PASSWORD_MAX_CHARS;
    if too_long || raw.chars().count() < PASSWORD_MIN_CHARS {
        return Err(ApiError::validation(
            "invalid_password",
            format!("password must be {PASSWORD_MIN_CHARS}-{PASSWORD_MAX_CHARS} characters"),
        ));
    }
    Ok(())
}

/// An http(s) URL of at most 2048 characters as sent (the schema's maxLength); trimmed.
pub fn avatar_url(raw: &str) -> Result<String, ApiError> {
    let url = raw.trim();
    let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
    let too_long = raw.chars().count() > AVATAR_URL_MAX_CHARS;
    if !scheme_ok || too_long || url.chars().any(char::is_whitespace) {
        return Err(ApiError::validation(
            "invalid_avatar_url",
            "avatar_url must be an http(s) URL",
        ));
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            email("  Alice@Example.COM ").expect("valid"),
            "alice@example.com"
        );
        assert!(email("not-an-email").is_err());
        assert!(email("Bob <bob@example.com>").is_err(), "a display name");
        assert!(email(&format!("{}@x.io", "a".repeat(260))).is_err());
        assert_eq!(email("Zoë@Example.com").expect("plain"), "zoë@example.com");
        for look_alike in [
            "ａｌｉｃｅ@example.com",
            "oﬁce@example.com",
            "zoe\u{301}@x.io",
        ] {
            assert!(email(look_alike).is_err(), "{look_alike}");
        }
        for at_an_ip in [
            "b@[127.0.0.1]",
            "b@[IPv6:::1]",
            "b@127.0.0.1",
            "b@127.1",
            "b@0x7f",
        ] {
            assert!(email(at_an_ip).is_err(), "{at_an_ip}");
        }
        assert!(email("b@123.example.com").is_ok(), "digits inside a name");
    }

    #[test]
    fn usernames_follow_the_rules() {
        assert_eq!(username(" alice_01 ").expect("valid"), "alice_01");
        for bad in ["ab", "_alice", "al ice", "al/ice", &"a".repeat(51)] {
            assert!(username(bad).is_err(), "{bad:?}");
        }
        assert!(new_username(" Admin ").is_err(), "reserved in any case");
        assert_eq!(
            new_username("admin-ann").expect("whole names only"),
            "admin-ann"
        );
    }

    #[test]
    fn full_names_refuse_control_characters_and_bidi_overrides() {
        assert_eq!(full_name(" Zoë O'Brien ").expect("valid"), "Zoë O'Brien");
        assert_eq!(full_name("محمد علي").expect("right-to-left"), "محمد علي");
        for bad in [
            "Ann\r\nBcc: x@example.com",
            "Ann\n",
            "\tAnn",
            "A\0nn",
            "A\u{7}nn",
            "A\u{85}nn",
            "Ann\u{202E}gnp.exe",
            "Ann\u{2066}x\u{2069}",
        ] {
            let refused = full_name(bad).expect_err(bad);
            assert!(matches!(
                refused,
                ApiError::Validation {
                    code: "invalid_full_name",
                    ..
                }
            ));
        }
    }

    #[test]
    fn passwords_are_8_to_128_characters() {
        assert!(password("1234567").is_err());
        assert!(password("12345678").is_ok());
        assert!(
            password(&"é".repeat(128)).is_ok(),
            "limits count characters, not bytes"
        );
        assert!(password(&"x".repeat(129)).is_err());
        assert!(password(&"x".repeat(1_000_000)).is_err());
    }
}
