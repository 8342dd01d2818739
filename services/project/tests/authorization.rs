//! Who may do what: every route of the service, asked by each kind of caller, on a project
//! of its own. Allowed callers get a 2xx; members below the route's role and admins who are
//! not members get 403; strangers get 404, as for a project that does not exist; callers
//! without a token get 401.

mod common;

use authn::Role;
use axum::http::{Method, StatusCode};
use common::{FORM_BOUNDARY, FormPart, TestApp, form};
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::{Reply, User};

/// The callers every route is tried with, weakest first among members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    Stranger,
    Viewer,
    Editor,
    Maintainer,
    Owner,
    Admin,
}

const CALLERS: [Caller; 7] = [
    Caller::Anonymous,
    Caller::Stranger,
    Caller::Viewer,
    Caller::Editor,
    Caller::Maintainer,
    Caller::Owner,
    Caller::Admin,
];

/// The weakest project role a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Needs {
    Viewer,
    Editor,
    Maintainer,
    Owner,
}

/// A request body: JSON (placeholders filled), raw text, or a form with one file.
enum Payload {
    None,
    Json(Value),
    Text(&'static str),
    Form,
}

/// A route and a request that succeeds for whoever may make it. `{p}` is the project id,
/// `{extra}` a viewer member whom the maintainer-level routes manage, `{heir}` the
/// maintainer. (`GET .../events` streams, so `tests/events.rs` asks it.)
struct Route {
    method: Method,
    path: &'static str,
    body: Payload,
    needs: Needs,
}

fn route(method: Method, path: &'static str, body: Payload, needs: Needs) -> Route {
    Route {
        method,
        path,
        body,
        needs,
    }
}

fn routes() -> Vec<Route> {
    use Method as M;
    use Needs::*;
    use Payload::{Form, Json, None, Text};
    vec![
        route(M::GET, "/api/projects/{p}", None, Viewer),
        route(
            M::PATCH,
            "/api/projects/{p}",
            Json(json!({ "version": 1, "description": "x" })),
            Maintainer,
        ),
        route(M::DELETE, "/api/projects/{p}", None, Owner),
        route(M::GET, "/api/projects/{p}/activity", None, Viewer),
        route(M::GET, "/api/projects/{p}/members", None, Viewer),
        route(
            M::PUT,
            "/api/projects/{p}/members/{newcomer}",
            Json(json!({ "role": "viewer" })),
            Maintainer,
        ),
        route(
            M::DELETE,
            "/api/projects/{p}/members/{extra}",
            None,
            Maintainer,
        ),
        route(
            M::POST,
            "/api/projects/{p}/transfer",
            Json(json!({ "user_id": "{heir}" })),
            Owner,
        ),
        route(M::GET, "/api/projects/{p}/epics", None, Viewer),
        route(
            M::POST,
            "/api/projects/{p}/epics",
            Json(json!({ "title": "New" })),
            Editor,
        ),
        route(M::GET, "/api/projects/{p}/epics/{epic}", None, Viewer),
        route(
            M::PATCH,
            "/api/projects/{p}/epics/{epic}",
            Json(json!({ "version": 1, "title": "Renamed" })),
            Editor,
        ),
        route(M::DELETE, "/api/projects/{p}/epics/{epic}", None, Editor),
        route(M::GET, "/api/projects/{p}/tasks", None, Viewer),
        route(
            M::GET,
            "/api/projects/{p}/tasks?q=task&order=rank",
            None,
            Viewer,
        ),
        route(
            M::POST,
            "/api/projects/{p}/tasks",
            Json(json!({ "title": "New" })),
            Editor,
        ),
        route(M::GET, "/api/projects/{p}/tasks/1", None, Viewer),
        route(
            M::PATCH,
            "/api/projects/{p}/tasks/1",
            Json(json!({ "version": 1, "status": "todo" })),
            Editor,
        ),
        route(M::DELETE, "/api/projects/{p}/tasks/1", None, Editor),
        route(
            M::POST,
            "/api/projects/{p}/tasks/1/move",
            Json(json!({ "after": 2 })),
            Editor,
        ),
        route(M::GET, "/api/projects/{p}/files", None, Viewer),
        route(M::POST, "/api/projects/{p}/files", Form, Editor),
        route(M::GET, "/api/projects/{p}/files/notes.md", None, Viewer),
        route(
            M::PUT,
            "/api/projects/{p}/files/notes.md",
            Text("new text"),
            Editor,
        ),
        route(M::DELETE, "/api/projects/{p}/files/notes.md", None, Editor),
        route(
            M::POST,
            "/api/projects/{p}/restore-file",
            Json(json!({ "path": "notes.md", "version": 1 })),
            Editor,
        ),
    ]
}

/// The people of one test: the same accounts are members of every fixture project.
struct People {
    stranger: User,
    viewer: User,
    editor: User,
    maintainer: User,
    owner: User,
    admin: User,
    extra: User,
    newcomer: User,
}

impl People {
    async fn new(app: &TestApp) -> Self {
        Self {
            stranger: app.user("stranger").await,
            viewer: app.user("viewer").await,
            editor: app.user("editor").await,
            maintainer: app.user("maintainer").await,
            owner: app.user("owner").await,
            admin: app.user_with_role("admin", Role::Admin).await,
            extra: app.user("extra").await,
            newcomer: app.user("newcomer").await,
        }
    }

    fn token(&self, caller: Caller) -> Option<&User> {
        match caller {
            Caller::Anonymous => None,
            Caller::Stranger => Some(&self.stranger),
            Caller::Viewer => Some(&self.viewer),
            Caller::Editor => Some(&self.editor),
            Caller::Maintainer => Some(&self.maintainer),
            Caller::Owner => Some(&self.owner),
            Caller::Admin => Some(&self.admin),
        }
    }
}

/// A fresh project with one of everything, and the members in their roles. Returns the
/// placeholders' values.
async fn fixture(app: &TestApp, people: &People) -> Vec<(&'static str, String)> {
    let owner = &people.owner;
    let project = app.project_id("Fixture", owner).await;
    for (member, role) in [
        (&people.viewer, "viewer"),
        (&people.editor, "editor"),
        (&people.maintainer, "maintainer"),
        (&people.extra, "viewer"),
    ] {
        let path = format!("/api/projects/{project}/members/{}", member.id);
        let reply = app.put_as(&path, json!({ "role": role }), owner).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let epic = app
        .post_as(
            &format!("/api/projects/{project}/epics"),
            json!({ "title": "Epic" }),
            owner,
        )
        .await;
    for title in ["Task", "Other task"] {
        let tasks = format!("/api/projects/{project}/tasks");
        let task = app.post_as(&tasks, json!({ "title": title }), owner).await;
        assert_eq!(task.status, StatusCode::CREATED, "{}", task.body);
    }
    let file = app
        .upload(&project, "notes.md", "text/markdown", "# notes", owner)
        .await;
    assert_eq!(file.status, StatusCode::CREATED, "{}", file.body);
    vec![
        ("{p}", project),
        (
            "{epic}",
            epic.body["id"].as_str().expect("epic id").to_owned(),
        ),
        ("{extra}", people.extra.id.to_string()),
        ("{newcomer}", people.newcomer.id.to_string()),
        ("{heir}", people.maintainer.id.to_string()),
    ]
}

fn fill(template: &str, values: &[(&str, String)]) -> String {
    values
        .iter()
        .fold(template.to_owned(), |text, (key, value)| {
            text.replace(key, value)
        })
}

async fn ask(app: &TestApp, route: &Route, values: &[(&str, String)], who: Option<&User>) -> Reply {
    let mut request = app.request(route.method.clone(), &fill(route.path, values));
    if let Some(user) = who {
        request = request.bearer(user);
    }
    match &route.body {
        Payload::None => request,
        Payload::Json(body) => {
            let body = serde_json::from_str::<Value>(&fill(&body.to_string(), values));
            request.json(&body.expect("json"))
        }
        Payload::Text(text) => request.header("content-type", "text/plain").body(*text),
        Payload::Form => request
            .header(
                "content-type",
                &format!("multipart/form-data; boundary={FORM_BOUNDARY}"),
            )
            .body(form(&[FormPart::file(
                "form.md",
                "text/markdown",
                "# form",
            )])),
    }
    .send()
    .await
}

/// What `caller` must get from a route that needs `needs`: `None` for success.
fn expected_refusal(caller: Caller, needs: Needs) -> Option<StatusCode> {
    let role = match caller {
        Caller::Anonymous => return Some(StatusCode::UNAUTHORIZED),
        Caller::Stranger => return Some(StatusCode::NOT_FOUND),
        Caller::Admin if needs == Needs::Viewer => return None,
        Caller::Admin => return Some(StatusCode::FORBIDDEN),
        Caller::Viewer => Needs::Viewer,
        Caller::Editor => Needs::Editor,
        Caller::Maintainer => Needs::Maintainer,
        Caller::Owner => Needs::Owner,
    };
    (role < needs).then_some(StatusCode::FORBIDDEN)
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn every_route_answers_every_kind_of_caller_by_role(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let people = People::new(&app).await;
    let mut wrong = Vec::new();
    for route in routes() {
        for caller in CALLERS {
            // Each question gets its own project, so an allowed delete or transfer cannot
            // change the answer to the next one.
            let values = fixture(&app, &people).await;
            let reply = ask(&app, &route, &values, people.token(caller)).await;
            let expected = expected_refusal(caller, route.needs);
            let right = match expected {
                None => reply.status.is_success(),
                Some(status) => reply.status == status,
            };
            if !right {
                wrong.push(format!(
                    "{} {} as {caller:?}: got {} {}, expected {}",
                    route.method,
                    route.path,
                    reply.status,
                    reply.body,
                    expected.map_or("2xx".to_owned(), |s| s.to_string()),
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong answers:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn refusals_to_members_say_why_and_to_strangers_say_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let people = People::new(&app).await;
    let values = fixture(&app, &people).await;
    let tasks = fill("/api/projects/{p}/tasks", &values);

    let viewer = app
        .post_as(&tasks, json!({ "title": "x" }), &people.viewer)
        .await;
    assert_eq!(viewer.code(), "forbidden");
    assert!(
        viewer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("viewers")
    );
    let stranger = app
        .post_as(&tasks, json!({ "title": "x" }), &people.stranger)
        .await;
    assert_eq!(stranger.code(), "not_found");
    assert_eq!(stranger.body["error"]["message"], "project not found");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_removed_member_is_answered_at_once_as_for_a_project_that_does_not_exist(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let people = People::new(&app).await;
    let values = fixture(&app, &people).await;
    let missing: Vec<_> = values
        .iter()
        .map(|(key, value)| match *key {
            "{p}" => (*key, uuid::Uuid::new_v4().to_string()),
            _ => (*key, value.clone()),
        })
        .collect();
    let gone = &people.maintainer;
    let path = fill("/api/projects/{p}/members/", &values) + &gone.id.to_string();
    let removed = app.delete_as(&path, &people.owner).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);

    let mut wrong = Vec::new();
    for route in routes() {
        let reply = ask(&app, &route, &values, Some(gone)).await;
        let nowhere = ask(&app, &route, &missing, Some(gone)).await;
        if reply.status != StatusCode::NOT_FOUND || reply.body != nowhere.body {
            let (method, path) = (&route.method, route.path);
            wrong.push(format!("{method} {path}: {} {}", reply.status, reply.body));
        }
    }
    assert!(
        wrong.is_empty(),
        "answered unlike a stranger:\n{}",
        wrong.join("\n")
    );
}
