//! Login figures over real HTTP (guide, phase 7: "100 concurrent login attempts"), next to
//! the floor measured in the same run: this machine's raw argon2id verify rate, on every core,
//! of a hash the service itself stored, since one verify per login bounds login throughput.
//! The accounts are registered over HTTP first (one argon2id hash each), which is measured
//! against the same floor. Also the process's peak RSS while serving (each hash holds a
//! 19 MiB block); the floor runs after that is read, so its own threads do not count.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use argon2::{Argon2, PasswordHash, PasswordVerifier as _};
use auth::{AppState, config::AuthConfig};
use reqwest::StatusCode;
use serde_json::json;

use crate::AuthArgs;
use crate::load::{Run, post_json, timed};
use crate::report::{figure, heading};
use crate::scratch::{ScratchDatabase, Served, common_config, peak_rss_mib};

const PASSWORD: &str = "benchmark password";
/// Timed verifies each core runs per attempt at the floor: about a second.
const VERIFIES_PER_CORE: usize = 24;
/// Attempts at the floor; the best counts, since a floor is what the machine can do.
const FLOOR_ATTEMPTS: usize = 3;

pub async fn run(args: &AuthArgs) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    heading(&format!(
        "auth: {} concurrent logins x {} rounds, {cores} cores",
        args.concurrency, args.rounds
    ));
    let database = ScratchDatabase::create("auth").await?;
    let outcome = measure(&database.pool, args, cores).await;
    database.drop_now().await?;
    outcome
}

async fn measure(pool: &sqlx::PgPool, args: &AuthArgs, cores: usize) -> anyhow::Result<()> {
    let config: AuthConfig = serde_json::from_value(json!({
        "app_env": "test",
        "jwt_private_key": authn::SigningKey::generate_pem()?,
        "rate_limit_login_per_minute": 1_000_000,
        "rate_limit_register_per_hour": 1_000_000,
        "rate_limit_prefix": format!("devmentor:bench:{}", uuid::Uuid::new_v4()),
    }))?;
    let state = AppState::new(pool.clone(), config, common_config())
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let served = Served::start(auth::app(state)).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;

    let url = Arc::new(served.url("/api/auth/register"));
    let accounts: Vec<usize> = (0..args.concurrency).collect();
    let registrations = timed(args.concurrency, accounts, |_, n| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let body = json!({
                "email": format!("bench{n}@example.com"),
                "username": format!("bench{n}"),
                "full_name": "Bench",
                "password": PASSWORD,
            });
            post_json(&client, &url, None, &body, StatusCode::CREATED).await?;
            Ok(())
        }
    })
    .await?;

    // Each round is timed on its own and the best one counts, as the floor's best attempt
    // does: this machine's speed drifts by a quarter from one second to the next.
    let url = Arc::new(served.url("/api/auth/login"));
    let mut rounds = Vec::with_capacity(args.rounds);
    for _ in 0..args.rounds {
        let logins: Vec<usize> = (0..args.concurrency).collect();
        let round = timed(args.concurrency, logins, |_, n| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let body = json!({ "login": format!("bench{n}"), "password": PASSWORD });
                post_json(&client, &url, None, &body, StatusCode::OK).await?;
                Ok(())
            }
        })
        .await?;
        rounds.push(round);
    }
    let logins = Run::best_of(rounds).context("at least one round of logins")?;
    let serving_rss = peak_rss_mib();
    served.stop().await?;

    let stored = db::auth::users::find_by_login(pool, "bench0")
        .await?
        .context("bench0 was registered")?
        .password_hash;
    let floor = tokio::task::spawn_blocking(move || argon2_verify_rate(&stored, cores)).await??;
    figure(
        "logins_floor",
        "floor: raw argon2id verify, all cores",
        floor,
        "verifies/s",
        None,
        None,
    );
    against_floor(
        "registrations",
        "registrations over HTTP (one hash each)",
        &registrations,
        floor,
    );
    against_floor(
        "logins",
        &format!("{} concurrent logins over HTTP", args.concurrency),
        &logins,
        floor,
    );
    figure(
        "logins_peak_rss",
        "peak RSS while serving",
        serving_rss as f64,
        "MiB",
        None,
        None,
    );
    Ok(())
}

/// Verifies `hash` as fast as every core can, with the parameters stored in it (those the
/// service hashes with), outside the service: no HTTP, database or hashing queue. The best
/// of [`FLOOR_ATTEMPTS`], each timed only once every thread has verified once, so thread
/// start-up and the first touch of each thread's memory blocks are not counted (the
/// service's hashing threads are long-lived and warm).
fn argon2_verify_rate(hash: &str, cores: usize) -> anyhow::Result<f64> {
    let hash = PasswordHash::new(hash).map_err(|error| anyhow::anyhow!("stored hash: {error}"))?;
    let verify = || {
        Argon2::default()
            .verify_password(PASSWORD.as_bytes(), &hash)
            .map_err(|error| anyhow::anyhow!("argon2id verify: {error}"))
    };
    let mut best = 0.0_f64;
    for _ in 0..FLOOR_ATTEMPTS {
        let warm = std::sync::Barrier::new(cores + 1);
        let elapsed = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..cores)
                .map(|_| {
                    scope.spawn(|| {
                        // Waits even when the warm-up failed, so no thread is left at
                        // the barrier; the error comes out of the join below.
                        let warmed = verify();
                        warm.wait();
                        warmed?;
                        (0..VERIFIES_PER_CORE).try_for_each(|_| verify())
                    })
                })
                .collect();
            warm.wait();
            let started = Instant::now();
            for worker in workers {
                worker
                    .join()
                    .map_err(|_| anyhow::anyhow!("an argon2id worker panicked"))??;
            }
            anyhow::Ok(started.elapsed())
        })?;
        best = best.max((cores * VERIFIES_PER_CORE) as f64 / elapsed.as_secs_f64());
    }
    Ok(best)
}

fn against_floor(name: &str, workload: &str, run: &Run, floor: f64) {
    figure(
        name,
        workload,
        run.per_second(),
        &format!("{name}/s"),
        Some(floor),
        Some(run.latencies.percentiles()),
    );
}
