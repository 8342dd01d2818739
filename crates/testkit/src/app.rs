//! Driving a service's whole `Router` in-process, the way a client would over HTTP: every
//! request passes the service's real middleware (request ids, limits, timeouts, JSON errors).

use axum::{
    Router,
    body::{Body, Bytes},
    http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, header},
};
use serde_json::Value;
use tower::ServiceExt;

use crate::users::User;

/// Sends requests to one service's router, adding the headers every request of the test
/// carries (a client address, a user agent) unless a request sets its own.
#[derive(Clone)]
pub struct AppClient {
    router: Router,
    headers: HeaderMap,
}

/// A service's answer: status, headers, the raw body, and the body as JSON.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Bytes,
    /// The body parsed as JSON; `null` when empty; a JSON string holding the text when the
    /// body is not JSON, so a failed assertion still shows what came back.
    pub body: Value,
}

/// Who a request is sent as: an access token, or a [`User`] holding one.
pub trait Bearer {
    fn token(&self) -> &str;
}

impl Bearer for str {
    fn token(&self) -> &str {
        self
    }
}

impl Bearer for String {
    fn token(&self) -> &str {
        self
    }
}

impl Bearer for User {
    fn token(&self) -> &str {
        &self.token
    }
}

impl Reply {
    /// The error code of a `{"error":{"code","message"}}` body; empty for any other body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl AppClient {
    pub fn new(router: Router) -> Self {
        Self {
            router,
            headers: HeaderMap::new(),
        }
    }

    /// Sends `name: value` with every request that does not set `name` itself.
    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        let value = HeaderValue::from_str(value).expect("a valid header value");
        self.headers.insert(HeaderName::from_static(name), value);
        self
    }

    /// A request to build further: extra headers, cookies, a raw body.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder<'_> {
        RequestBuilder {
            client: self,
            request: Request::builder().method(method).uri(path),
            body: Body::empty(),
        }
    }

    /// Sends a finished request through the router.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let (parts, body) = self.open(request).await.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .expect("the whole body");
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: parse(&bytes),
            bytes,
        }
    }

    /// Sends a finished request and returns the response with its body not yet read: for
    /// a test that holds a streamed answer open, as a client that stops reading would.
    pub async fn open(&self, mut request: Request<Body>) -> Response<Body> {
        for (name, value) in &self.headers {
            if !request.headers().contains_key(name) {
                request.headers_mut().insert(name, value.clone());
            }
        }
        let Ok(response) = self.router.clone().oneshot(request).await;
        response
    }

    /// `method path` with an optional JSON body, as `token`'s holder or anonymously.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Reply {
        let mut request = self.request(method, path);
        if let Some(token) = token {
            request = request.bearer(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await
    }

    /// An anonymous `GET`.
    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None, None).await
    }

    /// An anonymous `POST` of a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body), None).await
    }

    pub async fn get_as(&self, path: &str, who: &(impl Bearer + ?Sized)) -> Reply {
        self.call(Method::GET, path, None, Some(who.token())).await
    }

    pub async fn post_as(&self, path: &str, body: Value, who: &(impl Bearer + ?Sized)) -> Reply {
        self.call(Method::POST, path, Some(body), Some(who.token()))
            .await
    }

    pub async fn patch_as(&self, path: &str, body: Value, who: &(impl Bearer + ?Sized)) -> Reply {
        self.call(Method::PATCH, path, Some(body), Some(who.token()))
            .await
    }

    pub async fn put_as(&self, path: &str, body: Value, who: &(impl Bearer + ?Sized)) -> Reply {
        self.call(Method::PUT, path, Some(body), Some(who.token()))
            .await
    }

    pub async fn delete_as(&self, path: &str, who: &(impl Bearer + ?Sized)) -> Reply {
        self.call(Method::DELETE, path, None, Some(who.token()))
            .await
    }
}

/// A request being put together; [`RequestBuilder::send`] sends it.
pub struct RequestBuilder<'a> {
    client: &'a AppClient,
    request: axum::http::request::Builder,
    body: Body,
}

impl RequestBuilder<'_> {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.request = self.request.header(name, value);
        self
    }

    /// Every `(name, value)` pair as a header.
    pub fn headers(self, pairs: &[(&str, &str)]) -> Self {
        pairs
            .iter()
            .fold(self, |request, (name, value)| request.header(name, value))
    }

    /// `Authorization: Bearer` with `who`'s token.
    pub fn bearer(self, who: &(impl Bearer + ?Sized)) -> Self {
        let value = format!("Bearer {}", who.token());
        self.header(header::AUTHORIZATION.as_str(), &value)
    }

    /// `body` as JSON, with its content type.
    pub fn json(mut self, body: &Value) -> Self {
        self.body = Body::from(body.to_string());
        self.header(header::CONTENT_TYPE.as_str(), "application/json")
    }

    /// A raw body (bytes, text or a stream); set its content type with [`Self::header`].
    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    pub async fn send(self) -> Reply {
        let request = self.request.body(self.body).expect("a valid request");
        self.client.send(request).await
    }

    /// Sends the request; the response's body is left unread ([`AppClient::open`]).
    pub async fn open(self) -> Response<Body> {
        let request = self.request.body(self.body).expect("a valid request");
        self.client.open(request).await
    }
}

fn parse(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

#[cfg(test)]
mod tests {
    use axum::{extract::Json, routing::post};
    use serde_json::json;

    use super::*;

    /// Echoes what arrived: the authorization, the client address and the JSON body.
    fn echo() -> AppClient {
        let router = Router::new().route(
            "/echo",
            post(|headers: HeaderMap, Json(body): Json<Value>| async move {
                let seen = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                Json(json!({
                    "authorization": seen("authorization"),
                    "address": seen("x-forwarded-for"),
                    "body": body,
                }))
            }),
        );
        AppClient::new(router).with_header("x-forwarded-for", "203.0.113.7")
    }

    #[tokio::test]
    async fn a_request_carries_its_token_body_and_the_default_headers() {
        let reply = echo().post_as("/echo", json!({"n": 1}), "t0ken").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(
            reply.body,
            json!({"authorization": "Bearer t0ken", "address": "203.0.113.7", "body": {"n": 1}})
        );
    }

    #[tokio::test]
    async fn a_header_set_on_the_request_wins_over_the_default() {
        let reply = echo()
            .request(Method::POST, "/echo")
            .header("x-forwarded-for", "198.51.100.1")
            .json(&json!({}))
            .send()
            .await;
        assert_eq!(reply.body["address"], "198.51.100.1");
        assert_eq!(reply.body["authorization"], Value::Null);
    }

    #[tokio::test]
    async fn bodies_that_are_not_json_are_kept_as_text() {
        let reply = echo().get("/nowhere").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(reply.body, Value::Null, "axum's bare 404 has no body");
        let reply = echo()
            .request(Method::POST, "/echo")
            .header("content-type", "application/json")
            .body("not json")
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(
            reply.body.as_str().is_some_and(|text| !text.is_empty()),
            "{}",
            reply.body
        );
        assert_eq!(reply.code(), "");
    }
}
