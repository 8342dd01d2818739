//! Documents in projects: filed on ingestion (single and batch) under a project the writer
//! can see, shown and filtered on in listings, carried in the vectors' payload, and moved
//! by re-ingestion. Any other project id gets one answer that reveals nothing.

mod common;

use authn::Role;
use axum::http::StatusCode;
use common::TestApp;
use db::{
    ids::{ProjectId, UserId},
    projects::NewProject,
};
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::{Reply, User};
use uuid::Uuid;
use vector::{Condition, Filter};

const DOCUMENTS: &str = "/api/memory/documents";

/// A live project owned by `owner`.
async fn project(app: &TestApp, owner: &User) -> Uuid {
    let id = Uuid::now_v7();
    let slug = format!("p{}", &id.simple().to_string()[20..]);
    let project = NewProject {
        id: ProjectId(id),
        owner_id: UserId(owner.id),
        name: "Notes project",
        slug: &slug,
        description: "",
    };
    db::projects::project::insert(&app.pool, &project)
        .await
        .expect("insert project");
    id
}

async fn add_member(app: &TestApp, project: Uuid, member: &User, owner: &User) {
    let mut connection = app.pool.acquire().await.unwrap();
    db::projects::members::put(
        &mut connection,
        ProjectId(project),
        UserId(member.id),
        "viewer",
        UserId(owner.id),
    )
    .await
    .expect("add member");
}

/// Vectors whose payload names `project`.
async fn vectors_in(app: &TestApp, project: Uuid) -> u64 {
    let indexer = &app.state.indexer;
    let filter = Filter::must(Condition::keyword_any("project_id", [project.to_string()]));
    indexer
        .index
        .count(&indexer.collection, Some(&filter))
        .await
        .expect("count")
}

fn note(text: &str, project: Option<Uuid>) -> Value {
    json!({"source": "notes", "content": text, "project_id": project})
}

fn listed_ids(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_owned())
        .collect()
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_document_filed_under_a_project_shows_it_and_its_vectors_carry_it(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let garden = project(&app, &alice).await;
    let ingested = app
        .ingest(&alice, note("Tomatoes need sun and water.", Some(garden)))
        .await;
    assert_eq!(ingested.status, StatusCode::CREATED, "{}", ingested.body);
    let document = &ingested.body["document"];
    assert_eq!(document["project_id"], garden.to_string());
    let id = document["id"].as_str().unwrap();

    let shown = app.get_as(&format!("{DOCUMENTS}/{id}"), &alice).await;
    assert_eq!(shown.body["project_id"], garden.to_string());
    let chunks = document["chunk_count"].as_u64().unwrap();
    assert_eq!(vectors_in(&app, garden).await, chunks);

    let outside = app.ingest(&alice, note("Not in a project.", None)).await;
    assert_eq!(outside.status, StatusCode::CREATED);
    assert_eq!(outside.body["document"]["project_id"], Value::Null);
    assert_eq!(
        vectors_in(&app, garden).await,
        chunks,
        "no payload for the other"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn only_projects_the_writer_can_see_are_accepted_all_others_alike(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let bob = app.user(Role::User).await;
    let admin = app.user(Role::Admin).await;
    let bobs = project(&app, &bob).await;
    let shared_with_alice = project(&app, &bob).await;
    add_member(&app, shared_with_alice, &alice, &bob).await;
    let deleted = project(&app, &alice).await;
    sqlx::query("UPDATE projects.projects SET deleted_at = now() WHERE id = $1")
        .bind(deleted)
        .execute(&app.pool)
        .await
        .unwrap();

    let mut refusals = Vec::new();
    for (n, project) in [bobs, deleted, Uuid::now_v7()].into_iter().enumerate() {
        let refused = app
            .ingest(&alice, note(&format!("Attempt {n}."), Some(project)))
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.code(), "unknown_project");
        refusals.push(refused.body["error"]["message"].clone());
    }
    assert!(
        refusals.iter().all(|message| *message == refusals[0]),
        "{refusals:?}"
    );
    assert_eq!(app.documents().await, 0, "nothing stored");

    let as_member = app
        .ingest(&alice, note("Filed by a member.", Some(shared_with_alice)))
        .await;
    assert_eq!(as_member.status, StatusCode::CREATED, "{}", as_member.body);
    // Admins may file under any live project, shared documents too.
    let by_admin = app
        .ingest(
            &admin,
            json!({"source": "docs", "content": "Shared, in Bob's project.",
                   "shared": true, "project_id": bobs}),
        )
        .await;
    assert_eq!(by_admin.status, StatusCode::CREATED, "{}", by_admin.body);
    assert_eq!(by_admin.body["document"]["project_id"], bobs.to_string());
    assert_eq!(by_admin.body["document"]["shared"], true);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_batch_refuses_only_the_items_filed_under_unknown_projects(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let bob = app.user(Role::User).await;
    let mine = project(&app, &alice).await;
    let bobs = project(&app, &bob).await;
    let reply = app
        .post_as(
            &format!("{DOCUMENTS}/batch"),
            json!({"documents": [
                note("First, mine.", Some(mine)),
                note("Second, Bob's.", Some(bobs)),
                note("Third, none.", None),
            ]}),
            &alice,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let items = &reply.body["items"];
    assert_eq!(items[0]["status"], "created");
    assert_eq!(items[0]["document"]["project_id"], mine.to_string());
    assert_eq!(items[1]["status"], "error");
    assert_eq!(items[1]["error"]["code"], "unknown_project");
    assert_eq!(items[2]["status"], "created");
    assert_eq!(items[2]["document"]["project_id"], Value::Null);
    assert_eq!(vectors_in(&app, mine).await, 1);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn listings_filter_on_project_ids(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let (garden, kitchen) = (project(&app, &alice).await, project(&app, &alice).await);
    let mut ids = Vec::new();
    for (text, project) in [
        ("Garden one.", Some(garden)),
        ("Kitchen one.", Some(kitchen)),
        ("Loose one.", None),
    ] {
        let reply = app.ingest(&alice, note(text, project)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        ids.push(reply.body["document"]["id"].as_str().unwrap().to_owned());
    }
    let list = |query: String| {
        let (app, alice) = (&app, &alice);
        async move { app.get_as(&format!("{DOCUMENTS}?{query}"), alice).await }
    };
    assert_eq!(
        listed_ids(&list(format!("project_ids={garden}")).await),
        [ids[0].clone()]
    );
    let both = list(format!("project_ids={kitchen},%20{garden}")).await;
    assert_eq!(listed_ids(&both), [ids[1].clone(), ids[0].clone()]);
    assert_eq!(both.body["items"][0]["project_id"], kitchen.to_string());
    assert_eq!(listed_ids(&list("project_ids=".into()).await).len(), 3);
    assert!(
        listed_ids(&list(format!("project_ids={}", Uuid::now_v7())).await).is_empty(),
        "a project of nobody's documents"
    );

    let malformed = list("project_ids=garden".into()).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.code(), "invalid_query");
    let many = (0..101)
        .map(|_| Uuid::now_v7().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let too_many = list(format!("project_ids={many}")).await;
    assert_eq!(too_many.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(too_many.code(), "too_many_filter_values");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn re_ingesting_a_key_can_move_the_document_to_another_project(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let (garden, kitchen) = (project(&app, &alice).await, project(&app, &alice).await);
    let keyed = |project: Option<Uuid>| {
        json!({"source": "notes", "external_id": "basil", "project_id": project,
               "content": "Basil grows in the garden and ends up in the kitchen."})
    };
    let first = app.ingest(&alice, keyed(Some(garden))).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = app.ingest(&alice, keyed(Some(garden))).await;
    assert_eq!(again.body["status"], "unchanged");

    let moved = app.ingest(&alice, keyed(Some(kitchen))).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(moved.body["status"], "updated");
    assert_eq!(moved.body["document"]["id"], first.body["document"]["id"]);
    assert_eq!(moved.body["document"]["project_id"], kitchen.to_string());
    assert_eq!(
        vectors_in(&app, garden).await,
        0,
        "the old vectors are gone"
    );
    assert_eq!(vectors_in(&app, kitchen).await, 1);

    let out = app.ingest(&alice, keyed(None)).await;
    assert_eq!(out.body["status"], "updated");
    assert_eq!(out.body["document"]["project_id"], Value::Null);
    assert_eq!(vectors_in(&app, kitchen).await, 0);
    assert_eq!(app.vectors().await, 1);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn deleting_a_project_keeps_its_documents_outside_any_project(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user(Role::User).await;
    let garden = project(&app, &alice).await;
    let reply = app
        .ingest(&alice, note("Kept after the project.", Some(garden)))
        .await;
    let id = reply.body["document"]["id"].as_str().unwrap().to_owned();
    sqlx::query("DELETE FROM projects.projects WHERE id = $1")
        .bind(garden)
        .execute(&app.pool)
        .await
        .unwrap();
    let shown = app.get_as(&format!("{DOCUMENTS}/{id}"), &alice).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.body["project_id"], Value::Null);
}
