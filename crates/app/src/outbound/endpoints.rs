//! Webhook endpoints of a workspace, their signing secrets, and the events and
//! attempts a client reads back.
//!
//! As in Svix: an endpoint is a URL with an optional description, an event-type
//! filter (empty: every type) and an enabled flag. Its signing secret —
//! `whsec_` followed by the base64 of 32 random bytes, or one the client supplies
//! (24 to 64 bytes) — is sealed in the credential vault and read with
//! `GET .../secret` whenever the client needs it (it is never part of an endpoint's
//! representation, never logged). A rotation makes a new secret current; the one it
//! replaces keeps signing beside it for [`SECRET_OVERLAP`] (24 hours), so receivers
//! switch over without a delivery failing verification.

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use junction_core::{ErrorCode, WorkspaceId, spec::FieldError};
use junction_store::{
    StoreError,
    models::{
        OutboundAttempt, OutboundDelivery, OutboundEvent, OutboundEventType, WebhookEndpoint,
    },
    repo::{
        self,
        outbound_attempts::AttemptsOf,
        outbound_events::OutboundEventFilter,
        webhook_endpoints::{EndpointPatch, NewEndpoint},
    },
};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::network;
use crate::{App, Error, Listed, PageRequest, Result, listed};

/// How long a replaced signing secret keeps signing beside the new one (Svix's).
pub const SECRET_OVERLAP: chrono::Duration = chrono::Duration::hours(24);
/// The prefix of every signing secret (Svix, Standard Webhooks).
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a secret Junction makes.
const SECRET_BYTES: usize = 32;
/// The key lengths Standard Webhooks allows for a secret a client supplies.
const SUPPLIED_SECRET_BYTES: std::ops::RangeInclusive<usize> = 24..=64;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// An endpoint as a client asks for it; every field is checked, all problems at
/// once.
#[derive(Debug, Clone, Default)]
pub struct EndpointInput {
    pub url: Option<String>,
    pub description: Option<String>,
    /// Event types to receive; empty or absent: every type.
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
    /// The signing secret to use instead of a new random one.
    pub secret: Option<SecretString>,
}

/// The fields of an endpoint to change.
#[derive(Debug, Clone, Default)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// An event with where each of its deliveries stands.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDeliveries {
    pub event: OutboundEvent,
    pub deliveries: Vec<OutboundDelivery>,
}

/// Whose attempts to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOwner {
    Endpoint(Uuid),
    Event(Uuid),
}

/// A new random signing secret: `whsec_` and the base64 of 32 random bytes.
pub fn generate_secret() -> SecretString {
    let mut key = [0u8; SECRET_BYTES];
    // ThreadRng is a CSPRNG seeded from the operating system.
    rand::rng().fill_bytes(&mut key);
    SecretString::from(format!("{SECRET_PREFIX}{}", STANDARD.encode(key)))
}

/// Checks a secret a client supplies: `whsec_` and the base64 of 24 to 64 bytes.
/// The message never echoes it.
pub fn check_secret(secret: &SecretString) -> std::result::Result<(), String> {
    let Some(encoded) = secret.expose_secret().strip_prefix(SECRET_PREFIX) else {
        return Err(format!("must start with `{SECRET_PREFIX}`"));
    };
    match STANDARD.decode(encoded) {
        Ok(key) if SUPPLIED_SECRET_BYTES.contains(&key.len()) => Ok(()),
        Ok(_) => Err(format!(
            "must hold {} to {} bytes of key (base64 after `{SECRET_PREFIX}`)",
            SUPPLIED_SECRET_BYTES.start(),
            SUPPLIED_SECRET_BYTES.end()
        )),
        Err(_) => Err(format!("must be base64 after `{SECRET_PREFIX}`")),
    }
}

fn field(errors: &mut Vec<FieldError>, name: &str, message: impl Into<String>) {
    errors.push(FieldError {
        field: name.to_owned(),
        message: message.into(),
    });
}

/// The event types of a filter, deduplicated in the documented order; unknown
/// names are field errors.
fn event_types(names: &[String], errors: &mut Vec<FieldError>) -> Vec<String> {
    let mut types = Vec::new();
    for name in names {
        match OutboundEventType::parse(name) {
            Some(event_type) if !types.contains(&event_type) => types.push(event_type),
            Some(_) => {}
            None => field(
                errors,
                "event_types",
                format!(
                    "`{name}` is not an event type (see GET /v1/event-types: {})",
                    OutboundEventType::ALL
                        .iter()
                        .map(|t| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        }
    }
    types.sort_by_key(|t| OutboundEventType::ALL.iter().position(|known| known == t));
    types.into_iter().map(|t| t.as_str().to_owned()).collect()
}

fn description(text: &str, errors: &mut Vec<FieldError>) -> String {
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        field(
            errors,
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        );
    }
    text.to_owned()
}

/// The URL as the client wrote it, once it passes: normalizing could lengthen it
/// past the limit (a `/` added, characters percent-encoded), and deliveries parse
/// it again anyway.
fn url(text: &str, allow_private: bool, errors: &mut Vec<FieldError>) -> String {
    match network::check_url(text, allow_private) {
        Ok(_) => text.to_owned(),
        Err(message) => {
            field(errors, "url", message);
            String::new()
        }
    }
}

fn not_found(error: StoreError, what: &str) -> Error {
    match error {
        StoreError::NotFound(_) => Error::not_found(ErrorCode::NotFound, what),
        other => other.into(),
    }
}

impl App {
    /// Creates an endpoint with its signing secret (a new random one unless the
    /// client supplies one).
    pub async fn create_webhook_endpoint(
        &self,
        workspace_id: WorkspaceId,
        input: EndpointInput,
    ) -> Result<WebhookEndpoint> {
        let mut errors = Vec::new();
        let url = match input.url.as_deref() {
            Some(text) => url(
                text,
                self.config.outbound_allow_private_networks,
                &mut errors,
            ),
            None => {
                field(&mut errors, "url", "is required");
                String::new()
            }
        };
        let description = description(input.description.as_deref().unwrap_or(""), &mut errors);
        let event_types = event_types(input.event_types.as_deref().unwrap_or(&[]), &mut errors);
        if let Some(secret) = &input.secret
            && let Err(message) = check_secret(secret)
        {
            field(&mut errors, "secret", message);
        }
        if !errors.is_empty() {
            return Err(Error::validation(errors));
        }
        let secret = input.secret.unwrap_or_else(generate_secret);
        let now = self.now();
        let mut tx = crate::workspaces::existing_workspace(&self.store, workspace_id).await?;
        let endpoint = repo::webhook_endpoints::create(
            tx.conn(),
            workspace_id,
            Uuid::new_v4(),
            &NewEndpoint {
                url,
                description,
                event_types,
                enabled: input.enabled.unwrap_or(true),
            },
        )
        .await?;
        repo::webhook_endpoint_secrets::replace_current(
            tx.conn(),
            self.connections.vault(),
            workspace_id,
            endpoint.id,
            &secret,
            now,
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(endpoint_id = %endpoint.id, %workspace_id, "webhook endpoint created");
        Ok(endpoint)
    }

    /// The workspace's endpoints, oldest first.
    pub async fn webhook_endpoints(
        &self,
        workspace_id: WorkspaceId,
        page: PageRequest<(DateTime<Utc>, Uuid)>,
    ) -> Result<Listed<WebhookEndpoint, (DateTime<Utc>, Uuid)>> {
        let mut tx = self.begin(workspace_id).await?;
        let rows = repo::webhook_endpoints::list(tx.conn(), page.after, page.limit + 1).await?;
        tx.commit().await?;
        Ok(listed(rows, page.limit, |e| (e.created_at, e.id)))
    }

    /// One endpoint.
    pub async fn webhook_endpoint(
        &self,
        workspace_id: WorkspaceId,
        id: Uuid,
    ) -> Result<WebhookEndpoint> {
        let mut tx = self.begin(workspace_id).await?;
        let endpoint = repo::webhook_endpoints::get(tx.conn(), id)
            .await
            .map_err(|e| not_found(e, "webhook endpoint"))?;
        tx.commit().await?;
        Ok(endpoint)
    }

    /// Changes an endpoint. Enabling one Junction disabled (it answered 410 Gone)
    /// clears why; its dead-lettered deliveries can then be replayed.
    pub async fn update_webhook_endpoint(
        &self,
        workspace_id: WorkspaceId,
        id: Uuid,
        changes: EndpointChanges,
    ) -> Result<WebhookEndpoint> {
        let mut errors = Vec::new();
        let patch = EndpointPatch {
            url: changes.url.as_deref().map(|text| {
                url(
                    text,
                    self.config.outbound_allow_private_networks,
                    &mut errors,
                )
            }),
            description: changes
                .description
                .as_deref()
                .map(|text| description(text, &mut errors)),
            event_types: changes
                .event_types
                .as_deref()
                .map(|names| event_types(names, &mut errors)),
            enabled: changes.enabled,
        };
        if !errors.is_empty() {
            return Err(Error::validation(errors));
        }
        let mut tx = self.begin(workspace_id).await?;
        let endpoint = repo::webhook_endpoints::update(tx.conn(), id, &patch)
            .await
            .map_err(|e| not_found(e, "webhook endpoint"))?;
        tx.commit().await?;
        Ok(endpoint)
    }

    /// Deletes an endpoint with its secrets, its deliveries and their attempts;
    /// deliveries still waiting for a retry are dropped (their jobs end quietly).
    pub async fn delete_webhook_endpoint(&self, workspace_id: WorkspaceId, id: Uuid) -> Result<()> {
        let mut tx = self.begin(workspace_id).await?;
        repo::webhook_endpoints::delete(tx.conn(), id)
            .await
            .map_err(|e| not_found(e, "webhook endpoint"))?;
        tx.commit().await?;
        tracing::info!(endpoint_id = %id, %workspace_id, "webhook endpoint deleted");
        Ok(())
    }

    /// The endpoint's current signing secret.
    pub async fn webhook_endpoint_secret(
        &self,
        workspace_id: WorkspaceId,
        id: Uuid,
    ) -> Result<SecretString> {
        let mut tx = self.begin(workspace_id).await?;
        repo::webhook_endpoints::get(tx.conn(), id)
            .await
            .map_err(|e| not_found(e, "webhook endpoint"))?;
        let secret =
            repo::webhook_endpoint_secrets::current(tx.conn(), self.connections.vault(), id)
                .await?;
        tx.commit().await?;
        Ok(secret)
    }

    /// Makes a new signing secret current (a new random one unless the client
    /// supplies `key`); the one it replaces keeps signing for [`SECRET_OVERLAP`].
    pub async fn rotate_webhook_endpoint_secret(
        &self,
        workspace_id: WorkspaceId,
        id: Uuid,
        key: Option<SecretString>,
    ) -> Result<()> {
        if let Some(key) = &key {
            check_secret(key).map_err(|message| Error::field("key", message))?;
        }
        let secret = key.unwrap_or_else(generate_secret);
        let now = self.now();
        let mut tx = self.begin(workspace_id).await?;
        repo::webhook_endpoints::get(tx.conn(), id)
            .await
            .map_err(|e| not_found(e, "webhook endpoint"))?;
        repo::webhook_endpoint_secrets::replace_current(
            tx.conn(),
            self.connections.vault(),
            workspace_id,
            id,
            &secret,
            now,
            now + SECRET_OVERLAP,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(endpoint_id = %id, %workspace_id, "webhook endpoint secret rotated");
        Ok(())
    }

    /// The workspace's events matching `filter`, newest first, each with its
    /// deliveries.
    pub async fn outbound_events(
        &self,
        workspace_id: WorkspaceId,
        filter: &OutboundEventFilter,
        page: PageRequest<(DateTime<Utc>, Uuid)>,
    ) -> Result<Listed<EventDeliveries, (DateTime<Utc>, Uuid)>> {
        let mut tx = self.begin(workspace_id).await?;
        crate::filtered_integration(&mut tx, filter.integration_id).await?;
        let rows =
            repo::outbound_events::list(tx.conn(), filter, page.after, page.limit + 1).await?;
        let ids: Vec<Uuid> = rows.iter().map(|e| e.id).collect();
        let mut deliveries = repo::outbound_deliveries::for_events(tx.conn(), &ids).await?;
        tx.commit().await?;
        let events = rows
            .into_iter()
            .map(|event| {
                let (own, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut deliveries)
                    .into_iter()
                    .partition(|d| d.event_id == event.id);
                deliveries = rest;
                EventDeliveries {
                    event,
                    deliveries: own,
                }
            })
            .collect();
        Ok(listed(events, page.limit, |e| {
            (e.event.created_at, e.event.id)
        }))
    }

    /// One event with its deliveries.
    pub async fn outbound_event(
        &self,
        workspace_id: WorkspaceId,
        id: Uuid,
    ) -> Result<EventDeliveries> {
        let mut tx = self.begin(workspace_id).await?;
        let event = repo::outbound_events::get(tx.conn(), id)
            .await
            .map_err(|e| not_found(e, "event"))?;
        let deliveries = repo::outbound_deliveries::for_event(tx.conn(), id).await?;
        tx.commit().await?;
        Ok(EventDeliveries { event, deliveries })
    }

    /// The delivery attempts to an endpoint, or of an event, newest first.
    pub async fn outbound_attempts(
        &self,
        workspace_id: WorkspaceId,
        owner: AttemptOwner,
        page: PageRequest<(DateTime<Utc>, Uuid)>,
    ) -> Result<Listed<OutboundAttempt, (DateTime<Utc>, Uuid)>> {
        let mut tx = self.begin(workspace_id).await?;
        let of = match owner {
            AttemptOwner::Endpoint(id) => {
                repo::webhook_endpoints::get(tx.conn(), id)
                    .await
                    .map_err(|e| not_found(e, "webhook endpoint"))?;
                AttemptsOf::Endpoint(id)
            }
            AttemptOwner::Event(id) => {
                repo::outbound_events::get(tx.conn(), id)
                    .await
                    .map_err(|e| not_found(e, "event"))?;
                AttemptsOf::Event(id)
            }
        };
        let rows = repo::outbound_attempts::list(tx.conn(), of, page.after, page.limit + 1).await?;
        tx.commit().await?;
        Ok(listed(rows, page.limit, |a| (a.attempted_at, a.id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_whsec_and_32_random_bytes() {
        let one = generate_secret();
        let two = generate_secret();
        assert!(check_secret(&one).is_ok());
        assert_ne!(one.expose_secret(), two.expose_secret());
        let key = STANDARD
            .decode(one.expose_secret().trim_start_matches(SECRET_PREFIX))
            .unwrap();
        assert_eq!(key.len(), SECRET_BYTES);
    }

    #[test]
    fn supplied_secrets_are_checked_without_echoing_them() {
        let good = SecretString::from(format!("whsec_{}", STANDARD.encode([7u8; 24])));
        assert!(check_secret(&good).is_ok());
        for (bad, why) in [
            (
                format!("sk_{}", STANDARD.encode([7u8; 24])),
                "must start with",
            ),
            (
                format!("whsec_{}", STANDARD.encode([7u8; 8])),
                "24 to 64 bytes",
            ),
            ("whsec_not base64!".to_owned(), "must be base64"),
        ] {
            let message = check_secret(&SecretString::from(bad.clone())).unwrap_err();
            assert!(message.contains(why), "{message}");
            assert!(!message.contains(&bad));
        }
    }

    #[test]
    fn event_type_filters_are_checked_and_ordered() {
        let mut errors = Vec::new();
        let types = event_types(
            &[
                "sync.failed".into(),
                "connection.created".into(),
                "sync.failed".into(),
            ],
            &mut errors,
        );
        assert!(errors.is_empty());
        assert_eq!(types, vec!["connection.created", "sync.failed"]);
        event_types(&["sync.exploded".into()], &mut errors);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0]
                .message
                .contains("`sync.exploded` is not an event type")
        );
    }
}
