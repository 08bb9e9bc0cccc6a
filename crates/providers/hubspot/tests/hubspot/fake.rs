//! End-to-end flows against the HubSpot fake: a first sync of every stream with
//! records and KPI points, an incremental sync that finds a change, and retried
//! actions that act once.

use std::sync::Arc;

use junction_conformance::{FakeServer, TokenTable};
use junction_core::{Adapter, ReadRequest};
use junction_hubspot::{
    Hubspot,
    sandbox::{HubspotFake, SANDBOX_TOKEN},
};
use serde_json::{Value, json};

use crate::support::private_app;

async fn sync(
    adapter: &Hubspot,
    server: &FakeServer,
    conn: &junction_core::Connection,
    stream: &str,
    mut cursor: Option<Value>,
) -> (
    Vec<junction_core::Record>,
    Vec<junction_core::KpiPoint>,
    Option<Value>,
) {
    let (mut records, mut kpis) = (Vec::new(), Vec::new());
    for _ in 0..200 {
        let page = adapter
            .read(
                &server.context(),
                conn,
                &ReadRequest {
                    stream: stream.into(),
                    cursor: cursor.clone(),
                    page_size: Some(5),
                },
            )
            .await
            .unwrap();
        records.extend(page.records);
        kpis.extend(page.kpis);
        cursor = page.next_cursor;
        if !page.has_more {
            return (records, kpis, cursor);
        }
    }
    panic!("{stream} never ended");
}

#[tokio::test]
async fn a_first_sync_writes_records_and_kpi_points_and_the_next_finds_changes() {
    let server = FakeServer::start(Arc::new(HubspotFake::default()), TokenTable::default()).await;
    let adapter = Hubspot::private_app();
    let conn = private_app(SANDBOX_TOKEN, json!({"lookback_days": 60}));
    let (contacts, _, cursor) = sync(&adapter, &server, &conn, "contacts", None).await;
    assert_eq!(contacts.len(), 12);
    for (stream, count) in [
        ("companies", 5),
        ("deals", 8),
        ("owners", 2),
        ("pipelines", 1),
    ] {
        let (records, _, _) = sync(&adapter, &server, &conn, stream, None).await;
        assert_eq!(records.len(), count, "{stream}");
    }
    let (_, open, _) = sync(&adapter, &server, &conn, "pipelines", None).await;
    let open_value = |stage: &str, currency: &str| {
        open.iter()
            .find(|p| {
                p.metric == "open_pipeline_value"
                    && p.dimensions["stage"] == stage
                    && p.dimensions["currency"] == currency
            })
            .map(|p| p.value)
    };
    assert_eq!(open_value("contractsent", "USD"), Some(15000.0));
    assert_eq!(open_value("appointmentscheduled", "EUR"), Some(1800.0));
    let (days, totals, _) = sync(&adapter, &server, &conn, "daily_totals", None).await;
    assert_eq!(days.len(), 61);
    let sum = |metric: &str, currency: Option<&str>| -> f64 {
        totals
            .iter()
            .filter(|p| {
                p.metric == metric && p.dimensions.get("currency").map(String::as_str) == currency
            })
            .map(|p| p.value)
            .sum()
    };
    assert_eq!(sum("new_contacts", None), 12.0);
    assert_eq!(sum("deals_created", None), 8.0);
    assert_eq!(sum("deals_won", None), 3.0);
    assert_eq!(sum("won_amount", Some("USD")), 20500.5);
    assert_eq!(sum("won_amount", Some("EUR")), 4000.0);

    // A change after the first sync is what the next one reads.
    adapter
        .act(
            &server.context(),
            &conn,
            "upsert_contact",
            &json!({"email": "ada.lovelace@sandbox.example", "lastname": "King"}),
            Some("k1"),
        )
        .await
        .unwrap();
    let (changed, _, _) = sync(&adapter, &server, &conn, "contacts", cursor).await;
    assert!(
        changed
            .iter()
            .any(|r| r.data["properties"]["lastname"] == "King"),
        "{changed:?}"
    );
    assert!(changed.len() < 12);
}

#[tokio::test]
async fn retried_actions_act_once() {
    let server = FakeServer::start(Arc::new(HubspotFake::default()), TokenTable::default()).await;
    let adapter = Hubspot::private_app();
    let conn = private_app(SANDBOX_TOKEN, json!({}));
    let ctx = server.context();
    let act = |action: &'static str, input: Value| {
        let (adapter, conn, ctx) = (adapter, conn.clone(), ctx.clone());
        async move {
            adapter
                .act(&ctx, &conn, action, &input, Some("same-run"))
                .await
                .unwrap()
        }
    };
    let contact = json!({"email": "new.person@sandbox.example", "firstname": "New"});
    let first = act("upsert_contact", contact.clone()).await;
    let again = act("upsert_contact", contact).await;
    assert_eq!(first.external_id, again.external_id);
    assert_eq!(
        (
            first.output["created"].clone(),
            again.output["created"].clone()
        ),
        (json!(true), json!(false))
    );

    let deal = json!({"dealname": "Retry-safe deal", "amount": 900, "pipeline": "default", "dealstage": "qualifiedtobuy"});
    let first = act("upsert_deal", deal.clone()).await;
    let again = act("upsert_deal", deal).await;
    assert_eq!(first.external_id, again.external_id);
    assert_eq!(again.output["deduplicated"], true);
    let updated = act(
        "upsert_deal",
        json!({"deal_id": first.external_id.clone().unwrap(), "dealstage": "closedwon"}),
    )
    .await;
    assert_eq!(updated.output["properties"]["hs_is_closed_won"], "true");

    let note =
        json!({"object_type": "contact", "object_id": "101", "body": "Met at the conference"});
    let first = act("add_note", note.clone()).await;
    let again = act("add_note", note).await;
    assert_eq!(first.external_id, again.external_id);
    assert_eq!(again.output["deduplicated"], true);

    let link = json!({"from_type": "deal", "from_id": first.external_id.clone().unwrap_or_default(), "to_type": "contact", "to_id": "102"});
    // A note is no deal: HubSpot answers 404, named on the input.
    let error = adapter
        .act(&ctx, &conn, "associate", &link, Some("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, junction_core::AdapterError::Invalid { .. }),
        "{error:?}"
    );
    let link =
        json!({"from_type": "contact", "from_id": "102", "to_type": "company", "to_id": "114"});
    let first = act("associate", link.clone()).await;
    let again = act("associate", link).await;
    assert_eq!(first.output, again.output);
}
