//! The HTTP server loop every service runs: accepts TCP connections up to a cap, serves each
//! with hyper, ends connections whose request head does not arrive in time, and shuts down
//! gracefully. `axum::serve` does none of the first three: it sets no timer, so hyper's
//! header-read timeout never fires, and it accepts without limit, so a few hundred clients
//! sending a header byte every few seconds (slowloris) exhausted the gateway's descriptors.
//! Its closes linger ([`linger`]), so an answer given before a body was read is not lost to
//! a reset.

use std::{future::Future, io, pin::pin, sync::Arc, time::Duration};

use axum::{Extension, Router, extract::ConnectInfo};
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tower::Layer;

use crate::config::CommonConfig;

mod linger;

pub use linger::LINGER_TIME;

/// How long to pause accepting after an error that is not one connection's (out of file
/// descriptors or memory): retrying at once would spin; a second would leave others waiting.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(250);

/// How [`serve_with`] treats connections; [`CommonConfig::serve_options`] reads them from
/// the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// After `stop`, how long in-flight requests get before the server stops anyway.
    pub grace: Duration,
    /// How long a client has to send a whole request head, counted from when the connection
    /// opens or its previous response was sent, so it also ends idle keep-alive connections.
    pub header_read_timeout: Duration,
    /// Connections open at once; at the cap the server stops accepting (clients wait in the
    /// kernel's listen backlog) until one closes.
    pub max_connections: usize,
}

impl ServeOptions {
    /// The defaults (every variable unset) with the given grace period.
    pub fn new(grace: Duration) -> Self {
        Self {
            grace,
            ..CommonConfig::default().serve_options()
        }
    }
}

/// Serves `router` on `listener` until `stop` resolves, then stops accepting and lets
/// in-flight requests finish for at most `options.grace`. Handlers may take
/// `ConnectInfo<SocketAddr>`. Only accept errors that are not one connection's are logged;
/// none ends the server.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    stop: impl Future<Output = ()> + Send + 'static,
    options: ServeOptions,
) -> io::Result<()> {
    let connections = connection_builder(&options);
    // Zero would never accept, and a semaphore refuses more than MAX_PERMITS.
    let cap = options.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let open = Arc::new(Semaphore::new(cap));
    let graceful = GracefulShutdown::new();
    let mut stop = pin!(stop);

    loop {
        // The place is taken before accepting: at the cap, connections queue in the kernel
        // instead of being accepted and dropped.
        let place = tokio::select! {
            () = &mut stop => break,
            place = open.clone().acquire_owned() => place.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    pause_after_accept_error(&error).await;
                    continue;
                }
            },
        };
        // Responses go out as soon as they are written, not held back by Nagle's algorithm
        // waiting for the ACK of a previous segment (a 40 ms stall against delayed ACKs when
        // a response takes more than one write, as streamed bodies do).
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
        }
        let service = TowerToHyperService::new(Extension(ConnectInfo(peer)).layer(router.clone()));
        let connection =
            connections.serve_connection(TokioIo::new(linger::Lingering::new(stream)), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Clients that vanish or time out end here; they are not the server's errors.
            if let Err(error) = connection.await {
                tracing::debug!(%peer, error = %error, "connection ended with an error");
            }
            drop(place);
        });
    }

    // Refuse new connections at once rather than leave them in the backlog until we exit.
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(options.grace) => {
            tracing::warn!(grace = ?options.grace, "in-flight requests did not finish in time; stopping anyway");
        }
    }
    Ok(())
}

/// HTTP/1.1 only, as `axum::serve` served here before (axum's `http2` feature is off), and
/// for a reason: hyper-util's `auto` builder sniffs the protocol by waiting for the first 24
/// bytes with no timeout of its own (a client that connects and sends nothing would stay
/// forever), and hyper's HTTP/2 has no header-read timeout. `auto` with `http1_only` hands
/// over to this same builder. Upgrades are off too; no route uses them.
fn connection_builder(options: &ServeOptions) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout);
    builder
}

async fn pause_after_accept_error(error: &io::Error) {
    // A connection reset or aborted before we accepted it concerns that client only.
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(%error, pause = ?ACCEPT_ERROR_PAUSE, "cannot accept connections");
    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
}
