//! Export and import of documents as NDJSON: the routes and their OpenAPI fragment (the
//! work is in [`crate::transfer`]).

use authn::AuthUser;
use axum::{
    Router,
    body::Body,
    extract::{DefaultBodyLimit, FromRequestParts, State},
    http::{HeaderMap, HeaderValue, header, request::Parts},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use platform::{extract::Query, openapi::ApiErrorBody};
use serde::Deserialize;
use utoipa::OpenApi;
use uuid::Uuid;

use crate::{
    config::MemoryConfig,
    error::{
        ApiError,
        documented::{AdminsOnly, Unauthenticated},
    },
    state::AppState,
    transfer::{
        NDJSON,
        import::{ImportError, MAX_IMPORT_BYTES},
        record::DocumentRecord,
        report::ImportReport,
    },
};

pub fn router(config: &MemoryConfig) -> Router<AppState> {
    Router::new()
        .route("/api/memory/export", get(export))
        .route(
            "/api/memory/import",
            // The body is read as a stream, against MAX_IMPORT_BYTES; this lifts the
            // service-wide limit for extractors that would buffer it. Its work grows with
            // the body, so it gets a deadline of its own instead of REQUEST_TIMEOUT_SECS.
            post(import).layer((
                DefaultBodyLimit::max(MAX_IMPORT_BYTES),
                platform::http::allow_up_to(config.import_timeout()),
            )),
        )
}

#[derive(OpenApi)]
#[openapi(
    paths(export, import),
    components(schemas(DocumentRecord, ImportReport)),
    tags((name = "transfer", description = "Export your documents, import them elsewhere"))
)]
pub struct Api;

/// Whose documents: yours (the default) or, for admins, the shared ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferScope {
    #[default]
    Mine,
    Shared,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TransferQuery {
    /// `mine` (default) or `shared` (admins only).
    #[param(inline)]
    scope: Option<TransferScope>,
}

/// The caller of an export or import, and whose documents it moves: the caller's own, or for
/// an admin asking `?scope=shared`, the shared ones (`owner_id` `None`). Extracted in the
/// order a handler would take them: the token first, then the query.
pub struct Transfer {
    user: AuthUser,
    owner_id: Option<Uuid>,
}

impl FromRequestParts<AppState> for Transfer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let user = AuthUser::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Query(query) = Query::<TransferQuery>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let owner_id = owner(&user, &query).map_err(IntoResponse::into_response)?;
        Ok(Self { user, owner_id })
    }
}

/// Whose documents `user` may move with `query`: their own, or nobody's (shared) for an admin.
fn owner(user: &AuthUser, query: &TransferQuery) -> Result<Option<Uuid>, ApiError> {
    match query.scope.unwrap_or_default() {
        TransferScope::Mine => Ok(Some(user.user_id)),
        TransferScope::Shared if user.role.is_admin() => {
            user.require_aal2()?;
            Ok(None)
        }
        TransferScope::Shared => Err(ApiError::Forbidden(
            "only admins export or import shared documents",
        )),
    }
}

#[utoipa::path(get, path = "/api/memory/export", tag = "transfer", security(("bearer" = [])),
    params(TransferQuery),
    responses(
        (status = 200, description = "your documents (or the shared ones), oldest first, one \
            DocumentRecord per line with its chunks; a body that breaks off before its end is \
            an export that failed midway, or that the client stopped reading for \
            REQUEST_TIMEOUT_SECS", content_type = "application/x-ndjson", body = DocumentRecord),
        (status = 400, description = "invalid_query: scope is neither mine nor shared", body = ApiErrorBody),
        (status = 503, description = "export_busy: as many exports as the service runs at \
            once (a quarter of DB_POOL_SIZE) are under way; see Retry-After", body = ApiErrorBody),
        Unauthenticated, AdminsOnly))]
pub async fn export(
    State(state): State<AppState>,
    Transfer { owner_id, .. }: Transfer,
) -> Result<Response, ApiError> {
    let slot = state.exports.try_take().ok_or(ApiError::ExportBusy)?;
    let stall_limit = state.common.request_timeout();
    let body = crate::transfer::export::export(&state.pool, owner_id, stall_limit, slot).await?;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(NDJSON)),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"memory-export.ndjson\""),
        ),
    ];
    Ok((headers, body).into_response())
}

#[utoipa::path(post, path = "/api/memory/import", tag = "transfer", security(("bearer" = [])),
    params(TransferQuery),
    request_body(content = DocumentRecord, content_type = "application/x-ndjson",
        description = "One DocumentRecord per line, as the export writes them; up to 256 MiB"),
    responses(
        (status = 200, description = "what each line became: counts, and the first 100 \
            errors and notices with their line numbers (a line whose ids are another \
            owner's documents' is stored as a copy: notice stored_under_new_id with its \
            new_id)", body = ImportReport),
        (status = 400, description = "invalid_query: scope is neither mine nor shared; \
            upload_interrupted: the body broke off (the lines read before it are kept)", body = ApiErrorBody),
        (status = 413, description = "payload_too_large: the body is over 256 MiB (the lines \
            read before the limit are kept)", body = ApiErrorBody),
        (status = 415, description = "unsupported_media_type: not application/x-ndjson", body = ApiErrorBody),
        Unauthenticated, AdminsOnly))]
pub async fn import(
    State(state): State<AppState>,
    Transfer { user, owner_id }: Transfer,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<ImportReport>, ImportError> {
    if !is_ndjson(&headers) {
        return Err(ImportError::UnsupportedMediaType);
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_IMPORT_BYTES as u64) {
        return Err(ImportError::TooLarge {
            lines_read: 0,
            imported: 0,
        });
    }
    let report = crate::transfer::import::import(&state, &user, owner_id, body).await?;
    Ok(axum::Json(report))
}

/// `application/x-ndjson` (or its other names, `application/jsonl`, `application/json-lines`),
/// parameters ignored.
fn is_ndjson(headers: &HeaderMap) -> bool {
    let Some(Ok(content_type)) = headers.get(header::CONTENT_TYPE).map(|v| v.to_str()) else {
        return false;
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    [
        "application/x-ndjson",
        "application/jsonl",
        "application/json-lines",
    ]
    .iter()
    .any(|known| essence.eq_ignore_ascii_case(known))
}
