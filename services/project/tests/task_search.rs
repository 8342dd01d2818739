//! Task search (`GET .../tasks?q=`): ranking, web-search syntax, filters, paging through ranked
//! results, and cursors that belong to one order and one search.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::User;

/// `text` as a query-string value.
fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The numbers of the first page of `GET {base}/tasks?{query}`.
async fn numbers(app: &TestApp, base: &str, query: &str, user: &User) -> Vec<i64> {
    let reply = app.get_as(&format!("{base}/tasks?{query}"), user).await;
    assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.body);
    reply.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|task| task["number"].as_i64().expect("number"))
        .collect()
}

async fn search(app: &TestApp, base: &str, q: &str, user: &User) -> Vec<i64> {
    numbers(app, base, &format!("q={}", encoded(q)), user).await
}

async fn tasks(app: &TestApp, base: &str, user: &User, bodies: &[Value]) {
    for body in bodies {
        app.create_task(base, body.clone(), user).await;
    }
}

/// Creates tasks with these titles, in order (#1, #2, ...).
async fn titled(app: &TestApp, base: &str, user: &User, titles: &[&str]) {
    for title in titles {
        app.create_task(base, json!({ "title": title }), user).await;
    }
}

/// A fresh app where alice owns project "P": the app, alice and the project's path.
async fn alices_project(pool: PgPool) -> (TestApp, User, String) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let base = app.project_path("P", &alice).await;
    (app, alice, base)
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_title_hit_ranks_above_a_description_hit(pool: PgPool) {
    let (app, alice, base) = alices_project(pool).await;
    tasks(
        &app,
        &base,
        &alice,
        &[
            json!({ "title": "Session handling", "description": "the login form forgets you" }),
            json!({ "title": "Unrelated chore", "description": "rotate the keys" }),
            json!({ "title": "Login form forgets you", "description": "seen on Safari" }),
            json!({ "title": "Login button", "description": "login twice and it breaks" }),
        ],
    )
    .await;

    // Title and description beats title alone beats description alone; #2 is not a hit.
    assert_eq!(search(&app, &base, "login", &alice).await, [4, 3, 1]);
    // Explicitly asking for rank is the same as the default with q.
    assert_eq!(
        numbers(&app, &base, "q=login&order=rank", &alice).await,
        [4, 3, 1]
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn english_stemming_matches_other_forms_of_a_word(pool: PgPool) {
    let (app, alice, base) = alices_project(pool).await;
    titled(
        &app,
        &base,
        &alice,
        &[
            "App crashes on save",
            "Crashed while syncing",
            "Crash reporter",
            "Cache warm-up",
        ],
    )
    .await;
    assert_eq!(search(&app, &base, "crashing", &alice).await, [1, 2, 3]);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn web_search_syntax_phrases_exclusions_and_or(pool: PgPool) {
    let (app, alice, base) = alices_project(pool).await;
    titled(
        &app,
        &base,
        &alice,
        &[
            "Login crash on submit",
            "Crash after login",
            "Signup crash",
            "Login timeout",
        ],
    )
    .await;

    assert_eq!(search(&app, &base, "login crash", &alice).await, [1, 2]);
    assert_eq!(search(&app, &base, "\"login crash\"", &alice).await, [1]);
    assert_eq!(search(&app, &base, "crash -login", &alice).await, [3]);
    assert_eq!(
        search(&app, &base, "signup or timeout", &alice).await,
        [3, 4]
    );
    // Unbalanced quotes and stray operators are not errors: websearch_to_tsquery reads them.
    assert_eq!(search(&app, &base, "\"timeout", &alice).await, [4]);
    assert_eq!(search(&app, &base, "or -", &alice).await, Vec::<i64>::new());
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn no_match_is_an_empty_last_page(pool: PgPool) {
    let (app, alice, base) = alices_project(pool).await;
    titled(&app, &base, &alice, &["The first task"]).await;
    for q in ["zebra", "the"] {
        let reply = app
            .get_as(&format!("{base}/tasks?q={}", encoded(q)), &alice)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{q}");
        assert_eq!(
            reply.body,
            json!({ "items": [], "next_cursor": null }),
            "{q}"
        );
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn search_combines_with_status_epic_and_assignee(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let base = app.project_path("P", &alice).await;
    app.add_member(&base, &bob, "viewer", &alice).await;
    let epic = app
        .post_as(&format!("{base}/epics"), json!({ "title": "E" }), &alice)
        .await
        .body;
    tasks(
        &app,
        &base,
        &alice,
        &[
            json!({ "title": "Deploy docs", "status": "todo" }),
            json!({ "title": "Deploy api", "status": "todo", "epic_id": epic["id"] }),
            json!({ "title": "Deploy web", "assignee_id": bob.id, "epic_id": epic["id"] }),
            json!({ "title": "Write docs", "status": "todo", "assignee_id": bob.id }),
        ],
    )
    .await;
    let epic_id = epic["id"].as_str().unwrap();
    assert_eq!(
        numbers(&app, &base, "q=deploy&status=todo", &alice).await,
        [1, 2]
    );
    assert_eq!(
        numbers(&app, &base, &format!("q=deploy&epic_id={epic_id}"), &alice).await,
        [2, 3]
    );
    assert_eq!(
        numbers(
            &app,
            &base,
            &format!("q=docs&assignee_id={}", bob.id),
            &alice
        )
        .await,
        [4]
    );
    assert_eq!(
        numbers(
            &app,
            &base,
            &format!("q=deploy&status=todo&epic_id={epic_id}"),
            &alice
        )
        .await,
        [2]
    );
    // q narrows the other orders too, which keep their own order.
    app.patch_as(
        &format!("{base}/tasks/1"),
        json!({ "version": 1, "position": 1e6 }),
        &alice,
    )
    .await;
    assert_eq!(
        numbers(&app, &base, "q=deploy&order=position", &alice).await,
        [2, 3, 1]
    );
    assert_eq!(
        numbers(&app, &base, "q=deploy&order=number", &alice).await,
        [1, 2, 3]
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn search_follows_edits_and_skips_deleted_tasks(pool: PgPool) {
    let (app, alice, base) = alices_project(pool).await;
    let other = app.project_path("Other", &alice).await;
    titled(&app, &base, &alice, &["Invoice export", "Invoice import"]).await;
    titled(&app, &other, &alice, &["Invoice totals"]).await;

    assert_eq!(search(&app, &base, "invoice", &alice).await, [1, 2]);
    app.delete_as(&format!("{base}/tasks/2"), &alice).await;
    let edited = app
        .patch_as(
            &format!("{base}/tasks/1"),
            json!({ "version": 1, "title": "Receipt export", "description": "was: invoice" }),
            &alice,
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK);
    assert_eq!(search(&app, &base, "receipt", &alice).await, [1]);
    assert_eq!(search(&app, &base, "invoice", &alice).await, [1]);
    assert_eq!(
        search(&app, &base, "import", &alice).await,
        Vec::<i64>::new()
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn blank_or_long_searches_and_rank_without_q_are_refused(pool: PgPool) {
    let (app, alice, base) = alices_project(pool).await;
    let long = "a".repeat(201);
    for (query, code) in [
        ("q=", "invalid_q"),
        ("q=%20%20%09", "invalid_q"),
        (&format!("q={long}") as &str, "invalid_q"),
        ("order=rank", "invalid_order"),
    ] {
        let reply = app.get_as(&format!("{base}/tasks?{query}"), &alice).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, code),
            "{query}"
        );
    }
    let reply = app
        .get_as(&format!("{base}/tasks?order=best"), &alice)
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "invalid_query")
    );
    let reply = app
        .get_as(&format!("{base}/tasks?q={}", "a".repeat(200)), &alice)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "200 characters are allowed");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn ranked_pages_return_every_hit_once_in_rank_order(pool: PgPool) {
    let (app, alice, base) = alices_project(pool).await;
    // Three rank levels with many ties in each, interleaved by number, plus misses.
    for n in 1..=30 {
        let body = match n % 4 {
            0 => json!({ "title": format!("Alpha alpha {n}"), "description": "alpha" }),
            1 => json!({ "title": format!("Alpha {n}") }),
            2 => json!({ "title": format!("Task {n}"), "description": "alpha" }),
            _ => json!({ "title": format!("Beta {n}") }),
        };
        app.create_task(&base, body, &alice).await;
    }
    let level = |n: i64| match n % 4 {
        0 => 0,
        1 => 1,
        _ => 2,
    };
    let mut expected: Vec<i64> = (1..=30).filter(|n| n % 4 != 3).collect();
    expected.sort_by_key(|&n| (level(n), n));

    let whole = app.all_task_numbers(&base, "q=alpha", 100, &alice).await;
    assert_eq!(whole, expected);
    for limit in [1, 4, 7] {
        let paged = app.all_task_numbers(&base, "q=alpha", limit, &alice).await;
        assert_eq!(paged, expected, "pages of {limit}");
    }
}

/// The `next_cursor` of the first one-task page of `GET {base}/tasks?{query}`.
async fn first_cursor(app: &TestApp, base: &str, query: &str, user: &User) -> String {
    let reply = app
        .get_as(&format!("{base}/tasks?{query}&limit=1"), user)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned()
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_cursor_only_continues_its_own_order_and_search(pool: PgPool) {
    let (app, alice, base) = alices_project(pool).await;
    for n in 1..=3 {
        app.create_task(&base, json!({ "title": format!("alpha beta {n}") }), &alice)
            .await;
    }
    let by_alpha = first_cursor(&app, &base, "q=alpha", &alice).await;
    let by_board = first_cursor(&app, &base, "order=position", &alice).await;
    let by_number = first_cursor(&app, &base, "", &alice).await;

    for (query, foreign) in [
        ("q=beta", &by_alpha),
        ("q=alpha&order=position", &by_alpha),
        ("", &by_alpha),
        ("q=alpha", &by_board),
        ("", &by_board),
        ("q=alpha", &by_number),
        ("order=position", &by_number),
        ("order=position", &"b1.4090000000000000".to_owned()),
        ("q=alpha", &"r1.0.0.1".to_owned()),
    ] {
        let reply = app
            .get_as(&format!("{base}/tasks?{query}&cursor={foreign}"), &alice)
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "invalid_cursor"),
            "{query} with {foreign}"
        );
    }
    // Its own search still takes it, with filters changed or not, and the same q trimmed.
    for query in ["q=alpha", "q=%20alpha%20", "q=alpha&status=backlog"] {
        let reply = app
            .get_as(&format!("{base}/tasks?{query}&cursor={by_alpha}"), &alice)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.body);
        assert_eq!(reply.body["items"][0]["number"], 2, "{query}");
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn strangers_cannot_search_a_project(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let mallory = app.user("mallory").await;
    let base = app.project_path("P", &alice).await;
    titled(&app, &base, &alice, &["secret plan"]).await;
    let reply = app
        .get_as(&format!("{base}/tasks?q=secret"), &mallory)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}
