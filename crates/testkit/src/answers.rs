//! Assertions on the services' JSON answers that several test suites share.

use axum::http::StatusCode;

use crate::Reply;

/// The answer every service gives to text PostgreSQL cannot store: 422 `invalid_text`, naming
/// the field.
#[track_caller]
pub fn assert_invalid_text(reply: &Reply, field: &str) {
    let body = &reply.body;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{field}: {body}"
    );
    assert_eq!(reply.code(), "invalid_text", "{field}: {body}");
    assert_eq!(
        body["error"]["message"],
        format!(r"{field} cannot contain NUL (\u0000) characters")
    );
}

/// The answer to a sensitive action taken at `aal1` by someone who has a second factor: 403
/// `step_up_required` (they step up at `POST /api/auth/step-up` and try again).
#[track_caller]
pub fn assert_step_up_required(reply: &Reply) {
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::FORBIDDEN, "step_up_required"),
        "{}",
        reply.body
    );
}
