//! The board order (`GET .../tasks?order=position`) and moving tasks in it (`POST
//! .../tasks/{number}/move`): where new tasks land, midpoints, renumbering when a gap runs
//! out, concurrent moves, the feed entry, and refusals.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::{Reply, User};

/// A project with tasks titled `t1..=tn`; returns its path.
async fn board(app: &TestApp, user: &User, n: usize) -> String {
    let base = app.project_path("Board", user).await;
    for i in 1..=n {
        app.create_task(&base, json!({ "title": format!("t{i}") }), user)
            .await;
    }
    base
}

async fn move_task(app: &TestApp, base: &str, number: i64, body: Value, user: &User) -> Reply {
    app.post_as(&format!("{base}/tasks/{number}/move"), body, user)
        .await
}

/// The board: `(number, position)` of every live task in board order, read in pages of 7.
async fn positions(app: &TestApp, base: &str, user: &User) -> Vec<(i64, f64)> {
    let numbers = app.all_task_numbers(base, "order=position", 7, user).await;
    let mut board = Vec::new();
    for number in numbers {
        let task = app
            .get_as(&format!("{base}/tasks/{number}"), user)
            .await
            .body;
        board.push((number, task["position"].as_f64().expect("position")));
    }
    board
}

async fn order(app: &TestApp, base: &str, user: &User) -> Vec<i64> {
    app.all_task_numbers(base, "order=position", 100, user)
        .await
}

fn project_id(base: &str) -> &str {
    base.rsplit('/').next().expect("id")
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn new_tasks_land_last_on_the_board(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let base = board(&app, &alice, 3).await;
    assert_eq!(
        positions(&app, &base, &alice).await,
        [(1, 1024.0), (2, 2048.0), (3, 3072.0)]
    );

    // An explicit position is kept; the next task goes past the highest one.
    let placed = app
        .create_task(&base, json!({ "title": "t4", "position": -5.5 }), &alice)
        .await;
    assert_eq!(placed["position"], -5.5);
    let patched = app
        .patch_as(
            &format!("{base}/tasks/1"),
            json!({ "version": 1, "position": 10000.0 }),
            &alice,
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let last = app
        .create_task(&base, json!({ "title": "t5", "position": null }), &alice)
        .await;
    assert_eq!(last["position"], 11024.0);
    assert_eq!(order(&app, &base, &alice).await, [4, 2, 3, 1, 5]);

    // Deleted tasks do not hold the end of the board.
    for number in [1, 5] {
        app.delete_as(&format!("{base}/tasks/{number}"), &alice)
            .await;
    }
    let next = app
        .create_task(&base, json!({ "title": "t6" }), &alice)
        .await;
    assert_eq!(next["position"], 3072.0 + 1024.0);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_board_orders_by_position_then_number_and_pages(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let base = board(&app, &alice, 6).await;
    // PATCH still sets positions directly; ties fall back to number order.
    for (number, position, status) in [
        (1, 5.0, "todo"),
        (2, 1.0, "backlog"),
        (3, 5.0, "todo"),
        (4, -1.0, "todo"),
        (6, 5.0, "backlog"),
    ] {
        let reply = app
            .patch_as(
                &format!("{base}/tasks/{number}"),
                json!({ "version": 1, "position": position, "status": status }),
                &alice,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let expected = [4, 2, 1, 3, 6, 5];
    for limit in [1, 2, 4, 100] {
        let paged = app
            .all_task_numbers(&base, "order=position", limit, &alice)
            .await;
        assert_eq!(paged, expected, "pages of {limit}");
    }
    // A status column is the board order narrowed to that status.
    assert_eq!(
        app.all_task_numbers(&base, "order=position&status=todo", 2, &alice)
            .await,
        [4, 1, 3]
    );
    // The default stays number order.
    assert_eq!(
        app.all_task_numbers(&base, "", 4, &alice).await,
        [1, 2, 3, 4, 5, 6]
    );
    assert_eq!(
        app.all_task_numbers(&base, "order=number", 4, &alice).await,
        [1, 2, 3, 4, 5, 6]
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn moves_before_and_after_the_first_the_last_and_the_middle(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let base = board(&app, &alice, 5).await;

    let moved = move_task(&app, &base, 5, json!({ "before": 1 }), &alice).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(moved.body["number"], 5);
    assert_eq!(moved.body["position"], 0.0);
    assert_eq!(moved.body["version"], 2);
    assert_eq!(order(&app, &base, &alice).await, [5, 1, 2, 3, 4]);

    let moved = move_task(&app, &base, 1, json!({ "after": 4 }), &alice).await;
    assert_eq!(moved.body["position"], 4096.0 + 1024.0);
    assert_eq!(order(&app, &base, &alice).await, [5, 2, 3, 4, 1]);

    let moved = move_task(&app, &base, 4, json!({ "before": 3 }), &alice).await;
    assert_eq!(moved.body["position"], 2560.0, "midway between #2 and #3");
    assert_eq!(order(&app, &base, &alice).await, [5, 2, 4, 3, 1]);

    let moved = move_task(&app, &base, 5, json!({ "after": 2 }), &alice).await;
    assert_eq!(moved.body["position"], 2304.0, "midway between #2 and #4");
    assert_eq!(order(&app, &base, &alice).await, [2, 5, 4, 3, 1]);

    // Moving to where it already is still gives it a position inside its gap.
    let moved = move_task(&app, &base, 1, json!({ "after": 3 }), &alice).await;
    assert_eq!(moved.status, StatusCode::OK);
    assert_eq!(order(&app, &base, &alice).await, [2, 5, 4, 3, 1]);
    assert_eq!(moved.body["version"], 3);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_move_is_recorded_in_the_feed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let base = board(&app, &alice, 3).await;
    let task = app.get_as(&format!("{base}/tasks/3"), &alice).await.body;
    move_task(&app, &base, 3, json!({ "before": 2 }), &alice).await;
    move_task(&app, &base, 1, json!({ "after": 2 }), &alice).await;

    let moves = app
        .activity_of(project_id(&base), "task.moved", &alice)
        .await;
    assert_eq!(moves.len(), 2);
    assert_eq!(moves[0]["entity_type"], "task");
    assert_eq!(moves[0]["entity_id"], task["id"]);
    assert_eq!(
        moves[0]["details"],
        json!({ "number": 3, "before": 2, "position": 1536.0 })
    );
    assert_eq!(
        moves[1]["details"],
        json!({ "number": 1, "after": 2, "position": 2048.0 + 1024.0 })
    );
}

/// Each move lands in the gap right after #1, which halves every time: after about 40 halvings
/// the gap is under 1e-9 and the project is renumbered, in the move's transaction.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn repeated_moves_into_one_gap_renumber_and_keep_the_order(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let base = board(&app, &alice, 4).await;
    let mut expected: Vec<i64> = vec![1, 2, 3, 4];
    for step in 0..60 {
        let number = [2, 3, 4][step % 3];
        let reply = move_task(&app, &base, number, json!({ "after": 1 }), &alice).await;
        assert_eq!(reply.status, StatusCode::OK, "move {step}: {}", reply.body);
        expected.retain(|&n| n != number);
        expected.insert(1, number);

        let board = positions(&app, &base, &alice).await;
        let numbers: Vec<i64> = board.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, expected, "after move {step}");
        for pair in board.windows(2) {
            assert!(pair[0].1 < pair[1].1, "move {step}: {board:?}");
        }
    }
    let moves = app
        .activity_of(project_id(&base), "task.moved", &alice)
        .await;
    assert_eq!(moves.len(), 60);
    let renumbered: Vec<usize> = (0..60)
        .filter(|&i| moves[i]["details"]["rebalanced"] == true)
        .collect();
    assert_eq!(renumbered.len(), 1, "{renumbered:?}");
    assert!(
        (35..=45).contains(&renumbered[0]),
        "a 1024 gap halves about 40 times before it is under 1e-9: {renumbered:?}"
    );
    // Renumbering is an edit of every task whose position it changed: #1 kept 1024 and its
    // version; each of the others moved 20 times and was renumbered once.
    let first = app.get_as(&format!("{base}/tasks/1"), &alice).await.body;
    assert_eq!(
        (first["position"].as_f64(), first["version"].as_i64()),
        (Some(1024.0), Some(1))
    );
    for number in 2..=4 {
        let task = app
            .get_as(&format!("{base}/tasks/{number}"), &alice)
            .await
            .body;
        assert_eq!(task["version"], 1 + 20 + 1, "#{number}");
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn tied_positions_are_renumbered_to_make_room(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let base = board(&app, &alice, 4).await;
    // Tasks from before the board order all sat at position 0; PATCH can still make ties.
    for number in 1..=4 {
        app.patch_as(
            &format!("{base}/tasks/{number}"),
            json!({ "version": 1, "position": 0.0 }),
            &alice,
        )
        .await;
    }
    let moved = move_task(&app, &base, 4, json!({ "after": 2 }), &alice).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(order(&app, &base, &alice).await, [1, 2, 4, 3]);
    assert_eq!(
        positions(&app, &base, &alice).await,
        [(1, 1024.0), (2, 2048.0), (4, 2560.0), (3, 3072.0)]
    );
    let untouched_in_order = app.get_as(&format!("{base}/tasks/1"), &alice).await.body;
    assert_eq!(
        untouched_in_order["version"], 3,
        "renumbered: a new version"
    );
    let moves = app
        .activity_of(project_id(&base), "task.moved", &alice)
        .await;
    assert_eq!(moves[0]["details"]["rebalanced"], true);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn concurrent_moves_keep_one_total_order(pool: PgPool) {
    let app = Arc::new(TestApp::new(pool).await);
    let alice = app.user("alice").await;
    let base = board(&app, &alice, 12).await;
    // All tied, so whichever move runs first renumbers while the others wait for the lock.
    for number in 1..=12 {
        app.patch_as(
            &format!("{base}/tasks/{number}"),
            json!({ "version": 1, "position": 0.0 }),
            &alice,
        )
        .await;
    }
    let mut handles = Vec::new();
    for number in 2..=11_i64 {
        let (app, alice, base) = (app.clone(), alice.clone(), base.clone());
        let body = if number % 2 == 0 {
            json!({ "after": 1 })
        } else {
            json!({ "before": 12 })
        };
        handles.push(tokio::spawn(async move {
            move_task(&app, &base, number, body, &alice).await
        }));
    }
    for handle in handles {
        let reply = handle.await.expect("move");
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    let board = positions(&app, &base, &alice).await;
    let mut numbers: Vec<i64> = board.iter().map(|(n, _)| *n).collect();
    assert_eq!((numbers[0], numbers[11]), (1, 12), "{board:?}");
    numbers.sort();
    assert_eq!(numbers, (1..=12).collect::<Vec<_>>());
    for pair in board.windows(2) {
        assert!(pair[0].1 < pair[1].1, "no ties, no disorder: {board:?}");
    }
    let moves = app
        .activity_of(project_id(&base), "task.moved", &alice)
        .await;
    assert_eq!(moves.len(), 10);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn bad_moves_are_refused_and_change_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let mallory = app.user("mallory").await;
    let base = board(&app, &alice, 3).await;
    let other = board(&app, &alice, 5).await;
    app.delete_as(&format!("{base}/tasks/3"), &alice).await;
    let before = positions(&app, &base, &alice).await;

    for (number, body, status, code) in [
        (1, json!({}), 422, "invalid_move"),
        (1, json!({ "before": 2, "after": 2 }), 422, "invalid_move"),
        (1, json!({ "before": null }), 422, "invalid_move"),
        (1, json!({ "before": 1 }), 422, "invalid_move"),
        (1, json!({ "after": 99 }), 422, "unknown_task"),
        (1, json!({ "after": 3 }), 422, "unknown_task"),
        (1, json!({ "after": 5 }), 422, "unknown_task"),
        (1, json!({ "after": "2" }), 422, "invalid_body"),
        (1, json!({ "after": 2.5 }), 422, "invalid_body"),
        (1, json!({ "below": 2 }), 422, "invalid_body"),
        (3, json!({ "after": 2 }), 404, "not_found"),
        (99, json!({ "after": 2 }), 404, "not_found"),
    ] {
        let reply = move_task(&app, &base, number, body.clone(), &alice).await;
        assert_eq!(
            (reply.status.as_u16(), reply.code()),
            (status, code),
            "#{number} {body}: {}",
            reply.body
        );
    }
    let reply = move_task(&app, &base, 1, json!({ "after": 2 }), &mallory).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = move_task(&app, &other, 1, json!({ "after": 2 }), &mallory).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    assert_eq!(positions(&app, &base, &alice).await, before);
    let task = app.get_as(&format!("{base}/tasks/1"), &alice).await.body;
    assert_eq!(task["version"], 1);
    assert!(
        app.activity_of(project_id(&base), "task.moved", &alice)
            .await
            .is_empty()
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_move_route_is_documented(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let doc = app.get("/openapi.json").await.body;
    let operation = &doc["paths"]["/api/projects/{project_id}/tasks/{number}/move"]["post"];
    for status in ["200", "404", "422"] {
        assert!(operation["responses"].get(status).is_some(), "{status}");
    }
    let list = &doc["paths"]["/api/projects/{project_id}/tasks"]["get"];
    let parameters: Vec<&str> = list["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    for name in ["q", "order", "status", "cursor"] {
        assert!(parameters.contains(&name), "{name} in {parameters:?}");
    }
}
