//! GitHub as an identity provider: its settings, the client (through the `oauth2` crate)
//! that exchanges a code for a token, and the profile and email lookups.

use std::time::Duration;

use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, EndpointNotSet, EndpointSet,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, TokenResponse, TokenUrl,
    basic::{BasicClient, BasicErrorResponse},
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

/// `GITHUB_*` settings (flattened into [`crate::config::AuthConfig`]). Without a client id and
/// secret, GitHub sign-in answers `404 oauth_not_configured`.
#[derive(Debug, Clone, Deserialize)]
pub struct GitHubConfig {
    /// `GITHUB_CLIENT_ID` of the OAuth app.
    pub github_client_id: Option<String>,
    /// `GITHUB_CLIENT_SECRET` of the OAuth app.
    pub github_client_secret: Option<SecretString>,
    #[serde(default = "defaults::authorize_url")]
    pub github_authorize_url: String,
    #[serde(default = "defaults::token_url")]
    pub github_token_url: String,
    /// REST API base: `/user` and `/user/emails` hang off it.
    #[serde(default = "defaults::api_url")]
    pub github_api_url: String,
    /// The callback URL registered at GitHub (`.../api/auth/oauth/github/callback`); unset,
    /// GitHub uses the one registered with the app.
    pub github_redirect_url: Option<String>,
}

impl Default for GitHubConfig {
    fn default() -> Self {
        Self {
            github_client_id: None,
            github_client_secret: None,
            github_authorize_url: defaults::authorize_url(),
            github_token_url: defaults::token_url(),
            github_api_url: defaults::api_url(),
            github_redirect_url: None,
        }
    }
}

mod defaults {
    pub fn authorize_url() -> String {
        "https://github.com/login/oauth/authorize".into()
    }
    pub fn token_url() -> String {
        "https://github.com/login/oauth/access_token".into()
    }
    pub fn api_url() -> String {
        "https://api.github.com".into()
    }
}

type OAuthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// A configured GitHub OAuth app.
#[derive(Debug)]
pub struct GitHub {
    pub(super) client: OAuthClient,
    http: reqwest::Client,
    api_url: String,
}

/// Why talking to GitHub failed. `Display` is safe to show the user; details are logged.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProviderError(String);

/// Who signed in at GitHub.
#[derive(Debug, Clone)]
pub struct GitHubProfile {
    /// GitHub's numeric user id, as text (`auth.users.github_id`).
    pub id: String,
    pub login: String,
    pub name: Option<String>,
    /// A verified address: the public profile email (GitHub only allows verified ones there)
    /// or else the primary verified one from `/user/emails`.
    pub email: Option<String>,
    pub avatar_url: Option<String>,
}

impl GitHub {
    /// `Ok(None)` when no client id and secret are set; an error when only one is, or a URL
    /// is not one.
    pub fn from_config(config: &GitHubConfig) -> Result<Option<Self>, String> {
        let id = config
            .github_client_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty());
        let secret = config
            .github_client_secret
            .as_ref()
            .map(|secret| secret.expose_secret().trim())
            .filter(|secret| !secret.is_empty());
        let (id, secret) = match (id, secret) {
            (None, None) => return Ok(None),
            (Some(id), Some(secret)) => (id, secret),
            _ => {
                return Err(
                    "set both GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET (or neither to turn \
                     GitHub sign-in off)"
                        .into(),
                );
            }
        };
        let bad = |name: &str, error: url::ParseError| format!("{name}: not a URL ({error})");
        let mut client = BasicClient::new(ClientId::new(id.to_owned()))
            .set_client_secret(ClientSecret::new(secret.to_owned()))
            // GitHub documents client_id/client_secret as form parameters.
            .set_auth_type(AuthType::RequestBody)
            .set_auth_uri(
                AuthUrl::new(config.github_authorize_url.clone())
                    .map_err(|error| bad("GITHUB_AUTHORIZE_URL", error))?,
            )
            .set_token_uri(
                TokenUrl::new(config.github_token_url.clone())
                    .map_err(|error| bad("GITHUB_TOKEN_URL", error))?,
            );
        if let Some(redirect) = config.github_redirect_url.as_deref().map(str::trim)
            && !redirect.is_empty()
        {
            client = client.set_redirect_uri(
                RedirectUrl::new(redirect.to_owned())
                    .map_err(|error| bad("GITHUB_REDIRECT_URL", error))?,
            );
        }
        Url::parse(&config.github_api_url).map_err(|error| bad("GITHUB_API_URL", error))?;
        let http = reqwest::Client::builder()
            // The oauth2 crate's advice: following redirects would open the door to SSRF.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            // GitHub's API refuses requests without a User-Agent.
            .user_agent(concat!("devmentor-auth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| format!("cannot build the HTTP client for GitHub: {error}"))?;
        Ok(Some(Self {
            client,
            http,
            api_url: config.github_api_url.trim_end_matches('/').to_owned(),
        }))
    }

    /// Exchanges an authorization code (with its PKCE verifier) for an access token.
    pub async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &str,
    ) -> Result<SecretString, ProviderError> {
        let answer = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await;
        match answer {
            Ok(token) => Ok(SecretString::from(token.access_token().secret().to_owned())),
            Err(error) => Err(token_error(error)),
        }
    }

    /// The signed-in user's profile, with a verified email when GitHub has one.
    pub async fn profile(
        &self,
        access_token: &SecretString,
    ) -> Result<GitHubProfile, ProviderError> {
        #[derive(Deserialize)]
        struct User {
            id: u64,
            login: String,
            name: Option<String>,
            email: Option<String>,
            avatar_url: Option<String>,
        }
        #[derive(Deserialize)]
        struct Email {
            email: String,
            primary: bool,
            verified: bool,
        }
        let user: User = self.get(access_token, "/user").await?;
        let email = match user.email.filter(|email| !email.trim().is_empty()) {
            Some(email) => Some(email),
            None => {
                let emails: Vec<Email> = self.get(access_token, "/user/emails").await?;
                emails
                    .into_iter()
                    .find(|email| email.primary && email.verified)
                    .map(|email| email.email)
            }
        };
        Ok(GitHubProfile {
            id: user.id.to_string(),
            login: user.login,
            name: user.name,
            email,
            avatar_url: user.avatar_url,
        })
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        access_token: &SecretString,
        path: &str,
    ) -> Result<T, ProviderError> {
        let url = format!("{}{path}", self.api_url);
        let response = self
            .http
            .get(&url)
            .bearer_auth(access_token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .send()
            .await
            .map_err(|error| {
                tracing::warn!(%error, path, "GitHub API unreachable");
                ProviderError("GitHub did not answer: try again later".into())
            })?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            tracing::warn!(%status, path, body = %truncate(&body, 500), "GitHub API refused");
            return Err(ProviderError(format!(
                "GitHub refused to share the profile (HTTP {})",
                status.as_u16()
            )));
        }
        response.json().await.map_err(|error| {
            tracing::warn!(%error, path, "unexpected GitHub API answer");
            ProviderError("GitHub sent an unexpected answer".into())
        })
    }
}

/// GitHub answers a bad code with `200 OK` and an error object, which the `oauth2` crate
/// reports as a parse failure; recover the error code from the body in that case.
fn token_error(
    error: RequestTokenError<oauth2::HttpClientError<reqwest::Error>, BasicErrorResponse>,
) -> ProviderError {
    let refused = |response: &BasicErrorResponse| {
        ProviderError(format!(
            "GitHub refused the sign-in ({}): start again",
            response.error().as_ref()
        ))
    };
    match error {
        RequestTokenError::ServerResponse(response) => {
            tracing::warn!(?response, "GitHub token endpoint refused the code");
            refused(&response)
        }
        RequestTokenError::Parse(parse, body) => {
            match serde_json::from_slice::<BasicErrorResponse>(&body) {
                Ok(response) => {
                    tracing::warn!(?response, "GitHub token endpoint refused the code");
                    refused(&response)
                }
                Err(_) => {
                    let body = String::from_utf8_lossy(&body);
                    tracing::warn!(error = %parse, body = %truncate(&body, 500), "unexpected GitHub token answer");
                    ProviderError("GitHub sent an unexpected answer".into())
                }
            }
        }
        RequestTokenError::Request(error) => {
            tracing::warn!(%error, "GitHub token endpoint unreachable");
            ProviderError("GitHub did not answer: try again later".into())
        }
        RequestTokenError::Other(detail) => {
            tracing::warn!(%detail, "unexpected GitHub token answer");
            ProviderError("GitHub sent an unexpected answer".into())
        }
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::oauth) fn configured(
        overrides: impl FnOnce(&mut GitHubConfig),
    ) -> Result<Option<GitHub>, String> {
        let mut config = GitHubConfig {
            github_client_id: Some("client".into()),
            github_client_secret: Some(SecretString::from("secret")),
            ..GitHubConfig::default()
        };
        overrides(&mut config);
        GitHub::from_config(&config)
    }

    #[test]
    fn half_a_configuration_is_refused_and_none_turns_it_off() {
        assert!(configured(|_| {}).expect("ok").is_some());
        let off = configured(|c| {
            c.github_client_id = None;
            c.github_client_secret = Some(SecretString::from(""));
        });
        assert!(off.expect("ok").is_none());
        let error = configured(|c| c.github_client_secret = None).expect_err("half");
        assert!(error.contains("GITHUB_CLIENT_SECRET"), "{error}");
        let error = configured(|c| c.github_token_url = "not a url".into()).expect_err("url");
        assert!(error.contains("GITHUB_TOKEN_URL"), "{error}");
    }
}
