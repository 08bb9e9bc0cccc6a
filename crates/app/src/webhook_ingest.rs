//! The group commit of verified webhook deliveries, and the short-lived cache of
//! what verifying one needs (the integration's workspace and signing secret).
//!
//! At a burst of deliveries, storing each in a transaction of its own costs a
//! dozen round trips and a WAL flush per delivery, and the two cores go to Postgres.
//! So a verified delivery is handed to the process's [`Ingest`] writer and its
//! request waits for that delivery's own outcome: the writer takes every delivery
//! waiting (up to [`MAX_BATCH`]) and stores them, per workspace, in one
//! transaction (row-level security scopes a transaction to one workspace): one
//! multi-row insert of the events (deduplicated by the provider's event id, within
//! the batch and against what is stored), one of their jobs into the outbox, one
//! lookup of the endpoints subscribed to `provider_event.received`, one commit.
//! The 200 still means the delivery is durably stored with its job staged. Nothing
//! waits on a timer: while [`WRITERS`] batches are being written, deliveries queue
//! up for the next one, so a batch is as large as the load makes it and a lone
//! delivery is written at once.
//!
//! A batch that fails is written again one delivery at a time, so a delivery the
//! database refuses (an integration deleted a moment ago, an event id too long for
//! the table) fails alone and holds none of the others back; when the database is
//! unreachable, every delivery of the batch answers so at once.

use std::{
    collections::{BTreeMap, HashMap, hash_map::Entry},
    sync::{Arc, OnceLock},
    time::Duration,
};

use chrono::{DateTime, Utc};
use junction_core::{ErrorCode, WorkspaceId, storable, webhook::WebhookEvent};
use junction_jobs::{Job, outbox};
use junction_store::{
    Store, StoreError,
    models::{OutboundEventType, WebhookEventRow},
    repo::{self, webhook_events::NewWebhookEvent},
};
use secrecy::SecretString;
use tokio::sync::{Semaphore, mpsc, oneshot};
use uuid::Uuid;

use crate::{Error, Result, outbound::events, ttl_cache::TtlCache};

/// The most deliveries one batch stores (a multi-row insert binds seven values per
/// event: far below Postgres's limit of 65,535).
pub const MAX_BATCH: usize = 128;

/// Batches written at once: one fills while another commits (its WAL flush is a
/// wait, not work).
pub const WRITERS: usize = 2;

/// Deliveries waiting for a writer before senders wait to hand theirs over.
const QUEUE: usize = 4_096;

/// How long a looked-up workspace and signing secret serve deliveries without
/// being read again. A secret changed through this process applies at once; one
/// changed through another process (another API replica) within this time.
pub const TARGET_TTL: Duration = Duration::from_secs(5);

/// Integrations held at most in the cache (a flood of URLs naming made-up
/// integrations caches nothing: only verified targets are kept).
const MAX_TARGETS: usize = 10_000;

/// What a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WebhookReceipt {
    /// Events stored and queued now.
    pub accepted: usize,
    /// Events already stored by an earlier delivery (not processed again).
    pub duplicates: usize,
}

/// A verified delivery to store.
#[derive(Debug)]
pub struct Delivery {
    pub workspace_id: WorkspaceId,
    pub integration_id: Uuid,
    pub provider: String,
    /// The events its signature covers, as the adapter read them.
    pub events: Vec<WebhookEvent>,
    /// Its headers as stored ([`crate::webhooks::headers_to_json`]).
    pub headers: serde_json::Value,
    pub body: Vec<u8>,
    /// When it arrived by the application's clock (the time of the outbound
    /// `provider_event.received` events it records).
    pub at: DateTime<Utc>,
}

/// Where a webhook URL's deliveries go and what verifies them.
#[derive(Clone)]
pub struct Target {
    pub workspace_id: WorkspaceId,
    pub secret: SecretString,
}

#[derive(Clone)]
struct Cached {
    provider: String,
    target: Target,
}

struct Pending {
    delivery: Delivery,
    reply: oneshot::Sender<Result<WebhookReceipt>>,
}

/// The process's webhook writer and target cache. Cheap to clone; the writer task
/// starts with the first delivery and ends when the last clone is dropped.
#[derive(Clone)]
pub struct Ingest {
    store: Store,
    sender: Arc<OnceLock<mpsc::Sender<Pending>>>,
    targets: Arc<TtlCache<Uuid, Cached>>,
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest").finish_non_exhaustive()
    }
}

impl Ingest {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            sender: Arc::new(OnceLock::new()),
            targets: Arc::new(TtlCache::new(TARGET_TTL, MAX_TARGETS)),
        }
    }

    /// Stores a verified delivery with the others waiting, and answers once its
    /// transaction has committed (or failed).
    pub async fn store(&self, delivery: Delivery) -> Result<WebhookReceipt> {
        let sender = self.sender.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(run(self.store.clone(), receiver));
            sender
        });
        let (reply, answer) = oneshot::channel();
        sender
            .send(Pending { delivery, reply })
            .await
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }

    /// The cached target of `integration_id` for a delivery of `provider`, while
    /// fresh.
    pub fn target(&self, provider: &str, integration_id: Uuid) -> Option<Target> {
        self.targets
            .get(&integration_id)
            .filter(|cached| cached.provider == provider)
            .map(|cached| cached.target)
    }

    /// Remembers a verified target for [`TARGET_TTL`].
    pub fn remember(&self, provider: &str, integration_id: Uuid, target: Target) {
        self.targets.insert(
            integration_id,
            Cached {
                provider: provider.to_owned(),
                target,
            },
        );
    }

    /// Forgets an integration's target (its secrets changed, or it was deleted).
    pub fn forget(&self, integration_id: Uuid) {
        self.targets.remove(&integration_id);
    }
}

fn writer_gone() -> Error {
    Error::new(
        ErrorCode::Internal,
        "the webhook writer stopped; the delivery was not stored",
    )
}

/// The writer: takes the deliveries waiting whenever a writer slot is free.
async fn run(store: Store, mut receiver: mpsc::Receiver<Pending>) {
    let slots = Arc::new(Semaphore::new(WRITERS));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = receiver.recv().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        let store = store.clone();
        tokio::spawn(async move {
            write_batch(&store, batch).await;
            drop(slot);
        });
    }
}

/// Stores a batch, one transaction per workspace, and answers each delivery.
async fn write_batch(store: &Store, batch: Vec<Pending>) {
    let mut by_workspace: BTreeMap<WorkspaceId, Vec<Pending>> = BTreeMap::new();
    for pending in batch {
        by_workspace
            .entry(pending.delivery.workspace_id)
            .or_default()
            .push(pending);
    }
    for (workspace_id, group) in by_workspace {
        let deliveries: Vec<&Delivery> = group.iter().map(|p| &p.delivery).collect();
        match write_group(store, workspace_id, &deliveries).await {
            Ok(receipts) => {
                for (pending, receipt) in group.into_iter().zip(receipts) {
                    let _ = pending.reply.send(Ok(receipt));
                }
            }
            // Not about any one delivery: each would wait for the same outage.
            Err(StoreError::Unavailable(reason)) => {
                for pending in group {
                    let error = StoreError::Unavailable(reason.clone());
                    let _ = pending.reply.send(Err(error.into()));
                }
            }
            Err(error) if group.len() == 1 => {
                if let Some(pending) = group.into_iter().next() {
                    let _ = pending.reply.send(Err(refused(error)));
                }
            }
            // One delivery the database refuses fails alone: each goes again in a
            // transaction of its own.
            Err(error) => {
                tracing::info!(%error, deliveries = group.len(), "a webhook batch failed; storing its deliveries one by one");
                for pending in group {
                    let answer = write_group(store, workspace_id, &[&pending.delivery])
                        .await
                        .map_err(refused)
                        .map(|mut receipts| receipts.pop().unwrap_or_default());
                    let _ = pending.reply.send(answer);
                }
            }
        }
    }
}

/// A delivery the store refused. Its integration gone since it was verified (a
/// cached target) is the 404 of an unknown integration.
fn refused(error: StoreError) -> Error {
    match &error {
        StoreError::Invalid(message) if message.starts_with("reference to a missing row") => {
            Error::not_found(ErrorCode::IntegrationNotFound, "integration")
        }
        _ => error.into(),
    }
}

/// One workspace's deliveries in one transaction; a receipt per delivery, in order.
async fn write_group(
    store: &Store,
    workspace_id: WorkspaceId,
    deliveries: &[&Delivery],
) -> Result<Vec<WebhookReceipt>, StoreError> {
    let mut tx = store.begin(workspace_id).await?;
    match stage_group(tx.conn(), workspace_id, deliveries).await {
        Ok(receipts) => {
            tx.commit().await?;
            Ok(receipts)
        }
        Err(error) => {
            // Ended cleanly, the connection goes back to the pool for the retries.
            let _ = tx.rollback().await;
            Err(error)
        }
    }
}

/// The statements of [`write_group`]'s transaction.
async fn stage_group(
    conn: &mut junction_store::Conn,
    workspace_id: WorkspaceId,
    deliveries: &[&Delivery],
) -> Result<Vec<WebhookReceipt>, StoreError> {
    let mut receipts = vec![WebhookReceipt::default(); deliveries.len()];
    // Each (integration, event id) once: the first delivery naming it stores it,
    // a later one in the same batch is a duplicate like a redelivery.
    let mut owners: HashMap<(Uuid, String), (usize, &WebhookEvent)> = HashMap::new();
    let mut texts: Vec<(usize, Uuid, String, String)> = Vec::new();
    for (index, delivery) in deliveries.iter().enumerate() {
        for event in &delivery.events {
            // What the provider signed is processed, not refused (it would come
            // back for days): an id or type holding a NUL, which Postgres text
            // cannot, is stored with it replaced, and the raw body keeps the
            // original.
            let id = storable::sanitize_text(&event.id).into_owned();
            if let Entry::Vacant(slot) = owners.entry((delivery.integration_id, id.clone())) {
                slot.insert((index, event));
                let event_type = storable::sanitize_text(&event.event_type).into_owned();
                texts.push((index, delivery.integration_id, id, event_type));
            }
        }
    }
    let mut new_events: Vec<NewWebhookEvent<'_>> = Vec::with_capacity(texts.len());
    for (index, integration_id, event_id, event_type) in &texts {
        let delivery = deliveries[*index];
        new_events.push(NewWebhookEvent {
            workspace_id,
            integration_id: *integration_id,
            provider: &delivery.provider,
            event_id,
            event_type,
            headers: delivery.headers.clone(),
            body: &delivery.body,
        });
    }
    let stored = repo::webhook_events::insert_new(conn, &new_events).await?;
    let jobs: Vec<Job> = stored.iter().map(Job::of_webhook_event).collect();
    outbox::stage_all(conn, &jobs).await?;
    let mut accepted: Vec<(&WebhookEventRow, usize, &WebhookEvent)> = Vec::new();
    for row in &stored {
        if let Some(&(index, event)) = owners.get(&(row.integration_id, row.event_id.clone())) {
            receipts[index].accepted += 1;
            accepted.push((row, index, event));
        }
    }
    // The rest are redeliveries: stored earlier, or named twice in this batch.
    for (index, delivery) in deliveries.iter().enumerate() {
        let receipt = &mut receipts[index];
        receipt.duplicates = delivery.events.len() - receipt.accepted;
    }
    // Most workspaces have no endpoint for it: one lookup for the batch instead of
    // one per event.
    let subscribed =
        repo::webhook_endpoints::subscribed(conn, OutboundEventType::ProviderEventReceived).await?;
    if !subscribed.is_empty() {
        for (row, index, event) in accepted {
            let draft = events::provider_event_draft(row, event)?;
            events::record(conn, workspace_id, deliveries[index].at, draft).await?;
        }
    }
    Ok(receipts)
}
