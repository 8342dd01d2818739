//! Reading stored bytes: a whole object or one byte range, as a stream of chunks of at most
//! [`CHUNK_BYTES`] read as the consumer takes them (never a whole file in memory), and the
//! size and SHA-256 of an object for `verify-files`.

use std::{io, ops::Range};

use axum::body::Bytes;
use futures::{Stream, StreamExt, TryStreamExt, stream::BoxStream};
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::{FileStore, StoredBlob};

/// The largest chunk a read yields, whatever the backend hands over.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// An object opened for reading.
pub struct Opened {
    /// The whole object's size, whatever range was asked for.
    pub size: u64,
    /// The bytes of the range asked for (or of the whole object).
    pub body: BoxStream<'static, io::Result<Bytes>>,
}

impl FileStore {
    /// The bytes under `key`, or just `range` of them (which must be non-empty). A missing
    /// object is an error of kind `NotFound`.
    pub async fn open(&self, key: &str, range: Option<Range<u64>>) -> io::Result<Opened> {
        let location = Self::location(key)?;
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let found = self.objects.get_opts(&location, options).await?;
        let (size, range) = (found.meta.size, found.range.clone());
        let body = match found.payload {
            // A local file: read from its handle directly, in CHUNK_BYTES reads.
            GetResultPayload::File(file, _) => {
                let mut file = tokio::fs::File::from_std(file);
                file.seek(io::SeekFrom::Start(range.start)).await?;
                let length = range.end - range.start;
                ReaderStream::with_capacity(file.take(length), CHUNK_BYTES).boxed()
            }
            GetResultPayload::Stream(stream) => {
                at_most_chunk_bytes(stream.map_err(io::Error::from)).boxed()
            }
        };
        Ok(Opened { size, body })
    }

    /// Size and SHA-256 of the bytes under `key`, read a chunk at a time (constant memory
    /// whatever the object's size); `None` when there is no such object.
    pub async fn hash(&self, key: &str) -> io::Result<Option<StoredBlob>> {
        let opened = match self.open(key, None).await {
            Ok(opened) => opened,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let mut body = opened.body;
        let (mut hasher, mut size_bytes) = (Sha256::new(), 0u64);
        while let Some(chunk) = body.try_next().await? {
            size_bytes += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok(Some(StoredBlob {
            size_bytes,
            sha256: format!("{:x}", hasher.finalize()),
        }))
    }
}

/// Splits larger chunks (an HTTP client's reads can be hundreds of KiB) without copying.
fn at_most_chunk_bytes(
    chunks: impl Stream<Item = io::Result<Bytes>>,
) -> impl Stream<Item = io::Result<Bytes>> {
    chunks.flat_map(|chunk| {
        let mut pieces = Vec::new();
        match chunk {
            Ok(mut bytes) => {
                while bytes.len() > CHUNK_BYTES {
                    pieces.push(Ok(bytes.split_to(CHUNK_BYTES)));
                }
                if !bytes.is_empty() {
                    pieces.push(Ok(bytes));
                }
            }
            Err(error) => pieces.push(Err(error)),
        }
        futures::stream::iter(pieces)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn large_chunks_are_split_without_losing_bytes() {
        let big = Bytes::from(vec![7u8; 3 * CHUNK_BYTES + 5]);
        let chunks =
            futures::stream::iter([Ok(Bytes::from_static(b"ab")), Ok(big), Ok(Bytes::new())]);
        let pieces: Vec<Bytes> = at_most_chunk_bytes(chunks).try_collect().await.expect("ok");
        let lengths: Vec<usize> = pieces.iter().map(Bytes::len).collect();
        assert_eq!(lengths, [2, CHUNK_BYTES, CHUNK_BYTES, CHUNK_BYTES, 5]);
    }
}
