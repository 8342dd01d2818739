//! The gateway's own failures, in the platform's JSON error shape. Errors the services
//! return are passed through untouched; these are for when no answer came back, or when a
//! request was not fit to forward at all.

use axum::http::StatusCode;
use platform::ServiceError;

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
}

impl GatewayError {
    /// Sorts a client error into the three cases the frontend can tell apart.
    pub fn from_client_error(service: &'static str, error: &reqwest::Error) -> Self {
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
        }
    }
}

platform::respond_with_render!(GatewayError);

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
