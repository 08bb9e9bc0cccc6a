//! Figure (e), API latency: `GET /v1/integrations` and `GET /v1/kpis` at a fixed
//! request rate (open loop), p50 and p99, against a workspace of 1,000 integrations
//! with a year of daily KPI points each.
//!
//! The workspace is seeded straight into Postgres in bulk: GA4 integrations with
//! their sealed OAuth tokens (`Fixture::seed_ga4`), then one `INSERT ... SELECT`
//! writing, for every integration, a daily point of each metric of GA4's main
//! report stream over the last 365 days. The release `junction-api` runs in its own
//! process; this process sends the requests at the rate given (1,000/s by default)
//! for a fixed time each, whatever the answers do, and times each request from the
//! moment it was scheduled (see `load`): a server that falls behind shows as
//! latency, not as a lower rate.
//!
//! - `GET /v1/integrations`: the first page (50, the default limit), as a
//!   dashboard lists a workspace;
//! - `GET /v1/kpis?metric=sessions&integration_id=..&from=..&granularity=week`: a
//!   year of one integration's sessions by week (365 points read, 53 buckets), a
//!   different integration each request, as a chart of one property asks;
//! - baseline, the same run: `GET /healthz` at the same rate (no authentication,
//!   no database): what the HTTP stack and this load generator cost on these cores.

use std::{sync::Arc, time::Duration};

use anyhow::{Context, Result, anyhow};
use chrono::{Days, Utc};
use secrecy::ExposeSecret;

use crate::{
    Options,
    api_process::{self, ApiProcess},
    cpu_seconds,
    fixture::Fixture,
    load::{self, Outcome},
    thousands,
};

const DEFAULT_INTEGRATIONS: usize = 1_000;
const DEFAULT_RATE: u32 = 1_000;
/// How long each route is sent its requests.
const DEFAULT_SECONDS: u64 = 10;
/// Days of KPI points per integration and metric.
const DAYS: u64 = 365;
/// The GA4 metric the KPI requests read.
const METRIC: &str = "sessions";

pub async fn run(options: &Options) -> Result<String> {
    let integrations = options.integrations.unwrap_or(DEFAULT_INTEGRATIONS);
    let rate = options
        .rate
        .map(u32::try_from)
        .transpose()
        .context("--rate is too large")?
        .unwrap_or(DEFAULT_RATE);
    let duration = Duration::from_secs(options.seconds.unwrap_or(DEFAULT_SECONDS as usize) as u64);
    let binary = api_process::binary(options.api.as_deref())?;
    let fixture = Fixture::start().await?;
    let ids = fixture.seed_ga4(integrations, 30).await?;
    let points = seed_kpis(&fixture).await?;
    let key = fixture.api_key().await?;

    let api = ApiProcess::start(&binary, &fixture, "api").await?;
    let measured = async {
        let http = load::client()?;
        let pid = api.pid()?.to_string();
        let bearer = format!("Bearer {}", key.expose_secret());
        let get = |path: Arc<dyn Fn(usize) -> String + Send + Sync>| -> load::Request {
            let (http, base, bearer) = (http.clone(), api.url.clone(), bearer.clone());
            Arc::new(move |index| {
                let request = http
                    .get(format!("{base}{}", path(index)))
                    .header("Authorization", &bearer);
                Box::pin(async move {
                    let response = request.send().await?;
                    let status = response.status().as_u16();
                    // The whole body, as a client reads it.
                    response.bytes().await?;
                    Ok(status)
                })
            })
        };
        let from = Utc::now()
            .date_naive()
            .checked_sub_days(Days::new(DAYS - 1))
            .ok_or_else(|| anyhow!("date out of range"))?;
        let ids = Arc::new(ids);
        let routes: [(&str, load::Request); 3] = [
            ("GET /healthz", get(Arc::new(|_| "/healthz".to_owned()))),
            (
                "GET /v1/integrations",
                get(Arc::new(|_| "/v1/integrations".to_owned())),
            ),
            (
                "GET /v1/kpis",
                get(Arc::new(move |index| {
                    format!(
                        "/v1/kpis?metric={METRIC}&integration_id={}&from={from}&granularity=week",
                        ids[index % ids.len()]
                    )
                })),
            ),
        ];
        let mut results = Vec::new();
        for (name, request) in routes {
            // A short warm-up at the same rate: connections opened, caches filled.
            load::open_loop(rate, Duration::from_secs(1), request.clone()).await?;
            let cpu_before = (cpu_seconds(&pid)?, cpu_seconds("self")?);
            let outcome = load::open_loop(rate, duration, request).await?;
            let cpu = (
                cpu_seconds(&pid)? - cpu_before.0,
                cpu_seconds("self")? - cpu_before.1,
            );
            // Failures are reported with the latencies, not fatal: a route that
            // cannot keep up at the rate refuses some requests (pool timeouts).
            results.push((name, outcome, cpu));
        }
        Ok::<_, anyhow::Error>(results)
    }
    .await;
    api.stop().await;
    let results = measured?;
    fixture.sandbox.handle.stop(true).await;
    let line = |(name, outcome, (api_cpu, load_cpu)): &(&str, Outcome, (f64, f64))| {
        format!(
            "{name} {} (API CPU {:.0}%, load generator {:.0}%)",
            outcome.summary(),
            100.0 * api_cpu / outcome.seconds,
            100.0 * load_cpu / outcome.seconds,
        )
    };
    let [floor, rest @ ..] = results.as_slice() else {
        return Err(anyhow!("no route measured"));
    };
    Ok(format!(
        "api: at {} requests/s for {} s each (open loop, latency from the scheduled send; workspace of {} integrations, {} KPI points): {}; baseline {}",
        thousands(u64::from(rate)),
        duration.as_secs(),
        thousands(integrations as u64),
        thousands(points),
        rest.iter().map(line).collect::<Vec<_>>().join("; "),
        line(floor),
    ))
}

/// A daily point of every metric of GA4's main report stream for the last
/// [`DAYS`] days, for every integration of the fixture, in one statement as the
/// schema owner. Returns how many points were written.
async fn seed_kpis(fixture: &Fixture) -> Result<u64> {
    let started = std::time::Instant::now();
    let registry = junction_registry::Registry::builtin();
    let spec = registry
        .get("google-analytics")
        .ok_or_else(|| anyhow!("this build has no GA4 provider"))?
        .spec();
    let stream = spec
        .streams
        .iter()
        .find(|stream| stream.metrics.iter().any(|m| m.name == METRIC))
        .ok_or_else(|| anyhow!("no GA4 stream reports `{METRIC}`"))?;
    let metrics: Vec<String> = stream.metrics.iter().map(|m| m.name.to_owned()).collect();
    let client = fixture.admin_client().await?;
    let points = client
        .execute(
            "INSERT INTO kpi_points (workspace_id, integration_id, metric, date, dimension_key, \
                 dimensions, value, stream, updated_at) \
             SELECT i.workspace_id, i.id, m, d::date, '', '{}'::jsonb, \
                 floor(random() * 1000), $2, now() \
             FROM integrations i \
             CROSS JOIN unnest($1::text[]) AS m \
             CROSS JOIN generate_series(current_date - ($3::int - 1), current_date, \
                 interval '1 day') AS d",
            &[&metrics, &stream.name, &i32::try_from(DAYS)?],
        )
        .await
        .context("seeding KPI points")?;
    // What autovacuum does to a table that has held its points for a while: the
    // statistics, and the visibility map that lets a chart's read stay in the index.
    client.batch_execute("VACUUM (ANALYZE) kpi_points").await?;
    eprintln!(
        "bench: {points} KPI points written in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(points)
}
