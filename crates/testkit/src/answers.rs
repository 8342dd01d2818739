//! Assertions on the services' JSON answers that several test suites share.

use reqwest::StatusCode;
use serde_json::Value;

/// The answer every service gives to text PostgreSQL cannot store: 422 `invalid_text`, naming
/// the field.
pub fn assert_invalid_text(status: StatusCode, body: &Value, field: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
    assert_eq!(body["error"]["code"], "invalid_text", "{field}: {body}");
    assert_eq!(
        body["error"]["message"],
        format!(r"{field} cannot contain NUL (\u0000) characters")
    );
}
