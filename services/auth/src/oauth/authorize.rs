//! Starting a sign-in: the authorize URL with a fresh `state` and an S256 PKCE challenge,
//! and how long the sign-in may take before its state expires.

use std::time::Duration;

use oauth2::{CsrfToken, PkceCodeChallenge, Scope};
use url::Url;

use super::github::GitHub;

/// How long a sign-in may take between leaving for GitHub and coming back.
pub const STATE_TTL: Duration = Duration::from_secs(10 * 60);

/// A sign-in to send the browser off with.
pub struct Authorization {
    pub url: Url,
    pub state: String,
    pub pkce_verifier: String,
}

impl GitHub {
    /// The authorize URL with a fresh 256-bit `state` and an S256 PKCE challenge; the caller
    /// keeps the state (hashed) and the verifier for the callback.
    pub fn authorize(&self) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(|| CsrfToken::new(crate::secrets::new_secret()))
            // Enough to read the verified email addresses; the public profile needs no scope.
            .add_scope(Scope::new("user:email".into()))
            .set_pkce_challenge(challenge)
            .url();
        Authorization {
            url,
            state: state.into_secret(),
            pkce_verifier: verifier.into_secret(),
        }
    }
}

#[cfg(test)]
mod tests {
    use oauth2::PkceCodeVerifier;

    use super::*;
    use crate::oauth::github::tests::configured;

    #[test]
    fn the_authorize_url_carries_state_and_an_s256_challenge() {
        let github = configured(|c| {
            c.github_redirect_url =
                Some("https://app.example/api/auth/oauth/github/callback".into());
        })
        .expect("ok")
        .expect("configured");
        let sign_in = github.authorize();
        let query: std::collections::HashMap<_, _> =
            sign_in.url.query_pairs().into_owned().collect();
        assert_eq!(query["state"], sign_in.state);
        assert_eq!(query["code_challenge_method"], "S256");
        assert_eq!(
            query["code_challenge"],
            *PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
                sign_in.pkce_verifier.clone()
            ))
            .as_str()
        );
        assert_eq!(query["client_id"], "client");
        assert_eq!(
            query["redirect_uri"],
            "https://app.example/api/auth/oauth/github/callback"
        );
        assert_ne!(github.authorize().state, sign_in.state);
    }
}
