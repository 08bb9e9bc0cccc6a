//! The adapter against the crate's own fake, served the way the sandbox serves it:
//! full syncs whose KPIs agree with the records, actions and what they change, the
//! retry behaviour of each action, and the injected faults.

use std::{collections::BTreeMap, sync::Arc};

use chrono::{Duration as Days, Utc};
use junction_conformance::{FakeServer, TokenTable};
use junction_core::{Adapter, AdapterError, Connection, Context, KpiPoint, Record, fake::Fault};
use junction_kit::{
    Kit,
    sandbox::{KitFake, SANDBOX_ACCOUNT_NAME, SANDBOX_API_KEY},
};
use serde_json::{Value, json};

use crate::support::{act, connection_with_key, read};

async fn start() -> (FakeServer, Context, Connection) {
    let server = FakeServer::start(Arc::new(KitFake::default()), TokenTable::default()).await;
    let ctx = server.context();
    let conn = connection_with_key(
        SANDBOX_API_KEY,
        json!({"field_map": "surname:last_name, org:company"}),
    );
    (server, ctx, conn)
}

/// Reads `stream` to its end from `cursor`; returns records, KPIs and the last cursor.
async fn read_all(
    ctx: &Context,
    conn: &Connection,
    stream: &str,
    mut cursor: Option<Value>,
) -> (Vec<Record>, Vec<KpiPoint>, Option<Value>) {
    let mut records = Vec::new();
    let mut kpis = Vec::new();
    for _ in 0..100 {
        let page = read(ctx, conn, stream, cursor.clone(), Some(40))
            .await
            .unwrap();
        records.extend(page.records);
        kpis.extend(page.kpis);
        cursor = page.next_cursor;
        if !page.has_more {
            return (records, kpis, cursor);
        }
    }
    panic!("{stream} did not end");
}

#[tokio::test]
async fn check_names_the_account_and_verifies_the_mapping() {
    let (_server, ctx, conn) = start().await;
    let health = Kit::api_key().check(&ctx, &conn).await.unwrap();
    assert!(health.account.unwrap().starts_with(SANDBOX_ACCOUNT_NAME));
    assert_eq!(health.details["custom_fields"], 3);
    let wrong = connection_with_key(SANDBOX_API_KEY, json!({"field_map": "shoe:shoe_size"}));
    let err = Kit::api_key().check(&ctx, &wrong).await.unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "field_map"));
}

#[tokio::test]
async fn growth_kpis_agree_with_the_subscriber_records() {
    let (_server, ctx, conn) = start().await;
    let (subscribers, kpis, _) = read_all(&ctx, &conn, "subscribers", None).await;
    assert_eq!(subscribers.len(), 240);
    let states: BTreeMap<String, usize> = subscribers.iter().fold(BTreeMap::new(), |mut acc, r| {
        *acc.entry(r.data["state"].as_str().unwrap().to_owned())
            .or_default() += 1;
        acc
    });
    assert_eq!(states.len(), 5, "{states:?}");
    assert!(kpis.is_empty());

    let conn = connection_with_key(SANDBOX_API_KEY, json!({"lookback_days": 60}));
    let (days, kpis, _) = read_all(&ctx, &conn, "subscriber_growth", None).await;
    assert_eq!(days.len(), 61);
    let today = Utc::now().date_naive();
    let since = today - Days::days(60);
    // New subscribers per day add up to the records created in the window.
    let created_in_window = subscribers
        .iter()
        .filter(|r| {
            let created =
                chrono::DateTime::parse_from_rfc3339(r.data["created_at"].as_str().unwrap())
                    .unwrap()
                    .date_naive();
            created >= since
        })
        .count() as f64;
    let new_total: f64 = kpis
        .iter()
        .filter(|p| p.metric == "new_subscribers")
        .map(|p| p.value)
        .sum();
    assert_eq!(new_total, created_in_window);
    // Each day's total is the previous day's plus its net change.
    let series = |metric: &str| -> BTreeMap<_, _> {
        kpis.iter()
            .filter(|p| p.metric == metric)
            .map(|p| (p.date, p.value))
            .collect()
    };
    let (total, net) = (series("total_subscribers"), series("net_new_subscribers"));
    for (day, value) in total.iter().skip(1) {
        let before = total[&(*day - Days::days(1))];
        assert_eq!(*value, before + net[day], "{day}");
    }
}

#[tokio::test]
async fn added_subscribers_are_upserted_and_show_up_in_the_next_sync() {
    let (_server, ctx, conn) = start().await;
    let (_, _, cursor) = read_all(&ctx, &conn, "subscribers", None).await;
    let input = json!({
        "email_address": "grace@example.org",
        "first_name": "Grace",
        "fields": {"surname": "Hopper", "org": "Navy", "shoe_size": 38}
    });
    let first = act(&ctx, &conn, "add_subscriber", input.clone(), Some("once"))
        .await
        .unwrap();
    assert_eq!(first.output["created"], true);
    assert_eq!(first.output["subscriber"]["fields"]["last_name"], "Hopper");
    assert_eq!(first.output["subscriber"]["fields"]["company"], "Navy");
    assert_eq!(first.output["warnings"].as_array().map(Vec::len), Some(1));
    // The same action again has one effect: the same subscriber, updated.
    let again = act(&ctx, &conn, "add_subscriber", input, Some("once"))
        .await
        .unwrap();
    assert_eq!(again.output["created"], false);
    assert_eq!(again.external_id, first.external_id);

    // The incremental pass reads only what changed since the last one.
    let (changed, _, _) = read_all(&ctx, &conn, "subscribers", cursor).await;
    assert!(changed.len() < 240, "{}", changed.len());
    assert!(
        changed
            .iter()
            .any(|r| r.data["email_address"] == "grace@example.org")
    );
}

fn kpi_for(kpis: &[KpiPoint], metric: &str, dimension: (&str, &str)) -> Option<f64> {
    kpis.iter()
        .find(|p| {
            p.metric == metric
                && p.dimensions.get(dimension.0).map(String::as_str) == Some(dimension.1)
        })
        .map(|p| p.value)
}

#[tokio::test]
async fn memberships_move_the_counts_once() {
    let (_server, ctx, conn) = start().await;
    let added = act(
        &ctx,
        &conn,
        "add_subscriber",
        json!({"email_address": "ada@example.org"}),
        None,
    )
    .await
    .unwrap();
    let id: u64 = added.external_id.unwrap().parse().unwrap();
    let (_, before, _) = read_all(&ctx, &conn, "tags", None).await;
    let tagged = act(
        &ctx,
        &conn,
        "tag_subscriber",
        json!({"tag_id": 5, "email_address": "ada@example.org"}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(tagged.output["already_tagged"], false);
    let again = act(
        &ctx,
        &conn,
        "tag_subscriber",
        json!({"tag_id": 5, "subscriber_id": id}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(again.output["already_tagged"], true);
    let (_, after, _) = read_all(&ctx, &conn, "tags", None).await;
    assert_eq!(
        kpi_for(&after, "tag_subscribers", ("tag_id", "5")),
        kpi_for(&before, "tag_subscribers", ("tag_id", "5")).map(|n| n + 1.0)
    );

    let enrolled = act(
        &ctx,
        &conn,
        "add_subscriber_to_sequence",
        json!({"sequence_id": 1, "subscriber_id": id}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(enrolled.output["already_added"], false);
    let err = act(
        &ctx,
        &conn,
        "add_subscriber_to_sequence",
        json!({"sequence_id": 3, "subscriber_id": id}),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(err, AdapterError::invalid("Sequence is inactive"));
    let err = act(
        &ctx,
        &conn,
        "add_subscriber_to_sequence",
        json!({"sequence_id": 77, "subscriber_id": id}),
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "sequence_id"));

    let form = act(
        &ctx,
        &conn,
        "add_subscriber_to_form",
        json!({"form_id": 2, "email_address": "ada@example.org", "referrer": "https://example.org/?utm_source=newsletter"}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        form.output["subscriber"]["referrer_utm_parameters"]["source"],
        "newsletter"
    );
    let err = act(
        &ctx,
        &conn,
        "tag_subscriber",
        json!({"tag_id": 1, "email_address": "nobody@example.org"}),
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "tag_id"));
}

#[tokio::test]
async fn a_broadcast_created_with_a_key_is_created_once() {
    let (_server, ctx, conn) = start().await;
    let send_at = (Utc::now() + Days::days(2))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let input = json!({"subject": "Launch day", "content": "<p>It's here</p>", "send_at": send_at});
    let first = act(
        &ctx,
        &conn,
        "create_broadcast",
        input.clone(),
        Some("launch-1"),
    )
    .await
    .unwrap();
    assert_eq!(first.output["deduplicated"], false);
    assert_eq!(first.output["broadcast"]["status"], "scheduled");
    let retried = act(
        &ctx,
        &conn,
        "create_broadcast",
        input.clone(),
        Some("launch-1"),
    )
    .await
    .unwrap();
    assert_eq!(retried.output["deduplicated"], true);
    assert_eq!(retried.external_id, first.external_id);
    let (broadcasts, _, _) = read_all(&ctx, &conn, "broadcasts", None).await;
    let launches = broadcasts
        .iter()
        .filter(|r| r.data["subject"] == "Launch day")
        .count();
    assert_eq!(launches, 1);
    // Without a key, Kit's plain create runs every time.
    act(&ctx, &conn, "create_broadcast", input, None)
        .await
        .unwrap();
    let (broadcasts, _, _) = read_all(&ctx, &conn, "broadcasts", None).await;
    assert_eq!(
        broadcasts
            .iter()
            .filter(|r| r.data["subject"] == "Launch day")
            .count(),
        2
    );
}

#[tokio::test]
async fn broadcast_stats_cover_the_sent_broadcasts() {
    let (_server, ctx, conn) = start().await;
    let (records, kpis, cursor) = read_all(&ctx, &conn, "broadcast_stats", None).await;
    assert_eq!(records.len(), 10);
    for record in &records {
        let recipients = record.data["stats"]["recipients"].as_f64().unwrap();
        let id = record.external_id.as_str();
        assert_eq!(
            kpi_for(&kpis, "broadcast_recipients", ("broadcast_id", id)),
            Some(recipients)
        );
    }
    // The next pass refreshes only the recent ones.
    let (recent, _, _) = read_all(&ctx, &conn, "broadcast_stats", cursor).await;
    assert!(!recent.is_empty() && recent.len() < 10, "{}", recent.len());
}

#[tokio::test]
async fn injected_faults_are_classified_on_reads_and_actions() {
    let (server, ctx, conn) = start().await;
    server.arm(Fault::RateLimited {
        retry_after_secs: 5,
    });
    let err = read(&ctx, &conn, "subscribers", None, None)
        .await
        .unwrap_err();
    assert_eq!(err, AdapterError::RateLimited { retry_after: None });
    server.arm(Fault::QuotaExhausted);
    let err = act(
        &ctx,
        &conn,
        "add_subscriber",
        json!({"email_address": "x@example.org"}),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(err, AdapterError::RateLimited { retry_after: None });
    server.arm(Fault::ServerError);
    let err = read(&ctx, &conn, "tags", None, None).await.unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }));
    server.arm(Fault::MalformedBody);
    let err = read(&ctx, &conn, "forms", None, None).await.unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }));
    server.arm(Fault::ExpiredToken);
    let err = read(&ctx, &conn, "sequences", None, None)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        AdapterError::Unauthorized {
            refreshable: false,
            ..
        }
    ));
    // Every request carried the key in Kit's header, never in the URL.
    for request in server.requests().await {
        assert_eq!(
            request.headers.get("x-kit-api-key").unwrap(),
            SANDBOX_API_KEY
        );
        assert!(!request.url.as_str().contains(SANDBOX_API_KEY));
    }
}

#[tokio::test]
async fn bulk_upserts_report_each_contact_on_both_entries() {
    use junction_conformance::TokenTable;
    use junction_core::fake::TokenStatus;

    let input = json!({"subscribers": [
        {"email_address": "lin@example.org", "first_name": "Lin", "fields": {"surname": "Wu", "org": "Acme"}},
        {"email_address": "not-an-address"},
        {"email_address": "max@example.org", "state": "inactive"}
    ]});
    // The key entry: one upsert per subscriber (Kit's bulk endpoints refuse keys).
    let (_server, ctx, conn) = start().await;
    let outcome = act(&ctx, &conn, "bulk_upsert_subscribers", input.clone(), None)
        .await
        .unwrap();
    let statuses = |outcome: &junction_core::ActionOutcome| -> Vec<String> {
        outcome.output["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(statuses(&outcome), ["created", "failed", "created"]);
    assert_eq!(
        outcome.output["results"][0]["subscriber"]["fields"]["last_name"],
        "Wu"
    );
    assert_eq!(
        outcome.output["results"][1]["errors"],
        json!(["Email address is invalid"])
    );
    // A retry changes nothing twice.
    let again = act(&ctx, &conn, "bulk_upsert_subscribers", input.clone(), None)
        .await
        .unwrap();
    assert_eq!(statuses(&again), ["updated", "failed", "updated"]);
    assert_eq!(
        again.output["results"][0]["id"],
        outcome.output["results"][0]["id"]
    );

    // The OAuth entry: Kit's bulk endpoint.
    let tokens = TokenTable::default().with(
        "good",
        TokenStatus::Valid {
            scopes: vec![junction_kit::OAUTH_SCOPE.into()],
        },
    );
    let server = FakeServer::start(Arc::new(KitFake::oauth()), tokens).await;
    let ctx = server.context();
    let conn = crate::support::oauth_connection(
        Some("good"),
        json!({"field_map": "surname:last_name, org:company"}),
    );
    let outcome = Kit::oauth()
        .act(&ctx, &conn, "bulk_upsert_subscribers", &input, None)
        .await
        .unwrap();
    // The first has custom fields: the single upsert (a bulk entry has none).
    assert_eq!(statuses(&outcome), ["created", "failed", "upserted"]);
    assert_eq!(
        (&outcome.output["succeeded"], &outcome.output["failed"]),
        (&json!(2), &json!(1))
    );
    let requests = server.requests().await;
    assert!(
        requests
            .iter()
            .any(|r| r.url.path() == "/kit-oauth/v4/bulk/subscribers")
    );
    let (records, _, _) = {
        let page = Kit::oauth()
            .read(
                &ctx,
                &conn,
                &junction_core::ReadRequest {
                    stream: "subscribers".into(),
                    cursor: None,
                    page_size: Some(1000),
                },
            )
            .await
            .unwrap();
        (page.records, (), ())
    };
    let lin = records
        .iter()
        .find(|r| r.data["email_address"] == "lin@example.org")
        .unwrap();
    assert_eq!(lin.data["fields"]["company"], "Acme");
}

#[tokio::test]
async fn tags_are_created_once_and_removed_once() {
    let (_server, ctx, conn) = start().await;
    let created = act(
        &ctx,
        &conn,
        "create_tag",
        json!({"name": "Beta testers"}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(created.output["created"], true);
    let again = act(
        &ctx,
        &conn,
        "create_tag",
        json!({"name": "beta TESTERS"}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (&again.output["created"], &again.external_id),
        (&json!(false), &created.external_id)
    );
    let tag_id: u64 = created.external_id.unwrap().parse().unwrap();
    let (tags, _, _) = read_all(&ctx, &conn, "tags", None).await;
    assert!(tags.iter().any(|t| t.data["name"] == "Beta testers"));

    act(
        &ctx,
        &conn,
        "add_subscriber",
        json!({"email_address": "bo@example.org"}),
        None,
    )
    .await
    .unwrap();
    let member = json!({"tag_id": tag_id, "email_address": "bo@example.org"});
    act(&ctx, &conn, "tag_subscriber", member.clone(), None)
        .await
        .unwrap();
    let (_, kpis, _) = read_all(&ctx, &conn, "tags", None).await;
    let id = tag_id.to_string();
    assert_eq!(
        kpi_for(&kpis, "tag_subscribers", ("tag_id", &id)),
        Some(1.0)
    );
    let removed = act(
        &ctx,
        &conn,
        "remove_tag_from_subscriber",
        member.clone(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(removed.output["removed"], true);
    let (_, kpis, _) = read_all(&ctx, &conn, "tags", None).await;
    assert_eq!(
        kpi_for(&kpis, "tag_subscribers", ("tag_id", &id)),
        Some(0.0)
    );
    // The subscriber no longer has the tag: Kit's 404, named on tag_id.
    let err = act(&ctx, &conn, "remove_tag_from_subscriber", member, None)
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "tag_id"));
}

#[tokio::test]
async fn unsubscribing_cancels_the_subscriber_once() {
    let (_server, ctx, conn) = start().await;
    let added = act(
        &ctx,
        &conn,
        "add_subscriber",
        json!({"email_address": "cy@example.org"}),
        None,
    )
    .await
    .unwrap();
    let by_email = json!({"email_address": "cy@example.org"});
    let first = act(&ctx, &conn, "unsubscribe", by_email.clone(), None)
        .await
        .unwrap();
    assert_eq!(first.output["already_unsubscribed"], false);
    assert_eq!(first.external_id, added.external_id);
    let again = act(&ctx, &conn, "unsubscribe", by_email, None)
        .await
        .unwrap();
    assert_eq!(again.output["already_unsubscribed"], true);
    let (subscribers, _, _) = read_all(&ctx, &conn, "subscribers", None).await;
    let cy = subscribers
        .iter()
        .find(|r| r.data["email_address"] == "cy@example.org")
        .unwrap();
    assert_eq!(cy.data["state"], "cancelled");
    // By id Kit answers the same again; an unknown id is Kit's 404.
    let id: u64 = added.external_id.unwrap().parse().unwrap();
    act(
        &ctx,
        &conn,
        "unsubscribe",
        json!({"subscriber_id": id}),
        None,
    )
    .await
    .unwrap();
    let err = act(
        &ctx,
        &conn,
        "unsubscribe",
        json!({"subscriber_id": 99_999}),
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "subscriber_id"));
}

#[tokio::test]
async fn bulk_tagging_moves_the_counts_on_both_entries() {
    use junction_core::fake::TokenStatus;

    let input = json!({"taggings": [
        {"tag_id": 5, "subscriber_id": 1001},
        {"tag_id": 5, "subscriber_id": 99_999},
        {"tag_id": 77, "subscriber_id": 1001}
    ]});
    let (_server, ctx, conn) = start().await;
    let key = act(&ctx, &conn, "bulk_tag_subscribers", input.clone(), None)
        .await
        .unwrap();
    assert_eq!(key.output["failed"], 2);
    let tokens = TokenTable::default().with(
        "good",
        TokenStatus::Valid {
            scopes: vec![junction_kit::OAUTH_SCOPE.into()],
        },
    );
    let server = FakeServer::start(Arc::new(KitFake::oauth()), tokens).await;
    let (ctx, conn) = (
        server.context(),
        crate::support::oauth_connection(Some("good"), json!({})),
    );
    let outcome = Kit::oauth()
        .act(&ctx, &conn, "bulk_tag_subscribers", &input, None)
        .await
        .unwrap();
    let results = outcome.output["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], "tagged");
    assert_eq!(results[1]["errors"], json!(["Subscriber does not exist"]));
    assert_eq!(results[2]["errors"], json!(["Tag does not exist"]));
    // Again: nothing changes, nothing fails that did not before.
    let again = Kit::oauth()
        .act(&ctx, &conn, "bulk_tag_subscribers", &input, None)
        .await
        .unwrap();
    assert_eq!(again.output["failed"], 2);
}
