//! Swagger UI at `/docs`, over an OpenAPI document the same server serves. Its files are
//! compiled into the binary (utoipa-swagger-ui's vendored copy), so the page loads nothing
//! from a CDN and works offline.
//!
//! The page lives at `/docs/` (`/docs` redirects there) and refers to everything by relative
//! URL: its assets sit next to it and the document one level up, so the same page works
//! when the server is reached directly, through the gateway or under a path prefix.

use std::sync::Arc;

use axum::{
    Router,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use utoipa_swagger_ui::Config;

use crate::error;

/// The document next to `/docs`: `/openapi.json`, as seen from the page at `/docs/`.
pub const SIBLING_OPENAPI: &str = "../openapi.json";

/// `/docs`, `/docs/` and the UI's files under `/docs/`, showing `document_url` (resolved by
/// the browser against `/docs/`, so keep it relative: see [`SIBLING_OPENAPI`]).
pub fn router(document_url: &'static str) -> Router {
    // No validator: Swagger UI would otherwise send the document's URL to
    // validator.swagger.io and show a badge from there, which fails offline.
    let config = Config::from(document_url).validator_url("none");
    Router::new()
        // Relative, so the redirect also holds behind a path prefix.
        .route("/docs", get(|| async { Redirect::to("docs/") }))
        .route("/docs/", get(index))
        .route("/docs/{*file}", get(asset))
        .with_state(Arc::new(config))
}

async fn index(State(config): State<Arc<Config<'static>>>) -> Response {
    respond("index.html", config)
}

async fn asset(State(config): State<Arc<Config<'static>>>, Path(file): Path<String>) -> Response {
    respond(&file, config)
}

fn respond(file: &str, config: Arc<Config<'static>>) -> Response {
    match utoipa_swagger_ui::serve(file, config) {
        Ok(Some(found)) => {
            ([(header::CONTENT_TYPE, found.content_type)], found.bytes).into_response()
        }
        Ok(None) => error::error_response(StatusCode::NOT_FOUND, "not_found", "no such file"),
        // Only the initializer is rendered (the config put into it); a failure is our bug.
        Err(cause) => {
            tracing::error!(file, %cause, "cannot render a Swagger UI file");
            error::internal_error_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn get_text(path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
        let request = axum::http::Request::get(path)
            .body(Body::empty())
            .expect("request");
        let response = router(SIBLING_OPENAPI)
            .oneshot(request)
            .await
            .expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        (parts.status, parts.headers, text)
    }

    #[tokio::test]
    async fn docs_redirects_to_the_page_by_a_relative_location() {
        let (status, headers, _) = get_text("/docs").await;
        assert!(status.is_redirection(), "{status}");
        assert_eq!(headers[header::LOCATION], "docs/");
    }

    #[tokio::test]
    async fn page_loads_its_assets_from_beside_it_and_nothing_from_elsewhere() {
        let (status, headers, page) = get_text("/docs/").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/html");
        for asset in [
            "./swagger-ui.css",
            "./swagger-ui-bundle.js",
            "./swagger-initializer.js",
        ] {
            assert!(page.contains(asset), "page lacks {asset}: {page}");
            let (status, _, _) = get_text(&format!("/docs/{}", &asset[2..])).await;
            assert_eq!(status, StatusCode::OK, "{asset}");
        }
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "{page}"
        );
    }

    #[tokio::test]
    async fn initializer_points_at_the_document_without_a_validator() {
        let (status, _, script) = get_text("/docs/swagger-initializer.js").await;
        assert_eq!(status, StatusCode::OK);
        assert!(script.contains(r#""url": "../openapi.json""#), "{script}");
        assert!(script.contains(r#""validatorUrl": "none""#), "{script}");
    }

    #[tokio::test]
    async fn unknown_file_is_a_json_404() {
        let (status, _, body) = get_text("/docs/nope.js").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let body: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(body["error"]["code"], "not_found");
    }
}
