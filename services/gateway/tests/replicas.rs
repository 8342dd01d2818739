//! Two replicas of every service as real processes on loopback, sharing one PostgreSQL, one
//! Redis, one project files directory and one (remote) vector index, each replica set behind
//! a gateway of its own, as a load balancer would spread clients. What must hold when work is
//! split across replicas: rate limits count every request once, each mail goes out once,
//! every ingested chunk ends up indexed once, and files written through one replica are read
//! through the other.

use std::{collections::HashSet, time::Duration};

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::{ServiceProcess, SigningKeyFile, smtp::SmtpSink};

const LOGIN_LIMIT: usize = 6;
const PASSWORD: &str = "correct horse battery staple";

struct Stack {
    /// Two gateways, each in front of one replica of auth, project and memory.
    gateways: [ServiceProcess; 2],
    _services: Vec<ServiceProcess>,
    _index: ServiceProcess,
    _files: tempfile::TempDir,
    _key: SigningKeyFile,
}

impl Stack {
    async fn start(pool: &PgPool, smtp: &SmtpSink) -> Self {
        let key = SigningKeyFile::new();
        let files = tempfile::tempdir().expect("files dir");
        let index = start_index().await;
        let prefix = format!("devmentor:test:replicas:{}", uuid::Uuid::new_v4());
        let projects_dir = files.path().display().to_string();
        let login_limit = LOGIN_LIMIT.to_string();
        let shared = [
            ("JWT_PRIVATE_KEY_FILE", key.path()),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("DB_POOL_SIZE", "3"),
        ];
        let auth_env = [
            ("RATE_LIMIT_PREFIX", prefix.as_str()),
            ("RATE_LIMIT_LOGIN_PER_MINUTE", &login_limit),
            ("RATE_LIMIT_REGISTER_PER_HOUR", "100"),
            ("RATE_LIMIT_FORGOT_PER_HOUR", "100"),
            ("RATE_LIMIT_LINKS_PER_HOUR", "100"),
            ("PASSWORD_HASH_CONCURRENCY", "1"),
            // The gateways' X-Forwarded-For names the client: all of them are this test.
            ("TRUSTED_PROXIES", "127.0.0.1"),
            ("SMTP_URL", smtp.url()),
        ];
        let memory_env = [
            ("VECTOR_BACKEND", "qdrant"),
            ("QDRANT_URL", index.base_url.as_str()),
            ("EMBEDDING_DIM", "64"),
            ("MEMORY_INDEXER_INTERVAL_SECS", "1"),
        ];
        let project_env = [("PROJECTS_DIR", projects_dir.as_str())];
        let mut services = Vec::new();
        let mut gateways = Vec::new();
        for _replica in 0..2 {
            let auth = start(pool, "auth", "AUTH_", &[&shared[..], &auth_env].concat()).await;
            let project = start(
                pool,
                "project",
                "PROJECT_",
                &[&shared[..], &project_env].concat(),
            )
            .await;
            let memory = start(
                pool,
                "memory",
                "MEMORY_",
                &[&shared[..], &memory_env].concat(),
            )
            .await;
            let gateway_env = [
                ("AUTH_SERVICE_URL", auth.base_url.as_str()),
                ("PROJECT_SERVICE_URL", project.base_url.as_str()),
                ("MEMORY_SERVICE_URL", memory.base_url.as_str()),
                ("GATEWAY_METRICS_ADDR", ""),
            ];
            gateways.push(start(pool, "gateway", "GATEWAY_", &gateway_env).await);
            services.extend([auth, project, memory]);
        }
        let gateways: [ServiceProcess; 2] = gateways.try_into().ok().expect("two gateways");
        Self {
            gateways,
            _services: services,
            _index: index,
            _files: files,
            _key: key,
        }
    }

    /// The gateway the `n`th request goes through: they take turns.
    fn gateway(&self, n: usize) -> &str {
        &self.gateways[n % 2].base_url
    }
}

async fn start(pool: &PgPool, binary: &str, prefix: &str, env: &[(&str, &str)]) -> ServiceProcess {
    let path = testkit::workspace_binary(binary).await;
    let mut service = testkit::spawn_service(path.to_str().expect("UTF-8 path"), prefix, pool, env);
    let ready = format!("{}/health/ready", service.base_url);
    testkit::wait_until_ok(&ready, &mut service.child).await;
    service
}

/// Qdrant's gRPC API over the embedded engine, as a separate process both memory replicas
/// share (what a real Qdrant server is in production).
async fn start_index() -> ServiceProcess {
    let path = testkit::workspace_binary("qdrant-edge-server").await;
    let port = testkit::free_port();
    let data = std::env::temp_dir().join(format!("replicas-index-{}", uuid::Uuid::new_v4()));
    let child = tokio::process::Command::new(path)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(&data)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn qdrant-edge-server");
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return ServiceProcess {
                child,
                base_url: url,
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("qdrant-edge-server did not listen on {url}");
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let answer = request.send().await.expect("the gateway answers");
    let status = answer.status();
    let body = answer.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Polls `done` every 100 ms for up to 30 s.
async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..300 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not within 30 s: {what}");
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn two_replicas_of_each_service_share_the_work_without_doubling_or_losing_it(pool: PgPool) {
    let smtp = SmtpSink::start().await;
    let stack = Stack::start(&pool, &smtp).await;
    let client = testkit::http_client();

    let mut tokens = Vec::new();
    for n in 0..4 {
        let register = client
            .post(format!("{}/api/auth/register", stack.gateway(n)))
            .json(&json!({
                "email": format!("user{n}@example.com"), "username": format!("user{n}"),
                "full_name": "Replica User", "password": PASSWORD,
            }));
        let (status, body) = send(register).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        tokens.push(body["access_token"].as_str().expect("token").to_owned());
    }

    rate_limits_count_requests_on_every_replica(&stack, &client).await;
    each_mail_is_sent_once(&stack, &client, &pool, &smtp).await;
    files_written_through_one_replica_are_read_through_the_other(&stack, &client, &tokens[0]).await;
    changes_through_one_replica_stream_through_the_other(&stack, &client, &tokens[2]).await;
    every_chunk_is_indexed_once(&stack, &client, &pool, &tokens[1]).await;
}

/// Creates a project through the first gateway; its path, `/api/projects/{id}`.
async fn create_project(stack: &Stack, client: &Client, token: &str, name: &str) -> String {
    let create = client
        .post(format!("{}/api/projects", stack.gateway(0)))
        .bearer_auth(token)
        .json(&json!({ "name": name }));
    let (status, project) = send(create).await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    format!("/api/projects/{}", project["id"].as_str().expect("id"))
}

/// A change committed through one replica reaches a live stream opened through the other
/// (PostgreSQL LISTEN/NOTIFY), and the gateway passes each event on when it happens.
async fn changes_through_one_replica_stream_through_the_other(
    stack: &Stack,
    client: &Client,
    token: &str,
) {
    let project = create_project(stack, client, token, "Live").await;
    let stream = client
        .get(format!("{}{project}/events", stack.gateway(0)))
        .bearer_auth(token)
        .send()
        .await
        .expect("open the stream");
    let mut events = testkit::SseReader::new(stream);

    for title in ["Across", "And back"] {
        let task = client
            .post(format!("{}{project}/tasks", stack.gateway(1)))
            .bearer_auth(token)
            .json(&json!({ "title": title }));
        let (status, body) = send(task).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        // Read before the next change is made: an event held back until the stream ends
        // (a buffering proxy) would fail here.
        let event = events.next_within(Duration::from_secs(15)).await;
        let event = event.expect("the stream stays open");
        assert_eq!(event.event, "task.created");
        assert_eq!(event.data["details"]["title"], title);
    }
}

/// Logins from one client, alternating replicas: the limit is the stack's, not a replica's.
async fn rate_limits_count_requests_on_every_replica(stack: &Stack, client: &Client) {
    let mut limited = 0;
    for n in 0..LOGIN_LIMIT * 2 {
        let login = client
            .post(format!("{}/api/auth/login", stack.gateway(n)))
            .json(&json!({ "login": "user3", "password": PASSWORD }));
        let (status, body) = send(login).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        } else {
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
    assert_eq!(limited, LOGIN_LIMIT, "one limit across both replicas");
}

/// Both replicas run the outbox worker over one table: every queued mail goes out exactly once.
async fn each_mail_is_sent_once(stack: &Stack, client: &Client, pool: &PgPool, smtp: &SmtpSink) {
    for n in 0..12 {
        let forgot = client
            .post(format!("{}/api/auth/forgot-password", stack.gateway(n)))
            .json(&json!({ "email": format!("user{}@example.com", n % 4) }));
        let (status, body) = send(forgot).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM auth.mail_outbox")
        .fetch_one(pool)
        .await
        .expect("count outbox");
    assert!(queued >= 12, "{queued}");
    eventually("every mail sent", || async {
        let unsent: i64 =
            sqlx::query_scalar("SELECT count(*) FROM auth.mail_outbox WHERE sent_at IS NULL")
                .fetch_one(pool)
                .await
                .expect("count unsent");
        unsent == 0
    })
    .await;
    let messages = smtp.messages();
    let ids: HashSet<&str> = messages
        .iter()
        .filter_map(|message| message.lines().find(|line| line.starts_with("Message-ID:")))
        .collect();
    assert_eq!(messages.len() as i64, queued, "one message per outbox row");
    assert_eq!(ids.len(), messages.len(), "no message sent twice");
}

async fn files_written_through_one_replica_are_read_through_the_other(
    stack: &Stack,
    client: &Client,
    token: &str,
) {
    let project = create_project(stack, client, token, "Replicated").await;
    let files = format!("{project}/files/notes/plan.md");
    let bytes = "# Plan\nshared across replicas\n";
    let upload = client
        .put(format!("{}{files}", stack.gateway(1)))
        .bearer_auth(token)
        .body(bytes);
    let (status, body) = send(upload).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let read = client
        .get(format!("{}{files}", stack.gateway(0)))
        .bearer_auth(token)
        .send()
        .await
        .expect("answers");
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.text().await.expect("body"), bytes);
}

/// Documents ingested through both replicas, then every chunk's vector forgotten so that
/// both background indexers race for the same pending chunks: all end up indexed, and the
/// index holds exactly one vector per chunk.
async fn every_chunk_is_indexed_once(stack: &Stack, client: &Client, pool: &PgPool, token: &str) {
    let ingests = (0..12).map(|n| {
        let ingest = client
            .post(format!("{}/api/memory/documents", stack.gateway(n)))
            .bearer_auth(token)
            .json(&json!({
                "source": "replicas", "external_id": format!("doc-{n}"), "title": format!("Doc {n}"),
                "content": format!("Replica document {n}. ").repeat(200),
            }));
        send(ingest)
    });
    for (status, body) in futures::future::join_all(ingests).await {
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let chunks: i64 = sqlx::query_scalar("SELECT count(*) FROM memory.chunks")
        .fetch_one(pool)
        .await
        .expect("count chunks");
    assert!(chunks >= 12, "{chunks}");

    sqlx::query("UPDATE memory.chunks SET qdrant_point_id = NULL")
        .execute(pool)
        .await
        .expect("forget the vectors");
    let status_url = format!("{}/api/memory/status", stack.gateway(1));
    eventually("both indexers drain the pending chunks", || async {
        let (_, status) = send(client.get(&status_url).bearer_auth(token)).await;
        status["pending_chunks"] == 0
    })
    .await;
    let (_, status) = send(client.get(&status_url).bearer_auth(token)).await;
    assert_eq!(status["chunks"], chunks, "{status}");
    assert_eq!(status["vectors"], chunks, "one vector per chunk: {status}");

    let search = client
        .post(format!("{}/api/memory/search", stack.gateway(0)))
        .bearer_auth(token)
        .json(&json!({ "query": "Replica document 7", "limit": 3 }));
    let (status, hits) = send(search).await;
    assert_eq!(status, StatusCode::OK, "{hits}");
    assert!(
        !hits["results"].as_array().expect("results").is_empty(),
        "{hits}"
    );
}
