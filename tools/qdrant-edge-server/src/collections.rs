//! The `Collections` service: get, create, delete, exists, list.

use std::time::Instant;

use qdrant_client::qdrant::{
    self, CollectionDescription, CollectionExists, CollectionExistsRequest,
    CollectionExistsResponse, CollectionOperationResponse, CreateCollection, DeleteCollection,
    GetCollectionInfoRequest, GetCollectionInfoResponse, ListCollectionsRequest,
    ListCollectionsResponse, collections_server::Collections, vectors_config,
};
use tonic::{Request, Response, Status};
use vector::{CollectionParams, EmbeddedIndex, VectorIndex, grpc};

use crate::status;

pub(crate) struct Service {
    index: EmbeddedIndex,
}

impl Service {
    pub(crate) fn new(index: EmbeddedIndex) -> Self {
        Self { index }
    }
}

fn done(started: Instant, result: bool) -> Response<CollectionOperationResponse> {
    Response::new(CollectionOperationResponse {
        result,
        time: started.elapsed().as_secs_f64(),
    })
}

crate::grpc_service! {
    impl Collections for Service {
        async fn get(
            &self,
            request: Request<GetCollectionInfoRequest>,
        ) -> Result<Response<GetCollectionInfoResponse>, Status> {
            let started = Instant::now();
            let name = request.into_inner().collection_name;
            let info = self
                .index
                .collection_info(&name)
                .await
                .map_err(status)?
                .ok_or_else(|| status(vector::VectorError::UnknownCollection(name)))?;
            let vectors = qdrant::VectorsConfig {
                config: Some(vectors_config::Config::Params(qdrant::VectorParams {
                    size: info.params.dimension as u64,
                    distance: grpc::distance(info.params.distance).into(),
                    ..qdrant::VectorParams::default()
                })),
            };
            let result = qdrant::CollectionInfo {
                status: qdrant::CollectionStatus::Green.into(),
                config: Some(qdrant::CollectionConfig {
                    params: Some(qdrant::CollectionParams {
                        shard_number: 1,
                        vectors_config: Some(vectors),
                        ..qdrant::CollectionParams::default()
                    }),
                    metadata: grpc::payload(info.params.metadata),
                    ..qdrant::CollectionConfig::default()
                }),
                points_count: Some(info.points),
                ..qdrant::CollectionInfo::default()
            };
            Ok(Response::new(GetCollectionInfoResponse {
                result: Some(result),
                time: started.elapsed().as_secs_f64(),
            }))
        }

        async fn list(
            &self,
            _request: Request<ListCollectionsRequest>,
        ) -> Result<Response<ListCollectionsResponse>, Status> {
            let started = Instant::now();
            let collections = self
                .index
                .collection_names()
                .into_iter()
                .map(|name| CollectionDescription { name })
                .collect();
            Ok(Response::new(ListCollectionsResponse {
                collections,
                time: started.elapsed().as_secs_f64(),
            }))
        }

        async fn create(
            &self,
            request: Request<CreateCollection>,
        ) -> Result<Response<CollectionOperationResponse>, Status> {
            let started = Instant::now();
            let request = request.into_inner();
            if request.sparse_vectors_config.is_some() {
                return Err(Status::invalid_argument(
                    "sparse vectors are not supported by qdrant-edge-server",
                ));
            }
            let Some(vectors_config::Config::Params(vector)) =
                request.vectors_config.and_then(|config| config.config)
            else {
                return Err(Status::invalid_argument(
                    "qdrant-edge-server supports exactly one unnamed dense vector",
                ));
            };
            let params = CollectionParams {
                dimension: usize::try_from(vector.size)
                    .map_err(|_| Status::invalid_argument("vector size too large"))?,
                distance: grpc::distance_from(vector.distance).map_err(status)?,
                metadata: grpc::payload_from(request.metadata),
            };
            self.index
                .create_collection(&request.collection_name, &params)
                .await
                .map_err(status)?;
            Ok(done(started, true))
        }

        async fn delete(
            &self,
            request: Request<DeleteCollection>,
        ) -> Result<Response<CollectionOperationResponse>, Status> {
            let started = Instant::now();
            let name = request.into_inner().collection_name;
            let deleted = self.index.delete_collection(&name).await.map_err(status)?;
            Ok(done(started, deleted))
        }

        async fn collection_exists(
            &self,
            request: Request<CollectionExistsRequest>,
        ) -> Result<Response<CollectionExistsResponse>, Status> {
            let started = Instant::now();
            let name = request.into_inner().collection_name;
            let exists = self.index.collection_info(&name).await.map_err(status)?.is_some();
            Ok(Response::new(CollectionExistsResponse {
                result: Some(CollectionExists { exists }),
                time: started.elapsed().as_secs_f64(),
            }))
        }
    }
    unimplemented {
        update(qdrant::UpdateCollection) -> CollectionOperationResponse;
        update_aliases(qdrant::ChangeAliases) -> CollectionOperationResponse;
        list_collection_aliases(qdrant::ListCollectionAliasesRequest) -> qdrant::ListAliasesResponse;
        list_aliases(qdrant::ListAliasesRequest) -> qdrant::ListAliasesResponse;
        collection_cluster_info(qdrant::CollectionClusterInfoRequest) -> qdrant::CollectionClusterInfoResponse;
        update_collection_cluster_setup(qdrant::UpdateCollectionClusterSetupRequest) -> qdrant::UpdateCollectionClusterSetupResponse;
        create_shard_key(qdrant::CreateShardKeyRequest) -> qdrant::CreateShardKeyResponse;
        delete_shard_key(qdrant::DeleteShardKeyRequest) -> qdrant::DeleteShardKeyResponse;
        list_shard_keys(qdrant::ListShardKeysRequest) -> qdrant::ListShardKeysResponse;
    }
}
