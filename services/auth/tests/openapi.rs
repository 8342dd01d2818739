//! `/openapi.json` describes every endpoint, and each described path really answers.

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use sqlx::PgPool;

const DOCUMENTED: &[(&str, &str)] = &[
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/refresh"),
    ("post", "/api/auth/logout"),
    ("post", "/api/auth/logout-all"),
    ("get", "/api/auth/me"),
    ("patch", "/api/auth/me"),
    ("post", "/api/auth/me/password"),
    ("post", "/api/auth/me/email"),
    ("get", "/api/auth/me/sessions"),
    ("delete", "/api/auth/me/sessions/{id}"),
    ("post", "/api/auth/verify-email/request"),
    ("post", "/api/auth/verify-email/confirm"),
    ("post", "/api/auth/forgot-password"),
    ("post", "/api/auth/reset-password"),
    ("get", "/api/auth/admin/users"),
    ("get", "/api/auth/admin/users/{id}"),
    ("post", "/api/auth/admin/users/{id}/role"),
    ("post", "/api/auth/admin/users/{id}/activate"),
    ("post", "/api/auth/admin/users/{id}/deactivate"),
    ("post", "/api/auth/admin/users/{id}/unlock"),
    ("delete", "/api/auth/admin/users/{id}/mfa"),
    ("get", "/api/auth/oauth/github"),
    ("get", "/api/auth/oauth/github/callback"),
    ("post", "/api/auth/mfa/totp/enroll"),
    ("post", "/api/auth/mfa/totp/confirm"),
    ("delete", "/api/auth/mfa/totp"),
    ("post", "/api/auth/mfa/recovery-codes"),
    ("post", "/api/auth/login/mfa"),
    ("post", "/api/auth/step-up"),
    ("post", "/api/auth/passkeys/register/start"),
    ("post", "/api/auth/passkeys/register/finish"),
    ("get", "/api/auth/passkeys"),
    ("patch", "/api/auth/passkeys/{id}"),
    ("delete", "/api/auth/passkeys/{id}"),
    ("post", "/api/auth/passkeys/login/start"),
    ("post", "/api/auth/passkeys/login/finish"),
    ("post", "/api/auth/login/mfa/passkey"),
    ("post", "/api/auth/step-up/passkey"),
];

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn every_endpoint_is_documented_and_every_documented_path_is_routed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let spec = app.get("/openapi.json").await;
    assert_eq!(spec.status, StatusCode::OK);
    assert!(
        spec.body["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    let paths = spec.body["paths"].as_object().expect("paths");

    for (method, path) in DOCUMENTED {
        let operation = &paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} undocumented"))[method];
        assert!(operation.is_object(), "{method} {path} undocumented");
        assert!(
            operation["responses"]
                .as_object()
                .is_some_and(|r| !r.is_empty()),
            "{method} {path}"
        );
        // The route exists: anything but the router's own 404/405 fallbacks.
        let concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
        let method: Method = method.to_uppercase().parse().expect("method");
        let reply = app.call(method.clone(), &concrete, None, None).await;
        assert_ne!(
            reply.code(),
            "not_found",
            "{method} {path} is not routed: {}",
            reply.body
        );
        assert_ne!(
            reply.code(),
            "method_not_allowed",
            "{method} {path} is not routed"
        );
    }
    let documented_operations: usize = paths
        .values()
        .map(|ops| ops.as_object().map_or(0, |o| o.len()))
        .sum();
    assert_eq!(
        documented_operations,
        DOCUMENTED.len(),
        "the spec documents something not listed here"
    );
    assert!(spec.body["components"]["securitySchemes"]["bearer"].is_object());
}

/// The fuzzer generates names from these: they state the limits `passkeys::parse_name`
/// enforces, so that every name the schema allows is accepted, and every other refused.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_passkey_name_states_the_limits_the_handler_enforces(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let spec = app.get("/openapi.json").await;
    for body in ["RenameRequest", "RegistrationFinish"] {
        let name = &spec.body["components"]["schemas"][body]["properties"]["name"];
        assert_eq!(name["minLength"], 1, "{body}: {name}");
        assert_eq!(name["maxLength"], auth::passkeys::NAME_MAX_CHARS, "{body}");
        assert_eq!(name["pattern"], auth::passkeys::NAME_PATTERN, "{body}");
    }
}

/// Clients learn of device tokens from the spec: answered by every sign-in, accepted by both
/// password-login steps.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn device_tokens_are_described_where_they_are_answered_and_accepted(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let spec = app.get("/openapi.json").await;
    let schemas = &spec.body["components"]["schemas"];
    // The tokens are flattened in, so the answer is an `allOf` of the tokens and the rest.
    let answered = &schemas["SignedIn"];
    let parts = answered["allOf"].as_array().expect("allOf");
    let required = parts.iter().any(|part| {
        let required = part["required"].as_array();
        required.is_some_and(|fields| fields.contains(&"device_token".into()))
    });
    assert!(required, "{answered}");
    for request in ["LoginRequest", "LoginMfaRequest"] {
        let field = &schemas[request]["properties"]["device_token"];
        assert!(field["description"].is_string(), "{request}: {field}");
    }
}
