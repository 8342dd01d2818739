//! Test helpers shared by the workspace's integration tests. Never a dependency of a binary.
//!
//! - In-process: a service's whole `app()` driven by [`AppClient`], with users and tokens
//!   from [`create_user`] and [`Tokens`], on the `#[sqlx::test]` database.
//! - Out of process: service binaries in the background ([`spawn_service`]), one-shot
//!   commands run to completion ([`run_binary`]), stand-in servers on loopback
//!   ([`serve_on_loopback`]).
//!
//! Panicking is how these helpers fail a test, so they `expect` freely.

use std::net::TcpListener;

use sqlx::{PgConnection, PgPool};

mod answers;
mod app;
mod binary;
pub mod catalog;
mod keys;
pub mod locks;
mod logs;
mod loopback;
pub mod metrics;
mod processes;
mod sessions;
pub mod smtp;
mod sse;
mod tokens;
mod users;

pub use answers::{assert_error, assert_invalid_text, assert_step_up_required};
pub use app::{AppClient, Bearer, Reply, RequestBuilder};
pub use binary::{BinaryRun, run_binary, workspace_binary};
pub use keys::SigningKeyFile;
pub use logs::CapturedLogs;
pub use loopback::{http_client, serve_on_loopback};
pub use processes::{
    ServiceProcess, assert_refuses_unmigrated_database, assert_serves_health_and_stops,
    spawn_service, stop_gracefully, wait_for_exit, wait_until_ok,
};
pub use sessions::{give_second_factor, open_session};
pub use sse::{SseEvent, SseReader};
pub use tokens::{Tokens, audience};
pub use users::{User, create_user};

/// The URL of the database behind a `#[sqlx::test]` pool, so a child process can use it.
pub fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL must be set for tests");
    let name = pool
        .connect_options()
        .get_database()
        .expect("test pools name their database")
        .to_owned();
    let mut url = url::Url::parse(&base).expect("DATABASE_URL is a URL");
    url.set_path(&name);
    url.to_string()
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// Opens a fresh connection to the same database as `pool` (for locks and sessions).
pub async fn connect(pool: &PgPool) -> PgConnection {
    use sqlx::Connection;
    PgConnection::connect(&database_url(pool))
        .await
        .expect("connect")
}

/// A pool of one connection to `pool`'s database that gives up waiting after a second: an
/// app on it fails any request that holds a pooled connection while it waits for another
/// (with more connections, enough such requests at once would each wait for the rest). The
/// connection opens on first use.
pub fn one_connection_pool(pool: &PgPool) -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(1))
        .connect_lazy_with((*pool.connect_options()).clone())
}
