//! The load generator of the webhook and API figures, in this process: a closed
//! loop (a fixed number of senders, each sending its next request when the last
//! one is answered) and an open loop (requests sent at a fixed rate whatever the
//! answers do). Latencies go into an HDR histogram in microseconds.
//!
//! The open loop times each request from the moment it was scheduled to be sent,
//! not from when it actually left: if the server (or this process) falls behind,
//! the wait counts, so queueing shows in the percentiles instead of being hidden
//! by a sender that slows down with the server (coordinated omission).

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;

/// One request of a run: the index of the request, the HTTP status it got.
pub type Request =
    Arc<dyn Fn(usize) -> Pin<Box<dyn Future<Output = Result<u16>> + Send>> + Send + Sync>;

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Latencies of answered requests, in microseconds.
    pub latencies: Histogram<u64>,
    /// Answers other than 2xx.
    pub failed: u64,
    /// Requests that got no answer at all (connection errors).
    pub errors: u64,
    /// One failure's description, for the report.
    pub first_failure: Option<String>,
    /// From the first send to the last answer.
    pub seconds: f64,
}

impl Outcome {
    fn new() -> Result<Self> {
        Ok(Self {
            // 1 µs to 10 minutes, three significant digits.
            latencies: Histogram::new_with_bounds(1, 600_000_000, 3)
                .context("creating a histogram")?,
            failed: 0,
            errors: 0,
            first_failure: None,
            seconds: 0.0,
        })
    }

    fn record(&mut self, latency: Duration, answer: Result<u16>) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        match answer {
            Ok(status) => {
                self.latencies.saturating_record(micros.max(1));
                if !(200..300).contains(&status) {
                    self.failed += 1;
                    self.first_failure
                        .get_or_insert_with(|| format!("HTTP {status}"));
                }
            }
            Err(error) => {
                self.errors += 1;
                self.first_failure
                    .get_or_insert_with(|| format!("{error:#}"));
            }
        }
    }

    /// Requests answered with 2xx.
    pub fn succeeded(&self) -> u64 {
        self.latencies.len().saturating_sub(self.failed)
    }

    /// A percentile (0–100) in milliseconds.
    pub fn ms(&self, percentile: f64) -> f64 {
        self.latencies.value_at_percentile(percentile) as f64 / 1000.0
    }

    /// `p50 1.2 ms, p99 3.4 ms, max 5.6 ms`, and how many failed when some did
    /// (their latencies count: a refusal is an answer the client waited for).
    pub fn summary(&self) -> String {
        let mut text = format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms",
            self.ms(50.0),
            self.ms(99.0),
            self.latencies.max() as f64 / 1000.0
        );
        if self.failed + self.errors > 0 {
            text.push_str(&format!(
                ", {} of {} failed (e.g. {})",
                self.failed + self.errors,
                self.latencies.len() + self.errors,
                self.first_failure.as_deref().unwrap_or("?")
            ));
        }
        text
    }

    /// Fails when any request failed: a figure of failing requests means nothing.
    pub fn check(&self, what: &str) -> Result<()> {
        if self.failed + self.errors > 0 {
            bail!(
                "{what}: {} of {} requests failed, e.g. {}",
                self.failed + self.errors,
                self.latencies.len() + self.errors,
                self.first_failure.as_deref().unwrap_or("?")
            );
        }
        Ok(())
    }
}

/// `total` requests from `senders` senders, each sending its next request as soon as
/// the last one is answered; latency from send to answer.
pub async fn closed_loop(senders: usize, total: usize, request: Request) -> Result<Outcome> {
    let next = Arc::new(AtomicUsize::new(0));
    let outcome = Arc::new(Mutex::new(Outcome::new()?));
    let started = Instant::now();
    let tasks: Vec<_> = (0..senders)
        .map(|_| {
            let (next, outcome, request) = (next.clone(), outcome.clone(), request.clone());
            tokio::spawn(async move {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= total {
                        return;
                    }
                    let sent = Instant::now();
                    let answer = request(index).await;
                    let latency = sent.elapsed();
                    lock(&outcome).record(latency, answer);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.context("a sender panicked")?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut outcome = lock(&outcome).clone();
    outcome.seconds = seconds;
    Ok(outcome)
}

/// Requests at `rate` per second for `duration`, each sent at its scheduled time
/// (whether or not earlier ones were answered) and timed from that time.
pub async fn open_loop(rate: u32, duration: Duration, request: Request) -> Result<Outcome> {
    let total = (f64::from(rate) * duration.as_secs_f64()).round() as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let outcome = Arc::new(Mutex::new(Outcome::new()?));
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for index in 0..total {
        let scheduled = started + interval.mul_f64(index as f64);
        tokio::time::sleep_until(scheduled).await;
        let (outcome, request) = (outcome.clone(), request.clone());
        tasks.push(tokio::spawn(async move {
            let answer = request(index).await;
            let latency = scheduled.elapsed();
            lock(&outcome).record(latency, answer);
        }));
    }
    for task in tasks {
        task.await.context("a request panicked")?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut outcome = lock(&outcome).clone();
    outcome.seconds = seconds;
    Ok(outcome)
}

fn lock(outcome: &Mutex<Outcome>) -> std::sync::MutexGuard<'_, Outcome> {
    // A sender that panicked left whole records behind.
    outcome.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An HTTP client for a load run: connections kept and reused, no proxy from the
/// environment, nothing compressed (the server's own cost, not gzip's, is measured).
pub fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")
}
