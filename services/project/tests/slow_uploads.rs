//! Uploads over a slow link: `REQUEST_TIMEOUT_SECS` counts from the last body bytes that
//! arrived, not from the request's arrival, so a slow but steady upload finishes while one
//! that stops sending is still cut off with a JSON error.

mod common;

use std::time::Duration;

use axum::{body::Body, http::StatusCode};
use common::TestApp;
use platform::config::CommonConfig;
use project::AppState;
use sqlx::PgPool;
use testkit::Tokens;
use tokio::time::Instant;
use uuid::Uuid;

/// The app with a one-second request timeout.
fn impatient_app(pool: PgPool) -> TestApp {
    let tokens = Tokens::new();
    let files_dir = std::env::temp_dir().join(format!("project-tests-{}", Uuid::new_v4()));
    let common = CommonConfig {
        request_timeout_secs: 1,
        ..CommonConfig::default()
    };
    let state = AppState::new(pool.clone(), tokens.verifier(), &files_dir, common);
    TestApp::from_state(pool, tokens, state, files_dir)
}

/// `chunks` chunks of 1 KiB, one every `every` (the first after `every`), then, when
/// `then_stall`, nothing ever again.
fn trickle(chunks: usize, every: Duration, then_stall: bool) -> Body {
    let sent = futures::stream::unfold(0, move |n| async move {
        if n == chunks {
            if then_stall {
                std::future::pending::<()>().await;
            }
            return None;
        }
        tokio::time::sleep(every).await;
        Some((Ok::<_, std::io::Error>(vec![b'x'; 1024]), n + 1))
    });
    Body::from_stream(sent)
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_slow_but_steady_upload_outlasts_the_request_timeout(pool: PgPool) {
    let app = impatient_app(pool);
    let alice = app.user("alice").await;
    let id = app.project_id("Slow", &alice).await;
    let started = Instant::now();
    let body = trickle(15, Duration::from_millis(200), false);
    let reply = app
        .upload(&id, "slow.bin", "application/octet-stream", body, &alice)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["size_bytes"], 15 * 1024);
    assert!(
        started.elapsed() > Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_slow_but_steady_form_upload_outlasts_the_request_timeout(pool: PgPool) {
    let app = impatient_app(pool);
    let alice = app.user("alice").await;
    let id = app.project_id("Slow forms", &alice).await;
    let head = format!(
        "--{b}\r\ncontent-disposition: form-data; name=\"path\"\r\n\r\nslow.txt\r\n\
         --{b}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"slow.txt\"\r\n\
         content-type: text/plain\r\n\r\n",
        b = common::FORM_BOUNDARY
    );
    let tail = format!("\r\n--{}--\r\n", common::FORM_BOUNDARY);
    let parts = std::iter::once(head.into_bytes())
        .chain((0..15).map(|_| vec![b'x'; 1024]))
        .chain(std::iter::once(tail.into_bytes()));
    let sent = futures::stream::unfold(parts, |mut parts| async move {
        let part = parts.next()?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        Some((Ok::<_, std::io::Error>(part), parts))
    });
    let reply = app.upload_form(&id, Body::from_stream(sent), &alice).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["size_bytes"], 15 * 1024);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_upload_that_stops_sending_is_cut_off_with_json(pool: PgPool) {
    let app = impatient_app(pool);
    let alice = app.user("alice").await;
    let id = app.project_id("Stalled", &alice).await;
    let started = Instant::now();
    let body = trickle(5, Duration::from_millis(200), true);
    let reply = app
        .upload(&id, "stalled.bin", "application/octet-stream", body, &alice)
        .await;
    let took = started.elapsed();
    assert_eq!(reply.status, StatusCode::REQUEST_TIMEOUT, "{}", reply.body);
    assert_eq!(reply.body["error"]["code"], "request_body_timeout");
    // A second after the last bytes (which came at about one second).
    assert!(took < Duration::from_millis(2800), "{took:?}");
    assert!(app.stored_files().is_empty());
}
