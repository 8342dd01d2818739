//! Everything under the store's root, one entry at a time, for `verify-files` and the sweep:
//! the store's own listing (`list`: S3 pages of 1,000 keys, a local walk in batches), plus,
//! for a local store, the staging files of uploads cut off by a crash, which object_store's
//! listing hides. (An S3 multipart upload cut off by a crash is not an object and no listing
//! shows it; the bucket's lifecycle rule `AbortIncompleteMultipartUpload` removes those.)

use std::{
    io,
    path::{Path, PathBuf},
    time::SystemTime,
};

use futures::{Stream, StreamExt, stream::BoxStream};
use object_store::{ObjectStore, ObjectStoreExt, path::Path as ObjectPath};

use super::{FileStore, StoredName};

/// An object (or a local staging file) found under the root.
#[derive(Debug, Clone)]
pub struct FoundFile {
    /// Relative to the root (or bucket prefix), for people to read.
    pub relative: String,
    pub name: StoredName,
    /// When it was last written: a local file's mtime, an S3 object's `LastModified`.
    pub modified: SystemTime,
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    Object(ObjectPath),
    StagingFile(PathBuf),
}

impl FileStore {
    /// Every object under the root, then (locally) every staging file. Entries that vanish
    /// while it lists (a project deleted, an upload finishing) are skipped.
    pub fn list(&self) -> BoxStream<'static, io::Result<FoundFile>> {
        let objects = self.objects.list(None).filter_map(|meta| {
            let found = match meta {
                Ok(meta) => {
                    let relative = meta.location.as_ref().to_owned();
                    Ok(FoundFile {
                        name: Self::name_of(&relative),
                        relative,
                        modified: meta.last_modified.into(),
                        source: Source::Object(meta.location),
                    })
                }
                // A local file named in something other than UTF-8: no object can have that
                // name, nor did this service make it. Skipped, so it cannot stop every sweep.
                Err(object_store::Error::InvalidPath { source }) => {
                    tracing::warn!(%source, "skipping a file whose name is not an object key");
                    return std::future::ready(None);
                }
                Err(error) => Err(error.into()),
            };
            std::future::ready(Some(found))
        });
        match self.local_root() {
            Some(root) => objects.chain(staging_files(root)).boxed(),
            None => objects.boxed(),
        }
    }

    /// Removes what [`FileStore::list`] found; already gone is fine.
    pub async fn remove_listed(&self, file: &FoundFile) -> io::Result<()> {
        let outcome = match &file.source {
            Source::Object(location) => {
                self.objects.delete(location).await.map_err(io::Error::from)
            }
            Source::StagingFile(path) => tokio::fs::remove_file(path).await,
        };
        match outcome {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }
}

/// Local staging files, `<project>/<file>#<n>`: one open directory at a time.
fn staging_files(root: &Path) -> impl Stream<Item = io::Result<FoundFile>> + use<> {
    let scan = StagingScan {
        root: root.to_owned(),
        projects: None,
        current: None,
        started: false,
    };
    futures::stream::try_unfold(scan, next_staging_file)
}

struct StagingScan {
    root: PathBuf,
    projects: Option<tokio::fs::ReadDir>,
    /// A project's directory being read, and the project's id.
    current: Option<(String, tokio::fs::ReadDir)>,
    started: bool,
}

async fn next_staging_file(mut scan: StagingScan) -> io::Result<Option<(FoundFile, StagingScan)>> {
    loop {
        if let Some((project, dir)) = scan.current.as_mut() {
            let Some(entry) = dir.next_entry().await? else {
                scan.current = None;
                continue;
            };
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let relative = format!("{project}/{name}");
            let name = FileStore::name_of(&relative);
            // Only `#` names: the legacy `.partial` ones are in the store's own listing.
            if !relative.contains('#') || !matches!(name, StoredName::Partial { .. }) {
                continue;
            }
            let path = entry.path();
            let metadata = match tokio::fs::symlink_metadata(&path).await {
                Ok(metadata) if metadata.is_file() => metadata,
                Ok(_) => continue,
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(at(&path, error)),
            };
            let found = FoundFile {
                relative,
                name,
                modified: metadata.modified()?,
                source: Source::StagingFile(path),
            };
            return Ok(Some((found, scan)));
        }
        if !scan.started {
            scan.started = true;
            match tokio::fs::read_dir(&scan.root).await {
                Ok(projects) => scan.projects = Some(projects),
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(error) => return Err(at(&scan.root, error)),
            }
        }
        let Some(projects) = scan.projects.as_mut() else {
            return Ok(None);
        };
        let Some(entry) = projects.next_entry().await? else {
            return Ok(None);
        };
        let Some(project) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !super::names::is_canonical_uuid(&project) {
            continue;
        }
        let dir = entry.path();
        match tokio::fs::symlink_metadata(&dir).await {
            Ok(metadata) if metadata.is_dir() => {}
            Ok(_) => continue,
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(at(&dir, error)),
        }
        match tokio::fs::read_dir(&dir).await {
            Ok(files) => scan.current = Some((project, files)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(at(&dir, error)),
        }
    }
}

fn at(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}
