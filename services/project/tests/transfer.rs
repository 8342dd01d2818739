//! Ownership transfer: only to a maintainer, who then owns everything; refused whole when the
//! new owner already has a project with the same slug.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use common::members::{pairs, put_member, roster};
use serde_json::json;
use sqlx::PgPool;
use testkit::{Reply, User, assert_error};

/// `owner`'s project with `heir` a member: what every transfer here starts from.
struct Handover {
    app: TestApp,
    owner: User,
    heir: User,
    project: String,
}

impl Handover {
    /// The project `name`, with `heir` a member of `heir_role`.
    async fn new(pool: PgPool, name: &str, heir_role: &str) -> Self {
        let app = TestApp::new(pool).await;
        let owner = app.user("owner").await;
        let heir = app.user("heir").await;
        let project = app.project_id(name, &owner).await;
        put_member(&app, &project, &heir, heir_role, &owner).await;
        Self {
            app,
            owner,
            heir,
            project,
        }
    }

    /// `POST .../transfer` of the project to the heir, asked by `by`.
    async fn transfer_to_heir(&self, by: &User) -> Reply {
        let transfer = format!("/api/projects/{}/transfer", self.project);
        self.app
            .post_as(&transfer, json!({ "user_id": self.heir.id }), by)
            .await
    }

    /// Sets `user`'s account flags behind the service's back (both start true).
    async fn set_account(&self, user: &User, active: bool, verified: bool) {
        sqlx::query!(
            "UPDATE auth.users SET is_active = $2, is_verified = $3 WHERE id = $1",
            user.id,
            active,
            verified
        )
        .execute(&self.app.pool)
        .await
        .expect("account flags");
    }

    /// The owner's transfer to the heir is refused with `status` and `code`, and changes
    /// nothing: the owner still owns the project, and the heir is still a maintainer.
    async fn assert_refused(&self, status: StatusCode, code: &str) {
        let refused = self.transfer_to_heir(&self.owner).await;
        assert_error(&refused, status, code);
        assert_eq!(
            roster(&self.app, &self.project, &self.owner).await,
            pairs(&[("owner", "owner"), ("heir", "maintainer")])
        );
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn ownership_goes_only_to_a_maintainer_who_then_owns_everything(pool: PgPool) {
    let handover = Handover::new(pool, "Legacy", "editor").await;
    let Handover {
        app,
        owner,
        heir,
        project,
    } = &handover;

    let early = handover.transfer_to_heir(owner).await;
    assert_eq!(
        early.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        early.body
    );
    assert_eq!(early.code(), "not_a_maintainer");
    put_member(app, project, heir, "maintainer", owner).await;
    let by_heir = handover.transfer_to_heir(heir).await;
    assert_eq!(
        by_heir.status,
        StatusCode::FORBIDDEN,
        "only the owner transfers"
    );

    let done = handover.transfer_to_heir(owner).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["owner_id"], json!(heir.id));
    assert_eq!(done.body["role"], "maintainer", "the caller's role now");
    assert_eq!(
        roster(app, project, heir).await,
        pairs(&[("heir", "owner"), ("owner", "maintainer")])
    );
    let path = format!("/api/projects/{project}");
    assert_eq!(
        app.delete_as(&path, owner).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.delete_as(&path, heir).await.status,
        StatusCode::NO_CONTENT
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_transfer_to_someone_with_the_same_slug_is_refused_and_changes_nothing(pool: PgPool) {
    let handover = Handover::new(pool, "Notes", "maintainer").await;
    handover.app.project_id("Notes", &handover.heir).await;

    // The refused transfer rolled back whole.
    handover
        .assert_refused(StatusCode::CONFLICT, "slug_taken")
        .await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn ownership_never_goes_to_a_deactivated_account(pool: PgPool) {
    let handover = Handover::new(pool, "Handover", "maintainer").await;
    handover.set_account(&handover.heir, false, true).await;

    // A project handed to an account nobody can sign in to has no owner.
    handover
        .assert_refused(StatusCode::UNPROCESSABLE_ENTITY, "account_inactive")
        .await;
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn an_owner_whose_email_is_unverified_cannot_transfer(pool: PgPool) {
    let handover = Handover::new(pool, "Handover", "maintainer").await;
    // An email change leaves the account unverified until the new address is proved.
    handover.set_account(&handover.owner, true, false).await;

    handover
        .assert_refused(StatusCode::FORBIDDEN, "email_unverified")
        .await;
}
