//! The `Points` service: upsert, delete (ids or filter), field indexes, query (nearest),
//! count and scroll.

use std::time::Instant;

use qdrant_client::qdrant::{
    self, CountPoints, CountResponse, CountResult, CreateFieldIndexCollection, DeletePoints,
    PointsOperationResponse, QueryPoints, QueryResponse, RetrievedPoint, ScrollPoints,
    ScrollResponse, UpsertPoints, points_selector::PointsSelectorOneOf, points_server::Points,
    query::Variant as QueryVariant, vector_input::Variant as InputVariant,
};
use tonic::{Request, Response, Status};
use vector::{EmbeddedIndex, PayloadField, ScrollRequest, SearchRequest, VectorIndex, grpc};

use crate::convert::{self, completed};
use crate::status;

/// Qdrant's defaults when a request leaves the limit out.
const DEFAULT_LIMIT: u64 = 10;

pub(crate) struct Service {
    index: EmbeddedIndex,
}

impl Service {
    pub(crate) fn new(index: EmbeddedIndex) -> Self {
        Self { index }
    }
}

fn limit(limit: Option<u64>) -> Result<usize, Status> {
    usize::try_from(limit.unwrap_or(DEFAULT_LIMIT))
        .map_err(|_| Status::invalid_argument("limit too large"))
}

crate::grpc_service! {
    impl Points for Service {
        async fn upsert(
            &self,
            request: Request<UpsertPoints>,
        ) -> Result<Response<PointsOperationResponse>, Status> {
            let started = Instant::now();
            let request = request.into_inner();
            if request.update_filter.is_some() {
                return Err(Status::invalid_argument("conditional upserts are not supported"));
            }
            let points = request
                .points
                .into_iter()
                .map(convert::point)
                .collect::<Result<Vec<_>, _>>()?;
            self.index
                .upsert(&request.collection_name, points)
                .await
                .map_err(status)?;
            Ok(Response::new(completed(started)))
        }

        async fn delete(
            &self,
            request: Request<DeletePoints>,
        ) -> Result<Response<PointsOperationResponse>, Status> {
            let started = Instant::now();
            let request = request.into_inner();
            let collection = &request.collection_name;
            match request.points.and_then(|points| points.points_selector_one_of) {
                Some(PointsSelectorOneOf::Points(list)) => {
                    let ids = list
                        .ids
                        .into_iter()
                        .map(|id| convert::uuid(Some(id)))
                        .collect::<Result<Vec<_>, _>>()?;
                    self.index.delete_points(collection, &ids).await.map_err(status)?;
                }
                Some(PointsSelectorOneOf::Filter(filter)) => {
                    let filter = convert::filter(Some(filter))?.unwrap_or_default();
                    self.index.delete_by_filter(collection, &filter).await.map_err(status)?;
                }
                None => return Err(Status::invalid_argument("delete needs ids or a filter")),
            }
            Ok(Response::new(completed(started)))
        }

        async fn create_field_index(
            &self,
            request: Request<CreateFieldIndexCollection>,
        ) -> Result<Response<PointsOperationResponse>, Status> {
            let started = Instant::now();
            let request = request.into_inner();
            if request.field_index_params.is_some() {
                return Err(Status::invalid_argument("field index parameters are not supported"));
            }
            let field = PayloadField::new(request.field_name, convert::field_kind(request.field_type)?);
            self.index
                .create_payload_index(&request.collection_name, &field)
                .await
                .map_err(status)?;
            Ok(Response::new(completed(started)))
        }

        async fn query(
            &self,
            request: Request<QueryPoints>,
        ) -> Result<Response<QueryResponse>, Status> {
            let started = Instant::now();
            let request = request.into_inner();
            if !request.prefetch.is_empty()
                || request.using.as_deref().is_some_and(|name| !name.is_empty())
                || request.offset.unwrap_or(0) != 0
                || request.lookup_from.is_some()
            {
                return Err(Status::invalid_argument(
                    "qdrant-edge-server answers plain nearest-vector queries only",
                ));
            }
            let vector = match request.query.and_then(|query| query.variant) {
                Some(QueryVariant::Nearest(input)) => match input.variant {
                    Some(InputVariant::Dense(dense)) => dense.data,
                    _ => return Err(Status::invalid_argument("nearest needs a dense vector")),
                },
                _ => return Err(Status::invalid_argument("only `nearest` queries are supported")),
            };
            let search = SearchRequest {
                vector,
                limit: limit(request.limit)?,
                filter: convert::filter(request.filter)?,
                score_threshold: request.score_threshold,
                with_payload: convert::with_payload(request.with_payload)?,
            };
            let hits = self
                .index
                .search(&request.collection_name, &search)
                .await
                .map_err(status)?;
            Ok(Response::new(QueryResponse {
                result: hits.into_iter().map(convert::scored_point).collect(),
                time: started.elapsed().as_secs_f64(),
                usage: None,
            }))
        }

        async fn count(
            &self,
            request: Request<CountPoints>,
        ) -> Result<Response<CountResponse>, Status> {
            let started = Instant::now();
            let request = request.into_inner();
            let filter = convert::filter(request.filter)?;
            let count = self
                .index
                .count(&request.collection_name, filter.as_ref())
                .await
                .map_err(status)?;
            Ok(Response::new(CountResponse {
                result: Some(CountResult { count }),
                time: started.elapsed().as_secs_f64(),
                usage: None,
            }))
        }

        async fn scroll(
            &self,
            request: Request<ScrollPoints>,
        ) -> Result<Response<ScrollResponse>, Status> {
            let started = Instant::now();
            let request = request.into_inner();
            if request.order_by.is_some() {
                return Err(Status::invalid_argument("scroll order_by is not supported"));
            }
            let scroll = ScrollRequest {
                filter: convert::filter(request.filter)?,
                offset: request.offset.map(|id| convert::uuid(Some(id))).transpose()?,
                limit: limit(request.limit.map(u64::from))?,
            };
            let page = self
                .index
                .scroll_ids(&request.collection_name, &scroll)
                .await
                .map_err(status)?;
            Ok(Response::new(ScrollResponse {
                next_page_offset: page.next_offset.map(grpc::point_id),
                result: page
                    .ids
                    .into_iter()
                    .map(|id| RetrievedPoint {
                        id: Some(grpc::point_id(id)),
                        ..RetrievedPoint::default()
                    })
                    .collect(),
                time: started.elapsed().as_secs_f64(),
                usage: None,
            }))
        }
    }
    unimplemented {
        get(qdrant::GetPoints) -> qdrant::GetResponse;
        update_vectors(qdrant::UpdatePointVectors) -> PointsOperationResponse;
        delete_vectors(qdrant::DeletePointVectors) -> PointsOperationResponse;
        set_payload(qdrant::SetPayloadPoints) -> PointsOperationResponse;
        overwrite_payload(qdrant::SetPayloadPoints) -> PointsOperationResponse;
        delete_payload(qdrant::DeletePayloadPoints) -> PointsOperationResponse;
        clear_payload(qdrant::ClearPayloadPoints) -> PointsOperationResponse;
        delete_field_index(qdrant::DeleteFieldIndexCollection) -> PointsOperationResponse;
        create_vector_name(qdrant::CreateVectorNameRequest) -> PointsOperationResponse;
        delete_vector_name(qdrant::DeleteVectorNameRequest) -> PointsOperationResponse;
        search(qdrant::SearchPoints) -> qdrant::SearchResponse;
        search_batch(qdrant::SearchBatchPoints) -> qdrant::SearchBatchResponse;
        search_groups(qdrant::SearchPointGroups) -> qdrant::SearchGroupsResponse;
        recommend(qdrant::RecommendPoints) -> qdrant::RecommendResponse;
        recommend_batch(qdrant::RecommendBatchPoints) -> qdrant::RecommendBatchResponse;
        recommend_groups(qdrant::RecommendPointGroups) -> qdrant::RecommendGroupsResponse;
        discover(qdrant::DiscoverPoints) -> qdrant::DiscoverResponse;
        discover_batch(qdrant::DiscoverBatchPoints) -> qdrant::DiscoverBatchResponse;
        update_batch(qdrant::UpdateBatchPoints) -> qdrant::UpdateBatchResponse;
        query_batch(qdrant::QueryBatchPoints) -> qdrant::QueryBatchResponse;
        query_groups(qdrant::QueryPointGroups) -> qdrant::QueryGroupsResponse;
        facet(qdrant::FacetCounts) -> qdrant::FacetResponse;
        search_matrix_pairs(qdrant::SearchMatrixPoints) -> qdrant::SearchMatrixPairsResponse;
        search_matrix_offsets(qdrant::SearchMatrixPoints) -> qdrant::SearchMatrixOffsetsResponse;
    }
}
