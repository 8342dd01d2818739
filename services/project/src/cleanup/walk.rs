//! Every file under `PROJECTS_DIR`, one at a time: the listing holds one open directory and
//! the directories still to visit (one per project), never the whole tree.

use std::{
    io,
    path::{Path, PathBuf},
    time::SystemTime,
};

use futures::Stream;

use crate::storage::{FileStore, StoredName};

/// A file (or anything else that is not a directory) found under the root.
#[derive(Debug, Clone)]
pub struct FoundFile {
    pub path: PathBuf,
    /// Relative to the root, for people to read.
    pub relative: String,
    pub name: StoredName,
    pub modified: SystemTime,
}

/// Walks `root` depth first. Directories and files that vanish while it walks (a project
/// deleted, an upload finishing) are skipped; a missing `root` yields nothing.
pub fn files(root: &Path) -> impl Stream<Item = io::Result<FoundFile>> + use<> {
    let walk = Walk {
        root: root.to_owned(),
        pending: vec![root.to_owned()],
        current: None,
    };
    futures::stream::try_unfold(walk, next)
}

struct Walk {
    root: PathBuf,
    pending: Vec<PathBuf>,
    current: Option<tokio::fs::ReadDir>,
}

async fn next(mut walk: Walk) -> io::Result<Option<(FoundFile, Walk)>> {
    loop {
        let Some(dir) = walk.current.as_mut() else {
            let Some(next) = walk.pending.pop() else {
                return Ok(None);
            };
            match tokio::fs::read_dir(&next).await {
                Ok(dir) => walk.current = Some(dir),
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(at(&next, error)),
            }
            continue;
        };
        let Some(entry) = dir.next_entry().await? else {
            walk.current = None;
            continue;
        };
        let path = entry.path();
        // Not followed: a symbolic link is judged (and removed) as itself.
        let metadata = match tokio::fs::symlink_metadata(&path).await {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(at(&path, error)),
        };
        if metadata.is_dir() {
            walk.pending.push(path);
            continue;
        }
        let relative = path
            .strip_prefix(&walk.root)
            .expect("listed under the root");
        let found = FoundFile {
            name: FileStore::name_of(relative),
            relative: relative.to_string_lossy().into_owned(),
            modified: metadata.modified()?,
            path,
        };
        return Ok(Some((found, walk)));
    }
}

fn at(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}
