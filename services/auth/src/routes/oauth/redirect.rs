//! Where the browser goes after sign-in, and the small HTTP pieces of the redirect.

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use platform::config::AppEnv;
use url::Url;

use crate::{error::ApiError, mfa::login::MfaChallenge, sessions, state::AppState};

/// `raw` as an absolute URL on the app: a path (`/x?y`) is put under `PUBLIC_APP_URL`; a URL
/// must have the app's origin and lie under its path. Anything else could send the user
/// (and their tokens) to another site.
pub fn redirect_target(public_app_url: &str, raw: &str) -> Result<String, ApiError> {
    let refuse = || {
        ApiError::validation(
            "invalid_redirect_to",
            "redirect_to must be a path on the app (/...) or a URL starting with PUBLIC_APP_URL",
        )
    };
    let raw = raw.trim();
    let plain = raw.len() <= 2048
        && !raw.contains(['\\', '#'])
        && !raw.chars().any(|c| c.is_control() || c.is_whitespace());
    if !plain {
        return Err(refuse());
    }
    let base = public_app_url.trim_end_matches('/');
    let app = Url::parse(base).map_err(|_| refuse())?;
    let candidate = if raw.starts_with('/') {
        if raw.starts_with("//") {
            return Err(refuse());
        }
        format!("{base}{raw}")
    } else {
        raw.to_owned()
    };
    let target = Url::parse(&candidate).map_err(|_| refuse())?;
    let under_app = {
        let prefix = app.path().trim_end_matches('/');
        let path = target.path();
        path == prefix || path.starts_with(&format!("{prefix}/"))
    };
    let same_origin = target.origin() == app.origin()
        && target.username().is_empty()
        && target.password().is_none();
    if !(same_origin && under_app) {
        return Err(refuse());
    }
    Ok(target.to_string())
}

/// `target` with the tokens in its fragment.
pub(super) fn with_tokens(target: &str, signed_in: &sessions::SignedIn) -> String {
    let tokens = &signed_in.tokens;
    let fragment = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("access_token", &tokens.access_token)
        .append_pair("token_type", tokens.token_type)
        .append_pair("expires_in", &tokens.expires_in.to_string())
        .append_pair("refresh_token", &tokens.refresh_token)
        .append_pair("refresh_expires_in", &tokens.refresh_expires_in.to_string())
        .append_pair("session_id", &tokens.session_id.to_string())
        .append_pair("aal", tokens.aal.as_str())
        .append_pair("device_token", &signed_in.device_token)
        .finish();
    format!("{target}#{fragment}")
}

/// Where a GitHub sign-in that needs the second factor sends the browser: the frontend reads
/// the fragment and finishes at `POST /api/auth/login/mfa`.
pub(super) fn with_challenge(target: &str, challenge: &MfaChallenge) -> String {
    let fragment = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("mfa_required", "true")
        .append_pair("mfa_token", &challenge.mfa_token)
        .append_pair("methods", &challenge.methods.join(","))
        .append_pair("expires_in", &challenge.expires_in.to_string())
        .finish();
    format!("{target}#{fragment}")
}

pub(super) fn found(location: &str) -> Result<Response, ApiError> {
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, header_value(location)?);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

pub(super) fn header_value(text: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(text).map_err(|error| ApiError::Internal(error.to_string()))
}

/// Browsers on `http://localhost` in development; `Secure` everywhere else.
pub(super) fn secure_attribute(state: &AppState) -> &'static str {
    match state.config.app_env {
        AppEnv::Development => "",
        _ => "; Secure",
    }
}

/// Whether the client asked for JSON (`Accept: application/json`), as API clients do;
/// browsers navigating never list it.
pub(super) fn accepts_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|range| {
            range
                .split(';')
                .next()
                .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
        })
}

pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// A provider's error code, kept only if it looks like one (it is echoed to the user).
pub(super) fn safe_code(code: &str) -> String {
    let ok = !code.is_empty()
        && code.len() <= 64
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        code.to_owned()
    } else {
        "unknown_error".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // The handlers and the cookie name live in the parent module.
    use super::super::{__path_github_callback, __path_github_start, STATE_COOKIE};

    #[test]
    fn redirects_stay_on_the_app() {
        let app = "http://localhost:3000";
        let ok = |raw| redirect_target(app, raw).expect(raw);
        assert_eq!(
            ok("/projects/42?tab=tasks"),
            "http://localhost:3000/projects/42?tab=tasks"
        );
        assert_eq!(ok("/"), "http://localhost:3000/");
        assert_eq!(ok("http://localhost:3000"), "http://localhost:3000/");
        assert_eq!(
            ok("http://localhost:3000/settings"),
            "http://localhost:3000/settings"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "\\\\evil.example",
            "http://localhost:3000.evil.example/",
            "http://localhost:3000@evil.example/",
            "http://user@localhost:3000/",
            "https://localhost:3000/",
            "http://localhost:3001/",
            "javascript:alert(1)",
            "data:text/html,hi",
            "projects",
            "/x#access_token=stolen",
            "/a b",
            "/a\nLocation: https://evil.example",
        ] {
            assert!(redirect_target(app, bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn an_app_under_a_path_keeps_redirects_under_it() {
        let app = "https://example.com/app/";
        assert_eq!(
            redirect_target(app, "/home").expect("path"),
            "https://example.com/app/home"
        );
        assert!(redirect_target(app, "https://example.com/app/x").is_ok());
        assert!(redirect_target(app, "https://example.com/application").is_err());
        assert!(redirect_target(app, "https://example.com/other").is_err());
        assert!(redirect_target(app, "/../other").is_err());
    }

    #[test]
    fn json_is_chosen_only_when_asked_for() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static(
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            ),
        );
        assert!(!accepts_json(&headers));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(accepts_json(&headers));
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/plain, Application/JSON;q=0.5"),
        );
        assert!(accepts_json(&headers));
    }

    #[test]
    fn both_endpoints_are_described_for_openapi() {
        #[derive(utoipa::OpenApi)]
        #[openapi(paths(github_start, github_callback))]
        struct Doc;
        let spec = serde_json::to_value(<Doc as utoipa::OpenApi>::openapi()).expect("json");
        let start = &spec["paths"]["/api/auth/oauth/github"]["get"];
        assert!(start["responses"]["302"].is_object(), "{start}");
        assert_eq!(start["parameters"][0]["name"], "redirect_to");
        let callback = &spec["paths"]["/api/auth/oauth/github/callback"]["get"];
        for status in ["200", "302", "400", "502"] {
            assert!(
                callback["responses"][status].is_object(),
                "{status}: {callback}"
            );
        }
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; devmentor_oauth_state=xyz; b=2"),
        );
        assert_eq!(cookie(&headers, STATE_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie(&headers, "missing"), None);
    }
}
