//! [`Queues`]: the job queues in Redis (sync, action, webhook, notify, outbound),
//! every key under one prefix, in a layout of our own (see the crate docs, "Redis
//! keys"; the scripts that keep it are in [`crate::scripts`]).
//!
//! Tasks are pushed with a task id derived from the job id and the attempt
//! (`{job_id}#{attempt}`): pushing the same attempt twice is a no-op (the push only
//! writes a task id that is not there yet), and a job can be looked up by its id
//! ([`Queues::lookup`]).
//!
//! A task due now goes straight onto the active list; a later one waits in the
//! delayed set, and [`Queues::promote_due`] moves due tasks from it onto the active
//! list in bounded batches (Redis's Lua cannot `unpack()` 8,000 values, so no script
//! ever moves an unbounded number at once). Every runner does that at its poll
//! interval. Workers claim tasks from the active list in batches and acknowledge them
//! in batches ([`crate::backend`]).

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use junction_store::models::Queue;
use serde::Serialize;

use crate::{Envelope, Job, JobsError, RedisConnection, RedisOptions, scripts};

/// Longest job id accepted (it is part of every Redis key of the job's tasks).
const MAX_JOB_ID_LEN: usize = 200;
/// Lookups probe attempts `1..=` this many.
const MAX_PROBED_ATTEMPTS: u32 = 10_000;
/// Due tasks moved to the active list per promotion script: far below the 8,000
/// values Redis's Lua can `unpack()`, and short enough not to hold Redis (which runs
/// one script at a time) for long.
pub(crate) const PROMOTE_BATCH: usize = 1_000;
/// Tasks claimed or acknowledged per script, for the same reasons.
pub(crate) const TASK_BATCH: usize = 1_000;
/// Times the runner may fail to record an attempt's outcome (Postgres or Redis down)
/// before the task is killed; each failure re-runs it after as many seconds.
pub(crate) const MAX_RUNNER_FAILURES: u32 = 25;
/// The task outcome the queue keeps for a job that succeeded.
pub const OUTCOME_SUCCEEDED: &str = "succeeded";
/// The task outcome the queue keeps for an attempt whose retry was scheduled.
pub const OUTCOME_RETRIED: &str = "retried";
/// The task outcome the queue keeps for an abandoned job.
pub const OUTCOME_ABANDONED: &str = "abandoned";

/// Finished tasks examined per purge script.
const PURGE_BATCH: usize = 200;

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

/// The Redis keys of one queue, all under `{prefix}jobs:{queue}` (the crate docs
/// describe each).
#[derive(Debug, Clone)]
pub(crate) struct QueueKeys {
    base: String,
}

impl QueueKeys {
    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.base)
    }
    pub(crate) fn data(&self) -> String {
        self.key("data")
    }
    pub(crate) fn state(&self) -> String {
        self.key("state")
    }
    pub(crate) fn active(&self) -> String {
        self.key("active")
    }
    pub(crate) fn delayed(&self) -> String {
        self.key("delayed")
    }
    pub(crate) fn finished(&self) -> String {
        self.key("finished")
    }
    pub(crate) fn killed(&self) -> String {
        self.key("killed")
    }
    pub(crate) fn failed(&self) -> String {
        self.key("failed")
    }
    pub(crate) fn workers(&self) -> String {
        self.key("workers")
    }
    /// The prefix of the workers' claims sets.
    pub(crate) fn claims_prefix(&self) -> String {
        self.key("inflight:")
    }
    /// The set of tasks `worker` has claimed.
    pub(crate) fn claims(&self, worker: &str) -> String {
        format!("{}:inflight:{worker}", self.base)
    }
    /// The mark saying a worker is running `job_id` right now.
    fn in_flight(&self, job_id: &str) -> String {
        format!("{}:in-flight:{job_id}", self.base)
    }
    /// Which layout the queue's keys are in (absent before [`crate::migrate`] ran).
    pub(crate) fn layout(&self) -> String {
        self.key("layout")
    }
    /// Keys of the layout before this one (apalis-redis's), read only by the
    /// migration, the promotion (its scheduled set) and the purge (stale metadata).
    pub(crate) fn legacy_meta_prefix(&self) -> String {
        self.key("meta:")
    }
    pub(crate) fn legacy_scheduled(&self) -> String {
        self.key("scheduled")
    }
    pub(crate) fn legacy_sets(&self) -> [String; 3] {
        [self.key("done"), self.key("dead"), self.key("signal")]
    }
    pub(crate) fn legacy_worker_metadata_prefix(&self) -> String {
        self.key("workers:metadata:")
    }
}

/// How an attempt ended, as the runner tells the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AttemptEnd {
    /// Finished with this outcome ([`crate::OUTCOME_SUCCEEDED`], ...).
    Done(String),
    /// Dead-lettered (or unreadable): killed, never run again.
    Dead,
    /// The runner could not record an outcome: run it again later.
    Failed,
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
    /// Tasks being re-run after the runner itself failed to record an outcome
    /// (Postgres or Redis down); also counted in `pending`/`scheduled`/`running`.
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
    /// Being re-run after the runner could not record an outcome.
    Failed,
    /// Dead-lettered and killed.
    Dead,
}

/// What [`Queues::lookup`] found about a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobLookup {
    pub queue: Queue,
    pub job_id: String,
    /// The task id of the latest attempt.
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

    /// The name of `queue`, which starts all its keys: `{prefix}jobs:{queue}`.
    pub fn queue_name(&self, queue: Queue) -> String {
        format!("{}jobs:{}", self.prefix, queue.as_str())
    }

    /// The keys of `queue`.
    pub(crate) fn keys(&self, queue: Queue) -> QueueKeys {
        QueueKeys {
            base: self.queue_name(queue),
        }
    }

    /// The queues' Redis connection, for other users of the same Redis in this
    /// process (the provider rate limiter shares it).
    pub fn redis(&self) -> RedisConnection {
        self.conn.clone()
    }

    /// The task id of one attempt of a job.
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
    /// no-op. The task id is `{job_id}#1`.
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

    /// Pushes one envelope; returns whether it was new. Due times are whole seconds,
    /// rounded *up*: a retry never runs before the time the policy (or a provider's
    /// `Retry-After`) asked for.
    pub(crate) async fn push(
        &self,
        envelope: &Envelope,
        at: Option<DateTime<Utc>>,
    ) -> Result<bool, JobsError> {
        let task_id = Self::task_id(&envelope.job_id, envelope.attempt);
        let data = serde_json::to_vec(envelope).map_err(|e| JobsError::Payload(e.to_string()))?;
        let due_at = at.map(ceil_unix_seconds).unwrap_or(0);
        let pushed = self
            .push_raw(envelope.job.queue(), &[(task_id, data, due_at)])
            .await?;
        Ok(pushed == 1)
    }

    /// Pushes tasks as `(task id, data, due second)`, [`TASK_BATCH`] per script;
    /// returns how many were new.
    pub(crate) async fn push_raw(
        &self,
        queue: Queue,
        tasks: &[(String, Vec<u8>, u64)],
    ) -> Result<u64, JobsError> {
        let keys = self.keys(queue);
        let mut conn = self.conn.clone();
        let mut pushed = 0u64;
        for batch in tasks.chunks(TASK_BATCH) {
            let now = unix_now();
            let mut script = scripts::PUSH.prepare_invoke();
            script
                .key(keys.data())
                .key(keys.state())
                .key(keys.active())
                .key(keys.delayed())
                .arg(now);
            for (task_id, data, due_at) in batch {
                script
                    .arg(task_id)
                    .arg(data.as_slice())
                    .arg((*due_at).max(now));
            }
            let new: u64 = script.invoke_async(&mut conn).await?;
            pushed += new;
        }
        Ok(pushed)
    }

    /// Moves every due task of `queue` from the delayed set (and from the legacy
    /// scheduled set, see [`crate::migrate`]) onto the active list,
    /// [`PROMOTE_BATCH`] at a time. Returns how many moved. Safe to run from any
    /// number of pods at once: each batch is one script.
    pub async fn promote_due(&self, queue: Queue) -> Result<u64, JobsError> {
        let keys = self.keys(queue);
        let mut conn = self.conn.clone();
        let mut promoted = 0u64;
        loop {
            let moved: u64 = scripts::PROMOTE
                .key(keys.delayed())
                .key(keys.legacy_scheduled())
                .key(keys.active())
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

    /// Claims up to `count` due tasks of `queue` for `worker`: `(task id, data)`.
    pub(crate) async fn claim(
        &self,
        queue: Queue,
        worker: &str,
        count: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, JobsError> {
        let keys = self.keys(queue);
        let mut conn = self.conn.clone();
        let flat: Vec<Vec<u8>> = scripts::CLAIM
            .key(keys.active())
            .key(keys.data())
            .key(keys.state())
            .key(keys.claims(worker))
            .key(keys.workers())
            .arg(unix_now())
            .arg(count.clamp(1, TASK_BATCH))
            .arg(worker)
            .invoke_async(&mut conn)
            .await?;
        let mut tasks = Vec::with_capacity(flat.len() / 2);
        let mut flat = flat.into_iter();
        while let (Some(id), Some(data)) = (flat.next(), flat.next()) {
            let id = String::from_utf8(id)
                .map_err(|_| JobsError::Redis("a task id is not UTF-8".to_owned()))?;
            tasks.push((id, data));
        }
        Ok(tasks)
    }

    /// Records how attempts `worker` claimed ended, [`TASK_BATCH`] per script.
    pub(crate) async fn acknowledge(
        &self,
        queue: Queue,
        worker: &str,
        ends: &[(String, AttemptEnd)],
    ) -> Result<(), JobsError> {
        let keys = self.keys(queue);
        let mut conn = self.conn.clone();
        for batch in ends.chunks(TASK_BATCH) {
            let mut script = scripts::ACKNOWLEDGE.prepare_invoke();
            script
                .key(keys.claims(worker))
                .key(keys.state())
                .key(keys.finished())
                .key(keys.killed())
                .key(keys.delayed())
                .key(keys.failed())
                .arg(unix_now())
                .arg(MAX_RUNNER_FAILURES);
            for (task_id, end) in batch {
                let (kind, detail) = match end {
                    AttemptEnd::Done(outcome) => ("done", outcome.as_str()),
                    AttemptEnd::Dead => ("dead", ""),
                    AttemptEnd::Failed => ("failed", ""),
                };
                script.arg(task_id).arg(kind).arg(detail);
            }
            let _: u64 = script.invoke_async(&mut conn).await?;
        }
        Ok(())
    }

    /// `worker`'s heartbeat on `queue`: records it alive and puts the claims of
    /// workers silent for longer than `orphan_timeout` back on the queue. Returns how
    /// many tasks went back.
    pub(crate) async fn heartbeat(
        &self,
        queue: Queue,
        worker: &str,
        orphan_timeout: Duration,
    ) -> Result<u64, JobsError> {
        let keys = self.keys(queue);
        let now = unix_now();
        let mut conn = self.conn.clone();
        let recovered: u64 = scripts::HEARTBEAT
            .key(keys.workers())
            .key(keys.active())
            .key(keys.state())
            .arg(now)
            .arg(worker)
            .arg(now.saturating_sub(orphan_timeout.as_secs()))
            .arg(keys.claims_prefix())
            .invoke_async(&mut conn)
            .await?;
        Ok(recovered)
    }

    /// Puts tasks `worker` claimed but never started back at the front of the queue.
    pub(crate) async fn give_back(
        &self,
        queue: Queue,
        worker: &str,
        task_ids: &[String],
    ) -> Result<u64, JobsError> {
        if task_ids.is_empty() {
            return Ok(0);
        }
        let keys = self.keys(queue);
        let mut conn = self.conn.clone();
        let mut moved = 0u64;
        for batch in task_ids.chunks(TASK_BATCH) {
            let mut script = scripts::GIVE_BACK.prepare_invoke();
            script
                .key(keys.claims(worker))
                .key(keys.active())
                .key(keys.state())
                .arg(unix_now());
            for task_id in batch {
                script.arg(task_id);
            }
            let n: u64 = script.invoke_async(&mut conn).await?;
            moved += n;
        }
        Ok(moved)
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
        let keys = self.keys(queue);
        let mut conn = self.conn.clone();
        let (pending, scheduled, running, failed, dead, oldest): (u64, u64, u64, u64, u64, i64) =
            scripts::STATS
                .key(keys.active())
                .key(keys.delayed())
                .key(keys.workers())
                .key(keys.killed())
                .key(keys.failed())
                .key(keys.state())
                .arg(unix_now())
                .arg(keys.claims_prefix())
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
        let keys = self.keys(queue);
        let mut conn = self.conn.clone();
        let (attempt, state, score): (u32, String, String) = scripts::LOOKUP
            .key(keys.data())
            .key(keys.state())
            .key(keys.delayed())
            .arg(job_id)
            .arg(MAX_PROBED_ATTEMPTS)
            .invoke_async(&mut conn)
            .await?;
        if attempt == 0 {
            return Ok(None);
        }
        let run_at = score
            .parse::<i64>()
            .ok()
            .and_then(|secs| Utc.timestamp_opt(secs, 0).single());
        let state = task_state(&state, run_at, Utc::now());
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
        let keys = self.keys(queue);
        let cutoff = unix_now().saturating_sub(older_than.as_secs());
        let mut conn = self.conn.clone();
        let mut purged = 0u64;
        for (index, other) in [
            (keys.finished(), keys.killed()),
            (keys.killed(), keys.finished()),
        ] {
            loop {
                // Small batches keep each script short: Redis runs one at a time.
                let (looked_at, deleted): (u64, u64) = scripts::PURGE
                    .key(keys.data())
                    .key(keys.state())
                    .key(&other)
                    .key(&index)
                    .arg(keys.legacy_meta_prefix())
                    .arg(cutoff)
                    .arg(PURGE_BATCH)
                    .invoke_async(&mut conn)
                    .await?;
                purged += deleted;
                if looked_at < PURGE_BATCH as u64 {
                    break;
                }
            }
        }
        Ok(purged)
    }

    /// Marks `job_id` as being run by `worker` for `ttl` (renewed while it runs).
    /// Kept beside the queue's own records because those vanish with everything else
    /// when Redis forgets its keys, while a running handler writes this one again at
    /// its next beat.
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
            .arg(self.keys(queue).in_flight(job_id))
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
            .arg(self.keys(queue).in_flight(job_id))
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Which of `jobs` a live worker is running (a running job is marked from its
    /// first heartbeat interval on, the mark renewed every interval and expiring
    /// three intervals after its worker stopped), in one round trip.
    pub async fn in_flight(&self, jobs: &[(Queue, &str)]) -> Result<Vec<bool>, JobsError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for (queue, job_id) in jobs {
            pipe.cmd("EXISTS").arg(self.keys(*queue).in_flight(job_id));
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
        let keys = self.keys(queue);
        let mut conn = self.conn.clone();
        let released: u64 = scripts::RELEASE
            .key(keys.workers())
            .key(keys.claims(worker))
            .key(keys.active())
            .key(keys.state())
            .arg(worker)
            .arg(unix_now())
            .invoke_async(&mut conn)
            .await?;
        Ok(released)
    }

    /// Refreshes the heartbeat of registered workers (the runner does it for all of
    /// its running and draining workers), so no other pod mistakes them for dead and
    /// re-runs their in-flight tasks. Workers no longer registered (released) stay
    /// gone.
    pub(crate) async fn keep_alive(
        &self,
        queue: Queue,
        workers: &[String],
    ) -> Result<(), JobsError> {
        if workers.is_empty() {
            return Ok(());
        }
        let now = unix_now();
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(self.keys(queue).workers()).arg("XX");
        for worker in workers {
            cmd.arg(now).arg(worker);
        }
        let mut conn = self.conn.clone();
        let _: i64 = cmd.query_async(&mut conn).await?;
        Ok(())
    }
}

pub(crate) fn unix_now() -> u64 {
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

/// Reads a task's state entry (see [`crate::scripts`]). A task without one (pushed
/// by a process of the layout before this one) is waiting.
fn task_state(state: &str, run_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> TaskState {
    let mut words = state.split(' ');
    match words.next().unwrap_or("") {
        "running" => TaskState::Running,
        "dead" => TaskState::Dead,
        "failed" => TaskState::Failed,
        "done" => match words.nth(1) {
            Some(OUTCOME_ABANDONED) => TaskState::Abandoned,
            Some(OUTCOME_RETRIED) => TaskState::Retrying,
            _ => TaskState::Succeeded,
        },
        _ => match run_at {
            Some(at) if at > now => TaskState::Scheduled,
            _ => TaskState::Pending,
        },
    }
}

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

    #[test]
    fn state_entries_read_as_task_states() {
        let now = Utc.timestamp_opt(1_000, 0).single().unwrap();
        let later = Utc.timestamp_opt(2_000, 0).single();
        assert_eq!(task_state("pending 1000", None, now), TaskState::Pending);
        assert_eq!(task_state("pending 2000", later, now), TaskState::Scheduled);
        assert_eq!(task_state("", None, now), TaskState::Pending);
        assert_eq!(task_state("running 990 w-1", None, now), TaskState::Running);
        assert_eq!(
            task_state("done 990 succeeded", None, now),
            TaskState::Succeeded
        );
        assert_eq!(
            task_state("done 990 abandoned", None, now),
            TaskState::Abandoned
        );
        assert_eq!(
            task_state("done 990 retried", None, now),
            TaskState::Retrying
        );
        assert_eq!(task_state("dead 990", None, now), TaskState::Dead);
        assert_eq!(task_state("failed 990 2", later, now), TaskState::Failed);
    }
}
