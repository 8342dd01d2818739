//! axum's `Json`, `Path` and `Query` extractors, with rejections in the shared error shape,
//! refusing text PostgreSQL cannot store (NUL) before any handler runs: every service takes
//! its input through these, so one check here covers every text field.

use axum::{
    body::Bytes,
    extract::{
        FromRequest, FromRequestParts, RawPathParams, Request,
        rejection::{JsonRejection, MissingJsonContentType, PathRejection},
    },
    http::{HeaderMap, StatusCode, Uri, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;

use crate::{
    error::{error_response, message},
    text,
};

/// A request the extractors refused, rendered as `{"error": {...}}`.
#[derive(Debug)]
pub struct Rejection {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Rejection {
    /// `what` held a NUL: 422 `invalid_text`, whatever the field's type (a `%00` in a path
    /// or query parameter too, rather than 400 `invalid_path`/`invalid_query`, so clients
    /// meet one code for this one rule).
    fn nul(what: &str) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: text::INVALID_TEXT,
            message: text::nul_message(what),
        }
    }
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

/// JSON body extractor and response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Rejection;

    /// axum's steps (content type, body within the limit, typed parse) with a byte scan for
    /// `\u0000` before the parse; only a body that has one is parsed a second time, to name
    /// the field.
    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(request.headers()) {
            return Err(JsonRejection::from(MissingJsonContentType::default()).into());
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(JsonRejection::from)?;
        if text::json_has_nul_escape(&bytes) {
            return Err(refuse_nul::<T>(&bytes));
        }
        // serde reads a struct from an array too, field by field in order (`[null, null]`
        // would be a PATCH changing nothing, answered 200); every body here is an object.
        if bytes.trim_ascii_start().first() == Some(&b'[') {
            return Err(Rejection {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "invalid_body",
                message: "the body must be a JSON object".to_owned(),
            });
        }
        parse(&bytes).map(Self)
    }
}

/// The typed parse. A body that is not JSON is 400 `malformed_json`; JSON of the wrong shape
/// is 422 `invalid_body`, with the field's path. The typed parse stops at the first value it
/// cannot use, before it has read the rest, and serde_json reports some wrong types as syntax
/// errors (`null` or a number for an enum: "expected value"); so which of the two a failure
/// is, a plain parse of the whole body decides (only failed bodies pay for it).
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Rejection> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let error = match serde_path_to_error::deserialize(&mut deserializer) {
        // What follows the value must be whitespace only.
        Ok(value) => return deserializer.end().map(|()| value).map_err(malformed),
        Err(error) => error,
    };
    // A `Value`, not `IgnoredAny`: serde_json skips ignored values without its nesting
    // limit, and a body nested past it is one we cannot read.
    if let Err(syntax) = serde_json::from_slice::<serde_json::Value>(bytes) {
        return Err(malformed(syntax));
    }
    let inner = error.inner();
    let problem = if inner.is_data() {
        inner.to_string()
    } else {
        format!(
            "a value of the wrong type at line {} column {}",
            inner.line(),
            inner.column()
        )
    };
    Err(Rejection {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "invalid_body",
        message: format!("{}{problem}", location(error.path())),
    })
}

/// Where a typed parse failed, as a message's prefix (`metadata.tags[2]: `; none for the
/// whole input). Keys are the client's: a long one, or deep nesting, is shown cut short.
fn location(path: &serde_path_to_error::Path) -> String {
    match path.to_string().as_str() {
        "." => String::new(),
        path => format!("{}: ", message::excerpt(path)),
    }
}

fn malformed(syntax: serde_json::Error) -> Rejection {
    Rejection {
        status: StatusCode::BAD_REQUEST,
        code: "malformed_json",
        message: format!("the body is not JSON we can read: {syntax}"),
    }
}

/// The answer to a body whose scan found `\u0000`: named when the body parses as JSON; when
/// it does not, the typed parse's own rejection (the escape sat in invalid JSON).
fn refuse_nul<T: DeserializeOwned>(bytes: &[u8]) -> Rejection {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(document) => Rejection::nul(text::find_nul(&document).as_deref().unwrap_or("the body")),
        Err(_) => match parse::<T>(bytes) {
            Err(rejection) => rejection,
            Ok(_) => Rejection::nul("the body"),
        },
    }
}

/// axum's rule (its own check is private): `application/json` or `application/*+json`,
/// parameters ignored, case-insensitive.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(Ok(content_type)) = headers.get(header::CONTENT_TYPE).map(|v| v.to_str()) else {
        return false;
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let subtype = subtype.to_ascii_lowercase();
    kind.eq_ignore_ascii_case("application")
        && (subtype == "json" || subtype.len() > "+json".len() && subtype.ends_with("+json"))
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters extractor.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Rejection;

    /// Checks the percent-decoded parameters (`%00` decodes to NUL) before the typed parse.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Undecodable parameters fall through to axum's own rejection below.
        if let Ok(params) = RawPathParams::from_request_parts(parts, state).await
            && let Some((name, _)) = params.iter().find(|(_, value)| value.contains('\0'))
        {
            return Err(Rejection::nul(&format!("path parameter `{name}`")));
        }
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// Query string extractor.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if parts.uri.query().is_some_and(text::query_has_nul) {
            return Err(Rejection::nul(&query_field(&parts.uri)));
        }
        // axum's parse, with the parameter's name cut short: a name is the client's too.
        let query = parts.uri.query().unwrap_or_default();
        let parameters =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(parameters)
            .map(Self)
            .map_err(|error| Rejection {
                status: StatusCode::BAD_REQUEST,
                code: "invalid_query",
                message: format!("query string: {}{}", location(error.path()), error.inner()),
            })
    }
}

/// Which query parameter held the NUL, decoded as axum decodes it.
fn query_field(uri: &Uri) -> String {
    let pairs = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|query| query.0)
        .unwrap_or_default();
    match pairs
        .iter()
        .find(|(name, value)| name.contains('\0') || value.contains('\0'))
    {
        Some((name, _)) if name.contains('\0') => "a query parameter name".to_owned(),
        Some((name, _)) => format!("query parameter `{name}`"),
        None => "the query string".to_owned(),
    }
}

pub mod calendar;

/// Serde `deserialize_with` for a nullable PATCH field (with `#[serde(default)]`): tells a
/// field sent as `null` (`Some(None)`: clear it) from one not sent (`None`: keep it).
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

/// Serde `deserialize_with` helpers for integer fields, read as JSON Schema (and so the
/// OpenAPI documents) defines an integer: a number without a fractional part, so `3` and
/// `3.0` alike. serde alone refuses `3.0` for an `i32`, which would turn a schema-valid
/// request into a 422.
pub mod whole_number {
    use serde::{Deserialize, Deserializer};

    fn convert<T: TryFrom<i64>, E: serde::de::Error>(number: serde_json::Number) -> Result<T, E> {
        let whole = match number.as_i64() {
            Some(whole) => Some(whole),
            None => number
                .as_f64()
                .filter(|value| value.fract() == 0.0 && value.abs() < 9.0e18)
                .map(|value| value as i64),
        };
        whole
            .and_then(|whole| T::try_from(whole).ok())
            .ok_or_else(|| {
                E::custom(format!(
                    "invalid value: {number}, expected an integer in range"
                ))
            })
    }

    /// A required integer.
    pub fn required<'de, D: Deserializer<'de>, T: TryFrom<i64>>(d: D) -> Result<T, D::Error> {
        convert(serde_json::Number::deserialize(d)?)
    }

    /// An optional integer (`null` or absent: `None`; pair with `#[serde(default)]`).
    pub fn optional<'de, D: Deserializer<'de>, T: TryFrom<i64>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        Option::<serde_json::Number>::deserialize(d)?
            .map(convert)
            .transpose()
    }

    /// A nullable PATCH field: absent `None` (with `#[serde(default)]`), `null` `Some(None)`.
    pub fn patch<'de, D: Deserializer<'de>, T: TryFrom<i64>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        optional(d).map(Some)
    }

    #[cfg(test)]
    mod tests {
        use serde::Deserialize;

        #[derive(Debug, Deserialize)]
        struct Edit {
            #[serde(deserialize_with = "super::required")]
            version: i32,
            #[serde(default, deserialize_with = "super::optional")]
            limit: Option<usize>,
            #[serde(default, deserialize_with = "super::patch")]
            estimate: Option<Option<i32>>,
        }

        fn parse(json: &str) -> Result<Edit, serde_json::Error> {
            serde_json::from_str(json)
        }

        #[test]
        fn integers_may_be_written_with_a_zero_fraction() {
            let edit = parse(r#"{"version": 3.0, "limit": 10.0, "estimate": 2}"#).unwrap();
            assert_eq!(
                (edit.version, edit.limit, edit.estimate),
                (3, Some(10), Some(Some(2)))
            );
            let edit = parse(r#"{"version": 3, "estimate": null}"#).unwrap();
            assert_eq!((edit.limit, edit.estimate), (None, Some(None)));
            assert_eq!(parse(r#"{"version": 3}"#).unwrap().estimate, None);
        }

        #[test]
        fn fractions_and_out_of_range_numbers_are_refused() {
            for bad in [
                r#"{"version": 3.5}"#,
                r#"{"version": 4294967296}"#,
                r#"{"version": 1e300}"#,
                r#"{"version": 1, "limit": -1}"#,
                r#"{"version": "3"}"#,
            ] {
                assert!(parse(bad).is_err(), "{bad}");
            }
        }
    }
}

#[cfg(test)]
mod tests;
