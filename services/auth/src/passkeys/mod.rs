//! Passkeys (WebAuthn, with `webauthn-rs`): the ceremonies kept between a `start` and its `finish`, checking an assertion against a stored
//! passkey, and the owner's mails. A ceremony's state lives in `auth.passkey_ceremonies` (any
//! replica can answer `finish`), is taken once, and lasts [`CEREMONY_TTL_SECS`]. The relying party
//! itself is built at start-up, in [`crate::relying_party`].

pub mod assertion;

pub use crate::relying_party::CEREMONY_TTL_SECS;

use chrono::Utc;
use db::{
    PgConnection, PgExecutor,
    auth::{
        User,
        passkeys::{CeremonyKind, StoredPasskey},
    },
    ids::UserId,
};
use serde::{Serialize, de::DeserializeOwned};
use uuid::Uuid;
use webauthn_rs::prelude::Passkey;

use crate::{error::ApiError, mail::SecurityNotice};

/// Keeps `state` for `user_id` as a ceremony of `kind`; returns its id for the client.
pub async fn save_ceremony<T: Serialize>(
    conn: &mut PgConnection,
    user_id: Option<UserId>,
    kind: CeremonyKind,
    state: &T,
) -> Result<Uuid, ApiError> {
    let state =
        serde_json::to_value(state).map_err(|error| ApiError::Internal(error.to_string()))?;
    let expires_at = Utc::now() + chrono::Duration::seconds(CEREMONY_TTL_SECS as i64);
    Ok(db::auth::passkeys::start_ceremony(conn, user_id, kind, &state, expires_at).await?)
}

/// Takes the ceremony `id` of `kind` started by `user_id`: once, before it expires.
pub async fn take_ceremony<T: DeserializeOwned>(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Option<UserId>,
    kind: CeremonyKind,
) -> Result<T, ApiError> {
    let saved = db::auth::passkeys::take_ceremony(executor, id, user_id, kind)
        .await?
        .ok_or_else(invalid_ceremony)?;
    serde_json::from_value(saved).map_err(|error| ApiError::Internal(error.to_string()))
}

pub fn invalid_ceremony() -> ApiError {
    ApiError::InvalidPasskeyCeremony
}

/// The credential of a stored passkey.
pub fn credential(stored: &StoredPasskey) -> Result<Passkey, ApiError> {
    serde_json::from_value(stored.passkey.clone())
        .map_err(|error| ApiError::Internal(format!("passkey {}: {error}", stored.id)))
}

/// The most characters a passkey's name may have, blanks around it included.
pub const NAME_MAX_CHARS: usize = 64;

/// [`parse_name`]'s rule as a JSON Schema (ECMA-262) pattern, for the API's schemas.
pub const NAME_PATTERN: &str = concat!(
    // Blanks before the name: `str::trim`'s white space, control characters among it.
    "^[",
    platform::trimmed_white_space!(),
    "]*",
    // Its first character: neither hidden markup (control characters, bidi overrides) nor a
    // blank.
    "[^",
    crate::hidden_markup!(),
    " \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]",
    // Then no hidden markup, the last one no blank either.
    "(?:[^",
    crate::hidden_markup!(),
    "]*[^",
    crate::hidden_markup!(),
    " \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000])?",
    // Blanks after it.
    "[",
    platform::trimmed_white_space!(),
    "]*$",
);

/// A passkey's name from the request: trimmed, 1 to 64 characters, no control characters or
/// bidi overrides ([`crate::validate::is_hidden_markup`]): the name is written into mails.
pub fn parse_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    // The blanks around it count too: then the limit is one a schema can state (`maxLength`).
    let too_long = raw.chars().count() > NAME_MAX_CHARS;
    if name.is_empty() || too_long || name.chars().any(crate::validate::is_hidden_markup) {
        return Err(ApiError::validation(
            "invalid_passkey_name",
            "name must be 1 to 64 characters, without control characters or bidirectional \
             text overrides (U+202A-U+202E, U+2066-U+2069)",
        ));
    }
    Ok(name.to_owned())
}

/// What the owner is told about their passkeys.
#[derive(Debug, Clone, Copy)]
pub enum Notice<'a> {
    Added(&'a str),
    Removed(&'a str),
}

/// Queues the notice in the caller's transaction (the outbox worker sends it after commit).
pub async fn queue_notice(
    conn: &mut PgConnection,
    user: &User,
    notice: Notice<'_>,
) -> Result<(), sqlx::Error> {
    let (subject, what, kind) = match notice {
        Notice::Added(name) => (
            "A passkey was added",
            format!(
                "the passkey \"{name}\" was added to your DevMentor account. It now signs you in \
                 without a password, and counts as your second factor."
            ),
            "passkey_added",
        ),
        Notice::Removed(name) => (
            "A passkey was removed",
            format!(
                "the passkey \"{name}\" was removed from your DevMentor account; it no longer \
                 signs you in."
            ),
            "passkey_removed",
        ),
    };
    SecurityNotice {
        kind,
        subject,
        what: &what,
        if_not_you: "If this wasn't you, change your password now and review your sessions and \
                     passkeys.",
    }
    .queue(conn, user)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The blanks around a name count toward its 64 characters (so the schema's `maxLength`
    /// is the handler's limit), and control characters among them are dropped with them.
    #[test]
    fn a_name_is_1_to_64_characters_blanks_included_without_control_characters() {
        let longest = "x".repeat(NAME_MAX_CHARS);
        for (raw, name) in [("  Work laptop ", "Work laptop"), ("\tKey\n", "Key")] {
            assert_eq!(parse_name(raw).expect(raw), name);
        }
        assert_eq!(parse_name(&longest).expect("64"), longest);
        let padded = format!(" {longest}");
        let too_long = format!("{longest}x");
        for raw in [
            "",
            "   ",
            "a\u{7}b",
            "a\u{85}b",
            "a\u{202E}b",
            "a\u{2067}b",
            &padded,
            &too_long,
        ] {
            assert!(parse_name(raw).is_err(), "{raw:?}");
        }
    }
}
