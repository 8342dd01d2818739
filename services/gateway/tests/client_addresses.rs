//! The real auth and gateway binaries on loopback, called from different loopback source
//! addresses: through the gateway each client has its own login rate limit (auth used to
//! see everyone as the gateway, so one client's failures locked out all), and no client
//! escapes its own with a forged `X-Forwarded-For`, through the gateway or straight to auth.
//!
//! Needs PostgreSQL (`DATABASE_URL`) and Redis on 127.0.0.1:6379, like auth's own tests.

use std::{
    net::IpAddr,
    process::Stdio,
    sync::atomic::{AtomicUsize, Ordering},
};

use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::ServiceProcess;
use tokio::process::{Child, Command};

/// Login attempts per minute per client address (and per account) that auth allows.
const LOGIN_LIMIT: usize = 3;

/// Variables of the developer's shell or `.env` that would change what is tested: the
/// point is the defaults (auth trusts the loopback gateway, the gateway trusts no one).
const INHERITED_SETTINGS: [&str; 6] = [
    "TRUSTED_PROXIES",
    "GATEWAY_TRUSTED_PROXIES",
    "TRUST_PROXY_HEADERS",
    "GATEWAY_TRUST_FORWARDED_HEADERS",
    "HTTP_PROXY",
    "http_proxy",
];

/// Starts `binary` listening on `port`, from a directory with no `.env`, with `env`.
fn spawn(binary: &std::path::Path, env: &[(&str, &str)]) -> Child {
    let mut command = Command::new(binary);
    for name in INHERITED_SETTINGS {
        command.env_remove(name);
    }
    command
        .current_dir(std::env::temp_dir())
        .env("APP_ENV", "test")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("spawn {}: {error}", binary.display()))
}

async fn start_auth(pool: &PgPool) -> ServiceProcess {
    let port = testkit::free_port().to_string();
    let prefix = format!("devmentor:test:client-addresses:{}", uuid::Uuid::new_v4());
    let key = testkit::SigningKeyFile::new();
    let limit = LOGIN_LIMIT.to_string();
    let child = spawn(
        &testkit::workspace_binary("auth").await,
        &[
            ("DATABASE_URL", &testkit::database_url(pool)),
            ("DB_POOL_SIZE", "2"),
            ("AUTH_HOST", "127.0.0.1"),
            ("AUTH_PORT", &port),
            ("APP_ENV", "test"),
            ("JWT_PRIVATE_KEY_FILE", key.path()),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("RATE_LIMIT_PREFIX", &prefix),
            ("RATE_LIMIT_LOGIN_PER_MINUTE", &limit),
            ("PASSWORD_HASH_CONCURRENCY", "2"),
        ],
    );
    let mut auth = ServiceProcess {
        child,
        base_url: format!("http://127.0.0.1:{port}"),
    };
    let ready = format!("{}/health/ready", auth.base_url);
    testkit::wait_until_ok(&ready, &mut auth.child).await;
    auth
}

async fn start_gateway(auth_url: &str) -> ServiceProcess {
    let port = testkit::free_port().to_string();
    let nowhere = format!("http://127.0.0.1:{}", testkit::free_port());
    let child = spawn(
        env!("CARGO_BIN_EXE_gateway").as_ref(),
        &[
            ("GATEWAY_HOST", "127.0.0.1"),
            ("GATEWAY_PORT", &port),
            ("AUTH_SERVICE_URL", auth_url),
            ("PROJECT_SERVICE_URL", &nowhere),
            ("MEMORY_SERVICE_URL", &nowhere),
            ("GATEWAY_METRICS_ADDR", ""),
        ],
    );
    let mut gateway = ServiceProcess {
        child,
        base_url: format!("http://127.0.0.1:{port}"),
    };
    let live = format!("{}/health/live", gateway.base_url);
    testkit::wait_until_ok(&live, &mut gateway.child).await;
    gateway
}

/// A client whose connections come from `address` (any of 127.0.0.0/8 works on loopback).
fn from_address(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(address.parse::<IpAddr>().expect("address"))
        .build()
        .expect("client")
}

/// A wrong login for an account nobody has, new each time, so only the per-address limit
/// can refuse it; returns the status and error code.
async fn wrong_login(client: &reqwest::Client, base: &str, forged: Option<&str>) -> (u16, String) {
    static ATTEMPT: AtomicUsize = AtomicUsize::new(0);
    let attempt = ATTEMPT.fetch_add(1, Ordering::SeqCst);
    let mut request = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": format!("nobody-{attempt}@example.com"), "password": "wrong"}));
    if let Some(forged) = forged {
        request = request.header("x-forwarded-for", forged);
    }
    let response = request.send().await.expect("login answers");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("json error body");
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}

/// `LOGIN_LIMIT` wrong logins are refused as wrong (401); the next one is rate limited.
async fn exhaust_limit(client: &reqwest::Client, base: &str, forged: impl Fn(usize) -> String) {
    for attempt in 0..LOGIN_LIMIT {
        let (status, code) = wrong_login(client, base, Some(&forged(attempt))).await;
        assert_eq!(
            (status, code.as_str()),
            (401, "invalid_credentials"),
            "attempt {attempt}"
        );
    }
    for attempt in LOGIN_LIMIT..LOGIN_LIMIT + 2 {
        let (status, code) = wrong_login(client, base, Some(&forged(attempt))).await;
        assert_eq!(
            (status, code.as_str()),
            (429, "rate_limited"),
            "attempt {attempt}: a new forged X-Forwarded-For must not reset the limit"
        );
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn each_client_has_its_own_login_limit_and_cannot_forge_another(pool: PgPool) {
    let auth = start_auth(&pool).await;
    let gateway = start_gateway(&auth.base_url).await;

    // A uses up its limit through the gateway; B, elsewhere, is not affected.
    let client_a = from_address("127.0.0.2");
    let client_b = from_address("127.0.0.3");
    for _ in 0..LOGIN_LIMIT {
        let (status, _) = wrong_login(&client_a, &gateway.base_url, None).await;
        assert_eq!(status, 401);
    }
    let (status, code) = wrong_login(&client_a, &gateway.base_url, None).await;
    assert_eq!((status, code.as_str()), (429, "rate_limited"));
    let (status, code) = wrong_login(&client_b, &gateway.base_url, None).await;
    assert_eq!(
        (status, code.as_str()),
        (401, "invalid_credentials"),
        "B shares A's bucket: auth does not see the client behind the gateway"
    );

    // Straight to auth, C is not a trusted proxy: its own address counts, whatever it forges.
    let client_c = from_address("127.0.0.4");
    exhaust_limit(&client_c, &auth.base_url, |attempt| {
        format!("9.9.9.9, 1.2.3.{}", 4 + attempt)
    })
    .await;

    // Through the gateway, D's forged chain is replaced by its address at the edge.
    let client_d = from_address("127.0.0.5");
    exhaust_limit(&client_d, &gateway.base_url, |attempt| {
        format!("9.9.9.{attempt}, 127.0.0.{}", 100 + attempt)
    })
    .await;

    // Nobody else paid for C's and D's attempts.
    let (status, _) = wrong_login(&client_b, &gateway.base_url, None).await;
    assert_eq!(status, 401);
}

/// Passwordless ceremonies one client address may start per minute (auth's rule).
const PASSKEY_STARTS_PER_MINUTE: usize = 30;

async fn passkey_start(client: &reqwest::Client, base: &str, forged: &str) -> (u16, String) {
    let response = client
        .post(format!("{base}/api/auth/passkeys/login/start"))
        .header("x-forwarded-for", forged)
        .send()
        .await
        .expect("passkey start answers");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("json body");
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}

/// The passkey ceremony limit keys on the same client address as logins: through the
/// gateway each client has its own bucket, and a forged `X-Forwarded-For` (a new one on every
/// request) neither escapes it through the gateway nor straight to auth.
#[sqlx::test(migrator = "db::MIGRATOR")]
async fn passkey_ceremony_starts_are_limited_per_client_and_not_forgeable(pool: PgPool) {
    let auth = start_auth(&pool).await;
    let gateway = start_gateway(&auth.base_url).await;
    let through_gateway = from_address("127.0.0.6");
    let straight_to_auth = from_address("127.0.0.7");
    for (client, base) in [
        (&through_gateway, &gateway.base_url),
        (&straight_to_auth, &auth.base_url),
    ] {
        for attempt in 0..PASSKEY_STARTS_PER_MINUTE {
            let forged = format!("9.9.{}.{attempt}, 127.0.0.{}", attempt / 200, 100 + attempt);
            let (status, _) = passkey_start(client, base, &forged).await;
            assert_eq!(status, 200, "{base}: start {attempt} is within the limit");
        }
        let (status, code) = passkey_start(client, base, "9.9.9.250, 127.0.0.250").await;
        assert_eq!(
            (status, code.as_str()),
            (429, "rate_limited"),
            "{base}: a forged X-Forwarded-For must not reset the limit"
        );
    }
    // Another client behind the gateway still has its whole allowance.
    let (status, _) = passkey_start(&from_address("127.0.0.8"), &gateway.base_url, "1.1.1.1").await;
    assert_eq!(status, 200, "a client pays only for its own starts");
}
