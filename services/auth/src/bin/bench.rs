//! Login benchmark: 100 concurrent logins over real HTTP against a fresh database, printed
//! beside the floor measured in the same run — the raw argon2id verify rate of this machine,
//! which bounds login throughput — and the process's peak RSS.
//!
//! `cargo run --release -p auth --bin bench [-- CONCURRENCY ROUNDS]`; needs DATABASE_URL
//! (a role allowed to create databases) and Redis on REDIS_URL (default localhost).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use auth::{AppState, config::AuthConfig, password::Passwords};
use platform::service::Service;
use sqlx::{Connection, PgConnection, PgPool};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let concurrency: usize = args.next().map_or(Ok(100), |a| a.parse())?;
    let rounds: usize = args.next().map_or(Ok(3), |a| a.parse())?;
    platform::config::load_dotenv();
    let base_url =
        std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL (see .env.example)")?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);

    let floor = argon2_verify_rate(cores).await?;
    let (database, pool) = fresh_database(&base_url).await?;
    let outcome = run_logins(&pool, concurrency, rounds).await;
    pool.close().await;
    drop_database(&base_url, &database).await?;
    let latencies = outcome?;

    let total: Duration = latencies
        .iter()
        .map(|(_, wall)| *wall)
        .max()
        .unwrap_or_default();
    let mut each: Vec<Duration> = latencies.iter().map(|(latency, _)| *latency).collect();
    each.sort_unstable();
    let throughput = each.len() as f64 / total.as_secs_f64();
    println!(
        "auth login benchmark: {concurrency} concurrent logins x {rounds} rounds, {cores} cores"
    );
    println!(
        "  floor  raw argon2id verify   {floor:8.1} /s  (one verify per login bounds throughput)"
    );
    println!(
        "  logins over HTTP             {throughput:8.1} /s  ({:.0}% of floor)",
        100.0 * throughput / floor
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  latency p50 {:.0} ms  p95 {:.0} ms  p99 {:.0} ms  max {:.0} ms",
        ms(percentile(&each, 0.50)),
        ms(percentile(&each, 0.95)),
        ms(percentile(&each, 0.99)),
        ms(each.last().copied().unwrap_or_default())
    );
    println!("  peak RSS {} MiB", peak_rss_kib().unwrap_or(0) / 1024);
    Ok(())
}

/// Verifies as many hashes as possible on every core for a few seconds.
async fn argon2_verify_rate(cores: usize) -> Result<f64, Box<dyn std::error::Error>> {
    let passwords = Passwords::new(cores).await?;
    let hash = passwords.hash("benchmark password".into()).await?;
    let per_worker = 12;
    let started = Instant::now();
    let workers: Vec<_> = (0..cores)
        .map(|_| {
            let (passwords, hash) = (passwords.clone(), hash.clone());
            tokio::spawn(async move {
                for _ in 0..per_worker {
                    passwords
                        .verify("benchmark password".into(), Some(hash.clone()))
                        .await
                        .map(drop)?;
                }
                Ok::<_, auth::password::HashError>(())
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    Ok((cores * per_worker) as f64 / started.elapsed().as_secs_f64())
}

/// Serves the auth API on a loopback port and logs `concurrency` users in at once, `rounds`
/// times. Returns each login's (latency, time since the start).
async fn run_logins(
    pool: &PgPool,
    concurrency: usize,
    rounds: usize,
) -> Result<Vec<(Duration, Duration)>, Box<dyn std::error::Error>> {
    let config: AuthConfig = serde_json::from_value(serde_json::json!({
        "jwt_private_key": authn::SigningKey::generate_pem()?,
        "rate_limit_login_per_minute": 1_000_000,
        "rate_limit_register_per_hour": 1_000_000,
        "rate_limit_prefix": format!("devmentor:bench:{}", uuid::Uuid::new_v4()),
    }))?;
    let state = AppState::new(pool.clone(), config).await?;
    let hash = state.passwords.hash("benchmark password".into()).await?;
    for n in 0..concurrency {
        let (email, username) = (format!("bench{n}@example.com"), format!("bench{n}"));
        let user = db::auth::NewUser {
            email: &email,
            username: &username,
            full_name: "Bench",
            password_hash: &hash,
        };
        db::auth::users::insert(pool, &user).await?;
    }
    let common: platform::config::CommonConfig =
        serde_json::from_value(serde_json::json!({ "request_timeout_secs": 600 }))?;
    let router = platform::service::assemble(
        "auth",
        Service::from(auth::routes::router(state)),
        pool,
        &common,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(platform::service::serve(
        listener,
        router,
        async move {
            let _ = stop_rx.await;
        },
        Duration::from_secs(5),
    ));

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let url = Arc::new(format!("http://{address}/api/auth/login"));
    let started = Instant::now();
    let mut results = Vec::with_capacity(concurrency * rounds);
    for _ in 0..rounds {
        let logins: Vec<_> = (0..concurrency)
            .map(|n| {
                let (client, url) = (client.clone(), url.clone());
                tokio::spawn(async move {
                    let sent = Instant::now();
                    let body = serde_json::json!({ "login": format!("bench{n}"), "password": "benchmark password" });
                    let response = client.post(url.as_str()).json(&body).send().await?;
                    if !response.status().is_success() {
                        return Err(format!("login failed: {}", response.status()).into());
                    }
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>((sent.elapsed(), started.elapsed()))
                })
            })
            .collect();
        for login in logins {
            results.push(login.await?.map_err(|error| error.to_string())?);
        }
    }
    let _ = stop_tx.send(());
    server.await??;
    Ok(results)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len().max(1)) - 1;
    sorted.get(index).copied().unwrap_or_default()
}

/// VmHWM from /proc: the most resident memory this process ever used.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn fresh_database(base_url: &str) -> Result<(String, PgPool), Box<dyn std::error::Error>> {
    let name = format!("devmentor_bench_{}", std::process::id());
    let mut admin = PgConnection::connect(base_url).await?;
    // Separate statements: DROP/CREATE DATABASE refuse to run inside one implicit transaction.
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut admin)
        .await?;
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let mut url = url::Url::parse(base_url)?;
    url.set_path(&name);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(20)
        .connect(url.as_str())
        .await?;
    db::MIGRATOR.run(&pool).await?;
    Ok((name, pool))
}

async fn drop_database(base_url: &str, name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut admin = PgConnection::connect(base_url).await?;
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    Ok(())
}
