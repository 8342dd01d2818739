//! Membership requests and answers shared by the members and ownership-transfer suites.

use axum::http::StatusCode;
use serde_json::json;
use testkit::User;

use super::TestApp;

/// `PUT .../members/{user}` with `role`, as `by`.
pub async fn put_member(
    app: &TestApp,
    project: &str,
    member: &User,
    role: &str,
    by: &User,
) -> testkit::Reply {
    let path = format!("/api/projects/{project}/members/{}", member.id);
    app.put_as(&path, json!({ "role": role }), by).await
}

pub async fn remove_member(
    app: &TestApp,
    project: &str,
    member: &User,
    by: &User,
) -> testkit::Reply {
    let path = format!("/api/projects/{project}/members/{}", member.id);
    app.delete_as(&path, by).await
}

/// `(username, role)` of every member, as the members list shows them.
pub async fn roster(app: &TestApp, project: &str, who: &User) -> Vec<(String, String)> {
    let reply = app
        .get_as(&format!("/api/projects/{project}/members"), who)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|member| {
            let name = member["username"].as_str().expect("username").to_owned();
            (name, member["role"].as_str().expect("role").to_owned())
        })
        .collect()
}

pub fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(name, role)| (name.to_string(), role.to_string()))
        .collect()
}
