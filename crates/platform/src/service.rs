//! The start-up sequence every service binary shares, so each `main.rs` is a few lines:
//! config → tracing → pool → schema check → listen → serve until SIGTERM.

use std::{future::Future, process::ExitCode, time::Duration};

use axum::Router;
use db::{DbConfig, PgPool};
use tokio::net::TcpListener;

use crate::{
    config::{self, CommonConfig, ListenConfig},
    health::{self, PostgresProbe, Probe},
    http, shutdown, telemetry,
};

/// What distinguishes one service binary from another at start-up.
#[derive(Debug, Clone, Copy)]
pub struct ServiceSpec {
    /// Shown in logs and health responses, e.g. `auth`.
    pub name: &'static str,
    /// Prefix of its listen variables, e.g. `AUTH_` for `AUTH_HOST` / `AUTH_PORT`.
    pub env_prefix: &'static str,
    pub default_port: u16,
}

/// What a service gets to build its router from.
#[derive(Debug, Clone)]
pub struct ServiceContext {
    pub pool: PgPool,
    pub common: CommonConfig,
    pub spec: ServiceSpec,
}

/// What a service hands back: its routes and any readiness probes beyond PostgreSQL.
pub struct Service {
    pub router: Router,
    pub probes: Vec<Box<dyn Probe>>,
}

impl From<Router> for Service {
    fn from(router: Router) -> Self {
        Self {
            router,
            probes: Vec::new(),
        }
    }
}

/// A start-up failure: printed as one line on stderr, then the process exits non-zero.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(String);

impl StartError {
    pub fn new(message: impl std::fmt::Display) -> Self {
        Self(message.to_string())
    }
}

/// Runs a service binary to completion and returns its exit code.
pub async fn run_service<B>(spec: ServiceSpec, build: B) -> ExitCode
where
    B: AsyncFnOnce(ServiceContext) -> Result<Service, StartError>,
{
    match start(spec, build).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}: error: {error}", spec.name);
            ExitCode::FAILURE
        }
    }
}

async fn start<B>(spec: ServiceSpec, build: B) -> Result<(), StartError>
where
    B: AsyncFnOnce(ServiceContext) -> Result<Service, StartError>,
{
    config::load_dotenv();
    let common: CommonConfig = config::from_env().map_err(StartError::new)?;
    let db_config: DbConfig = config::from_env().map_err(StartError::new)?;
    let listen: ListenConfig =
        config::from_env_prefixed(spec.env_prefix).map_err(StartError::new)?;
    telemetry::init(common.log_format);

    let pool = db::connect(&db_config).await.map_err(StartError::new)?;
    let version = check_schema(&pool).await?;
    tracing::info!(version, "schema verified");

    let address = format!(
        "{}:{}",
        listen.host,
        listen.port.unwrap_or(spec.default_port)
    );
    let listener = TcpListener::bind(&address)
        .await
        .map_err(|error| StartError::new(format!("cannot listen on {address}: {error}")))?;

    let context = ServiceContext {
        pool: pool.clone(),
        common: common.clone(),
        spec,
    };
    let service = build(context).await?;
    let router = assemble(spec.name, service, &pool, &common);

    tracing::info!(service = spec.name, %address, "listening");
    serve(
        listener,
        router,
        shutdown::signal(),
        common.shutdown_grace(),
    )
    .await
    .map_err(|error| StartError::new(format!("server failed: {error}")))?;
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Refuses to run unless the database is exactly at this build's schema version.
pub async fn check_schema(pool: &PgPool) -> Result<i64, StartError> {
    let mut conn = pool.acquire().await.map_err(StartError::new)?;
    db::schema::verify(&mut conn).await.map_err(StartError::new)
}

/// The service's routes plus health endpoints, wrapped in the standard middleware.
pub fn assemble(
    name: &'static str,
    service: Service,
    pool: &PgPool,
    common: &CommonConfig,
) -> Router {
    let mut probes: Vec<Box<dyn Probe>> = vec![Box::new(PostgresProbe(pool.clone()))];
    probes.extend(service.probes);
    let router = service.router.merge(health::router(name, probes));
    http::with_standard_layers(router, common)
}

/// Serves until `stop` resolves, then lets in-flight requests finish for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    stop: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        stop.await;
        let _ = stopping_tx.send(());
    });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = &mut server => result,
        () = async {
            let _ = stopping_rx.await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(?grace, "in-flight requests did not finish in time; stopping anyway");
            Ok(())
        }
    }
}
