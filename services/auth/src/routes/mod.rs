//! The HTTP API under `/api/auth`, plus `/.well-known/jwks.json` and `/openapi.json`: each
//! feature's routes and OpenAPI fragment, merged.

mod account;
mod admin;
mod admin_mfa;
mod email;
mod keys;
mod me;
mod me_email;
mod mfa;
mod oauth;
mod passkey_factor;
mod passkey_login;
mod passkeys;
mod session;
mod step_up;

use axum::{Extension, Json, Router, routing::get};
use platform::openapi::{ApiErrorBody, ApiErrorDetail, BearerAuth};
use utoipa::OpenApi;

use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let trusted_proxies = state.config.trusted_proxies.clone();
    Router::new()
        .merge(account::router())
        .merge(session::router())
        .merge(me::router())
        .merge(me_email::router())
        .merge(mfa::router())
        .merge(step_up::router())
        .merge(passkeys::router())
        .merge(passkey_login::router())
        .merge(passkey_factor::router())
        .merge(email::router())
        .merge(oauth::router())
        .merge(admin::router())
        .merge(admin_mfa::router())
        .merge(keys::router())
        .route("/openapi.json", get(|| async { Json(openapi()) }))
        .layer(Extension(trusted_proxies))
        .with_state(state)
}

#[derive(OpenApi)]
#[openapi(
    info(title = "DevMentor auth", description = "Accounts, sessions and tokens."),
    components(schemas(ApiErrorBody, ApiErrorDetail)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// The description served at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(account::ApiDoc::openapi());
    doc.merge(session::ApiDoc::openapi());
    doc.merge(me::ApiDoc::openapi());
    doc.merge(me_email::ApiDoc::openapi());
    doc.merge(mfa::ApiDoc::openapi());
    doc.merge(step_up::ApiDoc::openapi());
    doc.merge(passkeys::ApiDoc::openapi());
    doc.merge(passkey_login::ApiDoc::openapi());
    doc.merge(passkey_factor::ApiDoc::openapi());
    doc.merge(email::ApiDoc::openapi());
    doc.merge(oauth::ApiDoc::openapi());
    doc.merge(admin::ApiDoc::openapi());
    doc.merge(admin_mfa::ApiDoc::openapi());
    platform::openapi::document_shared_answers(&mut doc);
    doc
}
