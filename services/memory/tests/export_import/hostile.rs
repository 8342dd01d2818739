//! Bodies an attacker (or an odd tool) sends: a byte-order mark, lines built to make the
//! checks slow. Each is answered quickly and line by line.

use std::time::{Duration, Instant};

use authn::Role;
use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::{
    common::TestApp,
    support::{import, ndjson, record},
};

/// A line holding 100,000 distinct tags is refused (`too_many_tags`) at once. Before, every
/// tag was compared with all those kept so far and the limit checked only at the end: the
/// line held a request worker for over a minute (24 s for 60,000 tags), and a line of the
/// largest size allowed (17 MiB) for hours.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_line_of_countless_tags_is_refused_at_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let mut tagged = record(1, "Tagged to excess.");
    tagged["tags"] = (0..100_000).map(|n| json!(format!("t{n}"))).collect();
    let body = ndjson(&[tagged, record(2, "Plain.")]);
    let started = Instant::now();
    let reply = import(&app, &alice, "", body).await;
    let took = started.elapsed();
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["imported"], 1, "{}", reply.body);
    assert_eq!(reply.body["errors"][0]["code"], "too_many_tags");
    // Generous, so a slow CI machine never trips it: the quadratic check took 68 s here and
    // the early refusal takes milliseconds; only a regression comes near the bound.
    assert!(took < Duration::from_secs(30), "answered in {took:?}");
}

/// A body that opens with a UTF-8 byte-order mark (as some Windows editors save files) has
/// its first line imported like the others. Before, that line failed as `malformed_line`
/// ("expected value at line 1 column 1").
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_byte_order_mark_before_the_first_line_is_ignored(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let mut body = "\u{feff}".to_owned();
    body.push_str(&ndjson(&[
        record(1, "After the mark."),
        record(2, "Second."),
    ]));
    let reply = import(&app, &alice, "", body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["imported"], 2, "{}", reply.body);
    assert_eq!(reply.body["failed"], 0);
    // Only the very start of the body: a mark opening a later line is not JSON.
    let later = format!(
        "{}\u{feff}{}",
        ndjson(&[record(3, "Third.")]),
        record(4, "x")
    );
    let reply = import(&app, &alice, "", later).await;
    assert_eq!(reply.body["imported"], 1, "{}", reply.body);
    assert_eq!(reply.body["errors"][0]["line"], 2);
    assert_eq!(reply.body["errors"][0]["code"], "malformed_line");
}

/// An import line's error quotes what the line held as a short excerpt, as every refusal
/// does: a line with a 60 KB unknown field is reported in a few hundred bytes.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_line_error_quotes_a_huge_value_as_a_short_excerpt(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let huge = "x".repeat(60_000);
    let mut line = record(1, "Text.");
    line[huge.as_str()] = json!(1);
    let reply = import(&app, &alice, "", ndjson(&[line])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.bytes.len() < 2048, "{} bytes", reply.bytes.len());
    let message = reply.body["errors"][0]["message"]
        .as_str()
        .expect("a message");
    assert!(
        message.contains(&format!("{}…", "x".repeat(64))),
        "{message}"
    );
}
