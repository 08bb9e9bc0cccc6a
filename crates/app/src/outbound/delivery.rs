//! Delivering an event to an endpoint: one attempt is the `outbound` queue's job.
//!
//! An attempt is one HTTP POST of the event's body to the endpoint's URL, signed as
//! Standard Webhooks specifies (and Svix does):
//!
//! - `webhook-id`: the event's id (the same on every attempt, so a receiver can
//!   drop a repeat), `webhook-timestamp`: the attempt's Unix time in seconds;
//! - `webhook-signature`: `v1,<base64 HMAC-SHA256>` over `{id}.{timestamp}.{body}`,
//!   keyed with the base64-decoded part of the `whsec_` secret — one entry per
//!   secret that signs now (the current one, and for 24 hours after a rotation the
//!   one it replaced), separated by spaces.
//!
//! The POST has a timeout (`worker.outbound_timeout_seconds`, 15 s by default),
//! follows no redirect and connects only to public addresses (see
//! [`super::network`]). A 2xx answer delivers the event. `410 Gone` means the
//! receiver wants no more: the endpoint is disabled (as Standard Webhooks advises)
//! and the delivery dead-lettered at once. Any other answer, or none in time, is
//! retried on the queue's schedule (Svix's by default: 5 s, 5 min, 30 min, 2 h, 5 h,
//! 10 h, 10 h) and dead-lettered after the last attempt; a dead letter replays like
//! any other (`POST /v1/dead-letters/{id}/replay`) and starts the schedule again.
//!
//! Every attempt is recorded with its URL, status code, latency, the first KiB of
//! the answer and, once the runner schedules it, when the next attempt is due. A
//! delivery succeeds at least once: an answer lost before it is recorded is sent
//! again under the same `webhook-id`.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use junction_core::{
    ErrorCode, WorkspaceId, storable,
    webhook::{WebhookError, svix},
};
use junction_jobs::{FailureKind, JobFailure, OutboundJob};
use junction_store::{
    StoreError,
    models::{DeliveryStatus, OutboundAttempt, OutboundDelivery, OutboundEvent, WebhookEndpoint},
    repo::{self, outbound_deliveries::AttemptOutcome},
};
use secrecy::SecretString;
use url::Url;
use uuid::Uuid;

use super::network::{self, PublicResolver};
use crate::{App, failures::store_failure};

/// The `User-Agent` of every delivery.
pub const USER_AGENT: &str = concat!("Junction-Webhooks/", env!("CARGO_PKG_VERSION"));
/// How much of an answer's body an attempt keeps.
pub const EXCERPT_BYTES: usize = 1024;

/// The HTTP client deliveries go out through. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sender {
    http: reqwest::Client,
    timeout: Duration,
}

/// What an endpoint answered.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    status: u16,
    excerpt: Option<String>,
}

impl Sender {
    /// A client whose requests end after `timeout`, follow no redirect and reach
    /// only public addresses unless `allow_private`.
    pub fn new(timeout: Duration, allow_private: bool) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(USER_AGENT)
            .dns_resolver(PublicResolver::shared(allow_private))
            .build()?;
        Ok(Self { http, timeout })
    }

    /// POSTs `body` with `headers`; the answer's status and the start of its body,
    /// or why none came (the URL left out: it may hold a token in its query).
    async fn post(
        &self,
        url: Url,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
    ) -> Result<Answer, String> {
        let mut request = self
            .http
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut response = request.send().await.map_err(|e| self.describe(e))?;
        let status = response.status().as_u16();
        let mut excerpt: Vec<u8> = Vec::new();
        // The start of the body is enough to tell what went wrong; the rest is not
        // read (a receiver streaming a huge answer costs nothing).
        while excerpt.len() < EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        excerpt.truncate(EXCERPT_BYTES);
        let text = String::from_utf8_lossy(&excerpt);
        let excerpt = (!text.is_empty()).then(|| storable::sanitize_text(&text).into_owned());
        Ok(Answer { status, excerpt })
    }

    /// A transport error as one line, without the URL.
    fn describe(&self, error: reqwest::Error) -> String {
        if error.is_timeout() {
            return format!("no answer within {} s", self.timeout.as_secs());
        }
        let error = error.without_url();
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        message
    }
}

/// The `webhook-signature` value: a `v1,<base64>` entry per secret, in order,
/// separated by spaces (Standard Webhooks). Fails only on a secret that is not
/// `whsec_` + base64, which Junction never stores.
pub fn signature_header(
    secrets: &[SecretString],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, WebhookError> {
    let entries = secrets
        .iter()
        .map(|secret| svix::sign(secret, id, timestamp, body))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(entries.join(" "))
}

/// What an attempt needs, loaded in one transaction.
struct Prepared {
    delivery: OutboundDelivery,
    endpoint: WebhookEndpoint,
    event: OutboundEvent,
    secrets: Vec<SecretString>,
}

/// How an attempt ended.
enum Outcome {
    /// 2xx.
    Delivered(Answer),
    /// Another status: retried.
    Rejected(Answer),
    /// 410 Gone: the endpoint is disabled, the delivery dead-lettered.
    Gone(Answer),
    /// No answer (connection refused, timeout): retried.
    Unreachable(String),
    /// Not sent: the URL is not one this installation delivers to any more.
    Refused(String),
}

impl Outcome {
    fn answer(&self) -> Option<&Answer> {
        match self {
            Outcome::Delivered(answer) | Outcome::Rejected(answer) | Outcome::Gone(answer) => {
                Some(answer)
            }
            Outcome::Unreachable(_) | Outcome::Refused(_) => None,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Outcome::Delivered(_) => "delivered",
            Outcome::Rejected(_) => "rejected",
            Outcome::Gone(_) => "gone",
            Outcome::Unreachable(_) => "unreachable",
            Outcome::Refused(_) => "refused",
        }
    }

    /// The job's result: `Ok` when delivered, else the failure the runner decides
    /// on (never holding the URL).
    fn result(&self) -> Result<(), JobFailure> {
        match self {
            Outcome::Delivered(_) => Ok(()),
            Outcome::Rejected(answer) => Err(JobFailure::retryable(
                ErrorCode::WebhookEndpointRejected,
                format!("the endpoint answered HTTP {}", answer.status),
            )),
            Outcome::Gone(_) => Err(JobFailure::permanent(
                ErrorCode::WebhookEndpointRejected,
                "the endpoint answered HTTP 410 Gone: it wants no more deliveries, and was disabled",
            )),
            Outcome::Unreachable(message) => Err(JobFailure::retryable(
                ErrorCode::WebhookEndpointUnreachable,
                message.clone(),
            )),
            Outcome::Refused(message) => Err(JobFailure::permanent(
                ErrorCode::WebhookEndpointUnreachable,
                message.clone(),
            )),
        }
    }
}

impl App {
    /// One attempt at one delivery (the `outbound` queue's job, `job_id` the id it
    /// runs under); see the module docs.
    pub async fn deliver_outbound(
        &self,
        job: &OutboundJob,
        job_id: &str,
    ) -> Result<(), JobFailure> {
        let Some(prepared) = self.prepare_outbound(job, job_id).await? else {
            return Ok(());
        };
        let Prepared {
            delivery,
            endpoint,
            event,
            secrets,
        } = prepared;
        let attempted_at = self.now();
        let started = Instant::now();
        let outcome = match Url::parse(&endpoint.url) {
            Ok(url)
                if network::may_deliver_to(&url, self.config.outbound_allow_private_networks) =>
            {
                let webhook_id = event.id.to_string();
                let timestamp = attempted_at.timestamp();
                let body = serde_json::to_vec(&event.payload).map_err(|e| {
                    JobFailure::permanent(ErrorCode::Internal, format!("the event's body: {e}"))
                })?;
                let signature =
                    signature_header(&secrets, &webhook_id, timestamp, &body).map_err(|e| {
                        JobFailure::permanent(
                            ErrorCode::Internal,
                            format!("the endpoint's signing secret: {e}"),
                        )
                    })?;
                let headers = [
                    (svix::STANDARD_ID_HEADER, webhook_id),
                    (svix::STANDARD_TIMESTAMP_HEADER, timestamp.to_string()),
                    (svix::STANDARD_SIGNATURE_HEADER, signature),
                ];
                match self.outbound.post(url, &headers, body).await {
                    Ok(answer) if (200..300).contains(&answer.status) => Outcome::Delivered(answer),
                    Ok(answer) if answer.status == 410 => Outcome::Gone(answer),
                    Ok(answer) => Outcome::Rejected(answer),
                    Err(message) => Outcome::Unreachable(message),
                }
            }
            Ok(_) => Outcome::Refused(
                "the endpoint's URL points at a non-public address, which this installation \
                 no longer delivers to"
                    .into(),
            ),
            Err(error) => Outcome::Refused(format!("the endpoint's URL is not valid: {error}")),
        };
        let latency = started.elapsed();
        metrics::counter!("junction_outbound_attempts_total", "outcome" => outcome.label())
            .increment(1);
        metrics::histogram!("junction_outbound_attempt_duration_seconds")
            .record(latency.as_secs_f64());
        let result = outcome.result();
        self.record_outbound_attempt(
            job.workspace_id,
            &delivery,
            &endpoint,
            &outcome,
            attempted_at,
            latency,
        )
        .await
        .map_err(|e| store_failure(&e))?;
        tracing::info!(
            delivery_id = %delivery.id,
            endpoint_id = %endpoint.id,
            event_id = %event.id,
            outcome = outcome.label(),
            status = outcome.answer().map(|a| a.status),
            latency_ms = latency.as_millis() as u64,
            "outbound webhook attempt"
        );
        result
    }

    /// Loads a delivery and what it needs, noting the job running it. `None` when
    /// it was delivered already (a redelivered task).
    async fn prepare_outbound(
        &self,
        job: &OutboundJob,
        job_id: &str,
    ) -> Result<Option<Prepared>, JobFailure> {
        let now = self.now();
        let loaded = async {
            let mut tx = self.store.begin(job.workspace_id).await?;
            let delivery = repo::outbound_deliveries::get(tx.conn(), job.delivery_id).await?;
            if delivery.status == DeliveryStatus::Succeeded {
                tx.commit().await?;
                return Ok(None);
            }
            let endpoint = repo::webhook_endpoints::get(tx.conn(), delivery.endpoint_id).await?;
            let event = repo::outbound_events::get(tx.conn(), delivery.event_id).await?;
            let secrets = repo::webhook_endpoint_secrets::signing(
                tx.conn(),
                self.connections.vault(),
                endpoint.id,
                now,
            )
            .await?;
            let delivery =
                repo::outbound_deliveries::begin_attempt(tx.conn(), delivery.id, job_id).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(Some(Prepared {
                delivery,
                endpoint,
                event,
                secrets,
            }))
        }
        .await;
        let prepared = match loaded {
            Ok(Some(prepared)) => prepared,
            Ok(None) => {
                tracing::info!(delivery_id = %job.delivery_id, "outbound delivery already delivered");
                return Ok(None);
            }
            Err(StoreError::NotFound(_)) => {
                return Err(JobFailure::abandon(
                    ErrorCode::NotFound,
                    format!(
                        "delivery {} no longer exists (its endpoint was deleted)",
                        job.delivery_id
                    ),
                ));
            }
            Err(error) => return Err(store_failure(&error)),
        };
        if !prepared.endpoint.enabled {
            let why = prepared
                .endpoint
                .disabled_reason
                .as_deref()
                .map(|reason| format!(" ({reason})"))
                .unwrap_or_default();
            return Err(JobFailure::permanent(
                ErrorCode::WebhookEndpointDisabled,
                format!(
                    "the webhook endpoint is disabled{why}: enable it, then replay this dead letter"
                ),
            ));
        }
        if prepared.secrets.is_empty() {
            return Err(JobFailure::permanent(
                ErrorCode::Internal,
                "the webhook endpoint has no signing secret",
            ));
        }
        Ok(Some(prepared))
    }

    /// Records an attempt on its delivery (and disables an endpoint that answered
    /// 410 Gone), in one transaction.
    async fn record_outbound_attempt(
        &self,
        workspace_id: WorkspaceId,
        delivery: &OutboundDelivery,
        endpoint: &WebhookEndpoint,
        outcome: &Outcome,
        attempted_at: DateTime<Utc>,
        latency: Duration,
    ) -> Result<(), StoreError> {
        let failure = outcome.result().err();
        let error = failure.as_ref().map(|f| f.message.as_str());
        let mut tx = self.store.begin(workspace_id).await?;
        let recorded = repo::outbound_deliveries::record_attempt(
            tx.conn(),
            delivery.id,
            AttemptOutcome {
                succeeded: failure.is_none(),
                status_code: outcome.answer().map(|a| i32::from(a.status)),
                error,
                at: self.now(),
            },
        )
        .await?;
        repo::outbound_attempts::insert(
            tx.conn(),
            &OutboundAttempt {
                id: Uuid::new_v4(),
                workspace_id: workspace_id.as_uuid(),
                delivery_id: delivery.id,
                event_id: delivery.event_id,
                endpoint_id: endpoint.id,
                attempt: recorded.attempts,
                url: endpoint.url.clone(),
                status_code: outcome.answer().map(|a| i32::from(a.status)),
                latency_ms: i32::try_from(latency.as_millis()).unwrap_or(i32::MAX),
                response_excerpt: outcome.answer().and_then(|a| a.excerpt.clone()),
                succeeded: failure.is_none(),
                error_code: failure.as_ref().map(|f| f.code.name().to_owned()),
                error_message: error.map(str::to_owned),
                attempted_at,
                next_attempt_at: None,
            },
        )
        .await?;
        if let Outcome::Gone(_) = outcome {
            let reason = format!(
                "the endpoint answered HTTP 410 Gone at {}",
                attempted_at.to_rfc3339()
            );
            repo::webhook_endpoints::disable(tx.conn(), endpoint.id, &reason).await?;
            tracing::warn!(endpoint_id = %endpoint.id, "webhook endpoint answered 410 Gone: disabled");
        }
        tx.commit().await
    }

    /// A failed attempt will be retried at `at`: the delivery and its latest attempt
    /// say when. A failure to record it is logged (the retry happens either way).
    pub async fn record_outbound_retry(
        &self,
        job: &OutboundJob,
        failure: &JobFailure,
        at: DateTime<Utc>,
    ) {
        if failure.kind == FailureKind::Abandon {
            return;
        }
        let result = async {
            let mut tx = self.store.begin(job.workspace_id).await?;
            let delivery =
                repo::outbound_deliveries::schedule_retry(tx.conn(), job.delivery_id, at).await?;
            repo::outbound_attempts::set_next_attempt(
                tx.conn(),
                delivery.id,
                delivery.attempts,
                at,
            )
            .await?;
            tx.commit().await
        }
        .await;
        match result {
            Ok(()) | Err(StoreError::NotFound(_)) => {}
            Err(error) => {
                tracing::error!(delivery_id = %job.delivery_id, %error, "could not record an outbound retry");
            }
        }
    }

    /// The delivery failed for good: it is `failed` until its dead letter is
    /// replayed. A failure to record it is logged.
    pub async fn record_outbound_dead(&self, job: &OutboundJob, failure: &JobFailure) {
        let result = async {
            let mut tx = self.store.begin(job.workspace_id).await?;
            repo::outbound_deliveries::fail(
                tx.conn(),
                job.delivery_id,
                &failure.message,
                self.now(),
            )
            .await?;
            tx.commit().await
        }
        .await;
        match result {
            Ok(()) | Err(StoreError::NotFound(_)) => {}
            Err(error) => {
                tracing::error!(delivery_id = %job.delivery_id, %error, "could not record a dead outbound delivery");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    /// The official Svix vector (svix/svix-webhooks `TestWebhookSign`, kept in
    /// crates/core/tests/fixtures/webhook-vectors.json) through the signing code
    /// every delivery uses.
    #[test]
    fn the_official_svix_vector_signs_the_same() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../core/tests/fixtures/webhook-vectors.json"
        );
        let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let vector = &all["svix_official"];
        let secret = SecretString::from(vector["secret"].as_str().unwrap().to_owned());
        let header = signature_header(
            std::slice::from_ref(&secret),
            vector["msg_id"].as_str().unwrap(),
            vector["timestamp"].as_i64().unwrap(),
            vector["payload"].as_str().unwrap().as_bytes(),
        )
        .unwrap();
        assert_eq!(header, vector["expected_signature"].as_str().unwrap());
    }

    #[test]
    fn every_secret_signs_one_entry_in_order() {
        let old = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let new = SecretString::from("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        let both = signature_header(&[new.clone(), old.clone()], "m", 1, b"{}").unwrap();
        let entries: Vec<&str> = both.split(' ').collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0], svix::sign(&new, "m", 1, b"{}").unwrap());
        assert_eq!(entries[1], svix::sign(&old, "m", 1, b"{}").unwrap());
        assert!(entries.iter().all(|e| e.starts_with("v1,")));
    }
}
