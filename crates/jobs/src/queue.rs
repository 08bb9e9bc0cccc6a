//! [`Queues`]: the apalis-redis queues (sync, action, webhook, notify, outbound), every key
//! under one prefix.
//!
//! Each queue is an apalis-redis queue named `{prefix}jobs:{queue}`, so every key
//! apalis derives from it carries the prefix (see the crate docs for the layout).
//! Tasks are pushed with a task id derived from the job id and the attempt
//! (`{job_id}#{attempt}`): pushing the same attempt twice is a no-op (the push only
//! writes a task id that is not there yet), and a job can be looked up by its id
//! ([`Queues::lookup`]).
//!
//! The push writes apalis's data and metadata layout itself instead of calling
//! apalis-redis's push script, because of how that script and apalis's fetch treat
//! time: apalis-redis 1.0 puts *every* task, even one due now, in its scheduled set,
//! and its fetch promotes all due members of that set with a single Lua `unpack()`,
//! which Redis refuses from 8,000 values on — a backlog of 8,000 due tasks stalls the
//! queue for good. So a task due now goes straight onto the active list, a later one
//! waits in our own delayed set (which apalis never reads), and
//! [`Queues::promote_due`] moves due tasks from it (and from apalis's scheduled set,
//! where apalis parks the tasks it re-runs itself) onto the active list in bounded
//! batches. Every runner does that at its poll interval.

use std::collections::HashMap;
use std::time::Duration;

use apalis_redis::Config;
use chrono::{DateTime, TimeZone, Utc};
use junction_store::models::Queue;
use serde::Serialize;

use crate::{Envelope, Job, JobsError, RedisConnection, RedisOptions};

/// Longest job id accepted (it is part of every Redis key of the job's tasks).
const MAX_JOB_ID_LEN: usize = 200;
/// Lookups probe attempts `1..=` this many.
const MAX_PROBED_ATTEMPTS: u32 = 10_000;
/// Due tasks moved to the active list per promotion script: far below the 8,000
/// values Redis's Lua can `unpack()`, and short enough not to hold Redis (which runs
/// one script at a time) for long.
pub(crate) const PROMOTE_BATCH: usize = 1_000;
/// apalis's own default attempt limit, written into the metadata it expects; our
/// retry policy decides the real one.
const APALIS_MAX_ATTEMPTS: u32 = 25;

/// Meta-hash field holding the Unix second a task became (or becomes) due; read by
/// [`Queues::stats`] for the age of the oldest pending task. Prefixed so it never
/// collides with apalis's own fields.
pub(crate) const DUE_AT_FIELD: &str = "junction_due_at";

/// The job queues in Redis. Cheap to clone (one [`RedisConnection`] shared by the
/// clones: bounded in time, retried once after a lost connection).
#[derive(Clone)]
pub struct Queues {
    conn: RedisConnection,
    prefix: String,
}

impl std::fmt::Debug for Queues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queues")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Counts of one queue, for `/metrics`, the dashboard and `junction` CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    pub queue: Queue,
    /// Tasks due now and waiting for a worker.
    pub pending: u64,
    /// Tasks waiting for a later time (retries in backoff, delayed jobs).
    pub scheduled: u64,
    /// Tasks claimed by a worker (running or prefetched); a killed worker's claims
    /// count until the orphan check puts them back.
    pub running: u64,
    /// Tasks apalis is re-running after the runner itself failed to record an
    /// outcome (Postgres or Redis down); also counted in `pending`/`scheduled`.
    pub failed: u64,
    /// Tasks killed in Redis after their job was dead-lettered (the dead letters
    /// themselves are in Postgres).
    pub dead: u64,
    /// How long the oldest due task has been waiting, in seconds.
    pub oldest_pending_age_seconds: Option<u64>,
}

/// Where a job's latest attempt stands in Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting for a later time.
    Scheduled,
    /// Due, waiting for a worker.
    Pending,
    /// Claimed by a worker.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Stopped without a retry or dead letter (the cause is reported elsewhere).
    Abandoned,
    /// Failed; its next attempt is being scheduled.
    Retrying,
    /// Being re-run by apalis after the runner could not record an outcome.
    Failed,
    /// Dead-lettered and killed.
    Dead,
}

/// What [`Queues::lookup`] found about a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobLookup {
    pub queue: Queue,
    pub job_id: String,
    /// The apalis task id of the latest attempt.
    pub task_id: String,
    /// The latest attempt, 1-based.
    pub attempt: u32,
    pub state: TaskState,
    /// When a scheduled task becomes due.
    pub run_at: Option<DateTime<Utc>>,
}

impl Queues {
    /// Connects to Redis with [`RedisOptions::default`]. `prefix` starts every key
    /// (`junction` in production, the per-test prefix in tests); a `:` is appended
    /// when it does not end with one.
    pub async fn connect(redis_url: &str, prefix: &str) -> Result<Self, JobsError> {
        Self::connect_with(redis_url, prefix, RedisOptions::default()).await
    }

    /// Connects to Redis now, every command bounded by `options`.
    pub async fn connect_with(
        redis_url: &str,
        prefix: &str,
        options: RedisOptions,
    ) -> Result<Self, JobsError> {
        Ok(Self::on(
            RedisConnection::connect(redis_url, options).await?,
            prefix,
        ))
    }

    /// Queues whose connection is made at the first command (a worker starting
    /// while Redis is away).
    pub fn lazy(redis_url: &str, prefix: &str, options: RedisOptions) -> Result<Self, JobsError> {
        Ok(Self::on(RedisConnection::lazy(redis_url, options)?, prefix))
    }

    /// Queues on an existing connection.
    fn on(conn: RedisConnection, prefix: &str) -> Self {
        Self {
            conn,
            prefix: normalize_prefix(prefix),
        }
    }

    /// The key prefix, ending with `:`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Checks Redis answers (for `/readyz`): one round trip, healed and bounded like
    /// every command.
    pub async fn ping(&self) -> Result<(), JobsError> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }

    /// The apalis queue name of `queue`: `{prefix}jobs:{queue}`.
    pub fn queue_name(&self, queue: Queue) -> String {
        format!("{}jobs:{}", self.prefix, queue.as_str())
    }

    /// The apalis-redis configuration of `queue` (queue name only; the runner adds
    /// its liveness settings).
    pub fn config(&self, queue: Queue) -> Config {
        Config::default()
            .queue(self.queue_name(queue))
            // Nobody subscribes to apalis's pubsub events (every push is scheduled, and
            // the runner polls), so publishing them is wasted work.
            .emit_events(false)
    }

    /// The queues' Redis connection, for other users of the same Redis in this
    /// process (the provider rate limiter shares it).
    pub fn redis(&self) -> RedisConnection {
        self.conn.clone()
    }

    /// The apalis task id of one attempt of a job.
    pub fn task_id(job_id: &str, attempt: u32) -> String {
        format!("{job_id}#{attempt}")
    }

    /// A new logical job (attempt 1) under [`Job::default_job_id`]; returns its job
    /// id. Enqueueing the same job again is a no-op that returns the same id.
    pub async fn enqueue(&self, job: Job) -> Result<String, JobsError> {
        let job_id = job.default_job_id();
        self.enqueue_with_id(job_id, job).await
    }

    /// A new logical job (attempt 1) under a job id of the caller's choosing; returns
    /// it. The id must be unique per queue: a second enqueue with the same id is a
    /// no-op. The apalis task id is `{job_id}#1`.
    pub async fn enqueue_with_id(&self, job_id: String, job: Job) -> Result<String, JobsError> {
        validate_job_id(&job_id)?;
        let envelope = Envelope::new(job_id.clone(), job, Utc::now());
        self.push(&envelope, None).await?;
        Ok(job_id)
    }

    /// A job the outbox relay took from Postgres, staged at `staged_at`: attempt 1
    /// under its job id. Relaying the same job again is a no-op.
    pub async fn enqueue_staged(
        &self,
        job_id: String,
        job: Job,
        staged_at: DateTime<Utc>,
    ) -> Result<bool, JobsError> {
        validate_job_id(&job_id)?;
        self.push(&Envelope::new(job_id, job, staged_at), None)
            .await
    }

    /// Puts an envelope on its queue for the attempt it carries, due at `at` (used by
    /// the runner for retries; also usable directly). The task id is
    /// `{job_id}#{attempt}`: if that attempt was pushed before, nothing changes.
    pub async fn schedule(&self, envelope: Envelope, at: DateTime<Utc>) -> Result<(), JobsError> {
        validate_job_id(&envelope.job_id)?;
        self.push(&envelope, Some(at)).await?;
        Ok(())
    }

    /// Pushes one envelope; returns whether it was new. apalis-redis schedules
    /// whole seconds, so the due time is rounded *up*: a retry never runs before the
    /// time the policy (or a provider's `Retry-After`) asked for. A task due now goes
    /// straight onto the active list; a later one into the delayed set.
    pub(crate) async fn push(
        &self,
        envelope: &Envelope,
        at: Option<DateTime<Utc>>,
    ) -> Result<bool, JobsError> {
        let queue = envelope.job.queue();
        let config = self.config(queue);
        let task_id = Self::task_id(&envelope.job_id, envelope.attempt);
        let now = unix_now();
        let due_at = at.map(ceil_unix_seconds).unwrap_or(0).max(now);
        let data = serde_json::to_vec(envelope).map_err(|e| JobsError::Payload(e.to_string()))?;
        let mut conn = self.conn.clone();
        let pushed: u8 = PUSH_SCRIPT
            .key(config.job_data_hash())
            .key(config.active_jobs_list())
            .key(config.signal_list())
            .key(self.delayed_set(queue))
            .arg(&task_id)
            .arg(data)
            .arg(format!("{}:{task_id}", config.job_meta_hash()))
            .arg(due_at)
            .arg(now)
            .arg("attempts")
            .arg(0)
            .arg("max_attempts")
            .arg(APALIS_MAX_ATTEMPTS)
            .arg("status")
            .arg("Pending")
            .arg(DUE_AT_FIELD)
            .arg(due_at)
            .arg("junction_kind")
            .arg(envelope.job.kind())
            .arg("junction_workspace_id")
            .arg(envelope.job.workspace_id().to_string())
            .invoke_async(&mut conn)
            .await?;
        Ok(pushed == 1)
    }

    /// The sorted set (by due second) of tasks pushed for a later time.
    fn delayed_set(&self, queue: Queue) -> String {
        format!("{}:delayed", self.queue_name(queue))
    }

    /// Moves every due task of `queue` (from the delayed set and from apalis's
    /// scheduled set) onto the active list, [`PROMOTE_BATCH`] at a time, and
    /// signals workers when any moved. Returns how many moved. Safe to run from any
    /// number of pods at once: each batch is one script.
    pub async fn promote_due(&self, queue: Queue) -> Result<u64, JobsError> {
        let config = self.config(queue);
        let mut conn = self.conn.clone();
        let mut promoted = 0u64;
        loop {
            let moved: u64 = PROMOTE_SCRIPT
                .key(self.delayed_set(queue))
                .key(config.scheduled_jobs_set())
                .key(config.active_jobs_list())
                .key(config.signal_list())
                .arg(unix_now())
                .arg(PROMOTE_BATCH)
                .invoke_async(&mut conn)
                .await?;
            promoted += moved;
            if moved < PROMOTE_BATCH as u64 {
                return Ok(promoted);
            }
        }
    }

    /// Counts of every queue.
    pub async fn stats(&self) -> Result<Vec<QueueStats>, JobsError> {
        let mut out = Vec::with_capacity(Queue::ALL.len());
        for queue in Queue::ALL {
            out.push(self.queue_stats(*queue).await?);
        }
        Ok(out)
    }

    /// Counts of one queue.
    pub async fn queue_stats(&self, queue: Queue) -> Result<QueueStats, JobsError> {
        let config = self.config(queue);
        let now = Utc::now().timestamp().max(0);
        let mut conn = self.conn.clone();
        let (pending, scheduled, running, failed, dead, oldest): (u64, u64, u64, u64, u64, i64) =
            STATS_SCRIPT
                .key(config.active_jobs_list())
                .key(config.scheduled_jobs_set())
                .key(config.workers_set())
                .key(config.dead_jobs_set())
                .key(self.delayed_set(queue))
                .arg(now)
                .arg(config.inflight_jobs_set())
                .arg(config.job_meta_hash())
                .arg(DUE_AT_FIELD)
                .invoke_async(&mut conn)
                .await?;
        Ok(QueueStats {
            queue,
            pending,
            scheduled,
            running,
            failed,
            dead,
            oldest_pending_age_seconds: u64::try_from(oldest).ok(),
        })
    }

    /// Finds the latest attempt of a job on `queue`, or `None` when the job id was
    /// never enqueued there.
    pub async fn lookup(&self, queue: Queue, job_id: &str) -> Result<Option<JobLookup>, JobsError> {
        let config = self.config(queue);
        let mut conn = self.conn.clone();
        let (attempt, meta, score): (u32, Vec<String>, String) = LOOKUP_SCRIPT
            .key(config.job_data_hash())
            .key(self.delayed_set(queue))
            .key(config.scheduled_jobs_set())
            .arg(job_id)
            .arg(config.job_meta_hash())
            .arg(MAX_PROBED_ATTEMPTS)
            .invoke_async(&mut conn)
            .await?;
        if attempt == 0 {
            return Ok(None);
        }
        let fields: HashMap<&str, &str> = meta
            .chunks_exact(2)
            .map(|pair| (pair[0].as_str(), pair[1].as_str()))
            .collect();
        let run_at = score
            .parse::<i64>()
            .ok()
            .and_then(|secs| Utc.timestamp_opt(secs, 0).single());
        let state = task_state(&fields, run_at, Utc::now());
        Ok(Some(JobLookup {
            queue,
            job_id: job_id.to_owned(),
            task_id: Self::task_id(job_id, attempt),
            attempt,
            state,
            run_at,
        }))
    }

    /// Deletes finished jobs (latest attempt succeeded, abandoned or dead) whose last
    /// attempt ended more than `older_than` ago, every attempt of them at once, so
    /// Redis does not grow without bound. Jobs still pending, scheduled or running
    /// are never touched; dead letters stay in Postgres. A purged job id is unknown
    /// to [`Self::lookup`] afterwards. Returns the number of tasks deleted.
    pub async fn purge_finished(
        &self,
        queue: Queue,
        older_than: Duration,
    ) -> Result<u64, JobsError> {
        let config = self.config(queue);
        let now = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
        let cutoff = now.saturating_sub(older_than.as_secs());
        let mut conn = self.conn.clone();
        let mut purged = 0u64;
        for set in [config.done_jobs_set(), config.dead_jobs_set()] {
            let mut cursor = 0u64;
            loop {
                // Small batches keep each script short: Redis runs one at a time.
                let (next, ids): (u64, Vec<String>) = redis::cmd("SSCAN")
                    .arg(&set)
                    .arg(cursor)
                    .arg("COUNT")
                    .arg(PURGE_BATCH)
                    .query_async(&mut conn)
                    .await?;
                if !ids.is_empty() {
                    let mut script = PURGE_SCRIPT.prepare_invoke();
                    script
                        .key(config.job_data_hash())
                        .key(config.done_jobs_set())
                        .key(config.dead_jobs_set())
                        .arg(config.job_meta_hash())
                        .arg(cutoff);
                    for id in &ids {
                        script.arg(id);
                    }
                    let deleted: u64 = script.invoke_async(&mut conn).await?;
                    purged += deleted;
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(purged)
    }

    /// The key saying a worker is running `job_id` right now. Kept beside apalis's
    /// own records because those vanish with everything else when Redis forgets
    /// its keys, while a running handler writes this one again at its next beat.
    fn in_flight_key(&self, queue: Queue, job_id: &str) -> String {
        format!("{}:in-flight:{job_id}", self.queue_name(queue))
    }

    /// Marks `job_id` as being run by `worker` for `ttl` (renewed while it runs).
    pub(crate) async fn mark_in_flight(
        &self,
        queue: Queue,
        job_id: &str,
        worker: &str,
        ttl: Duration,
    ) -> Result<(), JobsError> {
        let mut conn = self.conn.clone();
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let _: () = redis::cmd("SET")
            .arg(self.in_flight_key(queue, job_id))
            .arg(worker)
            .arg("PX")
            .arg(millis)
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Removes the mark of a job whose attempt ended.
    pub(crate) async fn clear_in_flight(
        &self,
        queue: Queue,
        job_id: &str,
    ) -> Result<(), JobsError> {
        let mut conn = self.conn.clone();
        let _: i64 = redis::cmd("DEL")
            .arg(self.in_flight_key(queue, job_id))
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Which of `jobs` a live worker is running (a job's mark is renewed every
    /// heartbeat interval and expires three intervals after its worker stopped), in
    /// one round trip.
    pub async fn in_flight(&self, jobs: &[(Queue, &str)]) -> Result<Vec<bool>, JobsError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for (queue, job_id) in jobs {
            pipe.cmd("EXISTS").arg(self.in_flight_key(*queue, job_id));
        }
        let mut conn = self.conn.clone();
        let found: Vec<i64> = pipe.query_async(&mut conn).await?;
        Ok(found.into_iter().map(|n| n > 0).collect())
    }

    /// Puts everything a worker holds back on its queue and forgets the worker:
    /// used after a worker stopped (or was cut off at the end of the grace period),
    /// so its tasks run elsewhere now instead of after the orphan timeout.
    pub(crate) async fn release_worker(
        &self,
        queue: Queue,
        worker: &str,
    ) -> Result<u64, JobsError> {
        let config = self.config(queue);
        let mut conn = self.conn.clone();
        let released: u64 = RELEASE_SCRIPT
            .key(config.workers_set())
            .key(format!("{}:{worker}", config.inflight_jobs_set()))
            .key(config.active_jobs_list())
            .key(format!(
                "{}:workers:metadata:{worker}",
                config.queue.as_ref()
            ))
            .arg(worker)
            .arg(config.job_meta_hash())
            .invoke_async(&mut conn)
            .await?;
        Ok(released)
    }

    /// Refreshes the heartbeat of workers that are draining (apalis stops sending
    /// heartbeats once a worker stops fetching), so no other pod mistakes them for
    /// dead and re-runs their in-flight tasks during the grace period.
    pub(crate) async fn keep_alive(
        &self,
        queue: Queue,
        workers: &[String],
    ) -> Result<(), JobsError> {
        if workers.is_empty() {
            return Ok(());
        }
        let config = self.config(queue);
        let now = Utc::now().timestamp().max(0);
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(config.workers_set()).arg("XX");
        for worker in workers {
            cmd.arg(now).arg(worker);
        }
        let mut conn = self.conn.clone();
        let _: i64 = cmd.query_async(&mut conn).await?;
        Ok(())
    }
}

fn unix_now() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap_or(0)
}

fn normalize_prefix(prefix: &str) -> String {
    if prefix.is_empty() || prefix.ends_with(':') {
        prefix.to_owned()
    } else {
        format!("{prefix}:")
    }
}

fn validate_job_id(job_id: &str) -> Result<(), JobsError> {
    if job_id.is_empty() || job_id.len() > MAX_JOB_ID_LEN || job_id.chars().any(char::is_control) {
        return Err(JobsError::Payload(format!(
            "a job id must be 1 to {MAX_JOB_ID_LEN} printable characters"
        )));
    }
    Ok(())
}

/// The Unix second at or after `at`.
fn ceil_unix_seconds(at: DateTime<Utc>) -> u64 {
    let secs = at.timestamp() + i64::from(at.timestamp_subsec_nanos() > 0);
    u64::try_from(secs).unwrap_or(0)
}

fn task_state(
    fields: &HashMap<&str, &str>,
    run_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> TaskState {
    match fields.get("status").copied().unwrap_or("Pending") {
        "Running" => TaskState::Running,
        "Killed" => TaskState::Dead,
        "Failed" => TaskState::Failed,
        "Done" => match fields
            .get("result")
            .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw).ok())
            .and_then(|result| result.get("Ok").and_then(|v| v.as_str().map(str::to_owned)))
            .as_deref()
        {
            Some(crate::runner::OUTCOME_ABANDONED) => TaskState::Abandoned,
            Some(crate::runner::OUTCOME_RETRIED) => TaskState::Retrying,
            _ => TaskState::Succeeded,
        },
        _ => match run_at {
            Some(at) if at > now => TaskState::Scheduled,
            _ => TaskState::Pending,
        },
    }
}

/// Writes one task in apalis's layout (data hash entry, metadata hash) unless its
/// task id exists, and queues it: on the active list when due, else in the delayed
/// set. Returns 1 when written, 0 when the task id was there already.
const PUSH_LUA: &str = r#"
-- KEYS[1] data hash, KEYS[2] active list, KEYS[3] signal list, KEYS[4] delayed zset
-- ARGV[1] task id, ARGV[2] data, ARGV[3] meta key, ARGV[4] due (s), ARGV[5] now (s),
-- ARGV[6..] metadata field/value pairs
if redis.call('hsetnx', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
local meta = {}
for i = 6, #ARGV do meta[#meta + 1] = ARGV[i] end
redis.call('hset', ARGV[3], unpack(meta))
if tonumber(ARGV[4]) > tonumber(ARGV[5]) then
  redis.call('zadd', KEYS[4], ARGV[4], ARGV[1])
else
  redis.call('rpush', KEYS[2], ARGV[1])
  redis.call('del', KEYS[3])
  redis.call('lpush', KEYS[3], 1)
end
return 1
"#;

/// Moves up to ARGV[2] due tasks from each of the delayed set and apalis's
/// scheduled set onto the active list; returns the larger of the two counts, so a
/// full batch from either tells the caller to go on.
const PROMOTE_LUA: &str = r#"
-- KEYS[1] delayed zset, KEYS[2] apalis scheduled zset, KEYS[3] active list,
-- KEYS[4] signal list; ARGV[1] now (s), ARGV[2] batch size
local most = 0
local any = false
for k = 1, 2 do
  local ids = redis.call('zrangebyscore', KEYS[k], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
  for _, id in ipairs(ids) do
    redis.call('rpush', KEYS[3], id)
    redis.call('zrem', KEYS[k], id)
  end
  if #ids > most then most = #ids end
  if #ids > 0 then any = true end
end
if any then
  redis.call('del', KEYS[4])
  redis.call('lpush', KEYS[4], 1)
end
return most
"#;

/// Counts of one queue. Tasks waiting for a time live in the delayed set (ours)
/// and apalis's scheduled set (its own re-runs); members already due there count
/// as pending, since the next promotion moves them.
const STATS_LUA: &str = r#"
-- KEYS[1] active list, KEYS[2] apalis scheduled zset, KEYS[3] workers zset,
-- KEYS[4] dead set, KEYS[5] delayed zset
-- ARGV[1] now (s), ARGV[2] inflight key prefix, ARGV[3] meta key prefix, ARGV[4] due-at field
local now = tonumber(ARGV[1])
local active = redis.call('llen', KEYS[1])
local due = 0
local waiting = 0
local oldest = -1
for _, set in ipairs({KEYS[2], KEYS[5]}) do
  local set_due = redis.call('zcount', set, '-inf', now)
  due = due + set_due
  waiting = waiting + redis.call('zcard', set) - set_due
  local first = redis.call('zrange', set, 0, 0, 'WITHSCORES')
  if #first > 0 and tonumber(first[2]) <= now then
    local age = now - tonumber(first[2])
    if age > oldest then oldest = age end
  end
end
local running = 0
for _, worker in ipairs(redis.call('zrange', KEYS[3], 0, -1)) do
  running = running + redis.call('scard', ARGV[2] .. ':' .. worker)
end
-- Only apalis's own re-runs carry the Failed status, and only its set holds them.
local failed = 0
for _, id in ipairs(redis.call('zrange', KEYS[2], 0, -1)) do
  if redis.call('hget', ARGV[3] .. ':' .. id, 'status') == 'Failed' then
    failed = failed + 1
  end
end
local dead = redis.call('scard', KEYS[4])
local head = redis.call('lindex', KEYS[1], 0)
if head then
  local age = 0
  local due_at = tonumber(redis.call('hget', ARGV[3] .. ':' .. head, ARGV[4]))
  if due_at and now > due_at then age = now - due_at end
  if age > oldest then oldest = age end
end
return {active + due, waiting, running, failed, dead, oldest}
"#;

/// The latest attempt of a job: attempts are pushed in order, so the first missing
/// `{job_id}#{n}` ends the probe.
const LOOKUP_LUA: &str = r#"
-- KEYS[1] data hash, KEYS[2] delayed zset, KEYS[3] apalis scheduled zset
-- ARGV[1] job id, ARGV[2] meta prefix, ARGV[3] max attempts
local last = 0
for n = 1, tonumber(ARGV[3]) do
  if redis.call('hexists', KEYS[1], ARGV[1] .. '#' .. n) == 1 then last = n else break end
end
if last == 0 then return {0, {}, ''} end
local id = ARGV[1] .. '#' .. last
local meta = redis.call('hgetall', ARGV[2] .. ':' .. id)
local score = redis.call('zscore', KEYS[2], id) or redis.call('zscore', KEYS[3], id)
return {last, meta, score or ''}
"#;

/// Task ids examined per purge script.
const PURGE_BATCH: usize = 200;

/// Deletes whole finished jobs: a candidate is acted on only when it is its job's
/// latest attempt, terminal, and old enough; then attempts 1..n all go.
const PURGE_LUA: &str = r#"
-- KEYS[1] data hash, KEYS[2] done set, KEYS[3] dead set
-- ARGV[1] meta prefix, ARGV[2] cutoff (s), ARGV[3..] candidate task ids
local purged = 0
local cutoff = tonumber(ARGV[2])
for i = 3, #ARGV do
  local id = ARGV[i]
  local job, n = string.match(id, '^(.*)#(%d+)$')
  if job then
    n = tonumber(n)
    if redis.call('hexists', KEYS[1], job .. '#' .. (n + 1)) == 0 then
      local meta = ARGV[1] .. ':' .. id
      local status = redis.call('hget', meta, 'status')
      local done_at = tonumber(redis.call('hget', meta, 'done_at'))
      if (status == 'Done' or status == 'Killed') and done_at and done_at <= cutoff then
        for k = 1, n do
          local task = job .. '#' .. k
          purged = purged + redis.call('hdel', KEYS[1], task)
          redis.call('del', ARGV[1] .. ':' .. task)
          redis.call('srem', KEYS[2], task)
          redis.call('srem', KEYS[3], task)
        end
      end
    end
  end
end
return purged
"#;

/// Returns a worker's claimed tasks to the front of the queue and unregisters it.
const RELEASE_LUA: &str = r#"
-- KEYS[1] workers zset, KEYS[2] the worker's inflight set, KEYS[3] active list,
-- KEYS[4] the worker's metadata hash; ARGV[1] worker name, ARGV[2] meta prefix
local ids = redis.call('smembers', KEYS[2])
for _, id in ipairs(ids) do
  redis.call('lpush', KEYS[3], id)
  local meta = ARGV[2] .. ':' .. id
  redis.call('hset', meta, 'status', 'Pending')
  redis.call('hdel', meta, 'locked_at', 'locked_by')
end
redis.call('del', KEYS[2])
redis.call('del', KEYS[4])
redis.call('zrem', KEYS[1], ARGV[1])
-- apalis registers every queue in this global list; drop ours when no worker is left.
if redis.call('zcard', KEYS[1]) == 0 then
  redis.call('zrem', 'core:apalis:queues:list', KEYS[1])
end
return #ids
"#;

/// The scripts, hashed once: a `Script` computes its SHA-1 when built, and pushes and
/// limiter checks run for every job and provider request.
static PUSH_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(PUSH_LUA));
static PROMOTE_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(PROMOTE_LUA));
static STATS_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(STATS_LUA));
static LOOKUP_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(LOOKUP_LUA));
static PURGE_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(PURGE_LUA));
static RELEASE_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(RELEASE_LUA));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_end_with_a_colon() {
        assert_eq!(normalize_prefix("junction"), "junction:");
        assert_eq!(normalize_prefix("junction-test:abc:"), "junction-test:abc:");
    }

    #[test]
    fn due_times_round_up() {
        let at = Utc.timestamp_opt(100, 1).single().unwrap();
        assert_eq!(ceil_unix_seconds(at), 101);
        let at = Utc.timestamp_opt(100, 0).single().unwrap();
        assert_eq!(ceil_unix_seconds(at), 100);
    }

    #[test]
    fn job_ids_are_checked() {
        assert!(validate_job_id("sync-1").is_ok());
        assert!(validate_job_id("").is_err());
        assert!(validate_job_id("a\nb").is_err());
        assert!(validate_job_id(&"x".repeat(201)).is_err());
    }
}
