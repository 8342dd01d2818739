//! A test/dev helper, **not a Qdrant replacement**: Qdrant's gRPC `Qdrant` (health),
//! `Collections` and `Points` services, for the calls DevMentor's `vector::RemoteIndex`
//! makes, answered by the embedded engine (`vector::EmbeddedIndex`). It lets the remote
//! backend's whole path (client, gRPC, retries, conversions) run in CI, where no Qdrant
//! server exists. Anything else answers `UNIMPLEMENTED`.
//!
//! Differences from Qdrant: point ids must be UUIDs; one unnamed dense vector per
//! collection; filters support `must`/`must_not` with keyword/integer matches and numeric or
//! datetime ranges; scroll returns ids only; every write behaves as `wait=true`.

mod collections;
mod convert;
mod points;

use std::future::Future;
use std::net::SocketAddr;

use qdrant_client::qdrant::collections_server::CollectionsServer;
use qdrant_client::qdrant::points_server::PointsServer;
use qdrant_client::qdrant::qdrant_server::{Qdrant, QdrantServer};
use qdrant_client::qdrant::{HealthCheckReply, HealthCheckRequest};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::service::Interceptor;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};
use vector::{EmbeddedIndex, VectorError};

/// Serves on `listener` until `shutdown` resolves. With `api_key`, requests must carry it
/// in the `api-key` header, as Qdrant expects.
pub async fn serve(
    listener: TcpListener,
    index: EmbeddedIndex,
    api_key: Option<String>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let auth = ApiKey(api_key);
    tonic::transport::Server::builder()
        .add_service(QdrantServer::with_interceptor(Health, auth.clone()))
        .add_service(CollectionsServer::with_interceptor(
            collections::Service::new(index.clone()),
            auth.clone(),
        ))
        .add_service(PointsServer::with_interceptor(
            points::Service::new(index),
            auth,
        ))
        // Without TCP_NODELAY, small answers wait on delayed ACKs (~40 ms tail latency).
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await
}

/// A server running in this process, e.g. for a test; stops when dropped.
pub struct RunningServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
}

impl RunningServer {
    /// Binds `127.0.0.1:0` and serves `index` in a background task.
    pub async fn start(index: EmbeddedIndex, api_key: Option<String>) -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), index, api_key).await
    }

    /// Like [`RunningServer::start`], on a given address (e.g. to restart on the same port).
    pub async fn start_on(
        addr: SocketAddr,
        index: EmbeddedIndex,
        api_key: Option<String>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, index, api_key, async {
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The gRPC URL to give a client, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests and waits for the server to finish.
    pub async fn stop(mut self) -> Result<(), tonic::transport::Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[derive(Clone)]
struct ApiKey(Option<String>);

impl Interceptor for ApiKey {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.0 else {
            return Ok(request);
        };
        let given = request
            .metadata()
            .get("api-key")
            .and_then(|v| v.to_str().ok());
        if given == Some(expected.as_str()) {
            Ok(request)
        } else {
            Err(Status::unauthenticated("Invalid api-key"))
        }
    }
}

struct Health;

#[tonic::async_trait]
impl Qdrant for Health {
    async fn health_check(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckReply>, Status> {
        Ok(Response::new(HealthCheckReply {
            title: "qdrant-edge-server (DevMentor test helper, not Qdrant)".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            commit: None,
        }))
    }
}

/// Our errors as the statuses Qdrant sends for the same conditions, so the client maps
/// them back exactly as it does for a real server.
pub(crate) fn status(error: VectorError) -> Status {
    match error {
        VectorError::UnknownCollection(name) => {
            Status::not_found(format!("Not found: Collection `{name}` doesn't exist!"))
        }
        VectorError::CollectionExists(name) => {
            Status::invalid_argument(format!("Wrong input: Collection `{name}` already exists!"))
        }
        VectorError::DimensionMismatch { expected, got, .. } => Status::invalid_argument(format!(
            "Wrong input: Vector dimension error: expected dim: {expected}, got {got}"
        )),
        VectorError::InvalidRequest(message) => {
            Status::invalid_argument(format!("Wrong input: {message}"))
        }
        VectorError::Unavailable(message) => Status::unavailable(message),
        error @ (VectorError::Config(_) | VectorError::EmbeddingMismatch(_)) => {
            Status::failed_precondition(error.to_string())
        }
        VectorError::Backend(message) => Status::internal(message),
    }
}

/// Implements a generated service trait: the listed methods as written, every other one
/// answering `UNIMPLEMENTED`. (A `macro_rules!` wrapper rather than a macro inside the impl,
/// because `async_trait` must see every `async fn` of the impl at once.)
macro_rules! grpc_service {
    (
        impl $trait:ident for $ty:ident {
            $($method:item)*
        }
        unimplemented { $($name:ident($request:ty) -> $response:ty;)* }
    ) => {
        #[tonic::async_trait]
        impl $trait for $ty {
            $($method)*
            $(
                async fn $name(
                    &self,
                    _request: tonic::Request<$request>,
                ) -> Result<tonic::Response<$response>, tonic::Status> {
                    Err(tonic::Status::unimplemented(concat!(
                        stringify!($name),
                        " is not implemented by qdrant-edge-server (a test helper, not Qdrant)"
                    )))
                }
            )*
        }
    };
}
pub(crate) use grpc_service;
