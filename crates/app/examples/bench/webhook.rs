//! Figure (d), webhook ingest: verified Stripe deliveries per second through the
//! API's `POST /webhooks/stripe/{integration_id}` at 32 concurrent senders, with the
//! acknowledgement's p50/p99 latency, then how fast the worker applies them.
//!
//! One Stripe integration holds the sandbox's secret key and webhook signing secret
//! (sealed in the vault, as `POST /v1/integrations` stores them). Every delivery is
//! a distinct `payment_intent.payment_failed` event (its own event id and payment
//! intent), signed the moment it is sent as Stripe signs (`Stripe-Signature:
//! t=...,v1=HMAC-SHA256(secret, "t.body")`, junction-stripe's sandbox signer). The
//! release `junction-api` runs in its own process: each delivery is verified
//! against the integration's secret, stored in `webhook_events` and its job staged
//! in the outbox, in one transaction, before the 200. The senders run in this
//! process (closed loop: each sends its next delivery when the last is answered).
//!
//! The baseline, from the same run, is `GET /healthz` (an answer with no work
//! behind it) at the same concurrency: what the API process, the HTTP stack and
//! this load generator manage on the same cores, the ceiling of any route.
//!
//! Then the release `junction-worker` starts on the backlog: its relay moves the
//! staged jobs to the webhook queue and its webhook handlers apply each event
//! (verify again as stored, the payment intent's record written through the ingest
//! path, the event marked processed, a log entry). The applied rate is the events
//! over the time from the worker being ready to the last one processed.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use chrono::Utc;
use junction_store::{
    models::{AuthKind, IntegrationStatus, NewIntegration},
    repo,
};
use junction_stripe::sandbox::{SECRET_KEY, WEBHOOK_SECRET, sign_event};
use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

use crate::{
    Options,
    api_process::{self, ApiProcess},
    cpu_seconds,
    fixture::Fixture,
    load, per_second, thousands,
    worker_process::{self, WorkerProcess},
};

const DEFAULT_DELIVERIES: usize = 20_000;
const DEFAULT_CONCURRENCY: usize = 32;

/// The longest the worker may take to apply the backlog.
const DEADLINE: Duration = Duration::from_secs(600);

pub async fn run(options: &Options) -> Result<String> {
    let deliveries = options.jobs.unwrap_or(DEFAULT_DELIVERIES);
    let senders = options.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
    let api_binary = api_process::binary(options.api.as_deref())?;
    let worker_binary = worker_process::binary(options.worker.as_deref())?;
    let fixture = Fixture::start().await?;
    let integration_id = stripe_integration(&fixture).await?;
    let client = fixture.admin_client().await?;

    let api = ApiProcess::start(&api_binary, &fixture, "webhook").await?;
    let measured = async {
        let http = load::client()?;
        let api_pid = api.pid()?.to_string();

        let floor = {
            let (http, url) = (http.clone(), format!("{}/healthz", api.url));
            load::closed_loop(
                senders,
                deliveries,
                Arc::new(move |_| {
                    let request = http.get(&url);
                    Box::pin(async move { Ok(request.send().await?.status().as_u16()) })
                }),
            )
            .await?
        };
        floor.check("GET /healthz")?;

        let backends_before = worker_process::backend_cpu(&client, false).await?;
        let cpu_before = (cpu_seconds(&api_pid)?, cpu_seconds("self")?);
        let url = format!("{}/webhooks/stripe/{integration_id}", api.url);
        let ingest = load::closed_loop(
            senders,
            deliveries,
            Arc::new(move |index| {
                let signed = sign_event(&event(index), Utc::now().timestamp());
                let request = http
                    .post(&url)
                    .header("Stripe-Signature", signed.signature)
                    .header("Content-Type", "application/json")
                    .body(signed.body);
                Box::pin(async move { Ok(request.send().await?.status().as_u16()) })
            }),
        )
        .await?;
        let cpu = Cpu {
            api: cpu_seconds(&api_pid)? - cpu_before.0,
            senders: cpu_seconds("self")? - cpu_before.1,
            backends: worker_process::backend_cpu_used(
                &backends_before,
                &worker_process::backend_cpu(&client, false).await?,
            ),
        };
        ingest.check("POST /webhooks/stripe")?;
        Ok::<_, anyhow::Error>((floor, ingest, cpu))
    }
    .await;
    api.stop().await;
    let (floor, ingest, cpu) = measured?;
    let stored = count(&client, "SELECT count(*) FROM webhook_events").await?;
    if stored != deliveries as i64 {
        bail!("{stored} events stored for {deliveries} deliveries");
    }

    let (applied_seconds, worker_cpu) =
        apply(&fixture, &worker_binary, &client, deliveries).await?;
    fixture.sandbox.handle.stop(true).await;
    let n = deliveries as u64;
    Ok(format!(
        "webhook: {} verified Stripe deliveries/s through POST /webhooks/stripe at {senders} senders ({} unique deliveries signed, verified, stored and enqueued in {:.2} s; acknowledgement {}; CPU: API {:.1} s, its Postgres backends {}, senders {:.1} s); worker applied {}/s ({:.2} s, worker CPU {:.1} s); baseline GET /healthz {} requests/s ({})",
        per_second(ingest.succeeded(), ingest.seconds),
        thousands(n),
        ingest.seconds,
        ingest.summary(),
        cpu.api,
        worker_process::cpu_text(cpu.backends),
        cpu.senders,
        per_second(n, applied_seconds),
        applied_seconds,
        worker_cpu,
        per_second(floor.succeeded(), floor.seconds),
        floor.summary(),
    ))
}

/// CPU time used while the deliveries were sent, in seconds.
struct Cpu {
    api: f64,
    /// This process: the senders (signing, HTTP client).
    senders: f64,
    /// The Postgres backends of the API's connections (when visible here).
    backends: Option<f64>,
}

/// The Stripe integration the deliveries are for, with the sandbox's keys sealed as
/// `POST /v1/integrations` stores them.
async fn stripe_integration(fixture: &Fixture) -> Result<Uuid> {
    let id = Uuid::new_v4();
    let mut tx = fixture.db.store().begin(fixture.workspace_id).await?;
    repo::integrations::insert(
        tx.conn(),
        &NewIntegration {
            id,
            workspace_id: fixture.workspace_id.as_uuid(),
            provider: "stripe".to_owned(),
            display_name: "Benchmark Stripe account".to_owned(),
            status: IntegrationStatus::Active,
            auth_kind: AuthKind::ApiKey,
            config: json!({}),
            scopes: vec![],
            token_expires_at: None,
            schedule_seconds: 3600,
            next_sync_at: None,
        },
    )
    .await?;
    let fields = [
        ("secret_key", SECRET_KEY),
        ("webhook_secret", WEBHOOK_SECRET),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), SecretString::from(value)))
    .collect();
    repo::credentials::put(
        tx.conn(),
        fixture.db.vault(),
        fixture.workspace_id,
        id,
        &fields,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Delivery `index`: a failed payment of its own payment intent, as Stripe sends
/// `payment_intent.payment_failed` (test mode).
fn event(index: usize) -> serde_json::Value {
    let created = Utc::now().timestamp();
    json!({
        "id": format!("evt_bench_{index:08}"),
        "object": "event",
        "api_version": junction_stripe::API_VERSION,
        "created": created,
        "type": "payment_intent.payment_failed",
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "data": {"object": {
            "id": format!("pi_bench_{index:08}"),
            "object": "payment_intent",
            "amount": 1_000 + (index % 9_000) as i64,
            "currency": "usd",
            "status": "requires_payment_method",
            "created": created,
            "livemode": false,
            "last_payment_error": {"code": "card_declined", "type": "card_error"}
        }}
    })
}

/// Starts the worker on the stored backlog and waits until every event is
/// processed: the seconds from the worker being ready to the last one, and the
/// worker's CPU meanwhile.
async fn apply(
    fixture: &Fixture,
    binary: &std::path::Path,
    client: &tokio_postgres::Client,
    expected: usize,
) -> Result<(f64, f64)> {
    let mut worker = WorkerProcess::start(binary, fixture, "webhook").await?;
    let started = Instant::now();
    let applied = async {
        let pid = worker.pid()?.to_string();
        let cpu_before = cpu_seconds(&pid)?;
        loop {
            worker.check_alive()?;
            // The events still waiting, through the partial index of unfinished
            // ones (cheap, and cheaper as the backlog shrinks). Counting every
            // status instead read the whole table each time: about 50 ms a poll,
            // half a core taken from the worker being measured.
            let waiting = count(
                client,
                "SELECT count(*) FROM webhook_events WHERE status IN ('received', 'processing')",
            )
            .await?;
            if waiting == 0 {
                let seconds = started.elapsed().as_secs_f64();
                let cpu = cpu_seconds(&pid)? - cpu_before;
                let row = client
                    .query_one(
                        "SELECT count(*) FILTER (WHERE status = 'processed'), \
                                count(*) FILTER (WHERE status IN ('failed', 'dead')), \
                                min(error_message) FILTER (WHERE status IN ('failed', 'dead')) \
                         FROM webhook_events",
                        &[],
                    )
                    .await?;
                let (processed, failed): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
                if failed > 0 {
                    let error: Option<String> = row.try_get(2)?;
                    bail!(
                        "{failed} webhook event(s) failed, e.g. {}; see {}",
                        error.as_deref().unwrap_or("?"),
                        worker.log.display()
                    );
                }
                if processed < expected as i64 {
                    bail!("only {processed} of {expected} events were applied");
                }
                return Ok((seconds, cpu));
            }
            if started.elapsed() > DEADLINE {
                bail!(
                    "{waiting} of {expected} events still waiting after {}s",
                    DEADLINE.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    .await;
    worker.stop().await;
    applied.context("applying the webhook backlog")
}

async fn count(client: &tokio_postgres::Client, sql: &str) -> Result<i64> {
    Ok(client.query_one(sql, &[]).await?.try_get(0)?)
}
