//! Reading a legacy Qdrant collection over gRPC: every point with its payload (the record),
//! without its vector (re-embedded with the configured model anyway).

use std::time::Duration;

use qdrant_client::{
    Qdrant, QdrantError,
    qdrant::{PointId as GrpcPointId, ScrollPointsBuilder, point_id::PointIdOptions},
};
use serde_json::Value;
use uuid::Uuid;

use super::{ImportError, Location, PointId, RawRecord};

/// Points asked for per page.
const PAGE: u32 = 256;

/// Where the legacy points are.
#[derive(Debug, Clone)]
pub struct QdrantSource {
    /// The gRPC URL, e.g. `http://localhost:6334`.
    pub url: String,
    pub collection: String,
    pub api_key: Option<String>,
}

/// Every point of the collection, in Qdrant's order; `progress` hears the running count.
pub async fn read(
    source: &QdrantSource,
    progress: impl Fn(usize),
) -> Result<Vec<RawRecord>, ImportError> {
    let client = connect(source)?;
    let mut records = Vec::new();
    let mut offset: Option<GrpcPointId> = None;
    loop {
        let mut request = ScrollPointsBuilder::new(&source.collection)
            .limit(PAGE)
            .with_payload(true)
            .with_vectors(false);
        if let Some(offset) = offset.clone() {
            request = request.offset(offset);
        }
        let page = client
            .scroll(request)
            .await
            .map_err(|error| explain(source, &error))?;
        for point in page.result {
            let id = point_id(point.id).map_err(|message| {
                ImportError::Source(format!("Qdrant at {}: {message}", source.url))
            })?;
            let payload = vector::grpc::payload_from(point.payload);
            records.push(RawRecord {
                at: Location::Point(id),
                value: Ok(Value::Object(payload)),
            });
        }
        progress(records.len());
        match page.next_page_offset {
            // A server answering the same page forever would loop: refuse it.
            Some(next) if Some(&next) == offset.as_ref() => {
                return Err(ImportError::Source(format!(
                    "Qdrant at {} answered the same page twice; giving up",
                    source.url
                )));
            }
            Some(next) => offset = Some(next),
            None => return Ok(records),
        }
    }
}

fn connect(source: &QdrantSource) -> Result<Qdrant, ImportError> {
    let bad_url = |why: &str| {
        ImportError::Source(format!(
            "--qdrant-url `{}` {why}: give the gRPC URL, e.g. http://localhost:6334",
            source.url
        ))
    };
    let url = url::Url::parse(&source.url)
        .map_err(|error| bad_url(&format!("is not a URL ({error})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad_url("is not an http(s) URL with a host"));
    }
    vector::validate_collection_name(&source.collection)
        .map_err(|error| ImportError::Source(format!("--collection: {error}")))?;
    let mut builder = Qdrant::from_url(&source.url)
        .timeout(Duration::from_secs(60))
        .connect_timeout(Duration::from_secs(10))
        // The built-in check prints to stdout; a failing scroll says what is wrong instead.
        .skip_compatibility_check();
    if let Some(key) = &source.api_key {
        builder = builder.api_key(key.clone());
    }
    builder
        .build()
        .map_err(|error| bad_url(&format!("cannot be used ({error})")))
}

fn point_id(id: Option<GrpcPointId>) -> Result<PointId, String> {
    match id.and_then(|id| id.point_id_options) {
        Some(PointIdOptions::Num(number)) => Ok(PointId::Num(number)),
        Some(PointIdOptions::Uuid(text)) => Uuid::parse_str(&text)
            .map(PointId::Uuid)
            .map_err(|_| format!("point id `{text}` is neither a number nor a UUID")),
        None => Err("a point without an id".into()),
    }
}

/// The failure as one line an operator can act on.
fn explain(source: &QdrantSource, error: &QdrantError) -> ImportError {
    let at = format!("Qdrant at {}", source.url);
    let status = match error {
        QdrantError::ResponseError { status }
        | QdrantError::ResourceExhaustedError { status, .. } => status,
        other => return ImportError::Source(format!("{at}: {other}")),
    };
    let message = status.message();
    // qdrant-client reports a refused connection as `Internal: Failed to connect ...`.
    let unreachable = message.starts_with("Failed to connect");
    let line = match status.code() {
        _ if unreachable => {
            format!("cannot reach {at} over gRPC (Qdrant's gRPC port is usually 6334): {message}")
        }
        tonic::Code::NotFound => {
            format!("{at} has no collection `{}` ({message})", source.collection)
        }
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown => {
            format!("cannot reach {at} over gRPC (Qdrant's gRPC port is usually 6334): {message}")
        }
        tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => {
            format!("{at} refused the request: check --qdrant-api-key ({message})")
        }
        code => format!("{at}: {code:?}: {message}"),
    };
    ImportError::Source(line)
}
