//! Members and roles: adding, changing and removing members, who may do which, leaving, and
//! what membership changes do to tasks and the activity feed (ownership: `transfer.rs`).

mod common;

use axum::http::StatusCode;
use common::TestApp;
use common::members::{pairs, put_member, remove_member, roster};
use serde_json::{Value, json};
use sqlx::PgPool;

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_owner_adds_and_changes_members_and_each_change_is_recorded_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.user("owner").await;
    let mentor = app.user("mentor").await;
    let project = app.project_id("Study group", &owner).await;

    let added = put_member(&app, &project, &mentor, "viewer", &owner).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    assert_eq!(added.body["role"], "viewer");
    assert_eq!(added.body["username"], "mentor");
    assert_eq!(added.body["added_by"], json!(owner.id));
    assert!(
        added.body.get("email").is_none(),
        "members never see emails"
    );

    let again = put_member(&app, &project, &mentor, "viewer", &owner).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    let changed = put_member(&app, &project, &mentor, "editor", &owner).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["role"], "editor");

    assert_eq!(
        roster(&app, &project, &mentor).await,
        pairs(&[("owner", "owner"), ("mentor", "editor")])
    );
    assert_eq!(
        app.actions(&project, &owner).await,
        ["project.created", "member.added", "member.role_changed"],
        "setting the same role again changes nothing and records nothing"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn members_see_the_project_in_their_list_with_their_role_and_strangers_do_not(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.user("owner").await;
    let learner = app.user("learner").await;
    let stranger = app.user("stranger").await;
    let shared = app.project_id("Shared", &owner).await;
    app.project_id("Private", &owner).await;
    let own = app.project_id("Learner's own", &learner).await;
    put_member(&app, &shared, &learner, "editor", &owner).await;

    let listed = app.get_as("/api/projects", &learner).await;
    let seen: Vec<(&str, &str)> = listed.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["role"].as_str().unwrap()))
        .collect();
    assert_eq!(seen, [(own.as_str(), "owner"), (shared.as_str(), "editor")]);

    let shown = app
        .get_as(&format!("/api/projects/{shared}"), &learner)
        .await;
    assert_eq!(shown.body["role"], "editor");
    let hidden = app
        .get_as(&format!("/api/projects/{shared}"), &stranger)
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get_as("/api/projects", &stranger).await.body["items"],
        json!([])
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn maintainers_manage_viewers_and_editors_but_only_the_owner_manages_maintainers(
    pool: PgPool,
) {
    let app = TestApp::new(pool).await;
    let owner = app.user("owner").await;
    let lead = app.user("lead").await;
    let other_lead = app.user("otherlead").await;
    let student = app.user("student").await;
    let project = app.project_id("Course", &owner).await;
    put_member(&app, &project, &lead, "maintainer", &owner).await;
    put_member(&app, &project, &other_lead, "maintainer", &owner).await;

    let added = put_member(&app, &project, &student, "editor", &lead).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    assert_eq!(
        put_member(&app, &project, &student, "viewer", &lead)
            .await
            .status,
        StatusCode::OK
    );

    for refused in [
        put_member(&app, &project, &student, "maintainer", &lead).await,
        put_member(&app, &project, &other_lead, "editor", &lead).await,
        put_member(&app, &project, &lead, "editor", &lead).await,
        remove_member(&app, &project, &other_lead, &lead).await,
    ] {
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    }
    let by_editor = put_member(&app, &project, &student, "editor", &student).await;
    assert_eq!(
        by_editor.status,
        StatusCode::FORBIDDEN,
        "viewers manage nobody"
    );

    assert_eq!(
        put_member(&app, &project, &other_lead, "viewer", &owner)
            .await
            .status,
        StatusCode::OK,
        "the owner demotes maintainers"
    );
    assert_eq!(
        remove_member(&app, &project, &student, &lead).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        roster(&app, &project, &owner).await,
        pairs(&[
            ("owner", "owner"),
            ("lead", "maintainer"),
            ("otherlead", "viewer")
        ])
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn the_owner_cannot_be_given_a_role_or_removed_and_unknown_accounts_are_not_found(
    pool: PgPool,
) {
    let app = TestApp::new(pool).await;
    let owner = app.user("owner").await;
    let project = app.project_id("Mine", &owner).await;

    for reply in [
        put_member(&app, &project, &owner, "viewer", &owner).await,
        remove_member(&app, &project, &owner, &owner).await,
    ] {
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.body
        );
        assert_eq!(reply.code(), "owner_is_implicit");
    }
    let nobody = format!("/api/projects/{project}/members/{}", uuid::Uuid::new_v4());
    let unknown = app
        .put_as(&nobody, json!({ "role": "viewer" }), &owner)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    assert_eq!(
        app.delete_as(&nobody, &owner).await.status,
        StatusCode::NOT_FOUND,
        "removing someone who is not a member"
    );
    let owner_role = app
        .put_as(&nobody, json!({ "role": "owner" }), &owner)
        .await;
    assert_eq!(owner_role.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_member_may_leave_and_their_tasks_are_unassigned_in_the_same_change(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.user("owner").await;
    let helper = app.user("helper").await;
    let project = app.project_id("Board", &owner).await;
    put_member(&app, &project, &helper, "editor", &owner).await;
    let tasks = format!("/api/projects/{project}/tasks");
    let task = app
        .post_as(
            &tasks,
            json!({ "title": "Review", "assignee_id": helper.id }),
            &owner,
        )
        .await;
    assert_eq!(task.status, StatusCode::CREATED, "{}", task.body);

    let left = remove_member(&app, &project, &helper, &helper).await;
    assert_eq!(left.status, StatusCode::NO_CONTENT, "{}", left.body);
    let after = app.get_as(&format!("{tasks}/1"), &owner).await;
    assert_eq!(after.body["assignee_id"], Value::Null);
    assert_eq!(after.body["version"], 2, "the unassignment is an edit");
    assert_eq!(
        app.get_as(&format!("/api/projects/{project}"), &helper)
            .await
            .status,
        StatusCode::NOT_FOUND,
        "gone from the project"
    );
    let feed = app
        .get_as(&format!("/api/projects/{project}/activity"), &owner)
        .await;
    let removal = &feed.body["items"][0];
    assert_eq!(removal["action"], "member.removed");
    assert_eq!(removal["details"]["tasks_unassigned"], 1);
    assert_eq!(removal["details"]["left"], true);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn concurrent_adds_of_one_member_create_it_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.user("owner").await;
    let friend = app.user("friend").await;
    let project = app.project_id("Race", &owner).await;

    let replies = futures::future::join_all(
        (0..8).map(|_| put_member(&app, &project, &friend, "viewer", &owner)),
    )
    .await;
    let created = replies
        .iter()
        .filter(|reply| reply.status == StatusCode::CREATED)
        .count();
    assert_eq!(
        created,
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(replies.iter().all(|reply| reply.status.is_success()));
    let added = app
        .actions(&project, &owner)
        .await
        .into_iter()
        .filter(|action| action == "member.added")
        .count();
    assert_eq!(added, 1);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn tasks_are_assigned_only_to_the_owner_or_members(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.user("owner").await;
    let member = app.user("member").await;
    let outsider = app.user("outsider").await;
    let project = app.project_id("Team", &owner).await;
    app.add_member(&project, &member, "viewer", &owner).await;
    let tasks = format!("/api/projects/{project}/tasks");

    for assignee in [&owner, &member] {
        let reply = app
            .post_as(
                &tasks,
                json!({ "title": "Ok", "assignee_id": assignee.id }),
                &owner,
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let created = app
        .post_as(
            &tasks,
            json!({ "title": "No", "assignee_id": outsider.id }),
            &owner,
        )
        .await;
    assert_eq!(
        created.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        created.body
    );
    assert_eq!(created.code(), "assignee_not_member");
    let patched = app
        .patch_as(
            &format!("{tasks}/1"),
            json!({ "version": 1, "assignee_id": outsider.id }),
            &owner,
        )
        .await;
    assert_eq!(patched.code(), "assignee_not_member");
    let cleared = app
        .patch_as(
            &format!("{tasks}/1"),
            json!({ "version": 1, "assignee_id": null }),
            &owner,
        )
        .await;
    assert_eq!(
        cleared.status,
        StatusCode::OK,
        "unassigning needs no member"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn racing_role_changes_removals_and_a_transfer_leave_one_owner_and_no_5xx(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.user("owner").await;
    let lead = app.user("lead").await;
    let target = app.user("target").await;
    for round in 0..10 {
        let project = app.project_id(&format!("Race {round}"), &owner).await;
        app.add_member(&project, &lead, "maintainer", &owner).await;
        app.add_member(&project, &target, "maintainer", &owner)
            .await;
        let transfer = format!("/api/projects/{project}/transfer");
        let (a, b, c, d, e, f) = tokio::join!(
            put_member(&app, &project, &target, "editor", &owner),
            put_member(&app, &project, &target, "viewer", &lead),
            app.post_as(&transfer, json!({ "user_id": target.id }), &owner),
            remove_member(&app, &project, &target, &lead),
            remove_member(&app, &project, &target, &target),
            remove_member(&app, &project, &owner, &target),
        );
        for reply in [a, b, c, d, e, f] {
            assert!(
                reply.status.as_u16() < 500,
                "{}: {}",
                reply.status,
                reply.body
            );
        }
        // The lead is the one nobody here may remove (the new owner may remove the old one).
        let shown = app.get_as(&format!("/api/projects/{project}"), &lead).await;
        let people = roster(&app, &project, &lead).await;
        let owners: Vec<_> = people.iter().filter(|(_, role)| role == "owner").collect();
        assert_eq!(owners.len(), 1, "round {round}: {people:?}");
        let mut names: Vec<_> = people.iter().map(|(name, _)| name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), people.len(), "round {round}: {people:?}");
        let owner_id = shown.body["owner_id"].as_str().map(str::to_owned);
        let expected = if owners[0].0 == "owner" {
            &owner
        } else {
            &target
        };
        assert_eq!(owner_id, Some(expected.id.to_string()), "round {round}");
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_owner_whose_email_is_unverified_adds_nobody_until_it_is_verified(pool: PgPool) {
    let app = TestApp::new(pool).await;
    // Registered with an address nobody proved: possibly someone else's, whose owner may
    // take the account over later and must not find the registrant's friends inside.
    let registrant = app.unverified_user("registrant").await;
    let accomplice = app.user("accomplice").await;
    let project = app.project_id("Bait", &registrant).await;

    let refused = put_member(&app, &project, &accomplice, "viewer", &registrant).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.code(), "email_unverified");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("verify your email")),
        "{}",
        refused.body
    );
    assert_eq!(
        roster(&app, &project, &registrant).await,
        pairs(&[("registrant", "owner")])
    );

    db::auth::users::mark_verified(&app.pool, db::ids::UserId(registrant.id))
        .await
        .expect("verify");
    let added = put_member(&app, &project, &accomplice, "viewer", &registrant).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
}
