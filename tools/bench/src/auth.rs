//! Login figures over real HTTP (guide, phase 7: "100 concurrent login attempts"), next to
//! the floor measured in the same run: this machine's raw argon2id verify rate, since one
//! verify per login bounds login throughput. Also the process's peak RSS (each hash holds a
//! 19 MiB block).

use std::{sync::Arc, time::Instant};

use auth::{AppState, config::AuthConfig, password::Passwords};

use crate::AuthArgs;
use crate::report::{Latencies, heading, line};
use crate::scratch::{ScratchDatabase, Served, common_config, concurrently, peak_rss_mib};

const PASSWORD: &str = "benchmark password";

pub async fn run(args: &AuthArgs) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    heading(&format!(
        "auth: {} concurrent logins x {} rounds, {cores} cores",
        args.concurrency, args.rounds
    ));
    let floor = argon2_verify_rate(cores).await?;
    line(
        "floor: raw argon2id verify, all cores",
        format!("{floor:9.1}/s"),
    );
    let database = ScratchDatabase::create("auth").await?;
    let outcome = logins(&database.pool, args, floor).await;
    database.drop_now().await?;
    outcome
}

/// Verifies as many hashes as possible on every core.
async fn argon2_verify_rate(cores: usize) -> anyhow::Result<f64> {
    let passwords = Passwords::new(cores, 1024).await?;
    let hash = passwords.hash(PASSWORD.into()).await?;
    let verifies = cores * 12;
    let started = Instant::now();
    concurrently(cores, (0..verifies).collect(), |_, _| {
        let (passwords, hash) = (passwords.clone(), hash.clone());
        async move {
            passwords.verify(PASSWORD.into(), Some(hash)).await?;
            Ok(())
        }
    })
    .await?;
    Ok(verifies as f64 / started.elapsed().as_secs_f64())
}

async fn logins(pool: &sqlx::PgPool, args: &AuthArgs, floor: f64) -> anyhow::Result<()> {
    let config: AuthConfig = serde_json::from_value(serde_json::json!({
        "app_env": "test",
        "jwt_private_key": authn::SigningKey::generate_pem()?,
        "rate_limit_login_per_minute": 1_000_000,
        "rate_limit_register_per_hour": 1_000_000,
        "rate_limit_prefix": format!("devmentor:bench:{}", uuid::Uuid::new_v4()),
    }))?;
    let state = AppState::new(pool.clone(), config, common_config())
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let hash = state.passwords.hash(PASSWORD.into()).await?;
    for n in 0..args.concurrency {
        let (email, username) = (format!("bench{n}@example.com"), format!("bench{n}"));
        let user = db::auth::NewUser {
            email: &email,
            username: &username,
            full_name: "Bench",
            password_hash: &hash,
        };
        db::auth::users::insert(pool, &user).await?;
    }
    let served = Served::start(auth::app(state)).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let url = Arc::new(served.url("/api/auth/login"));
    let users: Vec<usize> = (0..args.rounds).flat_map(|_| 0..args.concurrency).collect();
    let started = Instant::now();
    let latencies = concurrently(args.concurrency, users, |_, n| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let body = serde_json::json!({ "login": format!("bench{n}"), "password": PASSWORD });
            let response = client.post(url.as_str()).json(&body).send().await?;
            anyhow::ensure!(
                response.status() == 200,
                "login answered {}",
                response.status()
            );
            Ok(())
        }
    })
    .await?;
    let throughput = latencies.len() as f64 / started.elapsed().as_secs_f64();
    line(
        "logins over HTTP",
        format!(
            "{throughput:9.1}/s  ({:.0}% of floor)  {}",
            100.0 * throughput / floor,
            Latencies::new(latencies).summary()
        ),
    );
    line("peak RSS", format!("{} MiB", peak_rss_mib()));
    served.stop().await
}
