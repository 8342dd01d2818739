//! A software passkey for the tests: `webauthn-authenticator-rs`'s `SoftToken` (a CTAP2
//! authenticator in memory, with user verification) playing browser and authenticator. Its
//! state serialises, so a test can clone the device, counter and all.
//!
//! Neither soft authenticator of that crate keeps resident keys, so for a discoverable login
//! [`SoftPasskey::assert_discoverable`] does what a resident-key authenticator does: it picks
//! its own credential for the site and returns the user handle stored at registration (the
//! handle is not signed, the rest of the assertion is).

use axum::http::StatusCode;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use webauthn_authenticator_rs::{AuthenticatorBackend, prelude::Url, softtoken::SoftToken};
use webauthn_rs_proto::{AllowCredentials, CreationChallengeResponse, RequestChallengeResponse};

use super::{TestApp, enrolment_proof};
use testkit::Reply;

/// The origin the test service expects (`PUBLIC_APP_URL`'s default).
pub const ORIGIN: &str = "http://localhost:3000";

pub struct SoftPasskey {
    token: SoftToken,
    /// The credential id registered last (base64url), and its user handle.
    pub credential_id: Option<String>,
    pub user_handle: Option<String>,
}

impl Default for SoftPasskey {
    fn default() -> Self {
        Self::new()
    }
}

impl SoftPasskey {
    pub fn new() -> Self {
        let (token, _attestation_ca) = SoftToken::new(true).expect("soft token");
        Self {
            token,
            credential_id: None,
            user_handle: None,
        }
    }

    /// A copy of this authenticator: same keys, same counter from now on apart.
    pub fn clone_device(&self) -> Self {
        let state = self.token.to_cbor().expect("serialise soft token");
        Self {
            token: SoftToken::from_cbor(&state).expect("deserialise soft token"),
            credential_id: self.credential_id.clone(),
            user_handle: self.user_handle.clone(),
        }
    }

    /// `navigator.credentials.create()` at `origin` for the `options` of `register/start`.
    pub fn create_at(&mut self, origin: &str, options: &Value) -> Value {
        let options: CreationChallengeResponse =
            serde_json::from_value(options.clone()).expect("creation options");
        self.user_handle = Some(URL_SAFE_NO_PAD.encode(options.public_key.user.id.as_ref()));
        let origin = Url::parse(origin).expect("origin");
        let credential = self
            .token
            .perform_register(origin, options.public_key, 60_000)
            .expect("soft token registers");
        self.credential_id = Some(credential.id.clone());
        serde_json::to_value(credential).expect("credential json")
    }

    /// `navigator.credentials.get()` at `origin` for `options` that list allowed credentials.
    pub fn get_at(&mut self, origin: &str, options: &Value) -> Value {
        let options: RequestChallengeResponse =
            serde_json::from_value(options.clone()).expect("request options");
        let origin = Url::parse(origin).expect("origin");
        let credential = self
            .token
            .perform_auth(origin, options.public_key, 60_000)
            .expect("soft token signs");
        serde_json::to_value(credential).expect("assertion json")
    }

    /// `navigator.credentials.get()` for a discoverable login (no credentials listed): the
    /// authenticator picks its own credential and returns its user handle.
    pub fn assert_discoverable(&mut self, options: &Value) -> Value {
        let mut options: RequestChallengeResponse =
            serde_json::from_value(options.clone()).expect("request options");
        assert!(
            options.public_key.allow_credentials.is_empty(),
            "discoverable"
        );
        let id = self.credential_id.clone().expect("registered");
        options.public_key.allow_credentials = vec![AllowCredentials {
            type_: "public-key".into(),
            id: URL_SAFE_NO_PAD.decode(&id).expect("base64url").into(),
            transports: None,
        }];
        let origin = Url::parse(ORIGIN).expect("origin");
        let mut credential = self
            .token
            .perform_auth(origin, options.public_key, 60_000)
            .expect("soft token signs");
        let handle = self.user_handle.clone().expect("registered");
        credential.response.user_handle =
            Some(URL_SAFE_NO_PAD.decode(handle).expect("base64url").into());
        serde_json::to_value(credential).expect("assertion json")
    }
}

/// Registers `key` for the holder of `token` under `name`; returns the `register/finish`
/// answer (the passkey's view).
pub async fn register(app: &TestApp, token: &str, key: &mut SoftPasskey, name: &str) -> Value {
    let started = app
        .post_as(
            "/api/auth/passkeys/register/start",
            enrolment_proof(),
            token,
        )
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let credential = key.create_at(ORIGIN, &started.body["options"]);
    let finished = app
        .post_as(
            "/api/auth/passkeys/register/finish",
            json!({ "ceremony_id": started.body["ceremony_id"], "name": name, "credential": credential }),
            token,
        )
        .await;
    assert_eq!(finished.status, StatusCode::CREATED, "{}", finished.body);
    finished.body
}

/// A passwordless login with `key`: the reply of `login/finish`.
pub async fn passwordless_login(app: &TestApp, key: &mut SoftPasskey) -> Reply {
    let body = passwordless_assertion(app, key).await;
    app.post("/api/auth/passkeys/login/finish", body).await
}

/// Starts a passwordless login and answers it with `key`: the body for `login/finish`.
pub async fn passwordless_assertion(app: &TestApp, key: &mut SoftPasskey) -> Value {
    let started = app.post("/api/auth/passkeys/login/start", json!({})).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let credential = key.assert_discoverable(&started.body["options"]);
    json!({ "ceremony_id": started.body["ceremony_id"], "credential": credential })
}

pub fn token_of(body: &Value) -> String {
    body["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

/// `name` registered, with one passkey; returns (user id, access token, the passkey).
pub async fn with_passkey(app: &TestApp, name: &str) -> (String, String, SoftPasskey) {
    let signed_in = app.register(name).await;
    let token = token_of(&signed_in);
    let mut key = SoftPasskey::new();
    register(app, &token, &mut key, "Laptop").await;
    let user_id = signed_in["user"]["id"].as_str().expect("id").to_owned();
    (user_id, token, key)
}

/// Starts the second-factor ceremony of `mfa_token`; returns its `ceremony_id` and `options`.
pub async fn start_second_factor(app: &TestApp, mfa_token: &str) -> Value {
    let body = json!({ "mfa_token": mfa_token });
    let started = app.post("/api/auth/login/mfa/passkey", body).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    started.body
}

/// Starts the second-factor ceremony of `mfa_token` and answers it with `key`.
pub async fn passkey_proof(app: &TestApp, mfa_token: &str, key: &mut SoftPasskey) -> Value {
    let started = start_second_factor(app, mfa_token).await;
    let credential = key.get_at(ORIGIN, &started["options"]);
    json!({ "ceremony_id": started["ceremony_id"], "credential": credential })
}

/// Starts a step-up ceremony for `token`'s session and answers it with `key`.
pub async fn step_up_proof(app: &TestApp, token: &str, key: &mut SoftPasskey) -> Value {
    let started = app
        .post_as("/api/auth/step-up/passkey", json!({}), token)
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let credential = key.get_at(ORIGIN, &started.body["options"]);
    json!({ "ceremony_id": started.body["ceremony_id"], "credential": credential })
}

/// An error answer with this status and code (the suite's name for `testkit::assert_error`).
// Like the rest of `common`, unused by some test binaries (`dead_code` does not cover imports).
#[allow(unused_imports)]
pub use testkit::assert_error as assert_refused;
