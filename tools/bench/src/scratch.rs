//! A throwaway migrated database and a service served on a loopback port, for benchmarks
//! that go through the real HTTP stack.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use authn::{Audience, Role, SigningKey, TokenIssuer, TokenVerifier};
use axum::Router;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::{sync::oneshot, task::JoinHandle};

/// A database created for one benchmark run; [`ScratchDatabase::drop_now`] removes it.
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    pub pool: PgPool,
}

impl ScratchDatabase {
    /// Creates `devmentor_bench_<what>_<pid>` on the server of `DATABASE_URL` and migrates it.
    pub async fn create(what: &str) -> anyhow::Result<Self> {
        platform::config::load_dotenv();
        let admin_url = std::env::var("DATABASE_URL")
            .context("set DATABASE_URL to a role that may create databases (see .env.example)")?;
        let name = format!("devmentor_bench_{what}_{}", std::process::id());
        let mut admin = PgConnection::connect(&admin_url).await?;
        // Separate statements: DROP/CREATE DATABASE refuse to run inside one transaction.
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&mut admin)
            .await?;
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await?;
        let mut url = url::Url::parse(&admin_url)?;
        url.set_path(&name);
        // The services' own pool settings (`db::connect`), as many connections as by default.
        let size = db::pool::default_pool_size();
        let pool = db::pool::pool_options(size).connect(url.as_str()).await?;
        db::MIGRATOR.run(&pool).await?;
        Ok(Self {
            admin_url,
            name,
            pool,
        })
    }

    pub async fn drop_now(self) -> anyhow::Result<()> {
        self.pool.close().await;
        let mut admin = PgConnection::connect(&self.admin_url).await?;
        sqlx::raw_sql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin)
        .await?;
        Ok(())
    }
}

/// The shared settings a benchmarked service runs with: a long request timeout, so a slow
/// run is measured rather than cut off.
pub fn common_config() -> platform::config::CommonConfig {
    platform::config::CommonConfig {
        request_timeout_secs: 600,
        ..Default::default()
    }
}

/// A service's whole app (see each service's `app`) served on loopback until [`Served::stop`].
pub struct Served {
    pub address: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Served {
    pub async fn start(app: Router) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(platform::service::serve(
            listener,
            app,
            async move {
                let _ = stopped.await;
            },
            Duration::from_secs(5),
        ));
        Ok(Self {
            address,
            stop,
            task,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await??;
        Ok(())
    }
}

/// VmHWM from /proc: the most resident memory this process ever used.
pub fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .and_then(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

/// A throwaway signing key: tokens for benchmark users, and the verifier services get.
pub struct Tokens {
    issuer: TokenIssuer,
    pub verifier: TokenVerifier,
}

impl Tokens {
    pub fn new() -> anyhow::Result<Self> {
        let key = SigningKey::generate()?;
        let audience = Audience {
            issuer: "devmentor-auth".into(),
            audience: "devmentor".into(),
        };
        let verifier = TokenVerifier::new([key.public_key().clone()], &audience);
        let issuer = TokenIssuer::new(key, audience, Duration::from_secs(3600));
        Ok(Self { issuer, verifier })
    }

    /// Creates the account `name` and returns its id and an access token for it.
    pub async fn user(&self, pool: &PgPool, name: &str) -> anyhow::Result<(uuid::Uuid, String)> {
        let email = format!("{name}@example.com");
        let user = db::auth::users::insert(
            pool,
            &db::auth::NewUser {
                email: &email,
                username: name,
                full_name: "Bench",
                password_hash: "x",
            },
        )
        .await?;
        // Services check that a token's session is live, so the user gets a real one.
        // 128 random bits, zero-padded to the 64 hex digits of the schema's digest columns.
        let digest = || format!("{:064x}", uuid::Uuid::new_v4().as_u128());
        let mut conn = pool.acquire().await?;
        let session = db::auth::sessions::create(
            &mut conn,
            &db::auth::NewSession {
                user_id: user.id,
                session_token_hash: &digest(),
                refresh_token_hash: &digest(),
                ip: None,
                user_agent: Some("bench"),
                expires_at: chrono::Utc::now() + chrono::Duration::days(1),
            },
        )
        .await?;
        let token = self.issuer.issue(user.id.0, session.0, Role::User)?;
        Ok((user.id.0, token.token))
    }
}
