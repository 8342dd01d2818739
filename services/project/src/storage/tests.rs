//! The local store on a temporary directory (`tests/storage_*.rs` run the same behaviours
//! through the service, against S3 too).

use std::time::Duration;

use axum::body::{Body, Bytes};
use futures::{StreamExt, TryStreamExt};
use uuid::Uuid;

use super::*;

/// A fresh root, removed when dropped.
struct Root(PathBuf);

impl Root {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!("project-store-{}", Uuid::new_v4())))
    }

    fn files_of(&self, project: ProjectId) -> Vec<String> {
        std::fs::read_dir(self.0.join(project.to_string()))
            .map(|entries| {
                entries
                    .map(|entry| {
                        entry
                            .expect("entry")
                            .file_name()
                            .to_string_lossy()
                            .into_owned()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn read_all(store: &FileStore, key: &str, range: Option<std::ops::Range<u64>>) -> Vec<u8> {
    let opened = store.open(key, range).await.expect("open");
    let chunks: Vec<Bytes> = opened.body.try_collect().await.expect("read");
    chunks.concat()
}

#[test]
fn only_uuid_pairs_are_storage_keys() {
    let key = FileStore::storage_key(ProjectId::new(), FileId::new());
    assert_eq!(FileStore::location(&key).expect("own key").as_ref(), key);
    for forged in [
        "../etc/passwd",
        "a/b",
        "/etc/passwd",
        "x",
        &format!("{key}/.."),
        &format!("{}/{}", Uuid::new_v4(), Uuid::new_v4().simple()),
    ] {
        assert!(
            FileStore::location(forged).is_err(),
            "{forged} must be refused"
        );
    }
}

#[tokio::test]
async fn oversized_upload_leaves_nothing_behind() {
    let root = Root::new();
    let store = FileStore::new(&root.0);
    let project = ProjectId::new();
    let key = FileStore::storage_key(project, FileId::new());
    let body = Body::from(vec![0u8; MAX_FILE_BYTES as usize + 1]);
    assert!(matches!(
        store.write(&key, body).await,
        Err(WriteError::TooLarge)
    ));
    assert_eq!(
        root.files_of(project),
        Vec::<String>::new(),
        "staging file removed"
    );
}

#[tokio::test]
async fn an_upload_abandoned_mid_body_leaves_nothing_behind() {
    let root = Root::new();
    let store = FileStore::new(&root.0);
    let project = ProjectId::new();
    let key = FileStore::storage_key(project, FileId::new());
    // More than one part, then a client that never sends the rest.
    let chunks = futures::stream::iter([Ok::<_, io::Error>(vec![1u8; 1024 * 1024])])
        .chain(futures::stream::pending());
    let write = tokio::spawn({
        let store = store.clone();
        async move { store.write(&key, Body::from_stream(chunks)).await }
    });
    while root.files_of(project).is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let staged = root.files_of(project);
    assert!(
        staged[0].contains('#'),
        "a staging file, never the key: {staged:?}"
    );
    write.abort();
    assert!(write.await.expect_err("aborted").is_cancelled());
    // The abandoned upload's staging file goes in the background.
    for _ in 0..200 {
        if root.files_of(project).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("staging file left: {:?}", root.files_of(project));
}

#[tokio::test]
async fn written_bytes_read_back_with_their_hash_whole_and_in_ranges() {
    let root = Root::new();
    let store = FileStore::new(&root.0);
    let key = FileStore::storage_key(ProjectId::new(), FileId::new());
    let blob = store.write(&key, Body::from("hello")).await.expect("write");
    assert_eq!(blob.size_bytes, 5);
    assert_eq!(
        blob.sha256,
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert_eq!(read_all(&store, &key, None).await, b"hello");
    assert_eq!(read_all(&store, &key, Some(1..3)).await, b"el");
    assert_eq!(store.open(&key, Some(1..3)).await.expect("open").size, 5);
    let hashed = store.hash(&key).await.expect("hash").expect("found");
    assert_eq!((hashed.size_bytes, hashed.sha256), (5, blob.sha256));

    // Several parts (a multipart upload), in uneven chunks.
    let big_key = FileStore::storage_key(ProjectId::new(), FileId::new());
    let bytes: Vec<u8> = (0..3_000_000u32).map(|n| (n % 251) as u8).collect();
    let chunks: Vec<io::Result<Vec<u8>>> = bytes.chunks(100_003).map(|c| Ok(c.to_vec())).collect();
    let blob = store
        .write(&big_key, Body::from_stream(futures::stream::iter(chunks)))
        .await
        .expect("write");
    assert_eq!(blob.size_bytes, bytes.len() as u64);
    assert_eq!(read_all(&store, &big_key, None).await, bytes);
    assert_eq!(
        read_all(&store, &big_key, Some(262_000..262_300)).await,
        &bytes[262_000..262_300]
    );
    assert!(
        store
            .hash(&FileStore::storage_key(ProjectId::new(), FileId::new()))
            .await
            .expect("hash")
            .is_none()
    );
}

#[tokio::test]
async fn written_bytes_not_kept_are_removed() {
    let root = Root::new();
    let store = FileStore::new(&root.0);
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
    assert!(root.0.join(&dropped_key).exists());
    drop(dropped);
    assert!(!root.0.join(&dropped_key).exists());
    assert!(root.0.join(&kept_key).exists());
}

#[tokio::test]
async fn a_missing_root_is_refused_unless_created() {
    let root = Root::new();
    let location = StorageLocation::Local(root.0.clone());
    let error = FileStore::connect(&location, false)
        .await
        .expect_err("missing");
    assert!(error.starts_with("PROJECTS_DIR "), "{error}");
    let store = FileStore::connect(&location, true).await.expect("created");
    assert_eq!(store.local_root(), Some(root.0.as_path()));
    assert!(
        store.list().next().await.is_none(),
        "an empty store lists nothing"
    );
}

/// Builds the TLS client (rustls with ring, installed as the process default) and reports a
/// bucket whose server does not answer, in one line, without the secret.
#[tokio::test]
async fn an_https_bucket_that_does_not_answer_is_refused() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("port")
        .port();
    let endpoint = format!("https://127.0.0.1:{port}");
    let secret = secrecy::SecretString::from("s3cr3t");
    let settings = StorageSettings {
        url: Some("s3://devmentor-files/p"),
        endpoint: Some(&endpoint),
        region: None,
        access_key_id: Some("devmentor"),
        secret_access_key: Some(&secret),
        allow_http: false,
    };
    let location =
        StorageLocation::from_settings(PathBuf::from("/unused"), settings).expect("valid");
    let error = FileStore::connect(&location, false)
        .await
        .expect_err("nothing answers");
    assert!(
        error.starts_with("STORAGE_URL s3://devmentor-files/p does not answer: "),
        "{error}"
    );
    assert!(
        !error.contains('\n') && !error.contains("s3cr3t"),
        "{error}"
    );
}

/// A name object_store cannot read back (not UTF-8) is skipped, not the end of the listing:
/// one such file must not stop every sweep.
#[tokio::test]
async fn names_that_are_not_utf8_do_not_stop_the_listing() {
    use std::os::unix::ffi::OsStrExt;
    let root = Root::new();
    let project = root.0.join(ProjectId::new().to_string());
    std::fs::create_dir_all(&project).expect("dir");
    std::fs::write(project.join(std::ffi::OsStr::from_bytes(b"bad\xff")), b"x").expect("write");
    std::fs::write(project.join("a%zz b"), b"x").expect("write");
    let store = FileStore::new(&root.0);
    let found: Vec<FoundFile> = store.list().try_collect().await.expect("listed");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].name, StoredName::Stray);
    store.remove_listed(&found[0]).await.expect("removed");
    assert!(!project.join("a%zz b").exists());
}
