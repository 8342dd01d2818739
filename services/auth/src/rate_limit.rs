//! Sliding-window rate limits in Redis, so every replica counts together. When Redis cannot be
//! reached the limiter falls back to an in-process window (per replica) and says so in the
//! log; logins keep working either way.

use std::{
    collections::{HashMap, VecDeque},
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use platform::client::ClientInfo;
use redis::{AsyncCommands as _, Script, aio::ConnectionManager};
use tokio::sync::Mutex as AsyncMutex;
use uuid::Uuid;

/// One limit: at most `limit` events per `window`, per key.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub name: &'static str,
    pub limit: u32,
    pub window: Duration,
}

impl Rule {
    pub const fn per_minute(name: &'static str, limit: u32) -> Self {
        Self {
            name,
            limit,
            window: Duration::from_secs(60),
        }
    }

    pub const fn per_hour(name: &'static str, limit: u32) -> Self {
        Self {
            name,
            limit,
            window: Duration::from_secs(3600),
        }
    }
}

/// The key that counts a client: its IPv4 address, its IPv6 /64, or one shared bucket when
/// unknown. A /64 is the least any IPv6 subscriber (a home, a phone, a cloud VM) is given,
/// and any address in it can be picked at will: counted per address, one client would have
/// 2^64 budgets.
pub fn client_key(client: &ClientInfo) -> String {
    match client.ip.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V6(ip)) => {
            let [a, b, c, d, ..] = ip.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
        Some(ip) => ip.to_string(),
        None => "unknown".to_owned(),
    }
}

/// Refused: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
}

/// Atomically drops events older than the window, then admits the new one (named `ARGV[3]`)
/// if there is room. Redis's own clock is used, so replicas with skewed clocks agree.
const SLIDING_WINDOW: &str = r"
local key, limit, window_ms, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window_ms)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window_ms)
  return 0
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window_ms - now)
";

const RECONNECT_EVERY: Duration = Duration::from_secs(10);

pub struct RateLimiter {
    client: Option<redis::Client>,
    connection: AsyncMutex<Connection>,
    prefix: String,
    script: Script,
    /// The fallback window: each event's time and name (see [`RateLimiter::reserve`]).
    local: Mutex<HashMap<String, VecDeque<(Instant, Uuid)>>>,
}

struct Connection {
    manager: Option<ConnectionManager>,
    last_attempt: Option<Instant>,
}

impl RateLimiter {
    /// A limiter on `redis_url`. An invalid URL or unreachable server is logged, not fatal.
    pub fn new(redis_url: &str, prefix: impl Into<String>) -> Self {
        let client = redis::Client::open(redis_url)
            .inspect_err(|error| tracing::error!(%error, "REDIS_URL is invalid; rate limits are per replica"))
            .ok();
        Self {
            client,
            connection: AsyncMutex::new(Connection {
                manager: None,
                last_attempt: None,
            }),
            prefix: prefix.into(),
            script: Script::new(SLIDING_WINDOW),
            local: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one event for `key` under `rule`; `Err` when over the limit.
    pub async fn check(&self, rule: Rule, key: &str) -> Result<(), Limited> {
        let outcome = self.reserve(rule, key, Uuid::new_v4()).await;
        if outcome.is_err() {
            crate::metrics::rate_limited(rule.name);
        }
        outcome
    }

    /// Counts one event named `event` for `key` under `rule` (`Err`, counting nothing, when
    /// over the limit), which [`RateLimiter::give_back`] may uncount: for a budget that only
    /// some outcomes spend (a device's wrong guesses). Taking the place before the outcome is
    /// known, in the one atomic step that checks the room, is what keeps concurrent attempts
    /// from all finding room that only one of them may have.
    pub async fn reserve(&self, rule: Rule, key: &str, event: Uuid) -> Result<(), Limited> {
        let full_key = format!("{}:{}:{}", self.prefix, rule.name, key);
        match self.check_in_redis(rule, &full_key, event).await {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::warn!(%error, rule = rule.name, "Redis unavailable; using the in-process rate limit");
                self.check_locally(rule, full_key, event)
            }
        }
    }

    /// Uncounts the event `event` that [`RateLimiter::reserve`] counted for `key`: its place
    /// is free again. Nothing happens for an event not (or no longer) in the window.
    pub async fn give_back(&self, rule: Rule, key: &str, event: Uuid) {
        let full_key = format!("{}:{}:{}", self.prefix, rule.name, key);
        let removed = match self.manager().await {
            Ok(mut manager) => manager
                .zrem::<_, _, i64>(&full_key, event.to_string())
                .await
                .map(drop),
            Err(error) => Err(error),
        };
        if let Err(error) = removed {
            tracing::warn!(%error, rule = rule.name, "Redis unavailable; giving back in the in-process rate limit");
        }
        // The event may have been counted locally while Redis was away: give it back there too.
        let mut windows = self
            .local
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(events) = windows.get_mut(&full_key) {
            events.retain(|(_, name)| *name != event);
        }
    }

    /// Whether Redis answers, for `/health/ready` detail.
    pub async fn redis_ping(&self) -> Result<(), String> {
        let mut manager = self.manager().await.map_err(|error| error.to_string())?;
        let _: () = manager.ping().await.map_err(|error| error.to_string())?;
        Ok(())
    }

    async fn check_in_redis(
        &self,
        rule: Rule,
        key: &str,
        event: Uuid,
    ) -> Result<Result<(), Limited>, redis::RedisError> {
        let mut manager = self.manager().await?;
        let retry_after_ms: u64 = self
            .script
            .key(key)
            .arg(rule.limit)
            .arg(rule.window.as_millis() as u64)
            .arg(event.to_string())
            .invoke_async(&mut manager)
            .await?;
        Ok(match retry_after_ms {
            0 => Ok(()),
            ms => Err(Limited {
                retry_after: Duration::from_millis(ms),
            }),
        })
    }

    async fn manager(&self) -> Result<ConnectionManager, redis::RedisError> {
        let unavailable =
            || redis::RedisError::from((redis::ErrorKind::IoError, "Redis not connected"));
        let mut connection = self.connection.lock().await;
        if let Some(manager) = &connection.manager {
            return Ok(manager.clone());
        }
        let client = self.client.clone().ok_or_else(unavailable)?;
        if connection
            .last_attempt
            .is_some_and(|at| at.elapsed() < RECONNECT_EVERY)
        {
            return Err(unavailable());
        }
        connection.last_attempt = Some(Instant::now());
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_millis(500))
            .set_response_timeout(Duration::from_millis(500))
            .set_number_of_retries(1);
        let manager = ConnectionManager::new_with_config(client, config).await?;
        connection.manager = Some(manager.clone());
        Ok(manager)
    }

    fn check_locally(&self, rule: Rule, key: String, event: Uuid) -> Result<(), Limited> {
        let now = Instant::now();
        let mut windows = self
            .local
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() > 100_000 {
            windows.retain(|_, events| {
                events
                    .back()
                    .is_some_and(|(at, _)| now.duration_since(*at) < rule.window)
            });
        }
        let events = windows.entry(key).or_default();
        while events
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= rule.window)
        {
            events.pop_front();
        }
        if events.len() < rule.limit as usize {
            events.push_back((now, event));
            return Ok(());
        }
        let oldest = events.front().map_or(now, |(at, _)| *at);
        Err(Limited {
            retry_after: rule
                .window
                .saturating_sub(now.duration_since(oldest))
                .max(Duration::from_secs(1)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(limit: u32) -> Rule {
        Rule::per_minute("test", limit)
    }

    fn unique_prefix() -> String {
        format!("devmentor:test:{}", Uuid::new_v4())
    }

    #[tokio::test]
    async fn redis_window_admits_the_limit_then_refuses_with_a_retry_time() {
        let limiter = RateLimiter::new("redis://127.0.0.1:6379", unique_prefix());
        limiter
            .redis_ping()
            .await
            .expect("tests need Redis on 127.0.0.1:6379");
        for _ in 0..3 {
            assert_eq!(limiter.check(rule(3), "k").await, Ok(()));
        }
        let refused = limiter
            .check(rule(3), "k")
            .await
            .expect_err("fourth is over");
        assert!(refused.retry_after > Duration::from_secs(50), "{refused:?}");
        assert_eq!(
            limiter.check(rule(3), "other").await,
            Ok(()),
            "keys are independent"
        );
    }

    #[tokio::test]
    async fn a_reserved_place_given_back_is_free_again_in_redis_or_locally() {
        for url in ["redis://127.0.0.1:6379", "redis://127.0.0.1:1"] {
            let limiter = RateLimiter::new(url, unique_prefix());
            let (kept, returned) = (Uuid::new_v4(), Uuid::new_v4());
            assert_eq!(limiter.reserve(rule(2), "k", kept).await, Ok(()), "{url}");
            assert_eq!(limiter.reserve(rule(2), "k", returned).await, Ok(()));
            let full = limiter.reserve(rule(2), "k", Uuid::new_v4()).await;
            assert!(full.is_err(), "{url}: both places taken");
            limiter.give_back(rule(2), "k", returned).await;
            assert_eq!(limiter.check(rule(2), "k").await, Ok(()), "{url}");
            assert!(
                limiter.check(rule(2), "k").await.is_err(),
                "{url}: full again"
            );
            limiter.give_back(rule(2), "k", Uuid::new_v4()).await;
            assert!(
                limiter.check(rule(2), "k").await.is_err(),
                "{url}: unknown event"
            );
        }
    }

    #[tokio::test]
    async fn two_limiters_sharing_redis_count_together() {
        let prefix = unique_prefix();
        let first = RateLimiter::new("redis://127.0.0.1:6379", prefix.clone());
        let second = RateLimiter::new("redis://127.0.0.1:6379", prefix);
        assert_eq!(first.check(rule(2), "k").await, Ok(()));
        assert_eq!(second.check(rule(2), "k").await, Ok(()));
        assert!(first.check(rule(2), "k").await.is_err());
        assert!(second.check(rule(2), "k").await.is_err());
    }

    #[tokio::test]
    async fn without_redis_the_local_window_still_limits() {
        let limiter = RateLimiter::new("redis://127.0.0.1:1", unique_prefix());
        assert!(limiter.redis_ping().await.is_err());
        assert_eq!(limiter.check(rule(2), "k").await, Ok(()));
        assert_eq!(limiter.check(rule(2), "k").await, Ok(()));
        let refused = limiter
            .check(rule(2), "k")
            .await
            .expect_err("third is over");
        assert!(refused.retry_after >= Duration::from_secs(1));
    }
}
