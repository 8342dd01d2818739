//! Reading and changing a project as the caller: who may do which, the lock every change
//! takes, and the activity entry every change commits with.
//!
//! Roles, each with the powers of the ones before it: a **viewer** reads everything in the
//! project; an **editor** also changes epics, tasks and files; a **maintainer** also
//! manages members below maintainer and the project's settings; the **owner** also deletes
//! or transfers the project and manages maintainers. Admins (`Role::is_admin` of the
//! account) may *read* any project by id (support and moderation) but get 403 on changes
//! unless they are members. Everyone else gets 404, exactly as for a project that does not
//! exist.

use authn::AuthUser;
use db::{
    PgConnection, PgExecutor, PgPool, Postgres, Transaction,
    ids::{ProjectId, SessionId, UserId},
    projects::{NewActivity, Project, Reader},
};
use serde_json::Value;
use uuid::Uuid;

use crate::{error::ApiError, validate::text_enum};

pub fn caller(user: &AuthUser) -> UserId {
    UserId(user.user_id)
}

/// The caller, for a statement that checks [`reading`]'s rule itself (in SQL).
pub fn reader(user: &AuthUser) -> Reader {
    Reader {
        user_id: caller(user),
        is_admin: user.role.is_admin(),
    }
}

text_enum! {
    /// What someone may do in a project, weakest first (the order is the powers' order).
    #[derive(PartialOrd, Ord, Hash)]
    pub enum ProjectRole {
        Viewer = "viewer", Editor = "editor", Maintainer = "maintainer", Owner = "owner",
    }
}

impl ProjectRole {
    /// A membership row's role; `None` for a value no migration allows.
    pub fn of_member(role: &str) -> Option<Self> {
        match role {
            "viewer" => Some(ProjectRole::Viewer),
            "editor" => Some(ProjectRole::Editor),
            "maintainer" => Some(ProjectRole::Maintainer),
            _ => None,
        }
    }

    /// Why someone with a weaker role is refused what needs `self`.
    fn refusal(self) -> &'static str {
        match self {
            ProjectRole::Viewer | ProjectRole::Editor => {
                "viewers may read this project but not change it"
            }
            ProjectRole::Maintainer => "only maintainers and the owner may do this",
            ProjectRole::Owner => "only the project's owner may do this",
        }
    }
}

/// A live project as the caller sees it: `role` is `None` for an admin reading a project
/// they are not a member of.
#[derive(Debug, Clone)]
pub struct Access {
    pub project: Project,
    pub role: Option<ProjectRole>,
}

/// A live project the caller may read: their own, one they are a member of, or any when
/// they are an admin.
pub async fn readable(pool: &PgPool, user: &AuthUser, id: ProjectId) -> Result<Project, ApiError> {
    Ok(reading(pool, user, id).await?.project)
}

/// [`readable`], with the caller's role.
pub async fn reading(pool: &PgPool, user: &AuthUser, id: ProjectId) -> Result<Access, ApiError> {
    let project = live(pool, id).await?;
    let role = role_in(pool, &project, user).await?;
    if role.is_none() && !user.role.is_admin() {
        return Err(ApiError::NotFound("project"));
    }
    Ok(Access { project, role })
}

/// A live project the caller may change as an editor, checked without the lock: for
/// refusing early, before slow work such as reading an upload's body. The change itself
/// still goes through [`Change::begin`], since the project or the membership may change in
/// between.
pub async fn writable(pool: &PgPool, user: &AuthUser, id: ProjectId) -> Result<Project, ApiError> {
    let project = live(pool, id).await?;
    let role = role_in(pool, &project, user).await?;
    permit(role, ProjectRole::Editor, user)?;
    Ok(project)
}

async fn live(pool: &PgPool, id: ProjectId) -> Result<Project, ApiError> {
    db::projects::project::find_live(pool, id)
        .await?
        .ok_or(ApiError::NotFound("project"))
}

/// The caller's role in `project`: owner without a query (the common case), else their
/// membership, if any.
async fn role_in(
    executor: impl PgExecutor<'_>,
    project: &Project,
    user: &AuthUser,
) -> Result<Option<ProjectRole>, ApiError> {
    if project.owner_id == caller(user) {
        return Ok(Some(ProjectRole::Owner));
    }
    let role = db::projects::members::role_of(executor, project.id, caller(user)).await?;
    Ok(role.as_deref().and_then(ProjectRole::of_member))
}

/// Whether `role` is enough for what needs `needed`: members learn why not, admins learn
/// that they only read, strangers learn nothing.
fn permit(
    role: Option<ProjectRole>,
    needed: ProjectRole,
    user: &AuthUser,
) -> Result<ProjectRole, ApiError> {
    match role {
        Some(role) if role >= needed => Ok(role),
        Some(_) => Err(ApiError::Forbidden(needed.refusal())),
        None if user.role.is_admin() => Err(ApiError::Forbidden(
            "admins may read other users' projects but not change them",
        )),
        None => Err(ApiError::NotFound("project")),
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
    /// The caller's role, at least the one the change needed.
    pub role: ProjectRole,
}

impl<'a> Change<'a> {
    /// A change an editor may make (epics, tasks, files).
    pub async fn begin(pool: &PgPool, user: &'a AuthUser, id: ProjectId) -> Result<Self, ApiError> {
        Self::begin_as(pool, user, id, ProjectRole::Editor).await
    }

    /// A change that needs at least `needed`. The role is read under the project's lock,
    /// which every membership change also takes, so it cannot change before commit.
    pub async fn begin_as(
        pool: &PgPool,
        user: &'a AuthUser,
        id: ProjectId,
        needed: ProjectRole,
    ) -> Result<Self, ApiError> {
        let mut tx = pool.begin().await?;
        let project = db::projects::project::lock_live(&mut tx, id)
            .await?
            .ok_or(ApiError::NotFound("project"))?;
        let role = role_in(&mut *tx, &project, user).await?;
        let role = permit(role, needed, user)?;
        Ok(Self {
            tx,
            user,
            project,
            role,
        })
    }

    /// Who makes this change.
    pub fn user(&self) -> &AuthUser {
        self.user
    }

    /// The change's transaction, for its own queries.
    pub fn tx(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Refuses a caller whose email is not verified (403 `email_unverified`), for changes
    /// that let others into the project. Read in the change's transaction, after the lock,
    /// together with the caller's session: a takeover of the account by the address's owner
    /// that commits in between leaves the registrant's session ended (401), not verified.
    pub async fn require_verified_email(&mut self) -> Result<(), ApiError> {
        let session = SessionId(self.user.session_id);
        match db::auth::sessions::holder_is_verified(&mut *self.tx, session).await? {
            Some(true) => Ok(()),
            Some(false) => Err(ApiError::EmailUnverified),
            None => Err(authn::AuthError::SessionEnded.into()),
        }
    }

    /// Refuses an assignee who is neither the owner nor a member: a task must only be
    /// assigned to someone who can see it. Checked under the lock, like the role.
    pub async fn check_assignee(&mut self, assignee: Option<UserId>) -> Result<(), ApiError> {
        let Some(assignee) = assignee else {
            return Ok(());
        };
        if assignee == self.project.owner_id
            || db::projects::members::role_of(&mut *self.tx, self.project.id, assignee)
                .await?
                .is_some()
        {
            return Ok(());
        }
        Err(ApiError::validation(
            "assignee_not_member",
            "tasks can only be assigned to the project's owner or its members",
        ))
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

/// Whether an edit that sent nothing but `version` may answer with the entity as it is: such
/// an edit changes nothing, so it makes no new version and no activity entry (the caller
/// drops its [`Change`], which rolls back). A stale `version` is still a conflict, so that a
/// client learns of the edit it missed as it would with any other PATCH.
pub fn unchanged(entity: &'static str, current: i32, sent: i32) -> Result<(), ApiError> {
    if current == sent {
        Ok(())
    } else {
        Err(ApiError::VersionConflict { entity, current })
    }
}

/// The names of the fields a PATCH body sent, for its activity entry.
pub fn sent_fields<const N: usize>(fields: [(&'static str, bool); N]) -> Vec<&'static str> {
    fields
        .into_iter()
        .filter_map(|(field, sent)| sent.then_some(field))
        .collect()
}
