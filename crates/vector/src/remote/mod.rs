//! The remote backend: a Qdrant server over gRPC (`qdrant-client`), with per-request
//! timeouts, retries on transient errors, `wait=true` writes in batches.

pub mod convert;
mod retry;

use std::collections::{HashMap, HashSet};
use std::sync::{PoisonError, RwLock};

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt, stream};
use qdrant_client::Qdrant;
use qdrant_client::qdrant::{
    self, points_selector::PointsSelectorOneOf, query::Variant as QueryVariant,
    vector_input::Variant as InputVariant,
};
use secrecy::ExposeSecret;
use uuid::Uuid;

use self::retry::{RetryPolicy, map_error};
use crate::types::{validate_limit, validate_new_collection, validate_vector};
use crate::{
    CollectionInfo, CollectionParams, Filter, PayloadField, Point, RemoteConfig, ScoredPoint,
    ScrollPage, ScrollRequest, SearchRequest, VectorError, VectorIndex, validate_collection_name,
};

/// Ids per delete request.
const DELETE_BATCH: usize = 1024;
/// Upsert requests of one call sent concurrently.
const UPSERTS_IN_FLIGHT: usize = 4;

/// A Qdrant server reached over gRPC.
pub struct RemoteIndex {
    client: Qdrant,
    config: RemoteConfig,
    retry: RetryPolicy,
    /// Vector sizes seen, so a wrong-size vector fails here with the same error as embedded.
    dimensions: RwLock<HashMap<String, usize>>,
}

impl std::fmt::Debug for RemoteIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteIndex")
            .field("url", &self.config.url)
            .finish_non_exhaustive()
    }
}

impl RemoteIndex {
    /// Builds the client; connections are made lazily, so this does not reach the server
    /// (use [`VectorIndex::health`] for that).
    pub fn connect(config: RemoteConfig) -> Result<Self, VectorError> {
        let mut builder = Qdrant::from_url(&config.url)
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .keep_alive_while_idle()
            // The built-in check prints to stdout and blocks; `health` reports instead.
            .skip_compatibility_check();
        if let Some(key) = &config.api_key {
            builder = builder.api_key(key.expose_secret().to_owned());
        }
        let client = builder
            .build()
            .map_err(|error| VectorError::Config(format!("Qdrant at {}: {error}", config.url)))?;
        Ok(Self {
            client,
            retry: RetryPolicy {
                max_retries: config.max_retries,
                base_delay: config.retry_base_delay,
            },
            config,
            dimensions: RwLock::new(HashMap::new()),
        })
    }

    async fn dimension(&self, collection: &str) -> Result<usize, VectorError> {
        let known = self
            .dimensions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(collection)
            .copied();
        match known {
            Some(dimension) => Ok(dimension),
            None => self
                .collection_info(collection)
                .await?
                .map(|info| info.params.dimension)
                .ok_or_else(|| VectorError::UnknownCollection(collection.to_owned())),
        }
    }

    fn remember(&self, collection: &str, dimension: Option<usize>) {
        let mut dimensions = self
            .dimensions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match dimension {
            Some(dimension) => dimensions.insert(collection.to_owned(), dimension),
            None => dimensions.remove(collection),
        };
    }

    /// Maps an error; a missing collection also drops its cached dimension.
    fn fail(&self, collection: &str, error: qdrant_client::QdrantError) -> VectorError {
        let error = map_error(error, collection);
        if matches!(error, VectorError::UnknownCollection(_)) {
            self.remember(collection, None);
        }
        error
    }

    async fn delete(
        &self,
        collection: &str,
        selector: PointsSelectorOneOf,
    ) -> Result<(), VectorError> {
        let request = qdrant::DeletePoints {
            collection_name: collection.to_owned(),
            wait: Some(true),
            points: Some(qdrant::PointsSelector {
                points_selector_one_of: Some(selector),
            }),
            ..qdrant::DeletePoints::default()
        };
        let response = self
            .retry
            .run(|| self.client.delete_points(request.clone()))
            .await
            .map_err(|error| self.fail(collection, error))?;
        convert::completed(response.result)
    }
}

#[async_trait]
impl VectorIndex for RemoteIndex {
    fn backend(&self) -> &'static str {
        "qdrant"
    }

    async fn health(&self) -> Result<(), VectorError> {
        self.client
            .health_check()
            .await
            .map(|_| ())
            .map_err(|error| {
                VectorError::Unavailable(format!("Qdrant at {}: {error}", self.config.url))
            })
    }

    async fn collection_info(&self, name: &str) -> Result<Option<CollectionInfo>, VectorError> {
        validate_collection_name(name)?;
        let response = self.retry.run(|| self.client.collection_info(name)).await;
        let info = match response.map_err(|error| self.fail(name, error)) {
            Ok(response) => response.result.unwrap_or_default(),
            Err(VectorError::UnknownCollection(_)) => return Ok(None),
            Err(error) => return Err(error),
        };
        let info = convert::collection_info(name, info)?;
        self.remember(name, Some(info.params.dimension));
        Ok(Some(info))
    }

    async fn create_collection(
        &self,
        name: &str,
        params: &CollectionParams,
    ) -> Result<(), VectorError> {
        validate_new_collection(name, params)?;
        let request = qdrant::CreateCollection {
            collection_name: name.to_owned(),
            vectors_config: Some(qdrant::VectorsConfig {
                config: Some(qdrant::vectors_config::Config::Params(
                    qdrant::VectorParams {
                        size: params.dimension as u64,
                        distance: convert::distance(params.distance).into(),
                        ..qdrant::VectorParams::default()
                    },
                )),
            }),
            metadata: convert::payload(params.metadata.clone()),
            ..qdrant::CreateCollection::default()
        };
        self.retry
            .run(|| self.client.create_collection(request.clone()))
            .await
            .map_err(|error| self.fail(name, error))?;
        self.remember(name, Some(params.dimension));
        Ok(())
    }

    async fn create_payload_index(
        &self,
        collection: &str,
        field: &PayloadField,
    ) -> Result<(), VectorError> {
        validate_collection_name(collection)?;
        let request = qdrant::CreateFieldIndexCollection {
            collection_name: collection.to_owned(),
            wait: Some(true),
            field_name: field.name.clone(),
            field_type: Some(convert::field_type(field.kind).into()),
            ..qdrant::CreateFieldIndexCollection::default()
        };
        let response = self
            .retry
            .run(|| self.client.create_field_index(request.clone()))
            .await
            .map_err(|error| self.fail(collection, error))?;
        convert::completed(response.result)
    }

    async fn delete_collection(&self, name: &str) -> Result<bool, VectorError> {
        validate_collection_name(name)?;
        let response = self
            .retry
            .run(|| self.client.delete_collection(name))
            .await
            .map_err(|error| self.fail(name, error));
        self.remember(name, None);
        match response {
            Ok(response) => Ok(response.result),
            Err(VectorError::UnknownCollection(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Batches of `batch_size` points, [`UPSERTS_IN_FLIGHT`] at a time: each `wait=true`
    /// write waits for the server to apply (and, on a server that syncs per request,
    /// flush) it, and requests in flight together share that wait. Points with one id in
    /// two batches would race, so such a call sends its batches one after another.
    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<(), VectorError> {
        let dimension = self.dimension(collection).await?;
        for point in &points {
            validate_vector(collection, dimension, &point.vector)?;
        }
        let distinct = points.iter().map(|point| point.id).collect::<HashSet<_>>();
        let in_flight = if distinct.len() == points.len() {
            UPSERTS_IN_FLIGHT
        } else {
            1
        };
        let mut points = points.into_iter();
        let mut requests = Vec::new();
        loop {
            let batch: Vec<qdrant::PointStruct> = points
                .by_ref()
                .take(self.config.batch_size)
                .map(|point| qdrant::PointStruct {
                    id: Some(convert::point_id(point.id)),
                    payload: convert::payload(point.payload),
                    vectors: Some(point.vector.into()),
                })
                .collect();
            if batch.is_empty() {
                break;
            }
            requests.push(qdrant::UpsertPoints {
                collection_name: collection.to_owned(),
                wait: Some(true),
                points: batch,
                ..qdrant::UpsertPoints::default()
            });
        }
        stream::iter(requests)
            .map(|request| async move {
                let response = self
                    .retry
                    .run(|| self.client.upsert_points(request.clone()))
                    .await
                    .map_err(|error| self.fail(collection, error))?;
                convert::completed(response.result)
            })
            .buffer_unordered(in_flight)
            .try_collect::<()>()
            .await
    }

    async fn delete_points(&self, collection: &str, ids: &[Uuid]) -> Result<(), VectorError> {
        if ids.is_empty() {
            // Still report a missing collection, like every other operation.
            self.dimension(collection).await?;
        }
        for chunk in ids.chunks(DELETE_BATCH) {
            let ids = chunk.iter().copied().map(convert::point_id).collect();
            self.delete(
                collection,
                PointsSelectorOneOf::Points(qdrant::PointsIdsList { ids }),
            )
            .await?;
        }
        Ok(())
    }

    async fn delete_by_filter(&self, collection: &str, filter: &Filter) -> Result<(), VectorError> {
        validate_collection_name(collection)?;
        filter.validate_for_delete()?;
        let filter = convert::filter(filter)?;
        self.delete(collection, PointsSelectorOneOf::Filter(filter))
            .await
    }

    async fn search(
        &self,
        collection: &str,
        request: &SearchRequest,
    ) -> Result<Vec<ScoredPoint>, VectorError> {
        validate_limit(request.limit)?;
        let dimension = self.dimension(collection).await?;
        validate_vector(collection, dimension, &request.vector)?;
        let query = qdrant::QueryPoints {
            collection_name: collection.to_owned(),
            query: Some(qdrant::Query {
                variant: Some(QueryVariant::Nearest(qdrant::VectorInput {
                    variant: Some(InputVariant::Dense(qdrant::DenseVector {
                        data: request.vector.clone(),
                    })),
                })),
            }),
            filter: request.filter.as_ref().map(convert::filter).transpose()?,
            score_threshold: request.score_threshold,
            limit: Some(request.limit as u64),
            with_payload: Some(convert::with_payload(request.with_payload)),
            ..qdrant::QueryPoints::default()
        };
        let response = self
            .retry
            .run(|| self.client.query(query.clone()))
            .await
            .map_err(|error| self.fail(collection, error))?;
        response
            .result
            .into_iter()
            .map(|hit| {
                Ok(ScoredPoint {
                    id: convert::uuid_from(hit.id)?,
                    score: hit.score,
                    payload: request
                        .with_payload
                        .then(|| convert::payload_from(hit.payload)),
                })
            })
            .collect()
    }

    async fn count(&self, collection: &str, filter: Option<&Filter>) -> Result<u64, VectorError> {
        validate_collection_name(collection)?;
        let request = qdrant::CountPoints {
            collection_name: collection.to_owned(),
            filter: filter.map(convert::filter).transpose()?,
            exact: Some(true),
            ..qdrant::CountPoints::default()
        };
        let response = self
            .retry
            .run(|| self.client.count(request.clone()))
            .await
            .map_err(|error| self.fail(collection, error))?;
        Ok(response.result.map_or(0, |result| result.count))
    }

    async fn scroll_ids(
        &self,
        collection: &str,
        request: &ScrollRequest,
    ) -> Result<ScrollPage, VectorError> {
        validate_collection_name(collection)?;
        validate_limit(request.limit)?;
        let scroll = qdrant::ScrollPoints {
            collection_name: collection.to_owned(),
            filter: request.filter.as_ref().map(convert::filter).transpose()?,
            offset: request.offset.map(convert::point_id),
            limit: Some(request.limit as u32),
            with_payload: Some(convert::with_payload(false)),
            ..qdrant::ScrollPoints::default()
        };
        let response = self
            .retry
            .run(|| self.client.scroll(scroll.clone()))
            .await
            .map_err(|error| self.fail(collection, error))?;
        Ok(ScrollPage {
            ids: response
                .result
                .into_iter()
                .map(|point| convert::uuid_from(point.id))
                .collect::<Result<_, _>>()?,
            next_offset: response
                .next_page_offset
                .map(|id| convert::uuid_from(Some(id)))
                .transpose()?,
        })
    }
}
