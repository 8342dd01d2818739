//! The task list reads its page and checks read access in one statement
//! (`db::projects::tasks::list`), and asks `access::readable` only when that page is empty or
//! the request is refused. The two must follow one rule: every kind of reader lists every
//! task, and whoever may not read the project learns nothing, whether it has tasks or not
//! and whatever they asked.

mod common;

use authn::Role;
use axum::http::StatusCode;
use common::TestApp;
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::User;

fn numbers(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|task| task["number"].as_i64().expect("number"))
        .collect()
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn every_reader_lists_every_task_and_no_one_else_learns_anything(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.user("owner").await;
    let stranger = app.user("stranger").await;
    let project = app.project_path("Board", &owner).await;
    let empty = app.project_path("Empty", &owner).await;
    let mut readers: Vec<(&str, User)> = vec![
        ("owner", owner.clone()),
        ("admin", app.user_with_role("admin", Role::Admin).await),
    ];
    for role in ["viewer", "editor", "maintainer"] {
        let member = app.user(role).await;
        app.add_member(&project, &member, role, &owner).await;
        app.add_member(&empty, &member, role, &owner).await;
        readers.push((role, member));
    }
    for title in ["One", "Two"] {
        app.create_task(&project, json!({ "title": title }), &owner)
            .await;
    }

    for (who, reader) in &readers {
        for order in ["number", "position"] {
            let listed = app
                .get_as(&format!("{project}/tasks?order={order}"), reader)
                .await;
            assert_eq!(listed.status, StatusCode::OK, "{who}: {}", listed.body);
            assert_eq!(numbers(&listed.body), [1, 2], "{who}, {order} order");
        }
        let nothing = app.get_as(&format!("{empty}/tasks"), reader).await;
        assert_eq!(nothing.status, StatusCode::OK, "{who}: {}", nothing.body);
        assert_eq!(numbers(&nothing.body), [0; 0], "{who}");
    }

    // A stranger gets what a project that does not exist gets, for a project with tasks or
    // without, and for a request that is malformed too.
    let nowhere = format!("/api/projects/{}/tasks", uuid::Uuid::new_v4());
    let expected = app.get_as(&nowhere, &stranger).await;
    assert_eq!(expected.status, StatusCode::NOT_FOUND, "{}", expected.body);
    let asked = [
        format!("{project}/tasks"),
        format!("{project}/tasks?order=position"),
        format!("{project}/tasks?q=one"),
        format!("{project}/tasks?cursor=not-a-cursor"),
        format!("{project}/tasks?order=rank"),
        format!("{empty}/tasks"),
    ];
    for path in &asked {
        let reply = app.get_as(path, &stranger).await;
        assert_eq!(
            (reply.status, &reply.body),
            (expected.status, &expected.body),
            "{path}"
        );
    }

    // A deleted project lists nothing for anyone, its owner included.
    let deleted = app.delete_as(&project, &owner).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    for (who, reader) in &readers {
        let reply = app.get_as(&format!("{project}/tasks"), reader).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{who}: {}", reply.body);
    }
}
