//! Passkeys (WebAuthn, with `webauthn-rs`): the relying party built from the settings, the
//! ceremonies kept between a `start` and its `finish`, checking an assertion against a stored
//! passkey, and the owner's mails. A ceremony's state lives in `auth.passkey_ceremonies` (any
//! replica can answer `finish`), is taken once, and lasts [`CEREMONY_TTL_SECS`].

pub mod assertion;

use chrono::Utc;
use db::{
    PgConnection,
    auth::{
        User,
        passkeys::{CeremonyKind, StoredPasskey},
    },
    ids::UserId,
};
use serde::{Serialize, de::DeserializeOwned};
use uuid::Uuid;
use webauthn_rs::{
    Webauthn, WebauthnBuilder,
    prelude::{Passkey, Url},
};

use crate::{config::AuthConfig, error::ApiError, mail::SecurityNotice, state::AppState};

/// How long a ceremony may take from `start` to `finish` (what the browser is told too).
pub const CEREMONY_TTL_SECS: u64 = 5 * 60;

/// The relying party of `WEBAUTHN_RP_ORIGIN` (default `PUBLIC_APP_URL`), `WEBAUTHN_RP_ID`
/// (default the origin's host) and `WEBAUTHN_RP_NAME`; a message naming the setting when they
/// do not fit together.
pub fn relying_party(config: &AuthConfig) -> Result<Webauthn, String> {
    let raw_origin = config
        .webauthn_rp_origin
        .as_deref()
        .unwrap_or(&config.public_app_url);
    let origin = Url::parse(raw_origin)
        .map_err(|error| format!("WEBAUTHN_RP_ORIGIN {raw_origin:?}: {error}"))?;
    let host = origin
        .host_str()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| format!("WEBAUTHN_RP_ORIGIN {raw_origin:?}: no host"))?;
    // Browsers offer WebAuthn only in a secure context: https, or http on localhost.
    let secure = origin.scheme() == "https" || (origin.scheme() == "http" && host == "localhost");
    if !secure || origin.path() != "/" || origin.query().is_some() {
        return Err(format!(
            "WEBAUTHN_RP_ORIGIN {raw_origin:?}: must be an origin (scheme://host[:port]) with \
             https, or http://localhost"
        ));
    }
    let rp_id = config.webauthn_rp_id.as_deref().unwrap_or(host);
    let name = config.webauthn_rp_name.trim();
    if name.is_empty() || name.len() > 64 {
        return Err("WEBAUTHN_RP_NAME: 1 to 64 characters".to_owned());
    }
    // The builder refuses an id that is not the origin's host or a parent domain of it.
    WebauthnBuilder::new(rp_id, &origin)
        .and_then(|builder| {
            builder
                .rp_name(name)
                .timeout(std::time::Duration::from_secs(CEREMONY_TTL_SECS))
                .build()
        })
        .map_err(|error| {
            format!(
                "WEBAUTHN_RP_ID {rp_id:?} does not fit WEBAUTHN_RP_ORIGIN {raw_origin:?} \
                 (the id must be the origin's host or a parent domain of it): {error}"
            )
        })
}

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
    state: &AppState,
    id: Uuid,
    user_id: Option<UserId>,
    kind: CeremonyKind,
) -> Result<T, ApiError> {
    let saved = db::auth::passkeys::take_ceremony(&state.pool, id, user_id, kind)
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
    "^[\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*",
    // Its first character: neither a control character nor a blank.
    "[^\\u0000-\\u001f\\u007f-\\u009f \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]",
    // Then no control characters, the last one no blank either.
    "(?:[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\u0000-\\u001f\\u007f-\\u009f \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000])?",
    // Blanks after it.
    "[\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$",
);

/// A passkey's name from the request: trimmed, 1 to 64 characters, no control characters.
pub fn parse_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    // The blanks around it count too: then the limit is one a schema can state (`maxLength`).
    let too_long = raw.chars().count() > NAME_MAX_CHARS;
    if name.is_empty() || too_long || name.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "invalid_passkey_name",
            "name must be 1 to 64 characters, without control characters",
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
    use serde_json::json;

    use super::*;

    fn party(settings: serde_json::Value) -> Result<Webauthn, String> {
        relying_party(&serde_json::from_value(settings).expect("config"))
    }

    #[test]
    fn the_relying_party_defaults_to_the_app_url_and_takes_a_parent_domain() {
        assert!(party(json!({})).is_ok(), "http://localhost:3000");
        let parent = json!({ "webauthn_rp_origin": "https://app.example.com", "webauthn_rp_id": "example.com" });
        assert!(party(parent).is_ok());
    }

    #[test]
    fn settings_that_do_not_fit_together_are_refused_naming_the_setting() {
        let refused = [
            json!({ "webauthn_rp_origin": "https://app.example.com", "webauthn_rp_id": "evil.com" }),
            json!({ "webauthn_rp_origin": "http://app.example.com" }),
            json!({ "webauthn_rp_origin": "https://app.example.com/login" }),
            json!({ "webauthn_rp_origin": "not a url" }),
            json!({ "webauthn_rp_name": "  " }),
        ];
        for settings in refused {
            let Err(error) = party(settings.clone()) else {
                panic!("{settings} was accepted");
            };
            assert!(error.contains("WEBAUTHN_RP_"), "{settings}: {error}");
        }
    }

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
        for raw in ["", "   ", "a\u{7}b", "a\u{85}b", &padded, &too_long] {
            assert!(parse_name(raw).is_err(), "{raw:?}");
        }
    }
}
