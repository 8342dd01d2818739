//! OpenAPI pieces every service's spec shares: the error body, bearer authentication, the
//! answers the shared layers give before any handler runs ([`document_shared_answers`]),
//! and the schema of text that must not be blank ([`non_blank_text`]).

use utoipa::{
    Modify, ToSchema,
    openapi::{
        Object, ObjectBuilder, OpenApi, Ref, RefOr, Type,
        path::{Operation, ParameterIn},
        response::{Response, ResponseBuilder},
        schema::SchemaType,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

/// The characters `str::trim` drops (Unicode `White_Space`) as the inside of an ECMA-262
/// character class, for the patterns that state a trimming rule. JSON Schema's `\s` is not
/// the same set (it has U+FEFF and lacks U+0085), so they are spelled out. A macro rather
/// than a const, so that `concat!` can build patterns from it.
#[macro_export]
macro_rules! trimmed_white_space {
    () => {
        "\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
    };
}

/// Something besides white space, somewhere: the pattern of text that must not be blank
/// once trimmed.
pub const NOT_BLANK: &str = concat!("[^", trimmed_white_space!(), "]");

/// A string of 1 to `max_chars` characters as sent (`None`: no maximum), not only white
/// space: the schema of the input the services trim and refuse when blank. Add the field's
/// description and examples; a `#[schema(schema_with = ...)]` function builds it.
pub fn non_blank_text(max_chars: Option<usize>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(max_chars)
        .pattern(Some(NOT_BLANK))
}

/// [`non_blank_text`] of at most `MAX_CHARS` for an optional field, one that may be `null`
/// too (a PATCH body's), without a description: `#[schema(schema_with =
/// platform::openapi::optional_non_blank_text::<200>)]`.
pub fn optional_non_blank_text<const MAX_CHARS: usize>() -> Object {
    non_blank_text(Some(MAX_CHARS))
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .build()
}

/// Every error: `{"error": {"code": "...", "message": "..."}}`. Branch on `code`.
#[derive(ToSchema)]
pub struct ApiErrorBody {
    pub error: ApiErrorDetail,
}

#[derive(ToSchema)]
pub struct ApiErrorDetail {
    /// Stable snake_case identifier, e.g. `invalid_credentials`.
    #[schema(example = "invalid_credentials")]
    pub code: String,
    /// Human-readable explanation; never contains internals.
    pub message: String,
}

/// The 401 every endpoint behind a bearer token can answer, described once for all services.
#[derive(utoipa::IntoResponses)]
#[response(status = 401, description = "missing, invalid or expired token")]
pub struct Unauthenticated(pub ApiErrorBody);

/// Declares the `bearer` security scheme: EdDSA access tokens from the auth service.
pub struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT (EdDSA, 15 min); keys at /.well-known/jwks.json")
                    .build(),
            ),
        );
    }
}

/// Adds to every operation of `doc` the answers the shared extractors and layers give before
/// its handler runs, where the handler's own `responses(...)` do not name that status already:
///
/// - a path or query parameter: 400 (`invalid_path`, `invalid_query`: it does not parse) and
///   422 (`invalid_text`: it holds a NUL);
/// - a JSON body: 400 `malformed_json`, 413 `payload_too_large`, 415
///   `unsupported_media_type`, 422 (`invalid_body`: wrong fields or types; `invalid_text`);
/// - bearer security: 401 (missing, invalid or expired token, or an ended session) and 503
///   (`auth_unavailable`: the session check cannot reach the database).
///
/// Call it on the merged document, after every feature's fragment is in.
pub fn document_shared_answers(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
        {
            document_operation(operation);
        }
    }
}

fn document_operation(operation: &mut Operation) {
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let has_parameters = parameters
        .iter()
        .any(|p| matches!(p.parameter_in, ParameterIn::Path | ParameterIn::Query));
    let json_body = operation
        .request_body
        .as_ref()
        .is_some_and(|body| body.content.keys().any(|kind| kind.contains("json")));
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    let mut answers: Vec<(&str, &str)> = Vec::new();
    match (has_parameters, json_body) {
        (true, true) => {
            answers.push(("400", "invalid_path, invalid_query or malformed_json"));
            answers.push((
                "422",
                "invalid_body, invalid_text, or a field breaks a rule",
            ));
        }
        (true, false) => {
            answers.push((
                "400",
                "invalid_path or invalid_query: a parameter does not parse",
            ));
            answers.push(("422", "invalid_text: a parameter holds a NUL character"));
        }
        (false, true) => {
            answers.push(("400", "malformed_json"));
            answers.push((
                "422",
                "invalid_body, invalid_text, or a field breaks a rule",
            ));
        }
        (false, false) => {}
    }
    if json_body {
        answers.push(("413", "payload_too_large: the body is over the size limit"));
        answers.push((
            "415",
            "unsupported_media_type: the body is not application/json",
        ));
    }
    if secured {
        answers.push((
            "401",
            "missing_token, invalid_token, token_expired or session_revoked",
        ));
        answers.push((
            "503",
            "auth_unavailable: the session store cannot be reached; see Retry-After",
        ));
    }
    for (status, description) in answers {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| error_answer(description));
    }
}

/// A response carrying the shared error body.
fn error_answer(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ApiErrorBody")))
                    .build(),
            )
            .build(),
    )
}
