//! CORS for the frontend. The gateway answers preflights itself, so the services never see
//! an `OPTIONS` request they have no route for.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

/// How long a browser may reuse a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// Credentials (cookies, `Authorization`) are allowed, so origins must be listed exactly;
/// requested headers are mirrored rather than `*`, which browsers reject with credentials.
pub fn layer(allowed_origins: Vec<HeaderValue>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed_origins))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers(AllowHeaders::mirror_request())
        // Headers the frontend reads: request ids for bug reports, download names,
        // rate-limit back-off, where a created resource lives, and what a script needs to
        // revalidate (`ETag`) or resume (`Accept-Ranges`, `Content-Range`) a file download
        // and tell its version.
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            header::CONTENT_DISPOSITION,
            header::RETRY_AFTER,
            header::LOCATION,
            header::ETAG,
            header::ACCEPT_RANGES,
            header::CONTENT_RANGE,
            HeaderName::from_static("x-file-version"),
        ])
        .max_age(PREFLIGHT_MAX_AGE)
}
