//! The project a document is filed under: the writer must be able to see it (its owner, a
//! member, or an admin). Any other id — someone else's project, a deleted one, one that
//! never existed — gets the same answer, so the answer tells nothing about other projects.

use std::collections::HashSet;

use authn::AuthUser;
use uuid::Uuid;

use crate::error::ApiError;

/// The projects among `ids` that `user` may file documents under.
pub async fn visible(
    pool: &db::PgPool,
    user: &AuthUser,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashSet<Uuid>, sqlx::Error> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let visible =
        db::memory::documents::visible_projects(pool, user.user_id, user.role.is_admin(), &ids)
            .await?;
    Ok(visible.into_iter().collect())
}

/// The answer for a project the writer cannot see.
pub fn unknown_project() -> ApiError {
    ApiError::validation(
        "unknown_project",
        "project_id is not a project you own or are a member of",
    )
}
