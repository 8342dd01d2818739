//! `GET` (and `HEAD`) `.../files/{path}`: the bytes streamed from the store, resumable and
//! revalidatable. The `ETag` is the quoted SHA-256 of the bytes and a digest of the
//! `Content-Type` ([`entity_tag`]), a strong validator: stored bytes never change, so it
//! names exactly one representation.
//!
//! Preconditions are evaluated in RFC 9110 §13.2.2 order: `If-None-Match` (weak comparison)
//! first, then `If-Range` (strong), then `Range`. One satisfiable range is answered with
//! 206; several with the whole file (200, which the RFC allows), since multipart/byteranges
//! buys nothing for files of at most 10 MiB. A malformed `Range` is ignored (200), an
//! unsatisfiable one is 416.

use std::{io, ops::RangeInclusive};

use authn::AuthUser;
use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use db::ids::ProjectId;
use headers::{ETag, HeaderMapExt, IfNoneMatch, IfRange};
use http_range_header::RangeUnsatisfiableError;
use platform::extract::{Path, Query};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{DEFAULT_CONTENT_TYPE, FileAt, file_path};
use crate::error::documented::Unauthenticated;
use crate::{access::readable, error::ApiError, state::AppState, validate};

const FILE_VERSION: HeaderName = HeaderName::from_static("x-file-version");

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// A specific version; the latest when absent. Below 1 is 422 `invalid_version`.
    #[param(minimum = 1)]
    pub version: Option<i32>,
}

#[utoipa::path(
    get,
    path = "/api/projects/{project_id}/files/{path}",
    tag = "files",
    security(("bearer" = [])),
    params(
        FileAt,
        DownloadQuery,
        ("Range" = Option<String>, Header, description = "One byte range: `bytes=0-99`, `bytes=100-` or `bytes=-100`. Several ranges get the whole file (200); a malformed header is ignored."),
        ("If-None-Match" = Option<String>, Header, description = "ETags (or `*`) the client holds; a (weakly) matching one gives 304."),
        ("If-Range" = Option<String>, Header, description = "The ETag the client's partial copy has: the range is served only while it is still current, else the whole file.")
    ),
    responses(
        (status = 200, description = "The whole file, as an attachment with `nosniff`", content_type = "application/octet-stream", headers(
            ("ETag" = String, description = "The quoted SHA-256 of the bytes, a dash and 16 hex digits naming the Content-Type"),
            ("Accept-Ranges" = String, description = "`bytes`"),
            ("Content-Length" = u64, description = "The file's size"),
            ("X-File-Version" = i32, description = "The version served")
        )),
        (status = 206, description = "The requested range", content_type = "application/octet-stream", headers(
            ("Content-Range" = String, description = "`bytes first-last/size`"),
            ("ETag" = String, description = "The whole file's ETag, as a 200 would carry"),
            ("Accept-Ranges" = String, description = "`bytes`"),
            ("Content-Length" = u64, description = "The range's length"),
            ("X-File-Version" = i32, description = "The version served")
        )),
        (status = 304, description = "Not modified: an `If-None-Match` ETag matches; no body", headers(
            ("ETag" = String, description = "The quoted SHA-256 of the bytes, a dash and 16 hex digits naming the Content-Type")
        )),
        (status = 404, description = "not_found: no such project (or not yours), file or version", body = platform::openapi::ApiErrorBody),
        (status = 422, description = "invalid_version: a version below 1; invalid_file_path; invalid_text", body = platform::openapi::ApiErrorBody),
        (status = 416, description = "range_not_satisfiable: the range starts at or beyond the end", body = platform::openapi::ApiErrorBody, headers(
            ("Content-Range" = String, description = "`bytes */size`")
        )),
        Unauthenticated
    )
)]
/// The bytes, as an attachment with `nosniff`: uploaded HTML must not run as our origin.
pub async fn download(
    State(state): State<AppState>,
    user: AuthUser,
    Path((project_id, path)): Path<(ProjectId, String)>,
    Query(query): Query<DownloadQuery>,
    request: HeaderMap,
) -> Result<Response, ApiError> {
    readable(&state.pool, &user, project_id).await?;
    let path = file_path(&path)?;
    let version = query.version.map(validate::version).transpose()?;
    let file = db::projects::files::find(&state.pool, project_id, &path, version)
        .await?
        .ok_or(ApiError::NotFound("file"))?;
    let content_type = HeaderValue::from_str(&file.mime_type)
        .unwrap_or(HeaderValue::from_static(DEFAULT_CONTENT_TYPE));
    let etag_value = HeaderValue::from_str(&entity_tag(&file.sha256, &content_type))
        .map_err(ApiError::internal)?;
    let etag: ETag = etag_value
        .to_str()
        .map_err(ApiError::internal)?
        .parse()
        .map_err(|_| ApiError::internal("a stored sha256 is not an entity tag"))?;
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, etag_value);
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(FILE_VERSION, HeaderValue::from(file.version));

    if request
        .typed_get::<IfNoneMatch>()
        .is_some_and(|tags| !tags.precondition_passes(&etag))
    {
        // The length a 200 would have (RFC 9110 §8.6), set so nothing fills in a zero.
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(file.size_bytes));
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }

    // Stored bytes never change, so the row's size is the object's: the range is chosen from
    // it, and the object's own size checked against it once opened.
    let size = u64::try_from(file.size_bytes).map_err(ApiError::internal)?;
    let (status, range) = match wanted(&request, &etag, size) {
        Wanted::Whole => (StatusCode::OK, None),
        Wanted::Part(range) => {
            let (first, last) = range.into_inner();
            let content_range = format!("bytes {first}-{last}/{size}");
            headers.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&content_range).map_err(ApiError::internal)?,
            );
            (StatusCode::PARTIAL_CONTENT, Some(first..last + 1))
        }
        Wanted::Unsatisfiable => return Ok(unsatisfiable(headers, size)),
    };
    let length = range.as_ref().map_or(size, |range| range.end - range.start);
    let opened = match state.files.open(&file.storage_key, range).await {
        Ok(opened) => opened,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(vanished(&state, &file.storage_key, error).await);
        }
        Err(error) => return Err(error.into()),
    };
    if opened.size != size {
        return Err(ApiError::Internal(format!(
            "{} holds {} bytes, its row says {size}",
            file.storage_key, opened.size
        )));
    }
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Read as the client takes it, a chunk (at most 64 KiB) at a time: never the whole file
    // in memory, whichever store it comes from.
    let body = Body::from_stream(opened.body);
    Ok((status, headers, body).into_response())
}

/// Why the bytes a row named were not in the store. A delete that committed after the row
/// was read removes its bytes right after: the file is gone, as it would be for a request
/// a moment later (404). Bytes missing while a row still names them are the store's fault.
async fn vanished(state: &AppState, storage_key: &str, error: io::Error) -> ApiError {
    match db::projects::files::is_referenced(&state.pool, storage_key).await {
        Ok(false) => ApiError::NotFound("file"),
        Ok(true) => ApiError::Internal(format!("{storage_key} is referenced but missing: {error}")),
        Err(error) => error.into(),
    }
}

/// The entity tag of what a GET answers: the bytes' SHA-256, then the first 16 hex digits
/// of the SHA-256 of the `Content-Type` served. Those two are all that differs between
/// versions' answers, so the same bytes uploaded again under another type get another tag
/// (a client revalidating must get the new type, not 304), and stored bytes never change,
/// so the tag is strong.
fn entity_tag(sha256: &str, content_type: &HeaderValue) -> String {
    let type_digest = format!("{:x}", Sha256::digest(content_type.as_bytes()));
    format!("\"{sha256}-{}\"", &type_digest[..16])
}

/// What of the file the request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Wanted {
    Whole,
    Part(RangeInclusive<u64>),
    Unsatisfiable,
}

/// Reads `Range` (and `If-Range`) against a file of `size` bytes whose ETag is `etag`.
fn wanted(request: &HeaderMap, etag: &ETag, size: u64) -> Wanted {
    let mut ranges = request.get_all(header::RANGE).iter();
    let (Some(range), None) = (ranges.next(), ranges.next()) else {
        return Wanted::Whole;
    };
    // A partial copy of another version must not be completed with this one's bytes: the
    // range applies only while the client's ETag is still current (strong comparison, so a
    // weak or unreadable `If-Range` never matches).
    if request.contains_key(header::IF_RANGE)
        && request
            .typed_get::<IfRange>()
            .is_none_or(|if_range| if_range.is_modified(Some(etag), None))
    {
        return Wanted::Whole;
    }
    let Ok(range) = range.to_str() else {
        return Wanted::Whole;
    };
    match http_range_header::parse_range_header(range).and_then(|ranges| ranges.validate(size)) {
        Ok(ranges) => match <[_; 1]>::try_from(ranges) {
            Ok([range]) => Wanted::Part(range),
            // Several ranges, or a suffix range of an empty file (nothing to point at).
            Err(_) => Wanted::Whole,
        },
        Err(RangeUnsatisfiableError::Unsatisfiable) => Wanted::Unsatisfiable,
        // Malformed, or more ranges than we tolerate: a server may always ignore `Range`.
        Err(_) => Wanted::Whole,
    }
}

/// 416 with the size the client can aim at, in the shared error shape.
fn unsatisfiable(headers: HeaderMap, size: u64) -> Response {
    let message = format!("the range starts at or beyond the end of the file ({size} bytes)");
    let mut response = platform::error::error_response(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range_not_satisfiable",
        &message,
    );
    response.headers_mut().extend(headers);
    let content_range =
        HeaderValue::from_str(&format!("bytes */{size}")).expect("digits are a valid header value");
    response
        .headers_mut()
        .insert(header::CONTENT_RANGE, content_range);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted_of(pairs: &[(&'static str, &'static str)], size: u64) -> Wanted {
        let mut request = HeaderMap::new();
        for (name, value) in pairs {
            request.append(*name, HeaderValue::from_static(value));
        }
        let etag: ETag = "\"abc\"".parse().expect("etag");
        wanted(&request, &etag, size)
    }

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        use Wanted::{Part, Unsatisfiable, Whole};
        type Case = (&'static [(&'static str, &'static str)], u64, Wanted);
        let cases: [Case; 14] = [
            (&[], 10, Whole),
            (&[("range", "bytes=0-0")], 10, Part(0..=0)),
            (&[("range", "bytes=9-9")], 10, Part(9..=9)),
            (&[("range", "bytes=5-")], 10, Part(5..=9)),
            (&[("range", "bytes=-3")], 10, Part(7..=9)),
            (&[("range", "bytes=-30")], 10, Part(0..=9)),
            (&[("range", "bytes=2-500")], 10, Part(2..=9)),
            (&[("range", "bytes=10-")], 10, Unsatisfiable),
            (&[("range", "bytes=0-")], 0, Unsatisfiable),
            (&[("range", "bytes=-5")], 0, Whole),
            (&[("range", "bytes=5-2")], 10, Whole),
            (&[("range", "lines=1-2")], 10, Whole),
            (&[("range", "bytes=0-1,4-5")], 10, Whole),
            (&[("range", "bytes=0-1"), ("range", "bytes=2-3")], 10, Whole),
        ];
        for (headers, size, expected) in cases {
            assert_eq!(wanted_of(headers, size), expected, "{headers:?} of {size}");
        }
    }

    #[test]
    fn if_range_needs_the_current_etag_strongly() {
        let range = ("range", "bytes=0-1");
        assert_eq!(
            wanted_of(&[range, ("if-range", "\"abc\"")], 10),
            Wanted::Part(0..=1)
        );
        for stale in ["\"old\"", "W/\"abc\"", "not an etag"] {
            let if_range = HeaderValue::from_str(stale).expect("value");
            let mut request = HeaderMap::new();
            request.insert(header::RANGE, HeaderValue::from_static("bytes=0-1"));
            request.insert(header::IF_RANGE, if_range);
            let etag: ETag = "\"abc\"".parse().expect("etag");
            assert_eq!(wanted(&request, &etag, 10), Wanted::Whole, "{stale}");
        }
    }
}
