//! axum's `Json`, `Path` and `Query` extractors, with rejections in the shared error shape.

use axum::{
    extract::{
        FromRequest, FromRequestParts,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::StatusCode,
    response::{IntoResponse, Response},
};

use crate::error::error_response;

/// A request the extractors refused, rendered as `{"error": {...}}`.
#[derive(Debug)]
pub struct Rejection {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        error_response(self.status, self.code, &self.message)
    }
}

impl From<JsonRejection> for Rejection {
    fn from(rejection: JsonRejection) -> Self {
        let (status, code) = match &rejection {
            JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            JsonRejection::MissingJsonContentType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            _ => (rejection.status(), "invalid_body"),
        };
        Self {
            status,
            code,
            message: rejection.body_text(),
        }
    }
}

impl From<PathRejection> for Rejection {
    fn from(rejection: PathRejection) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_path",
            message: rejection.body_text(),
        }
    }
}

impl From<QueryRejection> for Rejection {
    fn from(rejection: QueryRejection) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_query",
            message: rejection.body_text(),
        }
    }
}

/// JSON body extractor and response.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(Rejection))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters extractor.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Rejection))]
pub struct Path<T>(pub T);

/// Query string extractor.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Rejection))]
pub struct Query<T>(pub T);

#[cfg(test)]
mod tests {
    use axum::{Router, body::Body, http::Request, routing::post};
    use http_body_util::BodyExt;
    use serde::Deserialize;
    use tower::ServiceExt;

    use super::*;

    #[derive(Deserialize)]
    struct Greeting {
        #[allow(dead_code)]
        name: String,
    }

    async fn call(body: &'static str, content_type: &str) -> (StatusCode, serde_json::Value) {
        let app = Router::new().route("/", post(|Json(_): Json<Greeting>| async { "ok" }));
        let request = Request::post("/")
            .header("content-type", content_type)
            .body(Body::from(body))
            .expect("request");
        let response = app.oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).expect("json error body"),
        )
    }

    #[tokio::test]
    async fn malformed_json_gets_the_shared_error_shape() {
        let (status, body) = call("{not json", "application/json").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "malformed_json");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }

    #[tokio::test]
    async fn wrong_fields_are_unprocessable() {
        let (status, body) = call(r#"{"nom":"x"}"#, "application/json").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["code"], "invalid_body");
    }

    #[tokio::test]
    async fn missing_content_type_is_unsupported_media_type() {
        let (status, body) = call(r#"{"name":"x"}"#, "text/plain").await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(body["error"]["code"], "unsupported_media_type");
    }
}
