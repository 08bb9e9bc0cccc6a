//! [`RedisConnection`]: the one Redis connection a process shares — its queues, the
//! provider rate limiter, the readiness probe — bounded in time and healed after a
//! Redis restart.
//!
//! It wraps redis's [`ConnectionManager`] (one multiplexed connection that reconnects
//! by itself) and adds the two things the manager leaves to its caller:
//!
//! - **A bound.** A command ends within [`RedisOptions::timeout`], waiting for a
//!   reconnection and the retry below included; the manager's connect and response
//!   timeouts are the same value. So an API request whose Redis is gone answers 503
//!   in about that time instead of hanging. The manager makes a single connection
//!   attempt per reconnection instead of backing off through several: a reconnection
//!   started during an outage would otherwise still be sleeping between attempts
//!   when Redis returns, and the requests awaiting it would time out although Redis
//!   answers (with the manager's default backoff an outage held requests for about
//!   nine seconds).
//! - **One retry after a lost connection.** The manager hands the error of the
//!   command that met the dead socket (`broken pipe` after a restart) to its caller
//!   and only then reconnects, so the first request after every restart used to
//!   fail. A command that fails with an I/O error (broken pipe, reset, refused,
//!   timed out while connecting) is therefore sent once more, on the new
//!   connection. Replies of the server (script errors, `NOSCRIPT`, `WRONGTYPE`) are
//!   never retried here. Sending a command twice is safe for everything Junction
//!   sends: pushes write a task id only once, marks and heartbeats overwrite, reads
//!   read, and a rate-limit admission counted twice only spends budget.
//!
//! The queue backend the apalis workers fetch from uses this connection too: the job
//! runner restarts an apalis worker that fails, and its polling scripts get the
//! worker's longer timeout.

use std::{future::Future, io, time::Duration};

use redis::{
    Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value,
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig},
};

use crate::JobsError;

/// How a [`RedisConnection`] is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisOptions {
    /// The longest one command may take, reconnecting and its one retry included;
    /// also the limit of each connection attempt.
    pub timeout: Duration,
}

impl RedisOptions {
    /// Commands bounded by `timeout`.
    pub fn within(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl Default for RedisOptions {
    /// Ten seconds: room for the job runner's scripts over large queues. Request
    /// paths pass their own, shorter bound.
    fn default() -> Self {
        Self::within(Duration::from_secs(10))
    }
}

/// A shared, bounded, self-healing Redis connection (see the module docs). Cheap to
/// clone: the clones share one multiplexed connection.
#[derive(Clone)]
pub struct RedisConnection {
    manager: ConnectionManager,
    timeout: Duration,
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnection")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisConnection {
    /// Connects now: an unreachable Redis is an error (after one attempt bounded by
    /// the timeout).
    pub async fn connect(redis_url: &str, options: RedisOptions) -> Result<Self, JobsError> {
        let manager = client(redis_url)?
            .get_connection_manager_with_config(manager_config(options))
            .await?;
        Ok(Self {
            manager,
            timeout: options.timeout,
        })
    }

    /// Connects at the first command: for a process that must start while Redis is
    /// away and wait for it (the worker).
    pub fn lazy(redis_url: &str, options: RedisOptions) -> Result<Self, JobsError> {
        let manager =
            ConnectionManager::new_lazy_with_config(client(redis_url)?, manager_config(options))?;
        Ok(Self {
            manager,
            timeout: options.timeout,
        })
    }

    /// The bound of every command.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends with `attempt`, once more if the connection was lost, all within the
    /// timeout. The one place the retry and the bound live, for single commands and
    /// pipelines alike.
    fn send<'a, T: Send + 'a>(
        &self,
        attempt: impl Fn(ConnectionManager) -> RedisFuture<'a, T> + Send + 'a,
    ) -> RedisFuture<'a, T> {
        let manager = self.manager.clone();
        let timeout = self.timeout;
        Box::pin(bounded(timeout, async move {
            match attempt(manager.clone()).await {
                Err(error) if error.is_io_error() => {
                    tracing::debug!(%error, "the Redis connection failed; sending the command once more on a new one");
                    attempt(manager).await
                }
                result => result,
            }
        }))
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.send(move |mut manager| Box::pin(async move { manager.req_packed_command(cmd).await }))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.send(move |mut manager| {
            Box::pin(async move { manager.req_packed_commands(pipeline, offset, count).await })
        })
    }

    fn get_db(&self) -> i64 {
        self.manager.get_db()
    }
}

fn client(redis_url: &str) -> Result<redis::Client, JobsError> {
    redis::Client::open(redis_url)
        // The parse error may quote the URL, password included: say only what failed.
        .map_err(|_| JobsError::Redis("the Redis URL is invalid".to_owned()))
}

fn manager_config(options: RedisOptions) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(options.timeout))
        .set_response_timeout(Some(options.timeout))
        // One attempt per reconnection: see the module docs. The next command that
        // finds the connection broken starts the next attempt.
        .set_number_of_retries(0)
}

/// `work`, or a timeout error once `timeout` has passed.
///
/// The manager's own connect and response timeouts equal the bound, so either may
/// fire first; both end as the same error, saying how long Redis was given.
async fn bounded<T>(
    timeout: Duration,
    work: impl Future<Output = RedisResult<T>>,
) -> RedisResult<T> {
    let silent = || {
        RedisError::from(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("Redis did not answer within {} ms", timeout.as_millis()),
        ))
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(Err(error)) if error.is_timeout() => Err(silent()),
        Ok(result) => result,
        Err(_) => Err(silent()),
    }
}
