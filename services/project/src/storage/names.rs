//! The names files get under `PROJECTS_DIR`, read back: which are stored bytes, which are
//! uploads still being written, and which this service never made.

use std::path::{Component, Path};

use uuid::Uuid;

use super::FileStore;

/// What a file under the root is, by the names [`FileStore::write_stream`] gives files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredName {
    /// Bytes under a storage key, `<project id>/<file version id>`.
    Blob { key: String },
    /// An upload's temporary file, renamed to `key` once whole and synced.
    Partial { key: String },
    /// Anything else: this service never writes such a name.
    Stray,
}

impl FileStore {
    /// Classifies a path relative to the root (canonical UUIDs only, as [`FileStore::locate`]).
    pub fn name_of(relative: &Path) -> StoredName {
        let mut parts = relative.components().map(|part| match part {
            Component::Normal(name) => name.to_str(),
            _ => None,
        });
        let (Some(Some(project)), Some(Some(file)), None) =
            (parts.next(), parts.next(), parts.next())
        else {
            return StoredName::Stray;
        };
        if !is_canonical_uuid(project) {
            return StoredName::Stray;
        }
        if is_canonical_uuid(file) {
            return StoredName::Blob {
                key: format!("{project}/{file}"),
            };
        }
        match file
            .strip_prefix('.')
            .and_then(|rest| rest.strip_suffix(".partial"))
        {
            Some(inner) if is_canonical_uuid(inner) => StoredName::Partial {
                key: format!("{project}/{inner}"),
            },
            _ => StoredName::Stray,
        }
    }
}

/// The temporary name of a file being written (what [`FileStore::name_of`] reads as
/// [`StoredName::Partial`]). Dot-prefixed: never a UUID, so never
/// mistaken for a stored file.
pub(super) fn partial_name(file: &str) -> String {
    format!(".{file}.partial")
}

fn is_canonical_uuid(text: &str) -> bool {
    Uuid::parse_str(text).is_ok_and(|id| id.to_string() == text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_classified_as_write_stream_makes_them() {
        let (project, file) = (Uuid::new_v4(), Uuid::new_v4());
        let key = format!("{project}/{file}");
        let name_of = |relative: String| FileStore::name_of(Path::new(&relative));
        assert_eq!(name_of(key.clone()), StoredName::Blob { key: key.clone() });
        assert_eq!(
            name_of(format!("{project}/.{file}.partial")),
            StoredName::Partial { key }
        );
        let upper = file.to_string().to_uppercase();
        for stray in [
            format!("{project}"),
            format!("{project}/{upper}"),
            format!("{project}/{file}.partial"),
            format!("{project}/.{file}"),
            format!("{project}/{file}/x"),
            format!("notes/{file}"),
            "stray.txt".to_owned(),
        ] {
            assert_eq!(name_of(stray.clone()), StoredName::Stray, "{stray}");
        }
    }
}
