//! Assertions on the services' JSON answers that several test suites share.

use axum::http::StatusCode;

use crate::Reply;

/// An error answer: `status` with `code` in the shared `{"error": {"code", ...}}` body (the
/// whole body printed when it is not).
#[track_caller]
pub fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(
        (reply.status, reply.code()),
        (status, code),
        "{}",
        reply.body
    );
}

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
    assert_error(reply, StatusCode::FORBIDDEN, "step_up_required");
}
