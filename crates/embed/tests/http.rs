//! The HTTP providers against a mock server started in the test: batching, ordering,
//! 429 with Retry-After, 5xx, timeouts, wrong dimensions, refusals and the circuit breaker.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use embed::{Api, EmbedError, Embedder, HttpConfig, HttpEmbedder};
use serde_json::{Value, json};

const DIM: usize = 4;

struct Mock {
    url: String,
    hits: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

impl Mock {
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Serves both `/v1/embeddings` and `/api/embed`; `handler` gets the 0-based hit number and
/// the request body.
async fn mock<F, Fut>(handler: F) -> Mock
where
    F: Fn(usize, Value) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send,
{
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let route = {
        let (hits, seen) = (Arc::clone(&hits), Arc::clone(&seen));
        post(move |headers: HeaderMap, Json(body): Json<Value>| {
            let hit = hits.fetch_add(1, Ordering::SeqCst);
            seen.lock().expect("lock").push((headers, body.clone()));
            let handler = handler.clone();
            async move { handler(hit, body).await }
        })
    };
    let app = axum::Router::new()
        .route("/v1/embeddings", route.clone())
        .route("/api/embed", route);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Mock { url, hits, seen }
}

fn texts(body: &Value) -> Vec<String> {
    body["input"]
        .as_array()
        .expect("input array")
        .iter()
        .map(|t| t.as_str().expect("string").to_owned())
        .collect()
}

/// A fake embedding that encodes the text, so ordering mistakes show.
fn fake(text: &str, dim: usize) -> Vec<f32> {
    let mut vector = vec![0.0; dim];
    vector[0] = text.len() as f32;
    vector
}

/// An OpenAI answer with the items deliberately in reverse order.
fn openai_ok(body: &Value, dim: usize) -> Response {
    let data: Vec<Value> = texts(body)
        .iter()
        .enumerate()
        .rev()
        .map(|(index, text)| json!({ "object": "embedding", "index": index, "embedding": fake(text, dim) }))
        .collect();
    Json(json!({ "object": "list", "data": data, "model": body["model"] })).into_response()
}

fn status(code: StatusCode) -> Response {
    (
        code,
        Json(json!({ "error": { "message": format!("mock {code}") } })),
    )
        .into_response()
}

fn config(mock: &Mock, api: Api) -> HttpConfig {
    let mut config = HttpConfig::new(api, &mock.url, "mock-model", DIM);
    config.retry_base_delay = Duration::from_millis(10);
    config.max_retries = 2;
    config
}

fn inputs(n: usize) -> Vec<String> {
    (0..n).map(|i| "x".repeat(i + 1)).collect()
}

#[tokio::test]
async fn openai_requests_are_batched_ordered_and_authorised() {
    let mock = mock(|_, body| async move { openai_ok(&body, DIM) }).await;
    let mut config = config(&mock, Api::OpenAi);
    config.batch_size = 2;
    config.api_key = Some("sk-test".to_owned().into());
    let embedder = HttpEmbedder::new(config).expect("valid");
    let vectors = embedder.embed(&inputs(5)).await.expect("embeds");
    assert_eq!(mock.hits(), 3, "5 texts in batches of 2");
    let firsts: Vec<f32> = vectors.iter().map(|v| v[0]).collect();
    assert_eq!(
        firsts,
        vec![1.0, 2.0, 3.0, 4.0, 5.0],
        "answers put back in input order"
    );
    let seen = mock.seen.lock().expect("lock");
    let (headers, body) = &seen[0];
    assert_eq!(headers[header::AUTHORIZATION], "Bearer sk-test");
    assert_eq!(body["model"], "mock-model");
    assert_eq!(body["encoding_format"], "float");
}

#[tokio::test]
async fn ollama_round_trip() {
    let mock = mock(|_, body| async move {
        let embeddings: Vec<Vec<f32>> = texts(&body).iter().map(|t| fake(t, DIM)).collect();
        Json(json!({ "model": body["model"], "embeddings": embeddings })).into_response()
    })
    .await;
    let embedder = HttpEmbedder::new(config(&mock, Api::Ollama)).expect("valid");
    assert_eq!(embedder.model(), "mock-model");
    assert_eq!(embedder.dimension(), DIM);
    let vector = embedder.embed_one("hello").await.expect("embeds");
    assert_eq!(vector, vec![5.0, 0.0, 0.0, 0.0]);
    assert_eq!(mock.hits(), 1);
}

#[tokio::test]
async fn rate_limits_wait_as_long_as_retry_after_says() {
    let mock = mock(|hit, body| async move {
        if hit == 0 {
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "1")],
                "slow down",
            )
                .into_response()
        } else {
            openai_ok(&body, DIM)
        }
    })
    .await;
    let embedder = HttpEmbedder::new(config(&mock, Api::OpenAi)).expect("valid");
    let started = Instant::now();
    embedder
        .embed(&inputs(2))
        .await
        .expect("succeeds after waiting");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(mock.hits(), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_fails_at_once() {
    let mock = mock(|_, _| async {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "3600")],
        )
            .into_response()
    })
    .await;
    let embedder = HttpEmbedder::new(config(&mock, Api::OpenAi)).expect("valid");
    let error = embedder.embed(&inputs(1)).await.expect_err("rate limited");
    assert!(
        matches!(error, EmbedError::RateLimited { retry_after: Some(wait) } if wait == Duration::from_secs(3600)),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert_eq!(mock.hits(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let mock = mock(|_, _| async { status(StatusCode::SERVICE_UNAVAILABLE) }).await;
    let embedder = HttpEmbedder::new(config(&mock, Api::OpenAi)).expect("valid");
    let error = embedder.embed(&inputs(1)).await.expect_err("always 503");
    assert!(matches!(error, EmbedError::Unavailable(_)), "{error:?}");
    assert!(error.to_string().contains("503"), "{error}");
    assert_eq!(mock.hits(), 3, "one call and two retries");
}

#[tokio::test]
async fn a_passing_server_error_is_absorbed() {
    let mock = mock(|hit, body| async move {
        if hit == 0 {
            status(StatusCode::BAD_GATEWAY)
        } else {
            openai_ok(&body, DIM)
        }
    })
    .await;
    let embedder = HttpEmbedder::new(config(&mock, Api::OpenAi)).expect("valid");
    assert_eq!(embedder.embed(&inputs(3)).await.expect("retried").len(), 3);
    assert_eq!(mock.hits(), 2);
}

#[tokio::test]
async fn timeouts_are_retried_and_reported() {
    let mock = mock(|_, body| async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        openai_ok(&body, DIM)
    })
    .await;
    let mut config = config(&mock, Api::OpenAi);
    config.timeout = Duration::from_millis(200);
    config.max_retries = 1;
    let embedder = HttpEmbedder::new(config).expect("valid");
    let started = Instant::now();
    let error = embedder.embed(&inputs(1)).await.expect_err("too slow");
    assert!(error.to_string().contains("timed out"), "{error}");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(mock.hits(), 2);
}

#[tokio::test]
async fn a_wrong_dimension_is_a_clear_error_and_not_retried() {
    let mock = mock(|_, body| async move { openai_ok(&body, DIM - 1) }).await;
    let embedder = HttpEmbedder::new(config(&mock, Api::OpenAi)).expect("valid");
    let error = embedder.embed(&inputs(2)).await.expect_err("3 != 4");
    assert!(
        matches!(
            error,
            EmbedError::DimensionMismatch {
                expected: DIM,
                got: 3,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("EMBEDDING_DIM=3"), "{error}");
    assert_eq!(mock.hits(), 1);
}

#[tokio::test]
async fn refusals_are_not_retried_and_keep_the_providers_message() {
    let mock = mock(|_, _| async {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": { "message": "unknown model" } })),
        )
            .into_response()
    })
    .await;
    let embedder = HttpEmbedder::new(config(&mock, Api::OpenAi)).expect("valid");
    let error = embedder.embed(&inputs(1)).await.expect_err("400");
    assert!(
        matches!(&error, EmbedError::Rejected { status: 400, message } if message == "unknown model"),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert_eq!(mock.hits(), 1);
}

#[tokio::test]
async fn missing_vectors_are_an_invalid_response() {
    let mock = mock(|_, _| async {
        Json(json!({ "data": [{ "index": 0, "embedding": [1.0, 0.0, 0.0, 0.0] }] })).into_response()
    })
    .await;
    let embedder = HttpEmbedder::new(config(&mock, Api::OpenAi)).expect("valid");
    let error = embedder
        .embed(&inputs(2))
        .await
        .expect_err("one vector for two texts");
    assert!(matches!(error, EmbedError::InvalidResponse(_)), "{error:?}");
}

#[tokio::test]
async fn the_circuit_opens_after_repeated_failures_and_closes_after_a_good_probe() {
    let healthy = Arc::new(AtomicBool::new(false));
    let mock = {
        let healthy = Arc::clone(&healthy);
        mock(move |_, body| {
            let healthy = healthy.load(Ordering::SeqCst);
            async move {
                if healthy {
                    openai_ok(&body, DIM)
                } else {
                    status(StatusCode::INTERNAL_SERVER_ERROR)
                }
            }
        })
        .await
    };
    let mut config = config(&mock, Api::OpenAi);
    config.max_retries = 0;
    config.breaker_threshold = 2;
    config.breaker_cooldown = Duration::from_millis(300);
    let embedder = HttpEmbedder::new(config).expect("valid");
    for _ in 0..2 {
        assert!(matches!(
            embedder.embed(&inputs(1)).await,
            Err(EmbedError::Unavailable(_))
        ));
    }
    let error = embedder.embed(&inputs(1)).await.expect_err("open");
    assert!(matches!(error, EmbedError::CircuitOpen { .. }), "{error:?}");
    assert_eq!(mock.hits(), 2, "an open circuit sends nothing");

    healthy.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(350)).await;
    embedder
        .embed(&inputs(1))
        .await
        .expect("the probe succeeds");
    embedder.embed(&inputs(1)).await.expect("closed again");
    assert_eq!(mock.hits(), 4);
}
