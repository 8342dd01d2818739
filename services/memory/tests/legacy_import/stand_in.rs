//! A stand-in for the old Qdrant server.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
};

use qdrant_client::qdrant::{
    self, CountPoints, CountResponse, CreateFieldIndexCollection, DeletePoints, PointId,
    PointsOperationResponse, QueryPoints, QueryResponse, RetrievedPoint, ScrollPoints,
    ScrollResponse, UpsertPoints,
    points_server::{Points, PointsServer},
    with_payload_selector::SelectorOptions,
};
use tokio::{net::TcpListener, sync::oneshot};
use tonic::{Request, Response, Status, transport::server::TcpIncoming};

/// The old Qdrant server, as far as the import needs it: the gRPC Points service holding
/// points in memory, numeric and UUID ids alike, answering scrolls with payloads. (The repo's
/// qdrant-edge-server, over the embedded engine, takes UUID ids only and scrolls ids only.)
pub struct LegacyQdrant {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl LegacyQdrant {
    /// Serves on a free port; with `api_key`, scrolls must carry it.
    pub async fn start(api_key: Option<&str>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let (stop, stopped) = oneshot::channel::<()>();
        let service = Store {
            api_key: api_key.map(str::to_owned),
            ..Store::default()
        };
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(PointsServer::new(service))
                .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                    let _ = stopped.await;
                }),
        );
        Self {
            addr,
            stop: Some(stop),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for LegacyQdrant {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

type StoredPoint = (PointId, HashMap<String, qdrant::Value>);

#[derive(Default, Clone)]
struct Store {
    collections: Arc<Mutex<HashMap<String, Vec<StoredPoint>>>>,
    api_key: Option<String>,
}

impl Store {
    fn collections(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<StoredPoint>>> {
        self.collections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn unimplemented<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not in the legacy stand-in"))
}

#[tonic::async_trait]
impl Points for Store {
    async fn upsert(
        &self,
        request: Request<UpsertPoints>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        let request = request.into_inner();
        let mut collections = self.collections();
        let points = collections.entry(request.collection_name).or_default();
        for point in request.points {
            let id = point.id.ok_or_else(|| Status::invalid_argument("no id"))?;
            points.retain(|(stored, _)| *stored != id);
            points.push((id, point.payload));
        }
        Ok(Response::new(PointsOperationResponse::default()))
    }

    async fn scroll(
        &self,
        request: Request<ScrollPoints>,
    ) -> Result<Response<ScrollResponse>, Status> {
        if let Some(key) = &self.api_key {
            let given = request
                .metadata()
                .get("api-key")
                .and_then(|v| v.to_str().ok());
            if given != Some(key.as_str()) {
                return Err(Status::unauthenticated("Invalid api-key"));
            }
        }
        let request = request.into_inner();
        let with_payload = matches!(
            request
                .with_payload
                .and_then(|selector| selector.selector_options),
            Some(SelectorOptions::Enable(true))
        );
        let collections = self.collections();
        let points = collections.get(&request.collection_name).ok_or_else(|| {
            Status::not_found(format!(
                "Not found: Collection `{}` doesn't exist!",
                request.collection_name
            ))
        })?;
        let start = match &request.offset {
            Some(offset) => points
                .iter()
                .position(|(id, _)| id == offset)
                .ok_or_else(|| Status::invalid_argument("unknown offset"))?,
            None => 0,
        };
        let limit = request.limit.unwrap_or(10) as usize;
        let result = points
            .iter()
            .skip(start)
            .take(limit)
            .map(|(id, payload)| RetrievedPoint {
                id: Some(id.clone()),
                payload: if with_payload {
                    payload.clone()
                } else {
                    HashMap::new()
                },
                ..RetrievedPoint::default()
            })
            .collect();
        Ok(Response::new(ScrollResponse {
            next_page_offset: points.get(start + limit).map(|(id, _)| id.clone()),
            result,
            ..ScrollResponse::default()
        }))
    }

    async fn delete(
        &self,
        _: Request<DeletePoints>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        unimplemented()
    }
    async fn get(
        &self,
        _: Request<qdrant::GetPoints>,
    ) -> Result<Response<qdrant::GetResponse>, Status> {
        unimplemented()
    }
    async fn update_vectors(
        &self,
        _: Request<qdrant::UpdatePointVectors>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        unimplemented()
    }
    async fn delete_vectors(
        &self,
        _: Request<qdrant::DeletePointVectors>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        unimplemented()
    }
    async fn set_payload(
        &self,
        _: Request<qdrant::SetPayloadPoints>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        unimplemented()
    }
    async fn overwrite_payload(
        &self,
        _: Request<qdrant::SetPayloadPoints>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        unimplemented()
    }
    async fn delete_payload(
        &self,
        _: Request<qdrant::DeletePayloadPoints>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        unimplemented()
    }
    async fn clear_payload(
        &self,
        _: Request<qdrant::ClearPayloadPoints>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        unimplemented()
    }
    async fn create_field_index(
        &self,
        _: Request<CreateFieldIndexCollection>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        unimplemented()
    }
    async fn delete_field_index(
        &self,
        _: Request<qdrant::DeleteFieldIndexCollection>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        unimplemented()
    }
    async fn create_vector_name(
        &self,
        _: Request<qdrant::CreateVectorNameRequest>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        unimplemented()
    }
    async fn delete_vector_name(
        &self,
        _: Request<qdrant::DeleteVectorNameRequest>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        unimplemented()
    }
    async fn search(
        &self,
        _: Request<qdrant::SearchPoints>,
    ) -> Result<Response<qdrant::SearchResponse>, Status> {
        unimplemented()
    }
    async fn search_batch(
        &self,
        _: Request<qdrant::SearchBatchPoints>,
    ) -> Result<Response<qdrant::SearchBatchResponse>, Status> {
        unimplemented()
    }
    async fn search_groups(
        &self,
        _: Request<qdrant::SearchPointGroups>,
    ) -> Result<Response<qdrant::SearchGroupsResponse>, Status> {
        unimplemented()
    }
    async fn recommend(
        &self,
        _: Request<qdrant::RecommendPoints>,
    ) -> Result<Response<qdrant::RecommendResponse>, Status> {
        unimplemented()
    }
    async fn recommend_batch(
        &self,
        _: Request<qdrant::RecommendBatchPoints>,
    ) -> Result<Response<qdrant::RecommendBatchResponse>, Status> {
        unimplemented()
    }
    async fn recommend_groups(
        &self,
        _: Request<qdrant::RecommendPointGroups>,
    ) -> Result<Response<qdrant::RecommendGroupsResponse>, Status> {
        unimplemented()
    }
    async fn discover(
        &self,
        _: Request<qdrant::DiscoverPoints>,
    ) -> Result<Response<qdrant::DiscoverResponse>, Status> {
        unimplemented()
    }
    async fn discover_batch(
        &self,
        _: Request<qdrant::DiscoverBatchPoints>,
    ) -> Result<Response<qdrant::DiscoverBatchResponse>, Status> {
        unimplemented()
    }
    async fn count(&self, _: Request<CountPoints>) -> Result<Response<CountResponse>, Status> {
        unimplemented()
    }
    async fn update_batch(
        &self,
        _: Request<qdrant::UpdateBatchPoints>,
    ) -> Result<Response<qdrant::UpdateBatchResponse>, Status> {
        unimplemented()
    }
    async fn query(&self, _: Request<QueryPoints>) -> Result<Response<QueryResponse>, Status> {
        unimplemented()
    }
    async fn query_batch(
        &self,
        _: Request<qdrant::QueryBatchPoints>,
    ) -> Result<Response<qdrant::QueryBatchResponse>, Status> {
        unimplemented()
    }
    async fn query_groups(
        &self,
        _: Request<qdrant::QueryPointGroups>,
    ) -> Result<Response<qdrant::QueryGroupsResponse>, Status> {
        unimplemented()
    }
    async fn facet(
        &self,
        _: Request<qdrant::FacetCounts>,
    ) -> Result<Response<qdrant::FacetResponse>, Status> {
        unimplemented()
    }
    async fn search_matrix_pairs(
        &self,
        _: Request<qdrant::SearchMatrixPoints>,
    ) -> Result<Response<qdrant::SearchMatrixPairsResponse>, Status> {
        unimplemented()
    }
    async fn search_matrix_offsets(
        &self,
        _: Request<qdrant::SearchMatrixPoints>,
    ) -> Result<Response<qdrant::SearchMatrixOffsetsResponse>, Status> {
        unimplemented()
    }
}
