//! junction-ratelimit: [`RedisRateLimiter`], a provider app's request budget, shared
//! by every tenant and every pod through Redis.
//!
//! Each provider has a sliding-window log in Redis (`{prefix}ratelimit:{provider}:log`,
//! a sorted set of request times): a request is admitted when fewer than
//! `budget.requests` were admitted in the last `budget.per`. The check and the
//! admission are one Lua script on Redis's clock, so pods with skewed clocks still
//! share one budget. When the window is full the caller *waits* for the oldest
//! request to leave it, as long as that fits in `max_wait`; only then does it get
//! [`AdapterError::RateLimited`] with the time to come back.
//!
//! [`RateLimiter::observe`] learns from responses: when a provider says no request
//! is left (`remaining = 0` with a reset time) or sends `Retry-After`, the provider
//! is blocked until then (`{prefix}ratelimit:{provider}:blocked`, holding the Unix
//! millisecond it ends), in this process at once and in every pod as soon as the
//! write lands.
//!
//! If Redis cannot be reached the limiter lets requests through (with a warning):
//! the budget protects the provider app's quota, and the provider's own 429s are
//! still honoured by the retry policy, whereas failing closed would stop every
//! provider call during a Redis blip. How long finding that out may take is the
//! connection's business: the limiter runs on the connection its process shares
//! with the job queues (junction-jobs' `RedisConnection`, which bounds every
//! command — about a second in the API — and sends a command once more after a
//! lost connection, so the first check after a Redis restart counts instead of
//! being let through blind).
//!
//! Metrics: `junction_provider_requests_total{provider}`,
//! `junction_provider_throttled_total{provider}` and
//! `junction_rate_limiter_errors_total`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use junction_core::{AdapterError, RateBudget, RateLimiter, http::RateLimitInfo};
use rand::Rng;
use redis::aio::ConnectionLike;
use uuid::Uuid;

/// Why a limiter operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// The most a waiter adds at random to its wait, so waiters released by the same
/// window edge do not all hit Redis in the same millisecond.
const MAX_WAKE_JITTER_MS: u64 = 25;

/// A provider's request budget, shared through Redis. Cheap to clone.
#[derive(Clone)]
pub struct RedisRateLimiter<C> {
    conn: C,
    prefix: String,
    max_wait: Duration,
    /// Blocks learnt by this process through `observe`, effective before the Redis
    /// write lands.
    local_blocks: Arc<Mutex<HashMap<String, DateTime<Utc>>>>,
}

impl<C> std::fmt::Debug for RedisRateLimiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("prefix", &self.prefix)
            .field("max_wait", &self.max_wait)
            .finish_non_exhaustive()
    }
}

impl<C: ConnectionLike + Clone + Send + Sync + 'static> RedisRateLimiter<C> {
    /// A limiter on the process's Redis connection (shared with its queues).
    /// `prefix` starts every key (the same prefix as the job queues', `:` appended
    /// when missing); `max_wait` is the longest one `acquire` pauses before giving
    /// up.
    pub fn sharing(conn: C, prefix: &str, max_wait: Duration) -> Self {
        let prefix = if prefix.is_empty() || prefix.ends_with(':') {
            prefix.to_owned()
        } else {
            format!("{prefix}:")
        };
        Self {
            conn,
            prefix,
            max_wait,
            local_blocks: Arc::default(),
        }
    }

    fn log_key(&self, provider: &str) -> String {
        format!("{}ratelimit:{provider}:log", self.prefix)
    }

    fn blocked_key(&self, provider: &str) -> String {
        format!("{}ratelimit:{provider}:blocked", self.prefix)
    }

    /// Blocks `provider` until `until` for every pod (a later block is never
    /// shortened).
    pub async fn block_until(
        &self,
        provider: &str,
        until: DateTime<Utc>,
    ) -> Result<(), RateLimitError> {
        self.block_locally(provider, until);
        let mut conn = self.conn.clone();
        let _: i64 = BLOCK_SCRIPT
            .key(self.blocked_key(provider))
            .arg(until.timestamp_millis())
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Until when `provider` is blocked in Redis, if it is.
    pub async fn blocked_until(
        &self,
        provider: &str,
    ) -> Result<Option<DateTime<Utc>>, RateLimitError> {
        let mut conn = self.conn.clone();
        let raw: Option<i64> = redis::cmd("GET")
            .arg(self.blocked_key(provider))
            .query_async(&mut conn)
            .await?;
        Ok(raw.and_then(|ms| Utc.timestamp_millis_opt(ms).single()))
    }

    fn block_locally(&self, provider: &str, until: DateTime<Utc>) {
        if let Ok(mut blocks) = self.local_blocks.lock() {
            let entry = blocks.entry(provider.to_owned()).or_insert(until);
            if *entry < until {
                *entry = until;
            }
        }
    }

    /// How long this process already knows `provider` is blocked for.
    fn local_wait(&self, provider: &str) -> Option<Duration> {
        let now = Utc::now();
        let mut blocks = self.local_blocks.lock().ok()?;
        match blocks.get(provider) {
            Some(until) if *until > now => (*until - now).to_std().ok(),
            Some(_) => {
                blocks.remove(provider);
                None
            }
            None => None,
        }
    }

    /// One admission attempt: `None` when admitted, else how long to wait.
    async fn try_acquire(
        &self,
        provider: &str,
        budget: &RateBudget,
    ) -> Result<Option<Duration>, RateLimitError> {
        let window_ms = u64::try_from(budget.per.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut conn = self.conn.clone();
        let (admitted, wait_ms): (i64, i64) = ACQUIRE_SCRIPT
            .key(self.log_key(provider))
            .key(self.blocked_key(provider))
            .arg(budget.requests)
            .arg(window_ms)
            .arg(Uuid::new_v4().simple().to_string())
            .invoke_async(&mut conn)
            .await?;
        if admitted == 1 {
            Ok(None)
        } else {
            Ok(Some(Duration::from_millis(
                u64::try_from(wait_ms).unwrap_or(1).max(1),
            )))
        }
    }
}

#[async_trait]
impl<C: ConnectionLike + Clone + Send + Sync + 'static> RateLimiter for RedisRateLimiter<C> {
    async fn acquire(&self, provider: &str, budget: &RateBudget) -> Result<(), AdapterError> {
        let unlimited = budget.requests == 0 || budget.per.is_zero();
        let deadline = Instant::now() + self.max_wait;
        let mut throttled = false;
        loop {
            let wait = match self.local_wait(provider) {
                Some(wait) => wait,
                None if unlimited => break,
                None => match self.try_acquire(provider, budget).await {
                    Ok(None) => break,
                    Ok(Some(wait)) => wait,
                    Err(error) => {
                        metrics::counter!("junction_rate_limiter_errors_total").increment(1);
                        tracing::warn!(provider, %error, "rate limiter unavailable; letting the request through");
                        break;
                    }
                },
            };
            if !throttled {
                throttled = true;
                metrics::counter!("junction_provider_throttled_total", "provider" => provider.to_owned())
                    .increment(1);
            }
            if Instant::now() + wait > deadline {
                return Err(AdapterError::RateLimited {
                    retry_after: Some(wait),
                });
            }
            let jitter = Duration::from_millis(rand::rng().random_range(0..=MAX_WAKE_JITTER_MS));
            tokio::time::sleep(wait + jitter).await;
        }
        metrics::counter!("junction_provider_requests_total", "provider" => provider.to_owned())
            .increment(1);
        Ok(())
    }

    fn observe(&self, provider: &str, info: &RateLimitInfo) {
        let now = Utc::now();
        let until = match (info.retry_after, info.is_exhausted()) {
            (Some(wait), _) => chrono::Duration::from_std(wait)
                .ok()
                .and_then(|d| now.checked_add_signed(d)),
            (None, true) => info.reset_at,
            (None, false) => None,
        };
        let Some(until) = until.filter(|until| *until > now) else {
            return;
        };
        self.block_locally(provider, until);
        // `observe` is synchronous; the shared block is written in the background.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let limiter = self.clone();
            let provider = provider.to_owned();
            runtime.spawn(async move {
                if let Err(error) = limiter.block_until(&provider, until).await {
                    tracing::warn!(provider, %error, "could not share a provider block through Redis");
                }
            });
        }
    }
}

/// Sliding-window admission on Redis's clock.
const ACQUIRE_LUA: &str = r#"
-- KEYS[1] request log (zset), KEYS[2] blocked-until key
-- ARGV[1] requests per window, ARGV[2] window (ms), ARGV[3] unique member
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local blocked = tonumber(redis.call('get', KEYS[2]) or '0') or 0
if blocked > now then
  return {0, blocked - now}
end
local window = tonumber(ARGV[2])
redis.call('zremrangebyscore', KEYS[1], '-inf', now - window)
if redis.call('zcard', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('zadd', KEYS[1], now, ARGV[3])
  redis.call('pexpire', KEYS[1], window)
  return {1, 0}
end
local oldest = redis.call('zrange', KEYS[1], 0, 0, 'WITHSCORES')
local wait = tonumber(oldest[2]) + window - now
if wait < 1 then wait = 1 end
return {0, wait}
"#;

/// Extends a provider's block (never shortens it).
const BLOCK_LUA: &str = r#"
-- KEYS[1] blocked-until key; ARGV[1] until (Unix ms)
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = tonumber(ARGV[1])
if until_ms <= now then return 0 end
local current = tonumber(redis.call('get', KEYS[1]) or '0') or 0
if current >= until_ms then return 0 end
redis.call('set', KEYS[1], ARGV[1], 'PX', until_ms - now)
return 1
"#;

/// The scripts, hashed once: a `Script` computes its SHA-1 when built, and pushes and
/// limiter checks run for every job and provider request.
static BLOCK_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(BLOCK_LUA));
static ACQUIRE_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(ACQUIRE_LUA));
