//! The gateway's own failures, in the platform's JSON error shape. Errors the services
//! return are passed through untouched; these are for when no answer came back, or when a
//! request was not fit to forward at all.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use platform::ServiceError;

/// Why forwarding a request failed, when the client rather than the service was the cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientFault {
    /// The body could not be read: malformed chunked framing, or the connection broke.
    BrokenBody,
    /// The service was waiting for body bytes the client did not send.
    StalledBody,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No connection could be made: the service is down or its address is wrong.
    #[error("the {service} service is unreachable")]
    Unavailable { service: &'static str },
    /// Connected, but the answer did not start (or stalled) within the upstream timeout.
    #[error("the {service} service did not answer in time")]
    Timeout { service: &'static str },
    /// Connected, but the exchange broke off before a complete response head arrived.
    #[error("the {service} service sent no valid response")]
    BadResponse { service: &'static str },
    /// The path could leave the route it matched (see `crate::paths`); never forwarded.
    #[error(
        "the path must not contain `.` or `..` segments (also percent-encoded), encoded \
         slashes or backslashes, or NUL"
    )]
    InvalidPath,
    /// The client's body could not be read while it was being forwarded (malformed chunked
    /// framing, a connection that broke): the client's fault, not the service's.
    #[error(
        "the request body could not be read: malformed chunked encoding or a broken connection"
    )]
    UnreadableBody,
    /// The service was waiting for body bytes the client stopped sending.
    #[error("the request body stopped arriving (or came too slowly) and the request was cancelled")]
    BodyTimeout,
}

impl GatewayError {
    /// Sorts a failed exchange into the cases the frontend can tell apart. `client_fault` is
    /// what the request body's forwarding saw: a body that broke explains any failure, one
    /// the service was still waiting for explains a timeout.
    pub fn from_client_error(
        service: &'static str,
        error: &reqwest::Error,
        client_fault: Option<ClientFault>,
    ) -> Self {
        match client_fault {
            Some(ClientFault::BrokenBody) => return Self::UnreadableBody,
            Some(ClientFault::StalledBody) if error.is_timeout() && !error.is_connect() => {
                return Self::BodyTimeout;
            }
            _ => {}
        }
        // Connect first: a connection attempt that timed out means unreachable, not slow.
        if error.is_connect() {
            Self::Unavailable { service }
        } else if error.is_timeout() {
            Self::Timeout { service }
        } else {
            Self::BadResponse { service }
        }
    }
}

impl ServiceError for GatewayError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unavailable { .. } => (StatusCode::BAD_GATEWAY, "upstream_unavailable"),
            Self::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout"),
            Self::BadResponse { .. } => (StatusCode::BAD_GATEWAY, "upstream_failed"),
            Self::InvalidPath => (StatusCode::BAD_REQUEST, "invalid_path"),
            Self::UnreadableBody => (StatusCode::BAD_REQUEST, "unreadable_body"),
            Self::BodyTimeout => (StatusCode::REQUEST_TIMEOUT, "request_body_timeout"),
        }
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let mut response = platform::error::render(&self);
        // The rest of a broken or stalled body is not worth waiting for (the platform would
        // otherwise try to drain it before answering): the connection goes.
        if matches!(self, Self::UnreadableBody | Self::BodyTimeout) {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_service_and_nothing_internal() {
        let error = GatewayError::Unavailable { service: "project" };
        assert_eq!(error.to_string(), "the project service is unreachable");
        assert_eq!(
            error.status_and_code(),
            (StatusCode::BAD_GATEWAY, "upstream_unavailable")
        );
        let error = GatewayError::Timeout { service: "memory" };
        assert_eq!(
            error.status_and_code(),
            (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout")
        );
    }
}
