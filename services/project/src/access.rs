//! Reading and changing a project as the caller: who may do which, the lock every change
//! takes, and the activity entry every change commits with.
//!
//! The owner reads and changes a project and everything in it. Admins (`Role::is_admin`)
//! may *read* any project by id (support and moderation) but get 403 on changes; everyone
//! else gets 404, exactly as for a project that does not exist.

use authn::AuthUser;
use db::{
    PgConnection, PgPool, Postgres, Transaction,
    ids::{ProjectId, UserId},
    projects::{NewActivity, Project},
};
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;

pub fn caller(user: &AuthUser) -> UserId {
    UserId(user.user_id)
}

/// A live project the caller may read: their own, or any when they are an admin.
pub async fn readable(pool: &PgPool, user: &AuthUser, id: ProjectId) -> Result<Project, ApiError> {
    let project = live(pool, id).await?;
    if project.owner_id == caller(user) || user.role.is_admin() {
        Ok(project)
    } else {
        Err(ApiError::NotFound("project"))
    }
}

/// A live project the caller may change, checked without the lock: for refusing early,
/// before slow work such as reading an upload's body. The change itself still goes through
/// [`Change::begin`], since the project may be deleted in between.
pub async fn writable(pool: &PgPool, user: &AuthUser, id: ProjectId) -> Result<Project, ApiError> {
    may_write(live(pool, id).await?, user)
}

async fn live(pool: &PgPool, id: ProjectId) -> Result<Project, ApiError> {
    db::projects::project::find_live(pool, id)
        .await?
        .ok_or(ApiError::NotFound("project"))
}

/// Only the owner changes a project; admins learn why they cannot, others learn nothing.
fn may_write(project: Project, user: &AuthUser) -> Result<Project, ApiError> {
    if project.owner_id == caller(user) {
        Ok(project)
    } else if user.role.is_admin() {
        Err(ApiError::Forbidden(
            "admins may read other users' projects but not change them",
        ))
    } else {
        Err(ApiError::NotFound("project"))
    }
}

/// One change to a live project the caller may change: a transaction holding the project's
/// row lock (see `db::projects::project::lock_live` for why every write takes it), committed
/// together with the activity entry that describes the change.
pub struct Change<'a> {
    tx: Transaction<'static, Postgres>,
    user: &'a AuthUser,
    /// The project as it was when locked, before this change.
    pub project: Project,
}

impl<'a> Change<'a> {
    pub async fn begin(pool: &PgPool, user: &'a AuthUser, id: ProjectId) -> Result<Self, ApiError> {
        let mut tx = pool.begin().await?;
        let project = db::projects::project::lock_live(&mut tx, id)
            .await?
            .ok_or(ApiError::NotFound("project"))?;
        let project = may_write(project, user)?;
        Ok(Self { tx, user, project })
    }

    /// The change's transaction, for its own queries.
    pub fn tx(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Appends `action` on `entity_id` to the project's feed and commits the whole change.
    pub async fn commit(
        mut self,
        action: &str,
        entity_id: Uuid,
        details: Value,
    ) -> Result<(), ApiError> {
        let project_id = self.project.id;
        record(
            &mut self.tx,
            project_id,
            self.user,
            action,
            entity_id,
            details,
        )
        .await?;
        self.tx.commit().await?;
        Ok(())
    }
}

/// Appends to a project's feed; call it in the transaction of the change. The entity type
/// is the action's first word (`task` for `task.updated`).
pub async fn record(
    connection: &mut PgConnection,
    project_id: ProjectId,
    user: &AuthUser,
    action: &str,
    entity_id: Uuid,
    details: Value,
) -> Result<(), ApiError> {
    let entity_type = action.split('.').next().unwrap_or(action);
    db::projects::activity::record(
        connection,
        NewActivity {
            project_id,
            actor_id: caller(user),
            action,
            entity_type,
            entity_id,
            details,
        },
    )
    .await?;
    Ok(())
}

/// The names of the fields a PATCH body sent, for its activity entry.
pub fn sent_fields<const N: usize>(fields: [(&'static str, bool); N]) -> Vec<&'static str> {
    fields
        .into_iter()
        .filter_map(|(field, sent)| sent.then_some(field))
        .collect()
}
