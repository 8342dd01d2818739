//! What only the remote backend has to get right: the API key, unreachable servers, and
//! retries that carry a call across a server restart.

mod common;

use std::time::{Duration, Instant};

use common::{embedded_config, points, spec};
use qdrant_edge_server::RunningServer;
use tempfile::TempDir;
use vector::{EmbeddedIndex, RemoteConfig, RemoteIndex, VectorError, VectorIndex};

fn client(url: String, key: Option<&str>) -> RemoteIndex {
    let mut config = RemoteConfig::new(url);
    config.api_key = key.map(|key| key.to_owned().into());
    config.timeout = Duration::from_secs(5);
    config.connect_timeout = Duration::from_secs(1);
    config.max_retries = 3;
    config.retry_base_delay = Duration::from_millis(20);
    RemoteIndex::connect(config).expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_key_is_sent_and_a_wrong_one_is_explained() {
    let dir = TempDir::new().expect("temp dir");
    let engine = EmbeddedIndex::open(embedded_config(&dir))
        .await
        .expect("opens");
    let server = RunningServer::start(engine.clone(), Some("s3cret".into()))
        .await
        .expect("serves");

    let good = client(server.url(), Some("s3cret"));
    good.ensure_collection(&spec("keyed"))
        .await
        .expect("accepted with the key");
    good.upsert("keyed", points(0..10)).await.expect("upsert");

    for key in [None, Some("wrong")] {
        let error = client(server.url(), key)
            .count("keyed", None)
            .await
            .expect_err("refused");
        assert!(matches!(error, VectorError::Config(_)), "{error:?}");
        assert!(error.to_string().contains("QDRANT_API_KEY"), "{error}");
    }
    server.stop().await.expect("stops");
    engine.close().await;
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_after_bounded_retries() {
    // Bind and drop a listener: nothing listens on this port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let index = client(format!("http://127.0.0.1:{port}"), None);
    let started = Instant::now();
    let error = index
        .count("anything", None)
        .await
        .expect_err("nobody listens");
    assert!(error.is_transient(), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "gave up in bounded time"
    );
    assert!(matches!(
        index.health().await,
        Err(VectorError::Unavailable(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_carry_a_write_across_a_server_restart() {
    let dir = TempDir::new().expect("temp dir");
    let engine = EmbeddedIndex::open(embedded_config(&dir))
        .await
        .expect("opens");
    let server = RunningServer::start(engine.clone(), None)
        .await
        .expect("serves");
    let addr = server.addr;
    let mut config = RemoteConfig::new(server.url());
    config.max_retries = 8;
    config.retry_base_delay = Duration::from_millis(100);
    config.connect_timeout = Duration::from_millis(500);
    let index = RemoteIndex::connect(config).expect("client");
    index
        .ensure_collection(&spec("restart"))
        .await
        .expect("ensure");
    server.stop().await.expect("stops");

    let restart = {
        let engine = engine.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(400)).await;
            RunningServer::start_on(addr, engine, None)
                .await
                .expect("serves again")
        })
    };
    index
        .upsert("restart", points(0..20))
        .await
        .expect("retried until the server was back");
    assert_eq!(index.count("restart", None).await.expect("count"), 20);
    restart
        .await
        .expect("restarted")
        .stop()
        .await
        .expect("stops");
    engine.close().await;
}
