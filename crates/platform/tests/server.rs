//! The server loop under clients that misbehave at the TCP level: slow or silent request
//! heads, idle keep-alive connections, more connections than the cap, plus what it must keep
//! doing for well-behaved ones (peer addresses, graceful shutdown). Raw sockets, because an
//! HTTP client library would not send a request head one byte at a time.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{Router, extract::ConnectInfo, routing::get};
use platform::server::{ServeOptions, serve_with};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{Notify, oneshot},
    task::JoinHandle,
};

/// Far above the one-second header timeout the tests configure, far below "never": a busy
/// CI machine may be slow to close, but not this slow.
const CLOSE_BOUND: Duration = Duration::from_secs(6);

struct Server {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(router: Router, options: ServeOptions) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (stop, stopped) = oneshot::channel::<()>();
        let stop_signal = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(serve_with(listener, router, stop_signal, options));
        Self {
            address,
            stop: Some(stop),
            task,
        }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.address).await.expect("connect")
    }
}

fn options(header_read_timeout: Duration, max_connections: usize) -> ServeOptions {
    ServeOptions {
        grace: Duration::from_secs(5),
        header_read_timeout,
        max_connections,
    }
}

fn routes() -> Router {
    Router::new()
        .route("/health/live", get(|| async { "live" }))
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
}

/// Sends `GET path` on `stream` (kept alive) and returns the response body.
async fn get_body(stream: &mut TcpStream, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    read_response_body(stream).await
}

/// Reads one response with a `Content-Length` and returns its body.
async fn read_response_body(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let read = stream.read(&mut chunk).await.expect("read");
        assert!(read > 0, "closed mid-response: {received:?}");
        received.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&received).into_owned();
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let length: usize = head
            .lines()
            .find_map(|line| {
                line.to_ascii_lowercase()
                    .strip_prefix("content-length: ")?
                    .parse()
                    .ok()
            })
            .expect("content-length");
        if body.len() >= length {
            return body.to_owned();
        }
    }
}

/// Waits for the server to end the connection: EOF or a reset, after whatever it sends.
async fn closed_within(stream: &mut TcpStream, bound: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    let mut ignored = Vec::new();
    match tokio::time::timeout(bound, stream.read_to_end(&mut ignored)).await {
        Ok(_) => Ok(started.elapsed()),
        Err(_) => Err(format!("connection still open after {bound:?}")),
    }
}

#[tokio::test]
async fn a_request_head_sent_a_byte_at_a_time_is_cut_off() {
    let server = Server::start(routes(), options(Duration::from_secs(1), 100)).await;
    let stream = server.connect().await;
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(b"GET /health/live HTTP/1.1\r\nX-Slow: ")
        .await
        .expect("write");
    // Slowloris: the head never ends, and something arrives every 200 ms.
    let dribble = tokio::spawn(async move {
        while writer.write_all(b"a").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let started = Instant::now();
    let mut ignored = Vec::new();
    let ended = tokio::time::timeout(CLOSE_BOUND, reader.read_to_end(&mut ignored)).await;
    dribble.abort();
    assert!(
        ended.is_ok(),
        "slow request head still being read after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let server = Server::start(routes(), options(Duration::from_secs(1), 100)).await;
    let mut stream = server.connect().await;
    closed_within(&mut stream, CLOSE_BOUND)
        .await
        .expect("silent connection closed");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let server = Server::start(routes(), options(Duration::from_secs(1), 100)).await;
    let mut stream = server.connect().await;
    assert_eq!(get_body(&mut stream, "/health/live").await, "live");
    closed_within(&mut stream, CLOSE_BOUND)
        .await
        .expect("idle keep-alive connection closed");
}

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    let server = Server::start(routes(), options(Duration::from_secs(30), 2)).await;
    let mut first = server.connect().await;
    let mut second = server.connect().await;
    // A served request proves each connection was accepted and holds its place.
    assert_eq!(get_body(&mut first, "/health/live").await, "live");
    assert_eq!(get_body(&mut second, "/health/live").await, "live");

    // The kernel completes the handshake (listen backlog), but the server does not accept.
    let mut third = server.connect().await;
    third
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .expect("write");
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut byte)).await;
    assert!(
        early.is_err(),
        "a third connection was served while two were open: {early:?}"
    );

    drop(first);
    let body = tokio::time::timeout(CLOSE_BOUND, read_response_body(&mut third))
        .await
        .expect("the waiting connection is served once another closes");
    assert_eq!(body, "live");
    assert_eq!(get_body(&mut second, "/health/live").await, "live");
}

#[tokio::test]
async fn handlers_see_the_peer_address() {
    let server = Server::start(routes(), options(Duration::from_secs(10), 100)).await;
    let mut stream = server.connect().await;
    let local = stream.local_addr().expect("local address");
    assert_eq!(get_body(&mut stream, "/peer").await, local.to_string());
}

#[tokio::test]
async fn stopping_lets_an_in_flight_request_finish_then_refuses_connections() {
    let entered = Arc::new(Notify::new());
    let router = Router::new().route(
        "/slow",
        get({
            let entered = entered.clone();
            || async move {
                entered.notify_one();
                tokio::time::sleep(Duration::from_millis(500)).await;
                "finished"
            }
        }),
    );
    let mut server = Server::start(router, options(Duration::from_secs(10), 100)).await;
    let mut stream = server.connect().await;
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .expect("write");
    entered.notified().await;

    server.stop.take().expect("running").send(()).expect("stop");
    let body = tokio::time::timeout(CLOSE_BOUND, read_response_body(&mut stream))
        .await
        .expect("in-flight request answered");
    assert_eq!(body, "finished");
    tokio::time::timeout(CLOSE_BOUND, server.task)
        .await
        .expect("server stops once the request is done")
        .expect("joins")
        .expect("serves");
    assert!(TcpStream::connect(server.address).await.is_err());
}

#[tokio::test]
async fn stopping_gives_up_on_a_request_after_the_grace_period() {
    let router = Router::new().route("/stuck", get(std::future::pending::<&'static str>));
    let mut options = options(Duration::from_secs(10), 100);
    options.grace = Duration::from_millis(300);
    let mut server = Server::start(router, options).await;
    let mut stream = server.connect().await;
    stream
        .write_all(b"GET /stuck HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;

    server.stop.take().expect("running").send(()).expect("stop");
    tokio::time::timeout(CLOSE_BOUND, server.task)
        .await
        .expect("server stops after the grace period")
        .expect("joins")
        .expect("serves");
}

/// A client still sending a large body when the server answers without reading it gets the
/// answer, not a reset: the close lingers, discarding the rest of the body. Before, the
/// close with unread bytes reset the connection, and the gateway (which streams bodies)
/// answered 502 instead of the service's 413.
#[tokio::test]
async fn an_answer_given_before_a_large_body_was_read_reaches_the_client() {
    const BODY: usize = 64 * 1024 * 1024;
    let refuse = || async { axum::http::StatusCode::PAYLOAD_TOO_LARGE };
    let router = Router::new().route("/upload", axum::routing::post(refuse));
    let server = Server::start(router, options(Duration::from_secs(5), 16)).await;
    let (mut reader, mut writer) = server.connect().await.into_split();
    let sending = tokio::spawn(async move {
        let head = format!("POST /upload HTTP/1.1\r\nhost: test\r\ncontent-length: {BODY}\r\n\r\n");
        writer.write_all(head.as_bytes()).await?;
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..BODY / chunk.len() {
            writer.write_all(&chunk).await?;
        }
        writer.shutdown().await
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(CLOSE_BOUND, reader.read_to_end(&mut answer))
        .await
        .expect("the connection ends in time");
    let sent = sending.await.expect("sender task");
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 413"),
        "answer: {:?}",
        String::from_utf8_lossy(&answer)
    );
    assert!(read.is_ok(), "reading the answer: {read:?}");
    assert!(sent.is_ok(), "sending the body: {sent:?}");
}
