//! `GET /.well-known/jwks.json`: the public keys that verify access tokens, current and
//! retired, for every service that checks them. Not in `/openapi.json`: it is a standard
//! document (RFC 7517) that verifiers find by its well-known path.

use axum::{Json, Router, extract::State, routing::get};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/.well-known/jwks.json", get(jwks))
}

async fn jwks(State(state): State<AppState>) -> Json<authn::Jwks> {
    Json(state.verifier.jwks())
}
