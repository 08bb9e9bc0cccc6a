//! The adapter against the crate's own fake, served the way the sandbox serves it
//! (under `/mailchimp/`): full syncs with consistent KPIs, upserts that are
//! idempotent and show up in the next incremental sync, bulk sync through a batch
//! whose results come back as a real tar.gz archive, and refusals.

use std::{collections::BTreeMap, sync::Arc};

use junction_conformance::{FakeServer, TokenTable};
use junction_core::{
    Adapter, AdapterError, Connection, Context, KpiPoint, Page, Record, fake::Fault,
};
use junction_mailchimp::{
    AUDIENCES, BULK_SYNC_CONTACTS, MEMBERS, Mailchimp, UPSERT_CONTACT,
    sandbox::{DISABLED_API_KEY, MailchimpFake, NEWSLETTER_AUDIENCE, SANDBOX_API_KEY},
    subscriber_hash,
};
use serde_json::{Value, json};

use crate::support::{connection_with, read_request};

async fn start() -> FakeServer {
    FakeServer::start(Arc::new(MailchimpFake::default()), TokenTable::default()).await
}

fn good() -> Connection {
    connection_with(SANDBOX_API_KEY)
}

/// Reads a stream to its end from `cursor`: records, KPI points, final cursor.
async fn sync(
    ctx: &Context,
    stream: &str,
    mut cursor: Option<Value>,
) -> (Vec<Record>, Vec<KpiPoint>, Option<Value>) {
    let (mut records, mut kpis) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        let Page {
            records: page_records,
            kpis: page_kpis,
            next_cursor,
            has_more,
        } = Mailchimp::default()
            .read(
                ctx,
                &good(),
                &read_request(stream, cursor.clone(), Some(25)),
            )
            .await
            .unwrap();
        records.extend(page_records);
        kpis.extend(page_kpis);
        cursor = next_cursor;
        if !has_more {
            return (records, kpis, cursor);
        }
    }
    panic!("{stream} did not end");
}

fn kpi_sum(kpis: &[KpiPoint], metric: &str, audience: &str) -> f64 {
    kpis.iter()
        .filter(|p| p.metric == metric && p.dimensions["audience_id"] == audience)
        .map(|p| p.value)
        .sum()
}

#[tokio::test]
async fn kpis_agree_with_the_members_read() {
    let server = start().await;
    let ctx = server.context();
    let (audiences, audience_kpis, _) = sync(&ctx, AUDIENCES, None).await;
    assert_eq!(audiences.len(), 4);
    let (members, member_kpis, _) = sync(&ctx, MEMBERS, None).await;
    assert_eq!(members.len(), 64 + 37 + 6);

    let mut by_audience: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
    for member in &members {
        by_audience
            .entry(member.data["list_id"].as_str().unwrap())
            .or_default()
            .push(member);
        assert!(
            member
                .external_id
                .ends_with(member.data["id"].as_str().unwrap())
        );
        assert!(member.modified_at.is_some());
    }
    for audience in &audiences {
        let id = audience.external_id.as_str();
        let members = by_audience.get(id).cloned().unwrap_or_default();
        let with_status = |status: &str| {
            members
                .iter()
                .filter(|m| m.data["status"] == status)
                .count() as f64
        };
        assert_eq!(
            kpi_sum(&audience_kpis, "member_count", id),
            with_status("subscribed"),
            "{id}"
        );
        assert_eq!(
            kpi_sum(&audience_kpis, "unsubscribe_count", id),
            with_status("unsubscribed")
        );
        assert_eq!(
            kpi_sum(&audience_kpis, "cleaned_count", id),
            with_status("cleaned")
        );
        // Every seeded opt-in is within the first pass's 30 days.
        let opted_in = members
            .iter()
            .filter(|m| m.data["timestamp_opt"] != "")
            .count() as f64;
        assert_eq!(kpi_sum(&member_kpis, "new_members", id), opted_in, "{id}");
        assert_eq!(
            member_kpis
                .iter()
                .filter(|p| p.dimensions["audience_id"] == id)
                .count(),
            30
        );
    }
}

#[tokio::test]
async fn upserts_are_idempotent_and_reach_the_next_incremental_sync() {
    let server = start().await;
    let ctx = server.context();
    let (_, _, cursor) = sync(&ctx, MEMBERS, None).await;
    let input = json!({
        "audience_id": NEWSLETTER_AUDIENCE,
        "email_address": "New.Person@Example.com",
        "merge_fields": {"FNAME": "New", "LNAME": "Person"},
        "tags": ["webinar"]
    });
    let first = Mailchimp::default()
        .act(&ctx, &good(), UPSERT_CONTACT, &input, Some("k1"))
        .await
        .unwrap();
    let hash = subscriber_hash("new.person@example.com");
    assert_eq!(first.external_id.as_deref(), Some(hash.as_str()));
    assert_eq!(first.output["status"], "subscribed");
    // The same action again changes nothing.
    let again = Mailchimp::default()
        .act(&ctx, &good(), UPSERT_CONTACT, &input, Some("k1"))
        .await
        .unwrap();
    assert_eq!(again.external_id, first.external_id);
    let (audiences, kpis, _) = sync(&ctx, AUDIENCES, None).await;
    assert_eq!(audiences.len(), 4);
    let newsletter_members = kpi_sum(&kpis, "member_count", NEWSLETTER_AUDIENCE);

    let (changed, new_members, _) = sync(&ctx, MEMBERS, cursor).await;
    let record = changed
        .iter()
        .find(|r| r.external_id == format!("{NEWSLETTER_AUDIENCE}:{hash}"))
        .expect("the upserted member is read again");
    assert_eq!(record.data["tags"][0]["name"], "webinar");
    assert_eq!(record.data["merge_fields"]["FNAME"], "New");
    assert!(
        changed.len() < 10,
        "only changes are read: {}",
        changed.len()
    );
    let today = ctx.now().date_naive();
    let today_new: f64 = new_members
        .iter()
        .filter(|p| p.date == today && p.dimensions["audience_id"] == NEWSLETTER_AUDIENCE)
        .map(|p| p.value)
        .sum();
    assert_eq!(today_new, 1.0);

    // An update keeps the member count.
    Mailchimp::default()
        .act(
            &ctx,
            &good(),
            UPSERT_CONTACT,
            &json!({"audience_id": NEWSLETTER_AUDIENCE, "email_address": "new.person@example.com", "merge_fields": {"LNAME": "Renamed"}}),
            None,
        )
        .await
        .unwrap();
    let (_, kpis, _) = sync(&ctx, AUDIENCES, None).await;
    assert_eq!(
        kpi_sum(&kpis, "member_count", NEWSLETTER_AUDIENCE),
        newsletter_members
    );
}

#[tokio::test]
async fn refusals_of_the_fake_are_classified() {
    let server = start().await;
    let ctx = server.context();
    let err = Mailchimp::default()
        .act(
            &ctx,
            &good(),
            UPSERT_CONTACT,
            &json!({"audience_id": NEWSLETTER_AUDIENCE, "email_address": "someone@example.invalid"}),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, AdapterError::Invalid { field: Some(ref f), .. } if f == "email_address"),
        "{err:?}"
    );
    let err = Mailchimp::default()
        .act(
            &ctx,
            &good(),
            UPSERT_CONTACT,
            &json!({"audience_id": "0000000000", "email_address": "a@example.com"}),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, AdapterError::Invalid { field: Some(ref f), .. } if f == "audience_id"),
        "{err:?}"
    );
    let err = Mailchimp::default()
        .check(&ctx, &connection_with(DISABLED_API_KEY))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AdapterError::Unauthorized {
                refreshable: false,
                ..
            }
        ),
        "{err:?}"
    );
    server.arm(Fault::RateLimited {
        retry_after_secs: 3,
    });
    let err = Mailchimp::default()
        .act(
            &ctx,
            &good(),
            UPSERT_CONTACT,
            &json!({"audience_id": NEWSLETTER_AUDIENCE, "email_address": "a@example.com"}),
            None,
        )
        .await
        .unwrap_err();
    // Mailchimp's 429 carries no Retry-After.
    assert_eq!(err, AdapterError::RateLimited { retry_after: None });
}

#[tokio::test]
async fn bulk_sync_reports_per_contact_failures_from_the_archive() {
    let server = start().await;
    let ctx = server.context();
    let outcome = Mailchimp::default()
        .act(
            &ctx,
            &good(),
            BULK_SYNC_CONTACTS,
            &json!({
                "audience_id": NEWSLETTER_AUDIENCE,
                "contacts": [
                    {"email_address": "bulk.one@example.com", "merge_fields": {"FNAME": "Bulk"}, "tags": ["imported"]},
                    {"email_address": "bulk.two@example.invalid"},
                    {"email_address": "bulk.three@example.com", "merge_fields": {"BIRTHDAY": "13/45"}},
                    {"email_address": "ada.lovelace@example.com", "status": "unsubscribed"}
                ]
            }),
            None,
        )
        .await
        .unwrap();
    let output = &outcome.output;
    assert_eq!(output["status"], "finished", "{output}");
    assert_eq!(output["total_operations"], 5);
    assert_eq!(output["errored_operations"], 2);
    assert_eq!(output["contacts"], 4);
    assert_eq!(output["succeeded"], 2);
    let failed: Vec<(&str, &str)> = output["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["email_address"].as_str().unwrap(),
                f["detail"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        [
            (
                "bulk.two@example.invalid",
                "bulk.two@example.invalid looks fake or invalid, please enter a real email address."
            ),
            (
                "bulk.three@example.com",
                "Your merge fields were invalid.; BIRTHDAY: Please enter a complete date"
            ),
        ]
    );
    // The archive was fetched from the fake's storage path, without the API key.
    let requests = server.requests().await;
    let download = requests
        .iter()
        .find(|r| r.url.path().contains("/batch-results/"))
        .unwrap();
    assert!(download.headers.get("authorization").is_none());

    // The successful operations took effect.
    let (members, _, _) = sync(&ctx, MEMBERS, None).await;
    let find = |email: &str| {
        members
            .iter()
            .find(|r| r.external_id == format!("{NEWSLETTER_AUDIENCE}:{}", subscriber_hash(email)))
    };
    assert_eq!(
        find("bulk.one@example.com").unwrap().data["tags"][0]["name"],
        "imported"
    );
    assert_eq!(
        find("ada.lovelace@example.com").unwrap().data["status"],
        "unsubscribed"
    );
    assert!(find("bulk.two@example.invalid").is_none());
}
