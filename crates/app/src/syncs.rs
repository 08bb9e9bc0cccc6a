//! Sync runs: starting one (the API's "sync now" and the scheduler call the same
//! function), the attempt lifecycle and the page loop of the sync job, and what a
//! retry or a dead letter records.
//!
//! A run and its job are written in one transaction (the job staged in the outbox),
//! so a run never waits for a job that was not queued. A run reads a list of
//! streams fixed when it is queued: the ones a request named, every enabled one, or
//! — started by the scheduler — the ones due (see [`crate::schedules`]).
//!
//! Each page is committed with its records, KPI points, the stream cursor and the
//! run's counters in one transaction (`ingest::commit_sync_page`), so an attempt
//! that dies halfway (an error, a deploy, a SIGKILL) leaves exactly the pages it
//! finished, and the next attempt or the redelivered task resumes from the committed
//! cursor: no duplicate rows, none lost. A stream is read in a pass, from its cursor
//! to the page that says no more follow; that page ends the pass in the same
//! transaction (the stream due again one schedule later; on a full-refresh stream,
//! the records the pass did not see marked deleted). A later attempt of the run
//! skips the streams it already read to their end, and a stream reset during the
//! run is left to the reset's own run.
//!
//! Failures are classified for the retry policy in junction-jobs:
//! - a provider 401 on a refreshable token is answered by one forced, single-flight
//!   refresh and one more try of the same page ([`crate::Session::call`]);
//! - a revoked grant has already moved the integration to `needs_reauth` (the OAuth
//!   engine did that and logged it): the run fails with `integration_needs_reauth`
//!   and the job is abandoned — no retry, no dead letter; the scheduler claims only
//!   active integrations, so the schedule stops until the user reconnects;
//! - an OAuth provider refusing the grant itself (an `Unauthorized` that no refresh
//!   can cure, or a second refusal right after a refresh) moves the integration to
//!   `needs_reauth` the same way, logged;
//! - anything else goes through [`JobFailure::from_adapter`] or the store's
//!   classification (retryable or permanent).

use std::{
    collections::{BTreeMap, HashMap},
    time::Instant,
};

use chrono::{DateTime, Utc};
use junction_core::{AdapterError, AuthSpec, ErrorCode, ReadRequest, StreamSpec, WorkspaceId};
use junction_jobs::{Job, JobFailure, SyncJob, outbox};
use junction_oauth::RefreshError;
use junction_store::{
    Conn, StoreError, WorkspaceTx,
    ingest::{self, Committed, SyncPage},
    models::{
        Integration, IntegrationStatus, LogLevel, Operation, RunStatus, StreamState, SyncRun,
        SyncTrigger,
    },
    repo::{
        self,
        integrations::IntegrationPatch,
        logs::NewLog,
        stream_states::{ReadStart, StreamPatch},
    },
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    App, CallError, ConnectError, Error, Listed, PageRequest, Result,
    failures::{REAUTH_MESSAGE, connect_failure, store_failure},
    listed, metrics,
    schedules::{
        default_schedule_seconds, due_streams, enabled_streams, next_sync_after_run, reschedule,
        schedule_seconds, states_by_name, stream_of,
    },
};

/// A run that was started, and the id of its job.
#[derive(Debug, Clone)]
pub struct StartedRun {
    pub run: SyncRun,
    pub job_id: String,
    /// The request joined a run that had not ended yet (queued, running or waiting
    /// for a retry) and covers what was asked, instead of starting another.
    pub joined: bool,
}

/// Which streams a sync run reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamSelection {
    /// Every enabled stream (a sync that names none).
    Enabled,
    /// These streams, enabled or not (a sync that names them).
    Named(Vec<String>),
}

/// The streams a run is to read, and whether a request named them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunStreams {
    /// A request named them (a run of one named stream says so in its `stream`).
    pub named: bool,
    pub streams: Vec<String>,
}

/// Which run that has not ended a request may join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Join {
    /// Any that reads every stream asked for.
    Covering,
    /// Only one that has not started yet: a reset stream must be read from its
    /// start, which a run already reading cannot promise.
    NotStarted,
}

impl Join {
    fn accepts(self, run: &SyncRun) -> bool {
        match self {
            Join::Covering => true,
            Join::NotStarted => run.status == RunStatus::Queued && run.attempts == 0,
        }
    }
}

/// Whether a run reads every stream of `streams` (a run without a list reads every
/// enabled stream).
fn covers(run: &SyncRun, streams: &[String]) -> bool {
    run.streams
        .as_ref()
        .is_none_or(|read| streams.iter().all(|s| read.contains(s)))
}

/// How [`App::begin_attempt`] found a run.
enum Begin {
    /// The attempt started (boxed: the rows are large beside the other variants).
    Started(Box<(SyncRun, Integration)>),
    /// This job already ended the run.
    Ended,
    /// Another run of the integration is running.
    Wait,
}

/// What a finished attempt read and wrote, summed over its pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Totals {
    pages: u64,
    records_read: u64,
    records_written: u64,
    kpi_points_written: u64,
    records_deleted: u64,
}

/// One attempt of a sync job as the queue delivered it.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The job id (the same for every attempt).
    pub job_id: &'a str,
    /// 1-based.
    pub number: u32,
    pub job: &'a SyncJob,
}

impl App {
    /// Starts a sync run of an integration — every enabled stream, or the one named
    /// — and stages its job, in one transaction (see [`Self::start_sync_of`]).
    pub async fn start_sync(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        stream: Option<&str>,
        trigger: SyncTrigger,
    ) -> Result<StartedRun> {
        let selection = match stream {
            Some(stream) => StreamSelection::Named(vec![stream.to_owned()]),
            None => StreamSelection::Enabled,
        };
        self.start_sync_of(workspace_id, integration_id, selection, trigger)
            .await
    }

    /// Starts a sync run of the streams selected and stages its job, in one
    /// transaction. It needs an active integration and streams its provider has;
    /// streams named are read even when disabled (they were asked for), and
    /// "every enabled stream" with none enabled is a conflict. A manual request is
    /// logged.
    ///
    /// One run of an integration at a time: a request while a run that covers it
    /// (every stream it asks for) has not ended joins that run — a manual sync of a
    /// due integration and the scheduler's claim of it end up as one run, whichever
    /// comes first. A request a run in progress does not cover gets its own run,
    /// which waits until that one has ended ([`Self::run_sync_attempt`] puts it off
    /// while another run of the integration is running). The integration's row is
    /// locked meanwhile, so two concurrent requests make one run.
    pub async fn start_sync_of(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        selection: StreamSelection,
        trigger: SyncTrigger,
    ) -> Result<StartedRun> {
        let mut tx = self.begin(workspace_id).await?;
        let integration = crate::integration_for_update(&mut tx, integration_id).await?;
        let adapter = self.adapter(&integration.provider)?;
        let spec = adapter.spec();
        let named = matches!(selection, StreamSelection::Named(_));
        let streams = match selection {
            StreamSelection::Named(names) => {
                if names.is_empty() {
                    return Err(Error::field(
                        "streams",
                        "names no stream: leave it out to sync every enabled stream",
                    ));
                }
                let mut streams: Vec<String> = Vec::with_capacity(names.len());
                for name in names {
                    let stream = stream_of(spec, &name)?;
                    if !streams.iter().any(|s| s == stream.name) {
                        streams.push(stream.name.to_owned());
                    }
                }
                streams
            }
            StreamSelection::Enabled => {
                let states = states_by_name(tx.conn(), integration_id).await?;
                let streams = enabled_streams(&spec.streams, &states);
                if streams.is_empty() {
                    return Err(Error::new(
                        ErrorCode::Conflict,
                        format!(
                            "every stream of the integration is disabled: name the streams to \
                             sync, or enable one with PATCH \
                             /v1/integrations/{integration_id}/streams/{{stream}}"
                        ),
                    ));
                }
                streams
            }
        };
        crate::integrations::ensure_active(&integration)?;
        let started = self
            .queue_run(
                &mut tx,
                workspace_id,
                &integration,
                RunStreams { named, streams },
                trigger,
                Join::Covering,
            )
            .await?;
        tx.commit().await?;
        Ok(started)
    }

    /// The scheduler's run of an integration it claimed: the streams due now (the
    /// enabled ones whose next sync has come). `None` when none is — the
    /// integration's next sync then moves to its earliest stream's, and the claim
    /// ends.
    pub async fn start_scheduled_sync(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
    ) -> Result<Option<StartedRun>> {
        let mut tx = self.begin(workspace_id).await?;
        let started = self
            .start_scheduled_in(&mut tx, workspace_id, integration_id)
            .await?;
        tx.commit().await?;
        Ok(started)
    }

    /// [`App::start_scheduled_sync`] for several integrations of one workspace in one
    /// transaction and a few statements for them all ([`Self::start_scheduled_set`]):
    /// one connection, one commit (and its WAL flush), which is what bounds the
    /// scheduler when thousands are due at once. All or nothing: on an error nothing
    /// is started, and the caller starts each alone. The answers are in the order of
    /// `integration_ids`.
    pub async fn start_scheduled_syncs(
        &self,
        workspace_id: WorkspaceId,
        integration_ids: &[Uuid],
    ) -> Result<Vec<Option<StartedRun>>> {
        let mut tx = self.begin(workspace_id).await?;
        match self
            .start_scheduled_set(&mut tx, workspace_id, integration_ids)
            .await
        {
            Ok(started) => {
                tx.commit().await?;
                Ok(started)
            }
            Err(error) => {
                // Ended cleanly, the connection goes back to the pool.
                tx.rollback().await?;
                Err(error)
            }
        }
    }

    /// The work of [`App::start_scheduled_sync`] for a set of integrations in the
    /// caller's transaction, set-based: one statement each locks the integrations,
    /// reads their stream states and their unfinished runs, ends their claims,
    /// inserts the new runs and stages their jobs, whatever the set's size. The
    /// decisions are [`Self::start_scheduled_in`]'s: a run that covers the due
    /// streams is joined, an integration with none due is rescheduled (one by one:
    /// rare), and one that is missing, not active or of an unknown provider fails
    /// the whole set.
    async fn start_scheduled_set(
        &self,
        tx: &mut WorkspaceTx,
        workspace_id: WorkspaceId,
        integration_ids: &[Uuid],
    ) -> Result<Vec<Option<StartedRun>>> {
        let integrations =
            repo::integrations::get_many_for_update(tx.conn(), integration_ids).await?;
        let by_id: HashMap<Uuid, &Integration> = integrations.iter().map(|i| (i.id, i)).collect();
        let mut states: HashMap<Uuid, BTreeMap<String, StreamState>> = HashMap::new();
        for state in repo::stream_states::list_of(tx.conn(), integration_ids).await? {
            states
                .entry(state.integration_id)
                .or_default()
                .insert(state.stream.clone(), state);
        }
        let now = self.now();
        let none = BTreeMap::new();
        // Per integration, in the order asked: the streams due (empty: none is).
        let mut due = Vec::with_capacity(integration_ids.len());
        for id in integration_ids {
            let integration = by_id
                .get(id)
                .copied()
                .ok_or_else(|| crate::integration_error(StoreError::NotFound("integration")))?;
            let adapter = self.adapter(&integration.provider)?;
            crate::integrations::ensure_active(integration)?;
            let streams = due_streams(
                &adapter.spec().streams,
                states.get(id).unwrap_or(&none),
                now,
            );
            due.push((integration, adapter, streams));
        }
        repo::integrations::clear_claims(tx.conn(), integration_ids).await?;
        for (integration, adapter, streams) in &due {
            if streams.is_empty() {
                reschedule(tx.conn(), integration, adapter.spec(), now).await?;
            }
        }
        let due_ids: Vec<Uuid> = due
            .iter()
            .filter(|(_, _, streams)| !streams.is_empty())
            .map(|(integration, _, _)| integration.id)
            .collect();
        let mut unfinished: HashMap<Uuid, Vec<SyncRun>> = HashMap::new();
        for run in repo::sync_runs::unfinished_of_any(tx.conn(), &due_ids).await? {
            unfinished.entry(run.integration_id).or_default().push(run);
        }
        let mut joined: HashMap<Uuid, StartedRun> = HashMap::new();
        let mut to_create: Vec<(Uuid, Vec<String>)> = Vec::new();
        for (integration, _, streams) in due.iter().filter(|(_, _, s)| !s.is_empty()) {
            let covering = unfinished.remove(&integration.id).and_then(|runs| {
                runs.into_iter()
                    .find(|run| Join::Covering.accepts(run) && covers(run, streams))
            });
            match covering {
                Some(run) => {
                    let job_id = run
                        .job_id
                        .clone()
                        .unwrap_or_else(|| Job::of_sync_run(&run).default_job_id());
                    joined.insert(
                        integration.id,
                        StartedRun {
                            run,
                            job_id,
                            joined: true,
                        },
                    );
                }
                None => to_create.push((integration.id, streams.clone())),
            }
        }
        let runs = repo::sync_runs::create_many(
            tx.conn(),
            workspace_id,
            &to_create,
            SyncTrigger::Schedule,
        )
        .await?;
        let jobs: Vec<Job> = runs.iter().map(Job::of_sync_run).collect();
        let job_ids = outbox::stage_all(tx.conn(), &jobs).await?;
        let mut created: HashMap<Uuid, StartedRun> = runs
            .into_iter()
            .zip(job_ids)
            .map(|(run, job_id)| {
                (
                    run.integration_id,
                    StartedRun {
                        run,
                        job_id,
                        joined: false,
                    },
                )
            })
            .collect();
        Ok(due
            .iter()
            .map(|(integration, _, _)| {
                created
                    .remove(&integration.id)
                    .or_else(|| joined.remove(&integration.id))
            })
            .collect())
    }

    /// The work of [`App::start_scheduled_sync`] in the caller's transaction.
    async fn start_scheduled_in(
        &self,
        tx: &mut WorkspaceTx,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
    ) -> Result<Option<StartedRun>> {
        let integration = crate::integration_for_update(tx, integration_id).await?;
        let adapter = self.adapter(&integration.provider)?;
        crate::integrations::ensure_active(&integration)?;
        let now = self.now();
        let states = states_by_name(tx.conn(), integration_id).await?;
        let due = due_streams(&adapter.spec().streams, &states, now);
        if due.is_empty() {
            repo::integrations::clear_claims(tx.conn(), &[integration_id]).await?;
            reschedule(tx.conn(), &integration, adapter.spec(), now).await?;
            return Ok(None);
        }
        let started = self
            .queue_run(
                tx,
                workspace_id,
                &integration,
                RunStreams {
                    named: false,
                    streams: due,
                },
                SyncTrigger::Schedule,
                Join::Covering,
            )
            .await?;
        Ok(Some(started))
    }

    /// Joins a run of the integration that has not ended and covers `streams` (as
    /// `join` allows), or queues one and stages its job, in the caller's
    /// transaction (which holds the integration's row). A scheduled run ends the
    /// scheduler's claim; a manual request is logged.
    pub(crate) async fn queue_run(
        &self,
        tx: &mut WorkspaceTx,
        workspace_id: WorkspaceId,
        integration: &Integration,
        streams: RunStreams,
        trigger: SyncTrigger,
        join: Join,
    ) -> Result<StartedRun> {
        let RunStreams { named, streams } = streams;
        let integration_id = integration.id;
        if trigger == SyncTrigger::Schedule {
            repo::integrations::clear_claims(tx.conn(), &[integration_id]).await?;
        }
        let unfinished = repo::sync_runs::unfinished_of(tx.conn(), integration_id).await?;
        if let Some(run) = unfinished
            .into_iter()
            .find(|run| join.accepts(run) && covers(run, &streams))
        {
            let job_id = run
                .job_id
                .clone()
                .unwrap_or_else(|| Job::of_sync_run(&run).default_job_id());
            if trigger == SyncTrigger::Manual {
                repo::logs::append(
                    tx.conn(),
                    NewLog {
                        workspace_id,
                        integration_id,
                        level: LogLevel::Info,
                        operation: Operation::Sync,
                        message: &format!("sync requested; joined the run already {}", run.status),
                        details: json!({"run_id": run.id, "streams": streams, "job_id": job_id}),
                        run_id: Some(run.id),
                    },
                )
                .await?;
            }
            return Ok(StartedRun {
                run,
                job_id,
                joined: true,
            });
        }
        let stream = match streams.as_slice() {
            [one] if named => Some(one.as_str()),
            _ => None,
        };
        let run = repo::sync_runs::create_for(
            tx.conn(),
            workspace_id,
            integration_id,
            stream,
            &streams,
            trigger,
        )
        .await?;
        let job_id = outbox::stage(tx.conn(), &Job::of_sync_run(&run)).await?;
        if trigger == SyncTrigger::Manual {
            repo::logs::append(
                tx.conn(),
                NewLog {
                    workspace_id,
                    integration_id,
                    level: LogLevel::Info,
                    operation: Operation::Sync,
                    message: "sync requested",
                    details: json!({"run_id": run.id, "streams": streams, "job_id": job_id}),
                    run_id: Some(run.id),
                },
            )
            .await?;
        }
        Ok(StartedRun {
            run,
            job_id,
            joined: false,
        })
    }

    /// An integration's runs, newest first.
    pub async fn sync_runs(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        page: PageRequest<(DateTime<Utc>, Uuid)>,
    ) -> Result<Listed<SyncRun, (DateTime<Utc>, Uuid)>> {
        let mut tx = self.begin(workspace_id).await?;
        crate::integration(&mut tx, integration_id).await?;
        let rows = repo::sync_runs::list_for_integration(
            tx.conn(),
            integration_id,
            page.after,
            page.limit + 1,
        )
        .await?;
        tx.commit().await?;
        Ok(listed(rows, page.limit, |r| (r.queued_at, r.id)))
    }

    /// One run.
    pub async fn sync_run(&self, workspace_id: WorkspaceId, run_id: Uuid) -> Result<SyncRun> {
        let mut tx = self.begin(workspace_id).await?;
        let run = repo::sync_runs::get(tx.conn(), run_id)
            .await
            .map_err(|_| Error::not_found(ErrorCode::NotFound, "run"))?;
        tx.commit().await?;
        Ok(run)
    }

    /// How long a run waits before it looks again whether another run of its
    /// integration has ended: a twentieth of the claim lease, 5 to 30 seconds.
    fn run_wait(&self) -> chrono::Duration {
        (self.claim_lease() / 20).clamp(chrono::Duration::seconds(5), chrono::Duration::seconds(30))
    }

    /// How long a scheduler claim holds an integration; a run waiting for a retry
    /// extends it so the schedule does not start a second run meanwhile.
    fn claim_lease(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.config.worker.claim_lease_seconds.max(10))
    }

    /// Runs one attempt of a sync job: every stream of the run (or its one stream),
    /// page by page from the committed cursor, then records the outcome and
    /// evaluates the integration's alert rules.
    pub async fn run_sync_attempt(&self, attempt: Attempt<'_>) -> Result<(), JobFailure> {
        let started = Instant::now();
        let job = attempt.job;
        let workspace_id = job.workspace_id;
        let Some((run, integration)) = self.begin_attempt(attempt).await? else {
            return Ok(());
        };
        let provider = integration.provider.clone();

        match integration.status {
            IntegrationStatus::Active => {}
            IntegrationStatus::NeedsReauth => {
                return Err(self
                    .stop_for_reauth(workspace_id, &integration, run.id)
                    .await);
            }
            status => {
                // Disabled or not (yet, or no longer) connected: nothing to read with.
                let message = format!("the integration is {status}; the sync was not run");
                self.end_run(
                    workspace_id,
                    &integration,
                    run.id,
                    RunStatus::Cancelled,
                    (ErrorCode::Conflict, &message),
                )
                .await;
                metrics::sync_run(&provider, "cancelled");
                return Err(JobFailure::abandon(ErrorCode::Conflict, message));
            }
        }

        let adapter = self
            .connections
            .adapter(&provider)
            .map_err(|e| connect_failure(&e))?;
        let spec = adapter.spec();
        let states = self.stream_states(workspace_id, integration.id).await?;
        let names = match &run.streams {
            Some(names) => names.clone(),
            None => enabled_streams(&spec.streams, &states),
        };
        let mut streams: Vec<&StreamSpec> = Vec::with_capacity(names.len());
        for name in &names {
            let Some(stream) = spec.stream(name) else {
                return Err(JobFailure::permanent(
                    ErrorCode::UnknownStream,
                    format!("{} has no stream `{name}`", spec.name),
                ));
            };
            // An earlier attempt of this run read it to its end: not again.
            if states.get(name).and_then(|s| s.last_run_id) != Some(run.id) {
                streams.push(stream);
            }
        }
        let mut session = match self.connections.session(workspace_id, &integration).await {
            Ok(session) => session,
            Err(err) => {
                return Err(self
                    .open_failed(workspace_id, &integration, run.id, err)
                    .await);
            }
        };

        let ctx = self.context(&provider);
        let page_size = self.config.worker.page_size;
        let hold_every = (self.claim_lease() / 4)
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(60));
        let mut totals = Totals::default();
        let mut held_at = Instant::now();
        for stream in streams {
            let name = stream.name;
            let pass = self.begin_read(workspace_id, integration.id, name).await?;
            let mut cursor = pass.cursor.clone();
            loop {
                let request = ReadRequest {
                    stream: name.to_owned(),
                    cursor: cursor.clone(),
                    page_size,
                };
                let read = session
                    .call(|connection| {
                        let (adapter, ctx, request) =
                            (adapter.clone(), ctx.clone(), request.clone());
                        async move { adapter.read(&ctx, &connection, &request).await }
                    })
                    .await;
                let page = match read {
                    Ok(page) => page,
                    // A token the provider refuses even after a refresh, or an OAuth
                    // provider refusing the grant outright (Meta's code 190 after a
                    // password change, a token revoked at the provider): no refresh
                    // can help, so the integration needs a reconnect.
                    Err(CallError::Adapter(err @ AdapterError::Unauthorized { .. }))
                        if matches!(
                            spec.auth,
                            AuthSpec::OAuth2(_) | AuthSpec::ClientCredentials { .. }
                        ) =>
                    {
                        return Err(self
                            .grant_refused(workspace_id, &integration, run.id, &err)
                            .await);
                    }
                    Err(CallError::Adapter(err)) => return Err(self.read_failed(&provider, &err)),
                    Err(CallError::Connect(err)) => {
                        return Err(self
                            .open_failed(workspace_id, &integration, run.id, err)
                            .await);
                    }
                };
                if page.has_more && page.next_cursor.is_none() {
                    // The same request would return the same page forever.
                    return Err(JobFailure::permanent(
                        ErrorCode::Internal,
                        format!(
                            "the {provider} adapter announced more `{name}` pages without a cursor"
                        ),
                    ));
                }
                let committed = ingest::commit_sync_page(
                    &self.store,
                    workspace_id,
                    integration.id,
                    name,
                    &page,
                    &SyncPage {
                        run_id: run.id,
                        pass: &pass,
                        full_refresh: stream.full_refresh(),
                        now: self.now(),
                        default_schedule_seconds: default_schedule_seconds(stream),
                    },
                )
                .await
                .map_err(|e| store_failure(&e))?;
                let stats = match committed {
                    Committed::Page { stats, .. } => stats,
                    Committed::Superseded => {
                        // Reset while this run read it: the reset's run reads it whole.
                        self.log_superseded(workspace_id, integration.id, run.id, name)
                            .await;
                        break;
                    }
                };
                totals.pages += 1;
                totals.records_read += stats.records_read;
                totals.records_written += stats.records_written;
                totals.kpi_points_written += stats.kpi_points_written;
                totals.records_deleted += stats.records_deleted;
                metrics::sync_page(&provider, &stats);
                if held_at.elapsed() >= hold_every {
                    self.hold_claim(workspace_id, integration.id).await?;
                    held_at = Instant::now();
                }
                if page.next_cursor.is_some() {
                    cursor = page.next_cursor;
                }
                if !page.has_more {
                    break;
                }
            }
        }

        self.succeed(workspace_id, &integration, run.id, attempt.job_id, totals)
            .await?;
        metrics::sync_run(&provider, "succeeded");
        metrics::sync_duration(&provider, started.elapsed());
        // After the run is recorded: an alert problem never fails a finished sync.
        self.evaluate_alerts(workspace_id, &integration).await;
        Ok(())
    }

    /// Marks the attempt started and loads the integration. `None` when there is
    /// nothing to do: this job already ended the run (its task delivered again, e.g.
    /// when a worker died between the final commit and the acknowledgement). A run
    /// ended by another job id is run again: that is a replayed dead letter
    /// (`sync-…-replay-N`), which reopens its run. While another run of the
    /// integration is running, the attempt is put off (a deferral, which uses up no
    /// attempt): one run of an integration runs at a time.
    async fn begin_attempt(
        &self,
        attempt: Attempt<'_>,
    ) -> Result<Option<(SyncRun, Integration)>, JobFailure> {
        let job = attempt.job;
        let result = async {
            let mut tx = self.store.begin(job.workspace_id).await?;
            // Locked first: starting an attempt and checking for another running run
            // of the integration happen one job at a time.
            let integration =
                repo::integrations::get_for_update(tx.conn(), job.integration_id).await?;
            let run = repo::sync_runs::get(tx.conn(), job.run_id).await?;
            let reopened = is_terminal(run.status);
            if reopened && run.job_id.as_deref() == Some(attempt.job_id) {
                tx.rollback().await?;
                return Ok(Begin::Ended);
            }
            if repo::sync_runs::another_running(tx.conn(), job.integration_id, job.run_id).await? {
                tx.rollback().await?;
                return Ok(Begin::Wait);
            }
            if reopened {
                // Clears the old outcome (status, error, finish time); the counters
                // and the attempt count carry on.
                repo::sync_runs::finish(tx.conn(), job.run_id, RunStatus::Running, None).await?;
            }
            let run =
                repo::sync_runs::start_attempt(tx.conn(), job.run_id, Some(attempt.job_id)).await?;
            let integration =
                hold_schedule(tx.conn(), integration, self.now() + self.claim_lease()).await?;
            let what = match job.stream.as_deref() {
                Some(stream) => format!("sync of `{stream}`"),
                None => "sync".to_owned(),
            };
            let message = if reopened {
                format!("{what} replayed (attempt {})", run.attempts)
            } else {
                format!("{what} started (attempt {})", run.attempts)
            };
            repo::logs::append(
                tx.conn(),
                NewLog {
                    workspace_id: job.workspace_id,
                    integration_id: job.integration_id,
                    level: LogLevel::Info,
                    operation: Operation::Sync,
                    message: &message,
                    details: json!({
                        "attempt": run.attempts,
                        "job_id": attempt.job_id,
                        "trigger": run.trigger,
                        "stream": job.stream,
                        "replay": reopened,
                    }),
                    run_id: Some(run.id),
                },
            )
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(Begin::Started(Box::new((run, integration))))
        }
        .await;
        match result {
            Ok(Begin::Started(started)) => Ok(Some(*started)),
            Ok(Begin::Ended) => {
                tracing::info!(job_id = %attempt.job_id, run_id = %job.run_id, "the run already ended; nothing to do");
                Ok(None)
            }
            Ok(Begin::Wait) => Err(JobFailure::deferred(
                ErrorCode::Conflict,
                "another sync of the integration is running; this run waits for it to end",
                self.now() + self.run_wait(),
            )),
            // The integration (and with it, its runs) was deleted: nothing to sync.
            Err(StoreError::NotFound(what)) => Err(JobFailure::abandon(
                ErrorCode::IntegrationNotFound,
                format!("the {what} no longer exists"),
            )),
            Err(err) => Err(store_failure(&err)),
        }
    }

    /// Keeps the scheduler off an integration while its sync runs (a sync longer
    /// than the claim lease would otherwise be scheduled a second time).
    async fn hold_claim(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
    ) -> Result<(), JobFailure> {
        let until = self.now() + self.claim_lease();
        let result = async {
            let mut tx = self.store.begin(workspace_id).await?;
            let integration = repo::integrations::get_for_update(tx.conn(), integration_id).await?;
            hold_schedule(tx.conn(), integration, until).await?;
            tx.commit().await
        }
        .await;
        result.map_err(|e| store_failure(&e))
    }

    /// The stream states of an integration, by stream.
    async fn stream_states(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
    ) -> Result<BTreeMap<String, StreamState>, JobFailure> {
        let result = async {
            let mut tx = self.store.begin(workspace_id).await?;
            let states = states_by_name(tx.conn(), integration_id).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(states)
        }
        .await;
        result.map_err(|e| store_failure(&e))
    }

    /// Starts reading a stream: its committed cursor (`None` on a first sync or
    /// after a reset) and its pass.
    async fn begin_read(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        stream: &str,
    ) -> Result<ReadStart, JobFailure> {
        let result = async {
            let mut tx = self.store.begin(workspace_id).await?;
            let start =
                repo::stream_states::begin_read(tx.conn(), workspace_id, integration_id, stream)
                    .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(start)
        }
        .await;
        result.map_err(|e| store_failure(&e))
    }

    /// Logs that a run stopped reading a stream a reset took over.
    async fn log_superseded(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        run_id: Uuid,
        stream: &str,
    ) {
        let result = async {
            let mut tx = self.store.begin(workspace_id).await?;
            repo::logs::append(
                tx.conn(),
                NewLog {
                    workspace_id,
                    integration_id,
                    level: LogLevel::Info,
                    operation: Operation::Sync,
                    message: &format!(
                        "stopped reading `{stream}`: the stream was reset meanwhile, and the \
                         reset's sync reads it whole"
                    ),
                    details: json!({"stream": stream}),
                    run_id: Some(run_id),
                },
            )
            .await?;
            tx.commit().await
        }
        .await;
        if let Err(err) = result {
            tracing::warn!(%run_id, error = %err, "could not log a stream taken over by a reset");
        }
    }

    /// Classifies a failed read, counting rate limits.
    fn read_failed(&self, provider: &str, error: &AdapterError) -> JobFailure {
        if matches!(
            error,
            AdapterError::RateLimited { .. } | AdapterError::QuotaExhausted { .. }
        ) {
            metrics::provider_rate_limited(provider);
        }
        JobFailure::from_adapter(error, self.now())
    }

    /// What opening the integration failed with, as a job failure. A revoked grant
    /// ends the run here (see the module docs).
    async fn open_failed(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
        run_id: Uuid,
        error: ConnectError,
    ) -> JobFailure {
        match error {
            ConnectError::Refresh(RefreshError::Revoked) => {
                self.stop_for_reauth(workspace_id, integration, run_id)
                    .await
            }
            other => connect_failure(&other),
        }
    }

    /// The provider refused an OAuth integration's grant during a sync: the
    /// integration moves to `needs_reauth` (logged, its schedule stops) and the run
    /// ends as for a revoked refresh token.
    async fn grant_refused(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
        run_id: Uuid,
        error: &AdapterError,
    ) -> JobFailure {
        let reason = format!("the provider refused the connection's grant: {error}");
        let marked = async {
            let mut tx = self.store.begin(workspace_id).await?;
            repo::integrations::set_status(
                tx.conn(),
                integration.id,
                IntegrationStatus::NeedsReauth,
                Some((ErrorCode::IntegrationNeedsReauth.name(), &reason)),
            )
            .await?;
            self.emit_connection_needs_reauth(tx.conn(), integration.id)
                .await?;
            repo::logs::append(
                tx.conn(),
                NewLog {
                    workspace_id,
                    integration_id: integration.id,
                    level: LogLevel::Error,
                    operation: Operation::Sync,
                    message: &reason,
                    details: json!({"error_code": ErrorCode::IntegrationNeedsReauth.name()}),
                    run_id: Some(run_id),
                },
            )
            .await?;
            tx.commit().await
        }
        .await;
        if let Err(store_error) = marked {
            // Not marked: let the retry policy try again rather than lose the signal.
            return store_failure(&store_error);
        }
        self.stop_for_reauth(workspace_id, integration, run_id)
            .await
    }

    /// Ends the run of an integration whose grant is gone: failed with
    /// `integration_needs_reauth`, logged, the workspace told, and abandoned.
    async fn stop_for_reauth(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
        run_id: Uuid,
    ) -> JobFailure {
        let code = ErrorCode::IntegrationNeedsReauth;
        self.end_run(
            workspace_id,
            integration,
            run_id,
            RunStatus::Failed,
            (code, REAUTH_MESSAGE),
        )
        .await;
        metrics::sync_run(&integration.provider, "failed");
        self.notify_needs_reauth(workspace_id, integration.id, REAUTH_MESSAGE)
            .await;
        JobFailure::abandon(code, REAUTH_MESSAGE)
    }

    /// Ends a run that will not be retried (failed or cancelled) with an error log
    /// entry. A failure to record it is logged: the job's outcome stands either way.
    async fn end_run(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
        run_id: Uuid,
        status: RunStatus,
        (code, message): (ErrorCode, &str),
    ) {
        let result = async {
            let mut tx = self.store.begin(workspace_id).await?;
            let run =
                repo::sync_runs::finish(tx.conn(), run_id, status, Some((code.name(), message)))
                    .await?;
            self.emit_sync_ended(tx.conn(), &run, integration).await?;
            repo::logs::append(
                tx.conn(),
                NewLog {
                    workspace_id,
                    integration_id: integration.id,
                    level: LogLevel::Error,
                    operation: Operation::Sync,
                    message: &format!("sync stopped: {message}"),
                    details: json!({ "error_code": code.name(), "status": status }),
                    run_id: Some(run_id),
                },
            )
            .await?;
            tx.commit().await
        }
        .await;
        if let Err(err) = result {
            tracing::error!(%run_id, error = %err, "could not record the end of a sync run");
        }
    }

    /// Records a successful run: the run row, the next scheduled sync, a cleared
    /// last error and the summary log entry, in one transaction.
    async fn succeed(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
        run_id: Uuid,
        job_id: &str,
        attempt: Totals,
    ) -> Result<(), JobFailure> {
        let now = self.now();
        let spec = self
            .connections
            .adapter(&integration.provider)
            .map_err(|e| connect_failure(&e))?
            .spec()
            .clone();
        let result = async {
            let mut tx = self.store.begin(workspace_id).await?;
            let run =
                repo::sync_runs::finish(tx.conn(), run_id, RunStatus::Succeeded, None).await?;
            let current = repo::integrations::get_for_update(tx.conn(), integration.id).await?;
            // The sync finished when its last stream did; the integration is due
            // when its earliest stream is.
            let finished_at = states_by_name(tx.conn(), integration.id)
                .await?
                .values()
                .filter(|state| state.last_run_id == Some(run_id))
                .filter_map(|state| state.last_synced_at)
                .max()
                .unwrap_or(now);
            let next = next_sync_after_run(tx.conn(), integration.id, &spec, now).await?;
            repo::integrations::record_sync_finished(tx.conn(), integration.id, finished_at, next)
                .await?;
            self.emit_sync_ended(tx.conn(), &run, integration).await?;
            if current.last_error_code.is_some() || current.last_error_message.is_some() {
                repo::integrations::set_status(tx.conn(), integration.id, current.status, None)
                    .await?;
            }
            // The run's counters cover every attempt (pages committed before a crash
            // or a retry count once, when they were committed).
            let mut message = format!(
                "sync finished: {} records read, {} written, {} KPI points",
                run.records_read, run.records_written, run.kpi_points_written
            );
            if run.records_deleted > 0 {
                message.push_str(&format!(", {} records marked deleted", run.records_deleted));
            }
            repo::logs::append(
                tx.conn(),
                NewLog {
                    workspace_id,
                    integration_id: integration.id,
                    level: LogLevel::Info,
                    operation: Operation::Sync,
                    message: &message,
                    details: json!({
                        "records_read": run.records_read,
                        "records_written": run.records_written,
                        "kpi_points_written": run.kpi_points_written,
                        "records_deleted": run.records_deleted,
                        "streams": run.streams,
                        "attempts": run.attempts,
                        "job_id": job_id,
                        "this_attempt": {
                            "pages": attempt.pages,
                            "records_read": attempt.records_read,
                            "records_written": attempt.records_written,
                            "kpi_points_written": attempt.kpi_points_written,
                            "records_deleted": attempt.records_deleted,
                        },
                    }),
                    run_id: Some(run_id),
                },
            )
            .await?;
            tx.commit().await
        }
        .await;
        result.map_err(|e| store_failure(&e))
    }

    /// A sync attempt failed and will be retried at `at`: the run shows `retrying`
    /// with the error, the schedule's claim is extended past the retry, and a
    /// warning is logged.
    pub async fn record_sync_retry(
        &self,
        attempt: Attempt<'_>,
        failure: &JobFailure,
        at: DateTime<Utc>,
    ) {
        let job = attempt.job;
        let result = async {
            let mut tx = self.store.begin(job.workspace_id).await?;
            repo::sync_runs::finish(
                tx.conn(),
                job.run_id,
                RunStatus::Retrying,
                Some((failure.code.name(), &failure.message)),
            )
            .await?;
            let integration =
                repo::integrations::get_for_update(tx.conn(), job.integration_id).await?;
            let integration =
                hold_schedule(tx.conn(), integration, at + self.claim_lease()).await?;
            repo::logs::append(
                tx.conn(),
                NewLog {
                    workspace_id: job.workspace_id,
                    integration_id: job.integration_id,
                    level: LogLevel::Warn,
                    operation: Operation::Sync,
                    message: &format!(
                        "sync attempt {} failed: {}; retrying at {}",
                        attempt.number,
                        failure.message,
                        at.to_rfc3339()
                    ),
                    details: json!({
                        "attempt": attempt.number,
                        "error_code": failure.code.name(),
                        "retry_at": at,
                    }),
                    run_id: Some(job.run_id),
                },
            )
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(integration.provider)
        }
        .await;
        match result {
            Ok(provider) => metrics::sync_run(&provider, "retrying"),
            Err(err) => {
                metrics::sync_run(metrics::UNKNOWN_PROVIDER, "retrying");
                tracing::error!(job_id = %attempt.job_id, error = %err, "could not record a sync retry");
            }
        }
    }

    /// A sync job was dead-lettered: the run shows `dead`, the error is recorded on
    /// the integration (its status stays), each stream the run did not finish
    /// moves a whole schedule away (a broken stream is not retried every lease) and
    /// the integration's next sync with them, an error is logged and the workspace
    /// is told.
    pub async fn record_sync_dead(&self, attempt: Attempt<'_>, failure: &JobFailure) {
        let job = attempt.job;
        let now = self.now();
        let result = async {
            let mut tx = self.store.begin(job.workspace_id).await?;
            let run = repo::sync_runs::finish(
                tx.conn(),
                job.run_id,
                RunStatus::Dead,
                Some((failure.code.name(), &failure.message)),
            )
            .await?;
            let integration =
                repo::integrations::get_for_update(tx.conn(), job.integration_id).await?;
            self.emit_sync_ended(tx.conn(), &run, &integration).await?;
            repo::integrations::set_status(
                tx.conn(),
                job.integration_id,
                integration.status,
                Some((failure.code.name(), &failure.message)),
            )
            .await?;
            if let Ok(adapter) = self.connections.adapter(&integration.provider) {
                let spec = adapter.spec();
                let states = states_by_name(tx.conn(), integration.id).await?;
                let names = run
                    .streams
                    .clone()
                    .unwrap_or_else(|| enabled_streams(&spec.streams, &states));
                for stream in names.iter().filter_map(|name| spec.stream(name)) {
                    let state = states.get(stream.name);
                    if state.and_then(|s| s.last_run_id) == Some(run.id) {
                        continue;
                    }
                    let seconds = schedule_seconds(stream, state);
                    repo::stream_states::update(
                        tx.conn(),
                        job.workspace_id,
                        integration.id,
                        stream.name,
                        &StreamPatch {
                            next_sync_at: Some(Some(
                                now + chrono::Duration::seconds(i64::from(seconds)),
                            )),
                            ..StreamPatch::default()
                        },
                    )
                    .await?;
                }
                reschedule(tx.conn(), &integration, spec, now).await?;
            }
            repo::logs::append(
                tx.conn(),
                NewLog {
                    workspace_id: job.workspace_id,
                    integration_id: job.integration_id,
                    level: LogLevel::Error,
                    operation: Operation::Sync,
                    message: &format!(
                        "sync failed after {} attempt(s): {}; moved to the dead letters",
                        attempt.number, failure.message
                    ),
                    details: json!({
                        "attempts": attempt.number,
                        "error_code": failure.code.name(),
                        "job_id": attempt.job_id,
                    }),
                    run_id: Some(job.run_id),
                },
            )
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(integration.provider)
        }
        .await;
        match result {
            Ok(provider) => metrics::sync_run(&provider, "dead"),
            Err(err) => {
                metrics::sync_run(metrics::UNKNOWN_PROVIDER, "dead");
                tracing::error!(job_id = %attempt.job_id, error = %err, "could not record a dead sync");
            }
        }
        self.notify_sync_failed(
            job.workspace_id,
            job.integration_id,
            attempt.job_id,
            job.stream.as_deref(),
            failure,
            attempt.number,
        )
        .await;
    }
}

/// Moves a scheduled integration's `next_sync_at` to `until` when it is earlier, so
/// no scheduler pass claims it while a sync of it runs or waits for a retry. An
/// unscheduled integration (no `next_sync_at`) stays unscheduled.
async fn hold_schedule(
    conn: &mut Conn,
    integration: Integration,
    until: DateTime<Utc>,
) -> Result<Integration, StoreError> {
    match integration.next_sync_at {
        Some(next) if next < until => {
            repo::integrations::update(
                conn,
                integration.id,
                &IntegrationPatch {
                    next_sync_at: Some(Some(until)),
                    ..IntegrationPatch::default()
                },
            )
            .await
        }
        _ => Ok(integration),
    }
}

/// Whether a run has ended for good.
fn is_terminal(status: RunStatus) -> bool {
    matches!(
        status,
        RunStatus::Succeeded | RunStatus::Failed | RunStatus::Dead | RunStatus::Cancelled
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ended_runs_are_terminal() {
        for status in [RunStatus::Queued, RunStatus::Running, RunStatus::Retrying] {
            assert!(!is_terminal(status), "{status}");
        }
        for status in [
            RunStatus::Succeeded,
            RunStatus::Failed,
            RunStatus::Dead,
            RunStatus::Cancelled,
        ] {
            assert!(is_terminal(status), "{status}");
        }
    }
}
