//! [`VectorIndex`] for [`EmbeddedIndex`]: validation, conversion, then the collection's
//! writer (writes) or a bounded blocking read.

use std::sync::{Arc, PoisonError};

use async_trait::async_trait;
use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::{
    CountRequest, NamedQuery, QueryEnum, QueryRequest, ScoringQuery, ScrollRequest as EdgeScroll,
    WithPayloadInterface, WithVector,
};
use uuid::Uuid;

use super::collection::Collection;
use super::writer::WriteOp;
use super::{EmbeddedIndex, blocking, convert};
use crate::types::{validate_limit, validate_new_collection, validate_vector};
use crate::{
    CollectionInfo, CollectionParams, Filter, PayloadField, Point, ScoredPoint, ScrollPage,
    ScrollRequest, SearchRequest, VectorError, VectorIndex, validate_collection_name,
};

#[async_trait]
impl VectorIndex for EmbeddedIndex {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    fn may_have_lost_writes(&self) -> bool {
        EmbeddedIndex::may_have_lost_writes(self)
    }

    fn mark_reconciled(&self) {
        EmbeddedIndex::mark_reconciled(self);
    }

    async fn health(&self) -> Result<(), VectorError> {
        let collections: Vec<_> = self
            .inner
            .collections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        if let Some(stopped) = collections.iter().find(|c| !c.writer.is_running()) {
            return Err(VectorError::Unavailable(format!(
                "the writer of collection `{}` has stopped",
                stopped.name
            )));
        }
        if !self.inner.root.is_dir() {
            return Err(VectorError::Unavailable(format!(
                "{} is gone",
                self.inner.root.display()
            )));
        }
        Ok(())
    }

    async fn collection_info(&self, name: &str) -> Result<Option<CollectionInfo>, VectorError> {
        let collection = match self.collection(name) {
            Ok(collection) => collection,
            Err(VectorError::UnknownCollection(_)) => return Ok(None),
            Err(error) => return Err(error),
        };
        let params = collection.params.clone();
        let points =
            blocking(move || collection.read(|shard| Ok(shard.info().points_count))).await?;
        Ok(Some(CollectionInfo {
            params,
            points: points as u64,
        }))
    }

    async fn create_collection(
        &self,
        name: &str,
        params: &CollectionParams,
    ) -> Result<(), VectorError> {
        validate_new_collection(name, params)?;
        let index = self.clone();
        let name = name.to_owned();
        let params = params.clone();
        blocking(move || {
            let inner = &index.inner;
            let _ddl = inner.ddl.lock().unwrap_or_else(PoisonError::into_inner);
            if index.collection(&name).is_ok() {
                return Err(VectorError::CollectionExists(name));
            }
            let collection = Collection::create(&inner.root, &name, &params, &inner.config)?;
            inner
                .collections
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(name, Arc::new(collection));
            Ok(())
        })
        .await
    }

    async fn create_payload_index(
        &self,
        collection: &str,
        field: &PayloadField,
    ) -> Result<(), VectorError> {
        let path = convert::json_path(&field.name)?;
        let schema = convert::field_schema(field.kind);
        let (key, wanted) = (path.clone(), schema.clone());
        let exists = self
            .read(collection, move |collection| {
                collection.read(move |shard| {
                    Ok(shard.info().payload_schema.get(&key).is_some_and(|info| {
                        qdrant_edge::PayloadFieldSchema::FieldType(info.data_type) == wanted
                    }))
                })
            })
            .await?;
        if exists {
            return Ok(());
        }
        self.write(collection, WriteOp::CreateIndex(path, schema))
            .await
    }

    async fn delete_collection(&self, name: &str) -> Result<bool, VectorError> {
        validate_collection_name(name)?;
        let index = self.clone();
        let name = name.to_owned();
        blocking(move || {
            let inner = &index.inner;
            let _ddl = inner.ddl.lock().unwrap_or_else(PoisonError::into_inner);
            let removed = inner
                .collections
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&name);
            match removed {
                None => Ok(false),
                Some(collection) => collection.destroy().map(|()| true),
            }
        })
        .await
    }

    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<(), VectorError> {
        let target = self.collection(collection)?;
        let dimension = target.params.dimension;
        for point in &points {
            validate_vector(collection, dimension, &point.vector)?;
        }
        if points.is_empty() {
            return Ok(());
        }
        let points = points.into_iter().map(convert::point).collect();
        target.writer.write(WriteOp::Upsert(points)).await
    }

    async fn delete_points(&self, collection: &str, ids: &[Uuid]) -> Result<(), VectorError> {
        let target = self.collection(collection)?;
        if ids.is_empty() {
            return Ok(());
        }
        target
            .writer
            .write(WriteOp::DeleteIds(convert::point_ids(ids)))
            .await
    }

    async fn delete_by_filter(&self, collection: &str, filter: &Filter) -> Result<(), VectorError> {
        filter.validate_for_delete()?;
        let filter = convert::filter(filter)?;
        self.write(collection, WriteOp::DeleteFilter(filter)).await
    }

    async fn search(
        &self,
        collection: &str,
        request: &SearchRequest,
    ) -> Result<Vec<ScoredPoint>, VectorError> {
        validate_limit(request.limit)?;
        let dimension = self.collection(collection)?.params.dimension;
        validate_vector(collection, dimension, &request.vector)?;
        let query = QueryRequest {
            prefetches: Vec::new(),
            query: Some(ScoringQuery::Vector(QueryEnum::Nearest(
                NamedQuery::default_dense(request.vector.clone()),
            ))),
            filter: request.filter.as_ref().map(convert::filter).transpose()?,
            score_threshold: request.score_threshold.map(OrderedFloat),
            limit: request.limit,
            offset: 0,
            params: None,
            with_vector: WithVector::Bool(false),
            with_payload: WithPayloadInterface::Bool(request.with_payload),
        };
        let hits = self
            .read(collection, move |c| c.read(move |shard| shard.query(query)))
            .await?;
        hits.into_iter()
            .map(|hit| {
                Ok(ScoredPoint {
                    id: convert::uuid(hit.id)?,
                    score: hit.score,
                    payload: convert::payload(hit.payload),
                })
            })
            .collect()
    }

    async fn count(&self, collection: &str, filter: Option<&Filter>) -> Result<u64, VectorError> {
        let request = CountRequest {
            filter: filter.map(convert::filter).transpose()?,
            exact: true,
        };
        let count = self
            .read(collection, move |c| {
                c.read(move |shard| shard.count(request))
            })
            .await?;
        Ok(count as u64)
    }

    async fn scroll_ids(
        &self,
        collection: &str,
        request: &ScrollRequest,
    ) -> Result<ScrollPage, VectorError> {
        validate_limit(request.limit)?;
        let scroll = EdgeScroll {
            offset: request.offset.map(qdrant_edge::PointId::Uuid),
            limit: Some(request.limit),
            filter: request.filter.as_ref().map(convert::filter).transpose()?,
            with_payload: Some(WithPayloadInterface::Bool(false)),
            with_vector: WithVector::Bool(false),
            order_by: None,
        };
        let (records, next) = self
            .read(collection, move |c| {
                c.read(move |shard| shard.scroll(scroll))
            })
            .await?;
        Ok(ScrollPage {
            ids: records
                .into_iter()
                .map(|record| convert::uuid(record.id))
                .collect::<Result<_, _>>()?,
            next_offset: next.map(convert::uuid).transpose()?,
        })
    }
}
