//! A service that answers before reading the request body (401 before an upload) must not
//! make the gateway's next request on the same pooled connection fail with a 502.

mod common;

use axum::{Router, http::StatusCode, routing::post};
use common::{dead_url, gateway, service_with_standard_layers, settings};

/// A service with the platform's standard layers whose one route refuses without reading.
async fn refusing_service() -> url::Url {
    let routes = Router::new().route(
        "/api/projects/{*rest}",
        post(|| async { StatusCode::UNAUTHORIZED }),
    );
    service_with_standard_layers(routes).await
}

#[tokio::test]
async fn refusals_before_the_body_is_read_never_turn_into_502s() {
    let project = refusing_service().await;
    let gateway = gateway(&settings(&dead_url(), &project, &dead_url())).await;
    let client = testkit::http_client();
    let body = vec![b'x'; 256 * 1024];
    let mut statuses = Vec::new();
    for n in 0..40 {
        let answer = client
            .post(format!("{gateway}/api/projects/p/files/f{n}"))
            .body(body.clone())
            .send()
            .await
            .expect("the gateway answers");
        statuses.push(answer.status().as_u16());
    }
    assert!(statuses.iter().all(|status| *status == 401), "{statuses:?}");
}
