//! The model/dimension guard: a collection remembers which embedding model and dimension
//! filled it, and opening it with another refuses to start instead of mixing vectors. It
//! remembers its payload indexes too: a build that indexes a field another way (e.g. `owner`
//! as a UUID instead of a keyword) may also write that field another way, so it refuses a
//! collection laid out for another build rather than miss the points written the old way.
//!
//! The identity lives in the collection's own metadata (Qdrant ≥ 1.16 stores arbitrary JSON
//! per collection; the embedded backend keeps it in `collection.json`), next to the vector
//! size and distance the engine itself enforces. A collection without that metadata (made by
//! hand, or by a Qdrant that drops metadata) is refused too: fail closed.

use std::fmt;

use serde_json::Value;

use crate::{
    CollectionInfo, CollectionParams, CollectionSpec, Distance, Payload, VectorError, VectorIndex,
    validate_collection_name,
};

/// The command that rebuilds a collection from the chunks in PostgreSQL with the configured
/// model (provided by the memory service).
pub const REINDEX_COMMAND: &str = "just reindex";

/// Collection metadata keys.
pub const METADATA_MODEL: &str = "embedding_model";
pub const METADATA_DIMENSION: &str = "embedding_dimension";
pub const METADATA_MANAGED_BY: &str = "managed_by";
/// The payload indexes, as [`payload_layout`] writes them.
pub const METADATA_PAYLOAD_INDEXES: &str = "payload_indexes";

/// Creates the collection if it is missing, otherwise checks it was built from the same
/// model, dimension and distance; then makes sure the payload indexes exist.
pub async fn ensure_collection<I: VectorIndex + ?Sized>(
    index: &I,
    spec: &CollectionSpec,
) -> Result<(), VectorError> {
    validate_collection_name(&spec.name)?;
    if spec.dimension == 0 || spec.embedding_model.is_empty() {
        return Err(VectorError::InvalidRequest(
            "a collection needs an embedding model name and a dimension above 0".into(),
        ));
    }
    match index.collection_info(&spec.name).await? {
        Some(info) => check(spec, &info)?,
        None => match index.create_collection(&spec.name, &params_for(spec)).await {
            Ok(()) => {}
            // Another process created it between our look and our create: check theirs.
            Err(VectorError::CollectionExists(_)) => {
                let info = index
                    .collection_info(&spec.name)
                    .await?
                    .ok_or_else(|| VectorError::UnknownCollection(spec.name.clone()))?;
                check(spec, &info)?;
            }
            Err(error) => return Err(error),
        },
    }
    for field in &spec.payload_indexes {
        index.create_payload_index(&spec.name, field).await?;
    }
    Ok(())
}

/// The parameters (and identity metadata) a collection for `spec` is created with.
pub fn params_for(spec: &CollectionSpec) -> CollectionParams {
    let mut metadata = Payload::new();
    metadata.insert(METADATA_MODEL.into(), spec.embedding_model.clone().into());
    metadata.insert(METADATA_DIMENSION.into(), spec.dimension.into());
    metadata.insert(METADATA_MANAGED_BY.into(), "devmentor".into());
    metadata.insert(METADATA_PAYLOAD_INDEXES.into(), payload_layout(spec).into());
    CollectionParams {
        dimension: spec.dimension,
        distance: spec.distance,
        metadata,
    }
}

/// The payload indexes of `spec` in one comparable line, by field name, e.g.
/// `owner:uuid,tags:keyword`.
pub fn payload_layout(spec: &CollectionSpec) -> String {
    let mut fields: Vec<String> = spec
        .payload_indexes
        .iter()
        .map(|field| format!("{}:{}", field.name, field.kind.as_str()))
        .collect();
    fields.sort();
    fields.join(",")
}

/// Compares a stored collection with what this process is configured for.
pub fn check(spec: &CollectionSpec, info: &CollectionInfo) -> Result<(), VectorError> {
    let stored_model = info
        .params
        .metadata
        .get(METADATA_MODEL)
        .and_then(Value::as_str);
    let stored_dimension = info
        .params
        .metadata
        .get(METADATA_DIMENSION)
        .and_then(Value::as_u64)
        .and_then(|dimension| usize::try_from(dimension).ok());
    let stored = stored_model.zip(stored_dimension);
    let stored_payload_indexes = info
        .params
        .metadata
        .get(METADATA_PAYLOAD_INDEXES)
        .and_then(Value::as_str);
    let configured_payload_indexes = payload_layout(spec);
    let same = stored == Some((spec.embedding_model.as_str(), spec.dimension))
        && info.params.dimension == spec.dimension
        && info.params.distance == spec.distance
        && stored_payload_indexes == Some(configured_payload_indexes.as_str());
    if same {
        return Ok(());
    }
    Err(VectorError::EmbeddingMismatch(Box::new(
        EmbeddingMismatch {
            collection: spec.name.clone(),
            stored_model: stored.map(|(model, _)| model.to_owned()),
            stored_dimension: info.params.dimension,
            stored_distance: info.params.distance,
            configured_model: spec.embedding_model.clone(),
            configured_dimension: spec.dimension,
            configured_distance: spec.distance,
            stored_payload_indexes: stored_payload_indexes.map(str::to_owned),
            configured_payload_indexes,
        },
    )))
}

/// Why a collection cannot be used with the configured embedder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddingMismatch {
    pub collection: String,
    /// `None` when the collection carries no embedding metadata at all.
    pub stored_model: Option<String>,
    pub stored_dimension: usize,
    pub stored_distance: Distance,
    pub configured_model: String,
    pub configured_dimension: usize,
    pub configured_distance: Distance,
    /// `None` when the collection predates recorded payload layouts.
    pub stored_payload_indexes: Option<String>,
    pub configured_payload_indexes: String,
}

impl EmbeddingMismatch {
    /// Same vectors (model, dimension, distance); only the payload indexes differ.
    fn only_payload_differs(&self) -> bool {
        self.stored_model.as_deref() == Some(self.configured_model.as_str())
            && self.stored_dimension == self.configured_dimension
            && self.stored_distance == self.configured_distance
    }
}

impl fmt::Display for EmbeddingMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.only_payload_differs() {
            let stored = match &self.stored_payload_indexes {
                Some(layout) => format!("indexes its payload as `{layout}`"),
                None => "was created before collections recorded their payload indexes".into(),
            };
            return write!(
                f,
                "collection `{}` {stored}; this build indexes it as `{}` and writes its \
                 payloads to match. Rebuild the collection with `{REINDEX_COMMAND}` (the chunks \
                 in PostgreSQL are re-embedded and re-indexed)",
                self.collection, self.configured_payload_indexes
            );
        }
        let stored = match &self.stored_model {
            Some(model) => format!(
                "holds vectors from embedding model `{model}` ({} dimensions, {})",
                self.stored_dimension,
                self.stored_distance.as_str()
            ),
            None => format!(
                "has {} dimensions ({}) but no embedding metadata (not created by DevMentor, \
                 or by a Qdrant older than 1.16, which drops collection metadata)",
                self.stored_dimension,
                self.stored_distance.as_str()
            ),
        };
        write!(
            f,
            "collection `{}` {stored}; the configured embedder is `{}` ({} dimensions, {}). \
             Vectors from different models must not be mixed: rebuild the collection with \
             `{REINDEX_COMMAND}`, or set EMBEDDING_MODEL/EMBEDDING_DIM back to the stored model",
            self.collection,
            self.configured_model,
            self.configured_dimension,
            self.configured_distance.as_str()
        )
    }
}

impl std::error::Error for EmbeddingMismatch {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FieldKind, PayloadField};

    fn spec(model: &str, dimension: usize) -> CollectionSpec {
        CollectionSpec {
            name: "chunks".into(),
            embedding_model: model.into(),
            dimension,
            distance: Distance::Cosine,
            payload_indexes: Vec::new(),
        }
    }

    fn stored(spec: &CollectionSpec) -> CollectionInfo {
        CollectionInfo {
            params: params_for(spec),
            points: 0,
        }
    }

    #[test]
    fn same_model_and_dimension_pass() {
        let spec = spec("hash-v1", 384);
        assert!(check(&spec, &stored(&spec)).is_ok());
    }

    #[test]
    fn another_model_names_both_and_the_reindex_command() {
        let info = stored(&spec("hash-v1", 384));
        let error = check(&spec("nomic-embed-text", 384), &info).expect_err("model changed");
        let message = error.to_string();
        assert!(message.contains("`hash-v1`"), "{message}");
        assert!(message.contains("`nomic-embed-text`"), "{message}");
        assert!(message.contains(REINDEX_COMMAND), "{message}");
    }

    #[test]
    fn another_dimension_or_distance_is_refused() {
        let info = stored(&spec("m", 384));
        assert!(check(&spec("m", 768), &info).is_err());
        let mut dot = spec("m", 384);
        dot.distance = Distance::Dot;
        assert!(check(&dot, &info).is_err());
    }

    #[test]
    fn metadata_that_disagrees_with_the_vector_size_is_refused() {
        let spec = spec("m", 384);
        let mut info = stored(&spec);
        info.params.dimension = 768;
        assert!(check(&spec, &info).is_err());
    }

    #[test]
    fn another_payload_layout_is_refused_with_the_reindex_command() {
        let mut keyword = spec("m", 384);
        keyword.payload_indexes = vec![PayloadField::new("owner", FieldKind::Keyword)];
        let mut uuid = spec("m", 384);
        uuid.payload_indexes = vec![PayloadField::new("owner", FieldKind::Uuid)];
        let message = check(&uuid, &stored(&keyword))
            .expect_err("owner indexed another way")
            .to_string();
        assert!(message.contains("`owner:keyword`"), "{message}");
        assert!(message.contains("`owner:uuid`"), "{message}");
        assert!(message.contains(REINDEX_COMMAND), "{message}");

        // A collection from before payload layouts were recorded.
        let mut before = stored(&uuid);
        before.params.metadata.remove(METADATA_PAYLOAD_INDEXES);
        let message = check(&uuid, &before)
            .expect_err("unknown layout")
            .to_string();
        assert!(message.contains("before collections recorded"), "{message}");
        assert!(check(&uuid, &stored(&uuid)).is_ok());
    }

    #[test]
    fn collections_without_metadata_are_refused() {
        let spec = spec("m", 384);
        let mut info = stored(&spec);
        info.params.metadata.clear();
        let message = check(&spec, &info).expect_err("fail closed").to_string();
        assert!(message.contains("no embedding metadata"), "{message}");
    }
}
