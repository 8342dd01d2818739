//! File bytes in an object store (`object_store`): a directory (`PROJECTS_DIR`) by default,
//! an S3 bucket when `STORAGE_URL` names one. Bytes are addressed by storage keys this service
//! makes (`<project id>/<file version id>`), never by user-supplied paths: a user's `../x` is
//! only ever a row's `path` column, and [`FileStore::location`] accepts nothing but two UUIDs.
//!
//! A stored object is never changed in place: it appears whole under its key (an S3 upload
//! completes, a local file is renamed into place) and is later removed whole. That is what
//! lets a download stream while others upload, and a restored version share the bytes of the
//! version it restores.

use std::{
    io,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use db::ids::{FileId, ProjectId};
use futures::{StreamExt, TryStreamExt};
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig, aws::AmazonS3Builder,
    local::LocalFileSystem, path::Path as ObjectPath, prefix::PrefixStore,
};
use secrecy::ExposeSecret;

pub use self::{
    listing::FoundFile,
    location::{S3Location, StorageLocation, StorageSettings},
    names::StoredName,
    read::Opened,
    write::{StoredBlob, WriteError, Written},
};

mod listing;
mod location;
mod names;
mod read;
mod write;

/// 10 MiB, the guide's file limit; `project_files_size_bytes_check` says the same.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// How long S3 may leave us waiting for the next bytes of an answer. Not a limit on a whole
/// request: a download streams to a client at the client's pace, however slow.
const S3_READ_TIMEOUT: Duration = Duration::from_secs(20);
const S3_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a failed S3 request is retried (3 times at most) after it was first sent.
const S3_RETRY_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
pub struct FileStore {
    /// Keys are relative to the root (or bucket prefix): `PrefixStore` adds it.
    objects: Arc<dyn ObjectStore>,
    backend: Arc<Backend>,
}

#[derive(Debug)]
enum Backend {
    Local { root: PathBuf },
    S3 { url: String },
}

impl FileStore {
    /// Bytes under `root`, which need not exist yet (the first upload creates it).
    ///
    /// # Panics
    /// On a root no file URL can name (an empty path): `build` opens its store with
    /// [`FileStore::connect`], which reports that instead.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self::local(root.into()).unwrap_or_else(|error| panic!("{error}"))
    }

    fn local(root: PathBuf) -> Result<Self, String> {
        let absolute = std::path::absolute(&root)
            .map_err(|error| format!("PROJECTS_DIR {}: {error}", root.display()))?;
        let prefix = ObjectPath::from_absolute_path(&absolute)
            .map_err(|error| format!("PROJECTS_DIR {}: {error}", root.display()))?;
        // Rooted at `/` and prefixed rather than `new_with_prefix`, which needs the directory
        // to exist already. fsync: a file is durable (contents and name) before its row commits.
        let filesystem = LocalFileSystem::new().with_fsync(true);
        Ok(Self {
            objects: Arc::new(PrefixStore::new(filesystem, prefix)),
            backend: Arc::new(Backend::Local { root: absolute }),
        })
    }

    /// The store `location` names, checked to answer: a local root is created (`create`) or
    /// must exist; a bucket must answer a listing. Errors are one readable line.
    pub async fn connect(location: &StorageLocation, create: bool) -> Result<Self, String> {
        let store = match location {
            StorageLocation::Local(root) => {
                if create {
                    tokio::fs::create_dir_all(root)
                        .await
                        .map_err(|error| format!("PROJECTS_DIR {}: {error}", root.display()))?;
                }
                Self::local(root.clone())?
            }
            StorageLocation::S3(s3) => Self::s3(s3)?,
        };
        store.check().await?;
        Ok(store)
    }

    fn s3(location: &S3Location) -> Result<Self, String> {
        // reqwest 0.13 takes its TLS crypto from the process default; ring is the one rustls
        // is built with here. Already installed (a second store, a test) is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = match &location.credentials {
            Some((key, secret)) => AmazonS3Builder::new()
                .with_access_key_id(key)
                .with_secret_access_key(secret.expose_secret()),
            None => AmazonS3Builder::from_env(),
        };
        builder = builder
            .with_bucket_name(&location.bucket)
            .with_region(&location.region)
            .with_allow_http(location.allow_http)
            .with_client_options(
                ClientOptions::new()
                    .with_timeout_disabled()
                    .with_read_timeout(S3_READ_TIMEOUT)
                    .with_connect_timeout(S3_CONNECT_TIMEOUT)
                    .with_allow_http(location.allow_http),
            )
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: S3_RETRY_TIMEOUT,
                ..RetryConfig::default()
            });
        if let Some(endpoint) = &location.endpoint {
            // Path-style addressing (`endpoint/bucket/key`): what S3-compatible servers serve.
            builder = builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false);
        }
        let url = location.url();
        let bucket = builder
            .build()
            .map_err(|error| format!("STORAGE_URL {url}: {}", one_line(&error)))?;
        let objects: Arc<dyn ObjectStore> = if location.prefix.is_empty() {
            Arc::new(bucket)
        } else {
            Arc::new(PrefixStore::new(bucket, location.prefix.as_str()))
        };
        Ok(Self {
            objects,
            backend: Arc::new(Backend::S3 { url }),
        })
    }

    /// Whether the store answers, for start-up and `/health/ready`: the local root is a
    /// directory; the bucket answers a listing (one small page).
    pub async fn check(&self) -> Result<String, String> {
        match self.backend.as_ref() {
            Backend::Local { root } => match tokio::fs::metadata(root).await {
                Ok(metadata) if metadata.is_dir() => Ok(format!("{}", root.display())),
                Ok(_) => Err(format!(
                    "PROJECTS_DIR {} is not a directory",
                    root.display()
                )),
                Err(error) => Err(format!("PROJECTS_DIR {}: {error}", root.display())),
            },
            Backend::S3 { url } => {
                // Keys after `~` (above every key this service writes): an empty page in
                // the usual case, however many objects there are, yet still a real listing.
                let after_ours = ObjectPath::from("~");
                let listing = self.objects.list_with_offset(None, &after_ours);
                let first = tokio::time::timeout(S3_READ_TIMEOUT, listing.into_future());
                match first.await {
                    Ok((None | Some(Ok(_)), _)) => Ok(url.clone()),
                    Ok((Some(Err(error)), _)) => Err(format!(
                        "STORAGE_URL {url} does not answer: {}",
                        one_line(&error)
                    )),
                    Err(_) => Err(format!(
                        "STORAGE_URL {url} does not answer: no listing within {S3_READ_TIMEOUT:?}"
                    )),
                }
            }
        }
    }

    /// The directory of a local store; `None` for a bucket.
    pub fn local_root(&self) -> Option<&Path> {
        match self.backend.as_ref() {
            Backend::Local { root } => Some(root),
            Backend::S3 { .. } => None,
        }
    }

    pub fn storage_key(project: ProjectId, file: FileId) -> String {
        format!("{project}/{file}")
    }

    /// The object a key names. Refuses anything but `<uuid>/<uuid>` (canonical: no two keys
    /// name one object), so a corrupt or forged key can never reach outside the store's root.
    pub fn location(key: &str) -> io::Result<ObjectPath> {
        let invalid = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad storage key {key:?}"),
            )
        };
        let (project, file) = key.split_once('/').ok_or_else(invalid)?;
        if !names::is_canonical_uuid(project) || !names::is_canonical_uuid(file) {
            return Err(invalid());
        }
        Ok(ObjectPath::from_iter([project, file]))
    }

    /// Removes a key's bytes; missing bytes are fine, other failures are logged (the row is
    /// already gone, so the bytes are garbage either way: the sweep retries).
    pub async fn remove(&self, key: &str) {
        let outcome = match Self::location(key) {
            Ok(location) => self
                .objects
                .delete(&location)
                .await
                .map_err(io::Error::from),
            Err(error) => Err(error),
        };
        match outcome {
            Err(error) if error.kind() != io::ErrorKind::NotFound => {
                tracing::error!(%error, key, "cannot remove file")
            }
            _ => {}
        }
    }

    /// Removes every object stored for a project (and, locally, its emptied directory).
    pub async fn remove_project(&self, project: ProjectId) {
        let prefix = ObjectPath::from(project.to_string());
        let locations = self
            .objects
            .list(Some(&prefix))
            .map_ok(|meta| meta.location);
        let mut deleted = self.objects.delete_stream(locations.boxed());
        while let Some(outcome) = deleted.next().await {
            match outcome {
                Err(object_store::Error::NotFound { .. }) | Ok(_) => {}
                Err(error) => tracing::error!(%error, %project, "cannot remove project files"),
            }
        }
        if let Some(root) = self.local_root() {
            // Not `remove_dir_all`: an upload still being written there keeps its file (and
            // fails at its commit, the project being gone).
            let _ = tokio::fs::remove_dir(root.join(project.to_string())).await;
        }
    }

    /// How big an upload's parts are: S3 needs at least 5 MiB for all but the last; a local
    /// file is appended to in smaller steps, so less of an upload waits in memory.
    fn part_bytes(&self) -> usize {
        match self.backend.as_ref() {
            Backend::Local { .. } => 256 * 1024,
            Backend::S3 { .. } => 5 * 1024 * 1024,
        }
    }
}

/// An S3 error quotes the server's XML answer over several lines; start-up errors and the
/// readiness detail are one line.
fn one_line(error: &dyn std::fmt::Display) -> String {
    error
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
