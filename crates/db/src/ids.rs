//! Typed ids: a `UserId` cannot be passed where a `ProjectId` is expected.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! typed_id {
    ($($(#[$doc:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(Serialize, Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered (v7) id, so fresh rows sort and index well.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )+};
}

typed_id!(
    /// `auth.users.id`
    UserId,
    /// `auth.user_sessions.id`
    SessionId,
    /// `projects.projects.id`
    ProjectId,
    /// `projects.epics.id`
    EpicId,
    /// `projects.tasks.id`
    TaskId,
    /// `projects.project_files.id`
    FileId,
    /// `memory.documents.id`
    DocumentId,
    /// `memory.chunks.id`; also the chunk's point id in the vector index.
    ChunkId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_json() {
        let id = ProjectId::new();
        assert_eq!(id.to_string().parse::<ProjectId>().expect("parses"), id);
        let json = serde_json::to_string(&id).expect("serialises");
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(
            serde_json::from_str::<ProjectId>(&json).expect("parses"),
            id
        );
    }

    #[test]
    fn new_ids_sort_by_creation_time() {
        let first = TaskId::new();
        let second = TaskId::new();
        assert!(first < second);
    }
}
