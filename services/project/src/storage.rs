//! File bytes on disk under `PROJECTS_DIR`, addressed by storage keys this service makes
//! (`<project id>/<file version id>`), never by user-supplied paths: a user's `../x` is
//! only ever a row's `path` column, and [`FileStore::locate`] accepts nothing but two UUIDs.
//!
//! A stored file is never changed in place: it appears whole under its key (rename) and is
//! later removed whole. That is what lets a download stream from an open handle, and a
//! restored version share the bytes of the version it restores.

use std::{
    io,
    path::{Path, PathBuf},
    sync::Arc,
};

use axum::body::{Body, Bytes};
use db::ids::{FileId, ProjectId};
use futures::{Stream, StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

pub use self::names::StoredName;
use self::names::partial_name;

mod names;

/// 10 MiB, the guide's file limit; `project_files_size_bytes_check` says the same.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct FileStore {
    root: Arc<PathBuf>,
}

/// Bytes safely on disk under their final name.
#[derive(Debug, Clone)]
pub struct StoredBlob {
    pub size_bytes: u64,
    /// Lower-case hex.
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the file is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge,
    #[error("the upload was interrupted: {0}")]
    Body(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl FileStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: Arc::new(root.into()),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn storage_key(project: ProjectId, file: FileId) -> String {
        format!("{project}/{file}")
    }

    /// Where a key's bytes live. Refuses anything but `<uuid>/<uuid>`, so a corrupt or
    /// forged key can never point outside the root.
    pub fn locate(&self, key: &str) -> io::Result<PathBuf> {
        let invalid = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad storage key {key:?}"),
            )
        };
        let (project, file) = key.split_once('/').ok_or_else(invalid)?;
        let project = Uuid::parse_str(project).map_err(|_| invalid())?;
        let file = Uuid::parse_str(file).map_err(|_| invalid())?;
        // Re-rendered from the parsed ids: only canonical hyphenated lower-case survives.
        Ok(self.root.join(project.to_string()).join(file.to_string()))
    }

    /// Streams `body` to a temporary file beside its final place, hashing as it goes, then
    /// fsyncs and renames it into place: a crash leaves either nothing or the whole file
    /// under `key`, never half of one. Over [`MAX_FILE_BYTES`] it stops reading and cleans up.
    pub async fn write(&self, key: &str, body: Body) -> Result<StoredBlob, WriteError> {
        let chunks = body
            .into_data_stream()
            .map_err(|error| WriteError::Body(error.to_string()));
        Ok(self.write_stream(key, chunks).await?.keep())
    }

    /// [`FileStore::write`] for any stream of chunks (a form's file part), whose errors the
    /// caller has already classified. The bytes stay removable until [`Written::keep`]: a
    /// caller that fails, or is dropped, before deciding leaves nothing under `key`.
    pub async fn write_stream(
        &self,
        key: &str,
        chunks: impl Stream<Item = Result<Bytes, WriteError>>,
    ) -> Result<Written, WriteError> {
        let final_path = self.locate(key)?;
        let dir = final_path
            .parent()
            .expect("a key has a directory")
            .to_owned();
        tokio::fs::create_dir_all(&dir).await?;
        let name = final_path
            .file_name()
            .expect("a key has a name")
            .to_string_lossy();
        let temp = dir.join(partial_name(&name));
        // Cleans up on every way out, including the request future being dropped mid-upload
        // (client gone, request timeout), where no code after an `.await` would run.
        let mut guard = DeleteOnDrop(Some(temp.clone()));
        let blob = write_synced(&temp, chunks).await?;
        tokio::fs::rename(&temp, &final_path).await?;
        guard.0 = Some(final_path);
        sync_dir(dir).await?;
        Ok(Written { blob, guard })
    }

    /// The bytes under `key`, opened for streaming, and their length on disk. Stored files
    /// are never changed in place (only renamed into place whole), so the length holds for
    /// as long as the handle is read.
    pub async fn open(&self, key: &str) -> io::Result<(tokio::fs::File, u64)> {
        let file = tokio::fs::File::open(self.locate(key)?).await?;
        let length = file.metadata().await?.len();
        Ok((file, length))
    }

    /// Removes a key's bytes; a missing file is fine, other failures are logged (the row
    /// is already gone, so the bytes are garbage either way).
    pub async fn remove(&self, key: &str) {
        match self.locate(key) {
            Ok(path) => remove_quietly(&path).await,
            Err(error) => tracing::error!(%error, "not removing file"),
        }
    }

    /// Removes every byte stored for a project.
    pub async fn remove_project(&self, project: ProjectId) {
        let dir = self.root.join(project.to_string());
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::error!(%error, dir = %dir.display(), "cannot remove project files")
            }
        }
    }
}

impl FileStore {
    /// Size and SHA-256 of the bytes under `key`, read in small blocks (constant memory
    /// whatever the file's size); `None` when there is no such file.
    pub async fn hash(&self, key: &str) -> io::Result<Option<StoredBlob>> {
        let path = self.locate(key)?;
        tokio::task::spawn_blocking(move || {
            let mut file = match std::fs::File::open(&path) {
                Ok(file) => file,
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(error) => return Err(error),
            };
            let mut hasher = Sha256::new();
            let size_bytes = io::copy(&mut file, &mut hasher)?;
            Ok(Some(StoredBlob {
                size_bytes,
                sha256: format!("{:x}", hasher.finalize()),
            }))
        })
        .await
        .map_err(io::Error::other)?
    }
}

/// Bytes renamed into place under their key, removed again when dropped unless kept.
#[derive(Debug)]
pub struct Written {
    pub blob: StoredBlob,
    guard: DeleteOnDrop,
}

impl Written {
    /// From here the caller owns the bytes: it commits their row or removes them itself.
    pub fn keep(mut self) -> StoredBlob {
        self.guard.0 = None;
        self.blob
    }
}

/// Deletes the file it holds when dropped (set `.0 = None` to keep it).
#[derive(Debug)]
struct DeleteOnDrop(Option<PathBuf>);

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take()
            && let Err(error) = std::fs::remove_file(&path)
            && error.kind() != io::ErrorKind::NotFound
        {
            tracing::error!(%error, path = %path.display(), "cannot remove file");
        }
    }
}

async fn write_synced(
    temp: &Path,
    chunks: impl Stream<Item = Result<Bytes, WriteError>>,
) -> Result<StoredBlob, WriteError> {
    let mut file = tokio::fs::File::create(temp).await?;
    let mut hasher = Sha256::new();
    let mut size_bytes = 0u64;
    let mut chunks = std::pin::pin!(chunks);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        size_bytes += chunk.len() as u64;
        if size_bytes > MAX_FILE_BYTES {
            return Err(WriteError::TooLarge);
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await?;
    }
    file.sync_all().await?;
    Ok(StoredBlob {
        size_bytes,
        sha256: format!("{:x}", hasher.finalize()),
    })
}

/// Makes the rename itself durable.
async fn sync_dir(dir: PathBuf) -> io::Result<()> {
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
        .await
        .map_err(io::Error::other)?
}

async fn remove_quietly(path: &Path) {
    match tokio::fs::remove_file(path).await {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => tracing::error!(%error, path = %path.display(), "cannot remove file"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_uuid_pairs_are_storage_keys() {
        let store = FileStore::new("/srv/projects");
        let key = FileStore::storage_key(ProjectId::new(), FileId::new());
        assert!(
            store
                .locate(&key)
                .expect("own key")
                .starts_with("/srv/projects")
        );
        for forged in [
            "../etc/passwd",
            "a/b",
            "/etc/passwd",
            "x",
            &format!("{key}/.."),
        ] {
            assert!(store.locate(forged).is_err(), "{forged} must be refused");
        }
    }

    #[tokio::test]
    async fn oversized_upload_leaves_nothing_behind() {
        let root = std::env::temp_dir().join(format!("project-store-{}", Uuid::new_v4()));
        let store = FileStore::new(&root);
        let project = ProjectId::new();
        let key = FileStore::storage_key(project, FileId::new());
        let body = Body::from(vec![0u8; MAX_FILE_BYTES as usize + 1]);
        assert!(matches!(
            store.write(&key, body).await,
            Err(WriteError::TooLarge)
        ));
        let left: Vec<_> = std::fs::read_dir(root.join(project.to_string()))
            .expect("dir")
            .collect();
        assert!(left.is_empty(), "temporary file removed: {left:?}");
        std::fs::remove_dir_all(root).expect("cleanup");
    }

    #[tokio::test]
    async fn an_upload_abandoned_mid_body_leaves_nothing_behind() {
        let root = std::env::temp_dir().join(format!("project-store-{}", Uuid::new_v4()));
        let store = FileStore::new(&root);
        let project = ProjectId::new();
        let key = FileStore::storage_key(project, FileId::new());
        // One chunk, then a client that never sends the rest.
        let chunks = futures::stream::iter([Ok::<_, io::Error>(vec![1u8; 1024])])
            .chain(futures::stream::pending());
        let write = tokio::spawn({
            let store = store.clone();
            async move { store.write(&key, Body::from_stream(chunks)).await }
        });
        let dir = root.join(project.to_string());
        while std::fs::read_dir(&dir).map_or(0, |entries| entries.count()) == 0 {
            tokio::task::yield_now().await;
        }
        write.abort();
        assert!(write.await.expect_err("aborted").is_cancelled());
        let left: Vec<_> = std::fs::read_dir(&dir).expect("dir").collect();
        assert!(left.is_empty(), "partial file removed: {left:?}");
        std::fs::remove_dir_all(root).expect("cleanup");
    }

    #[tokio::test]
    async fn written_bytes_read_back_with_their_hash() {
        let root = std::env::temp_dir().join(format!("project-store-{}", Uuid::new_v4()));
        let store = FileStore::new(&root);
        let key = FileStore::storage_key(ProjectId::new(), FileId::new());
        let blob = store.write(&key, Body::from("hello")).await.expect("write");
        assert_eq!(blob.size_bytes, 5);
        assert_eq!(
            blob.sha256,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        let (mut file, length) = store.open(&key).await.expect("open");
        assert_eq!(length, 5);
        let mut read = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut file, &mut read)
            .await
            .expect("read");
        assert_eq!(read, b"hello");
        std::fs::remove_dir_all(root).expect("cleanup");
    }

    #[tokio::test]
    async fn written_bytes_not_kept_are_removed() {
        let root = std::env::temp_dir().join(format!("project-store-{}", Uuid::new_v4()));
        let store = FileStore::new(&root);
        let project = ProjectId::new();
        let kept_key = FileStore::storage_key(project, FileId::new());
        let dropped_key = FileStore::storage_key(project, FileId::new());
        let chunks = || futures::stream::iter([Ok(Bytes::from_static(b"part"))]);
        let kept = store
            .write_stream(&kept_key, chunks())
            .await
            .expect("write");
        assert_eq!(kept.keep().size_bytes, 4);
        let dropped = store
            .write_stream(&dropped_key, chunks())
            .await
            .expect("write");
        assert!(store.locate(&dropped_key).expect("key").exists());
        drop(dropped);
        assert!(!store.locate(&dropped_key).expect("key").exists());
        assert!(store.locate(&kept_key).expect("key").exists());
        std::fs::remove_dir_all(root).expect("cleanup");
    }
}
