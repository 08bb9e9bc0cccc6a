//! HubSpot's webhook deliveries: parsing a verified body (a JSON array of events)
//! and applying an event to the object streams.
//!
//! The signature (v3, see `junction_core::webhook::hubspot`) is checked by the
//! toolkit from the spec's scheme before anything here reads the body. HubSpot's
//! `eventId` is not unique, so an event's id is derived from what HubSpot says
//! identifies one — subscription, object, time, event id — and the property a
//! property change is about: a redelivery gets the same id and is deduplicated.
//!
//! Applying an event re-reads the object (`GET /crm/v3/objects/{type}/{id}`) and
//! upserts its record, so a late or repeated event never writes stale values; a
//! deletion, or a re-read HubSpot answers 404, marks the record deleted; a merge
//! re-reads the surviving object and marks the merged-away ones deleted. A public
//! app's deliveries carry every installing account's events to one URL, so an event
//! of another account (`portalId`) than the connection's is left alone. Events of
//! other objects (tickets, conversations) change nothing here.

use http::Method;
use junction_core::{
    AdapterError, Connection, WebhookEffects,
    webhook::{WebhookError, WebhookEvent},
};
use junction_toolkit::{
    Client, data,
    webhook::{self, derived_id},
};
use serde_json::Value;

use crate::{
    api,
    objects::{self, ObjectType, TYPES},
};

/// The events of a verified delivery.
pub(crate) fn parse(body: &[u8]) -> Result<Vec<WebhookEvent>, WebhookError> {
    let events: Vec<Value> = webhook::json(body, "a list of HubSpot webhook events")?;
    events
        .into_iter()
        .map(|event| {
            let text = |name: &str| data::text(event.get(name)).unwrap_or_default();
            let kind = text("subscriptionType");
            if kind.is_empty() {
                return Err(WebhookError::InvalidPayload(
                    "an event has no subscriptionType".into(),
                ));
            }
            let occurred = event.get("occurredAt").and_then(Value::as_i64);
            let id = derived_id(
                "hubspot_",
                &[
                    &text("portalId"),
                    &text("subscriptionId"),
                    &text("objectId"),
                    &text("occurredAt"),
                    &text("eventId"),
                    &text("propertyName"),
                ],
            );
            Ok(WebhookEvent {
                id,
                event_type: kind,
                occurred_at: occurred.and_then(chrono::DateTime::from_timestamp_millis),
                payload: event,
            })
        })
        .collect()
}

/// The object type an event is about: its subscription type's object
/// (`contact.creation`), or a generic event's `objectTypeId` (`0-1`).
fn object_type(event: &WebhookEvent) -> Option<ObjectType> {
    let (object, _) = event.event_type.split_once('.')?;
    if object == "object" {
        let id = data::text(event.payload.get("objectTypeId"))?;
        return TYPES.into_iter().find(|kind| kind.type_id == id);
    }
    TYPES.into_iter().find(|kind| kind.singular == object)
}

/// What `event` changes.
pub(crate) async fn apply(
    client: &Client<'_>,
    conn: &Connection,
    event: &WebhookEvent,
) -> Result<WebhookEffects, AdapterError> {
    let mut effects = WebhookEffects::default();
    let Some(kind) = object_type(event) else {
        return Ok(effects);
    };
    let payload = &event.payload;
    if let Some(portal) = payload.get("portalId").and_then(Value::as_u64)
        && api::account(client, conn).await?.portal_id != portal
    {
        return Ok(effects);
    }
    let action = event.event_type.rsplit('.').next().unwrap_or_default();
    let object_id = data::text(payload.get("objectId"));
    match action {
        "deletion" | "privacyDeletion" => {
            data::add_deletions(&mut effects, kind.stream, object_id);
        }
        "merge" => {
            let survivor = data::text(payload.get("newObjectId"))
                .or_else(|| data::text(payload.get("primaryObjectId")))
                .or(object_id);
            let merged: Vec<String> = payload
                .get("mergedObjectIds")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|id| data::text(Some(id)))
                .filter(|id| Some(id) != survivor.as_ref())
                .collect();
            data::add_deletions(&mut effects, kind.stream, merged);
            if let Some(survivor) = survivor {
                reread(client, kind, &survivor, &mut effects).await?;
            }
        }
        _ => {
            if let Some(id) = object_id {
                reread(client, kind, &id, &mut effects).await?;
            }
        }
    }
    Ok(effects)
}

/// Re-reads `kind`'s object `id` into `effects`: its record, or its deletion when
/// HubSpot no longer has it.
async fn reread(
    client: &Client<'_>,
    kind: ObjectType,
    id: &str,
    effects: &mut WebhookEffects,
) -> Result<(), AdapterError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(());
    }
    let request = client
        .request(Method::GET, &objects::path(kind, &format!("/{id}")))?
        .query(&[("properties", kind.properties.join(","))]);
    let mut gone = false;
    let fetched = client
        .fetch_with(request, |classified, refusal| {
            gone = refusal.status == http::StatusCode::NOT_FOUND;
            classified
        })
        .await;
    match fetched {
        Ok(fetched) => {
            let record = objects::record(&fetched.body, kind)?;
            data::add_effects(effects, kind.stream, vec![record], Vec::new());
            Ok(())
        }
        Err(_) if gone => {
            data::add_deletions(effects, kind.stream, [id]);
            Ok(())
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HubSpot's example body (its v1 request-validation doc).
    const EXAMPLE: &str = r#"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]"#;

    #[test]
    fn events_get_stable_ids_and_their_types() {
        let events = parse(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_type, "contact.creation");
        assert_eq!(
            events[0].occurred_at,
            chrono::DateTime::from_timestamp_millis(1_564_113_600_000)
        );
        assert_eq!(parse(EXAMPLE.as_bytes()).unwrap()[0].id, events[0].id);
        assert_eq!(object_type(&events[0]), Some(objects::CONTACT));
        let generic = r#"[{"eventId":2,"subscriptionId":1,"portalId":1,"occurredAt":1,"subscriptionType":"object.propertyChange","objectTypeId":"0-3","objectId":9,"propertyName":"amount","propertyValue":"10"}]"#;
        let events = parse(generic.as_bytes()).unwrap();
        assert_eq!(object_type(&events[0]), Some(objects::DEAL));
        assert!(matches!(
            parse(b"{\"not\": \"a list\"}"),
            Err(WebhookError::InvalidPayload(_))
        ));
        assert!(matches!(
            parse(b"[{\"eventId\": 1}]"),
            Err(WebhookError::InvalidPayload(_))
        ));
    }
}
