//! Uploads: a stream of chunks becomes an object, hashed and counted as it goes, visible under
//! its key only once whole. Small files are one `put`; larger ones a multipart upload, which
//! neither S3 nor the local store shows until it completes (the local store writes a staging
//! file, `<key>#<n>`, fsyncs it and renames it into place). Past [`MAX_FILE_BYTES`] the
//! upload stops reading and is aborted, so nothing of it stays.

use std::io;

use axum::body::{Body, Bytes};
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::{MultipartUpload, ObjectStoreExt, PutPayload, path::Path as ObjectPath};
use sha2::{Digest, Sha256};

use super::{FileStore, MAX_FILE_BYTES};

/// Bytes stored whole under their key.
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

impl From<object_store::Error> for WriteError {
    fn from(error: object_store::Error) -> Self {
        Self::Io(error.into())
    }
}

impl FileStore {
    /// Stores a request body under `key` (see the module docs); the bytes are the caller's
    /// to commit or remove.
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
        let mut upload = Upload {
            store: self,
            location: Self::location(key)?,
            buffered: Vec::new(),
            buffered_bytes: 0,
            multipart: PendingMultipart(None),
            hasher: Sha256::new(),
            size_bytes: 0,
        };
        let mut chunks = std::pin::pin!(chunks);
        let mut outcome = Ok(());
        while let Some(chunk) = chunks.next().await {
            outcome = match chunk {
                Ok(chunk) => upload.push(chunk).await,
                Err(error) => Err(error),
            };
            if outcome.is_err() {
                break;
            }
        }
        let finished = match outcome {
            Ok(()) => upload.finish().await,
            Err(error) => Err(error),
        };
        match finished {
            Ok(blob) => Ok(Written {
                blob,
                guard: RemoveOnDrop {
                    store: self.clone(),
                    key: Some(key.to_owned()),
                },
            }),
            Err(error) => {
                // Awaited here, so a refused upload has left nothing once it is answered (a
                // dropped one aborts from `PendingMultipart::drop` instead).
                upload.multipart.abort().await;
                Err(error)
            }
        }
    }
}

/// One upload in progress: what is buffered for the next part, and the multipart upload once
/// the file has outgrown a single part.
struct Upload<'a> {
    store: &'a FileStore,
    location: ObjectPath,
    buffered: Vec<Bytes>,
    buffered_bytes: usize,
    multipart: PendingMultipart,
    hasher: Sha256,
    size_bytes: u64,
}

impl Upload<'_> {
    async fn push(&mut self, chunk: Bytes) -> Result<(), WriteError> {
        self.size_bytes += chunk.len() as u64;
        if self.size_bytes > MAX_FILE_BYTES {
            return Err(WriteError::TooLarge);
        }
        self.hasher.update(&chunk);
        self.buffered_bytes += chunk.len();
        self.buffered.push(chunk);
        if self.buffered_bytes >= self.store.part_bytes() {
            self.send_part().await?;
        }
        Ok(())
    }

    /// Sends what is buffered as the next part, starting the multipart upload first if need be.
    async fn send_part(&mut self) -> Result<(), WriteError> {
        let payload = self.take_buffered();
        if self.multipart.0.is_none() {
            let started = self.store.objects.put_multipart(&self.location).await?;
            self.multipart.0 = Some(started);
        }
        let upload = self.multipart.0.as_mut().expect("started above");
        upload.put_part(payload).await?;
        Ok(())
    }

    fn take_buffered(&mut self) -> PutPayload {
        self.buffered_bytes = 0;
        std::mem::take(&mut self.buffered).into_iter().collect()
    }

    /// Makes the object visible: one `put` of a small file, or the last part and completion.
    async fn finish(&mut self) -> Result<StoredBlob, WriteError> {
        if self.multipart.0.is_none() {
            let payload = self.take_buffered();
            self.store.objects.put(&self.location, payload).await?;
        } else {
            if self.buffered_bytes > 0 {
                self.send_part().await?;
            }
            let upload = self.multipart.0.as_mut().expect("started");
            upload.complete().await?;
            self.multipart.0 = None;
        }
        let hasher = std::mem::take(&mut self.hasher);
        Ok(StoredBlob {
            size_bytes: self.size_bytes,
            sha256: format!("{:x}", hasher.finalize()),
        })
    }
}

/// A multipart upload not yet completed: aborted when dropped, so that neither a local
/// staging file nor (on S3) uploaded parts outlive a request that is cancelled mid-body.
struct PendingMultipart(Option<Box<dyn MultipartUpload>>);

impl PendingMultipart {
    async fn abort(&mut self) {
        if let Some(mut upload) = self.0.take()
            && let Err(error) = upload.abort().await
        {
            tracing::warn!(%error, "cannot abort an unfinished upload");
        }
    }
}

impl Drop for PendingMultipart {
    fn drop(&mut self) {
        let Some(mut upload) = self.0.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(error) = upload.abort().await {
                        tracing::warn!(%error, "cannot abort an abandoned upload");
                    }
                });
            }
            Err(_) => tracing::warn!("an abandoned upload outlived its runtime: not aborted"),
        }
    }
}

/// Bytes stored under their key, removed again when dropped unless kept.
#[derive(Debug)]
pub struct Written {
    pub blob: StoredBlob,
    guard: RemoveOnDrop,
}

impl Written {
    /// From here the caller owns the bytes: it commits their row or removes them itself.
    pub fn keep(mut self) -> StoredBlob {
        self.guard.key = None;
        self.blob
    }
}

/// Removes the object it names when dropped (set `key = None` to keep it).
#[derive(Debug)]
struct RemoveOnDrop {
    store: FileStore,
    key: Option<String>,
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else {
            return;
        };
        // Locally at once, as before any answer goes out; a bucket needs a request, so a task.
        if let Some(root) = self.store.local_root() {
            if let Err(error) = std::fs::remove_file(root.join(&key))
                && error.kind() != io::ErrorKind::NotFound
            {
                tracing::error!(%error, key, "cannot remove file");
            }
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let store = self.store.clone();
                runtime.spawn(async move { store.remove(&key).await });
            }
            Err(_) => tracing::error!(key, "cannot remove file: no runtime left"),
        }
    }
}
