//! The one error shape every endpoint returns: `{"error": {"code": "...", "message": "..."}}`.

mod declare;
pub mod message;

/// For the services' [`service_error!`](crate::service_error) and their `status_and_code`.
pub use axum::http::StatusCode;
use axum::{
    Json,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize)]
pub struct ErrorDetail<'a> {
    /// Stable, machine-readable, snake_case: clients branch on this.
    pub code: &'a str,
    /// For people; never contains SQL, stack traces or secrets.
    pub message: &'a str,
}

/// Renders the shared error shape with `status`. Every error answer is drawn here, so this
/// is where the client input a message quotes is held to a short excerpt
/// ([`message::bounded`]).
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let message = message::bounded(message);
    (
        status,
        Json(ErrorBody {
            error: ErrorDetail {
                code,
                message: &message,
            },
        }),
    )
        .into_response()
}

/// What every service's error enum tells [`render`]: its status and stable code, and the
/// optional extras. The enum's `Display` is the message people see, so it must never carry
/// internals: [`ServiceError::detail`] is where those go (logged, never sent).
///
/// A service's `ApiError` gets this from [`service_error!`](crate::service_error); another
/// error type implements it and says [`respond_with_render!`](crate::respond_with_render).
/// Either way it answers through [`render`], so the JSON shape, `WWW-Authenticate` on 401
/// and `Retry-After` are the same everywhere.
pub trait ServiceError: std::fmt::Display {
    fn status_and_code(&self) -> (StatusCode, &'static str);

    /// Seconds a client should wait before retrying; `None` sends no `Retry-After` (but a 503
    /// always has one: a second).
    fn retry_after_secs(&self) -> Option<u64> {
        None
    }

    /// What went wrong inside, for the log only (a 5xx's cause). `None` logs nothing.
    fn detail(&self) -> Option<&str> {
        None
    }
}

/// Renders a service error: logs its detail inside the request's span (so with its request
/// id), answers with the shared body and the headers its status calls for.
pub fn render(error: &impl ServiceError) -> Response {
    let (status, code) = error.status_and_code();
    if let Some(detail) = error.detail() {
        if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(%detail, code, "internal error");
        } else {
            tracing::warn!(%detail, code, "request failed");
        }
    }
    let mut response = error_response(status, code, &error.to_string());
    let headers = response.headers_mut();
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    // A 503 always says when to come back: a second, unless the error knows better.
    let retry_after = error.retry_after_secs();
    let retry_after = retry_after.or((status == StatusCode::SERVICE_UNAVAILABLE).then_some(1));
    if let Some(seconds) = retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Implements `IntoResponse` for a service's [`ServiceError`] by [`render`]ing it. A
/// blanket impl is not allowed (the trait and the type would both be foreign somewhere), so
/// each service says `platform::respond_with_render!(ApiError);` once.
#[macro_export]
macro_rules! respond_with_render {
    ($error:ty) => {
        impl ::axum::response::IntoResponse for $error {
            fn into_response(self) -> ::axum::response::Response {
                $crate::error::render(&self)
            }
        }
    };
}

/// The answer to our own bug (a panic, a failed render): the detail is logged by the
/// caller, never sent.
pub fn internal_error_response() -> Response {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "an internal error occurred",
    )
}

/// Router fallback: unknown paths get the JSON shape, not an empty 404.
pub async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// Method fallback: a known path with the wrong method.
pub async fn method_not_allowed() -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not accept that method",
    )
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[derive(Debug)]
    enum Failure {
        Expired,
        Busy,
        Down,
        Broken(String),
    }

    impl std::fmt::Display for Failure {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(match self {
                Failure::Expired => "your session expired",
                Failure::Busy => "busy: retry",
                Failure::Down => "down: retry",
                Failure::Broken(_) => "an internal error occurred",
            })
        }
    }

    impl ServiceError for Failure {
        fn status_and_code(&self) -> (StatusCode, &'static str) {
            match self {
                Failure::Expired => (StatusCode::UNAUTHORIZED, "expired"),
                Failure::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
                Failure::Down => (StatusCode::SERVICE_UNAVAILABLE, "down"),
                Failure::Broken(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            }
        }

        fn retry_after_secs(&self) -> Option<u64> {
            matches!(self, Failure::Busy).then_some(2)
        }

        fn detail(&self) -> Option<&str> {
            match self {
                Failure::Broken(detail) => Some(detail),
                _ => None,
            }
        }
    }

    async fn body(response: Response) -> serde_json::Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_401_asks_for_a_bearer_token() {
        let response = render(&Failure::Expired);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
        let body = body(response).await;
        assert_eq!(body["error"]["code"], "expired");
        assert_eq!(body["error"]["message"], "your session expired");
    }

    #[tokio::test]
    async fn retry_after_is_sent_when_the_error_names_it() {
        let response = render(&Failure::Busy);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
    }

    #[test]
    fn a_503_that_names_no_wait_asks_for_a_second() {
        let response = render(&Failure::Down);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }

    #[tokio::test]
    async fn the_detail_is_never_sent() {
        let response = render(&Failure::Broken("relation memory.chunks: disk full".into()));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let text = body(response).await.to_string();
        assert!(!text.contains("disk full"), "{text}");
        assert!(text.contains("an internal error occurred"), "{text}");
    }
}
