//! Real HTTP on loopback: stand-in servers (a mock provider, an upstream) and a client that
//! reaches them whatever proxy the developer's environment names.

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;

/// Serves `router` on an ephemeral loopback port until the test ends; returns its address.
/// Handlers may take `ConnectInfo<SocketAddr>`.
pub async fn serve_on_loopback(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let address = listener.local_addr().expect("local address");
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await.expect("serve") });
    address
}

/// An HTTP client that ignores `HTTP_PROXY` and its kin: tests talk to loopback only.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("build an HTTP client")
}
