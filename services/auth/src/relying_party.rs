//! The WebAuthn relying party, built once at start-up from the settings (so a bad
//! combination stops the service with the setting named, not the first passkey ceremony).

use webauthn_rs::{Webauthn, WebauthnBuilder, prelude::Url};

use crate::config::AuthConfig;

/// How long a ceremony may take from `start` to `finish` (what the browser is told too).
pub const CEREMONY_TTL_SECS: u64 = 5 * 60;

/// The relying party of `WEBAUTHN_RP_ORIGIN` (default `PUBLIC_APP_URL`), `WEBAUTHN_RP_ID`
/// (default the origin's host) and `WEBAUTHN_RP_NAME`; a message naming the setting when they
/// do not fit together.
pub fn build(config: &AuthConfig) -> Result<Webauthn, String> {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn party(settings: serde_json::Value) -> Result<Webauthn, String> {
        build(&serde_json::from_value(settings).expect("config"))
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
}
