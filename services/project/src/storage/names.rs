//! The names objects get in the store, read back: which are stored bytes, which are uploads
//! still being written, and which this service never made.

use uuid::Uuid;

use super::FileStore;

/// What an object (or local file) under the store's root is, by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredName {
    /// Bytes under a storage key, `<project id>/<file version id>`.
    Blob { key: String },
    /// An upload's temporary file: object_store's local staging file `<key>#<n>`, renamed to
    /// `key` once whole; or `.<file id>.partial`, what builds before object_store wrote (kept
    /// so an upgrade never takes an older replica's upload in flight for a stray).
    Partial { key: String },
    /// Anything else: this service never writes such a name.
    Stray,
}

impl FileStore {
    /// Classifies a name relative to the root (canonical UUIDs only, as
    /// [`FileStore::location`]).
    pub fn name_of(relative: &str) -> StoredName {
        let mut parts = relative.split('/');
        let (Some(project), Some(file), None) = (parts.next(), parts.next(), parts.next()) else {
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
        let staged = file.split_once('#').filter(|(_, counter)| {
            !counter.is_empty() && counter.bytes().all(|b| b.is_ascii_digit())
        });
        let legacy = file
            .strip_prefix('.')
            .and_then(|rest| rest.strip_suffix(".partial"));
        match staged.map(|(inner, _)| inner).or(legacy) {
            Some(inner) if is_canonical_uuid(inner) => StoredName::Partial {
                key: format!("{project}/{inner}"),
            },
            _ => StoredName::Stray,
        }
    }
}

/// A UUID in its one rendering (hyphenated lower-case), so no two names mean one id.
pub(super) fn is_canonical_uuid(text: &str) -> bool {
    Uuid::parse_str(text).is_ok_and(|id| id.to_string() == text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_classified_as_uploads_make_them() {
        let (project, file) = (Uuid::new_v4(), Uuid::new_v4());
        let key = format!("{project}/{file}");
        let name_of = |relative: String| FileStore::name_of(&relative);
        assert_eq!(name_of(key.clone()), StoredName::Blob { key: key.clone() });
        for partial in [
            format!("{project}/{file}#1"),
            format!("{project}/{file}#20"),
            format!("{project}/.{file}.partial"),
        ] {
            assert_eq!(
                name_of(partial.clone()),
                StoredName::Partial { key: key.clone() },
                "{partial}"
            );
        }
        let upper = file.to_string().to_uppercase();
        for stray in [
            format!("{project}"),
            format!("{project}/{upper}"),
            format!("{project}/{file}.partial"),
            format!("{project}/{file}#"),
            format!("{project}/{file}#x1"),
            format!("{project}/.{file}"),
            format!("{project}/{file}/x"),
            format!("notes/{file}"),
            "stray.txt".to_owned(),
        ] {
            assert_eq!(name_of(stray.clone()), StoredName::Stray, "{stray}");
        }
    }
}
