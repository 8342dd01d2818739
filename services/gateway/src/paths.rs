//! Which request paths the gateway forwards at all: none that could climb out of the route
//! they matched. The router matches the raw path, but the URL parser that builds the
//! upstream address resolves `..`, `%2e%2e` and `\`, so without this check
//! `/api/memory/%2e%2e/%2e%2e/health/ready` matched `/api/memory/...` and then reached the
//! memory service's `/health/ready` (and its unlisted routes).

use axum::{
    extract::Request,
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::error::GatewayError;

/// Middleware, outside the router: answers `400 invalid_path` for a path [`is_safe`]
/// refuses, for every route and the 404 fallback alike, so no probe of this kind is ever
/// forwarded or told which prefixes exist.
pub async fn refuse_unsafe(request: Request, next: Next) -> Response {
    if is_safe(request.uri().path()) {
        return next.run(request).await;
    }
    // Scanners send these all day: worth a line, not a warning.
    tracing::info!(
        path = request.uri().path(),
        "refused a path with dot segments"
    );
    GatewayError::InvalidPath.into_response()
}

/// False if any segment is `.` or `..` once percent-decoded (`%2e`, `%2E`, `.%2e`, ...),
/// or holds a backslash, an encoded slash or backslash (`%2f`, `%5c`), or NUL (`%00`):
/// each can turn into a dot segment or a segment boundary further along. Dots inside a
/// name (`readme.md`, `.env`, `...`) and other escapes (`%20`) are ordinary.
pub fn is_safe(path: &str) -> bool {
    path.split('/').map(percent_decode).all(|decoded| {
        decoded != b"."
            && decoded != b".."
            && !decoded.iter().any(|b| matches!(b, b'/' | b'\\' | 0))
    })
}

/// Decodes each `%XX` once; a `%` not followed by two hex digits stays as it is.
fn percent_decode(segment: &str) -> Vec<u8> {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    decoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_are_refused_in_every_spelling() {
        for path in [
            "/api/memory/../../openapi.json",
            "/api/memory/./x",
            "/api/memory/..",
            "/api/memory/.",
            "/api/memory/%2e%2e/%2e%2e/health/ready",
            "/api/memory/%2E%2E/x",
            "/api/memory/.%2e/x",
            "/api/memory/%2E./x",
            "/api/memory/%2e/x",
            "/api/projects/p1/files/%2e%2E",
        ] {
            assert!(!is_safe(path), "{path}");
        }
    }

    #[test]
    fn slashes_backslashes_and_nul_that_hide_segments_are_refused() {
        for path in [
            "/api/memory/..%2f..%2fopenapi.json",
            "/api/memory/a%2Fb",
            "/api/memory/..%5c..%5copenapi.json",
            "/api/memory/a%5Cb",
            "/api/memory/..\\..\\openapi.json",
            "/api/memory/a%00b",
        ] {
            assert!(!is_safe(path), "{path}");
        }
    }

    #[test]
    fn ordinary_paths_pass() {
        for path in [
            "/",
            "/api/projects",
            "/api/projects/x/files/readme.md",
            "/api/projects/x/files/my%20notes.txt",
            "/api/projects/x/files/.env",
            "/api/memory/...",
            "/api/memory/..hidden/a.b.c",
            "/api/memory/100%25",
            "/api/memory/%zz",
            "/.well-known/jwks.json",
            "/api/memory//double",
        ] {
            assert!(is_safe(path), "{path}");
        }
    }
}
