//! The adapter against the crate's own Resend fake, served through wiremock the way
//! the sandbox serves it (under `/resend/`): sending with idempotency keys, batches,
//! delivery status, metrics that agree with the emails, webhooks from sent emails to
//! suppressions, restricted keys and faults on every call.

use std::{collections::BTreeMap, sync::Arc};

use chrono::{NaiveDate, Utc};
use junction_conformance::{FakeServer, TokenTable};
use junction_core::{
    Adapter, AdapterError, Connection, Context, FixedClock, Page, ReadRequest, Record, fake::Fault,
    webhook::WebhookRequest,
};
use junction_resend::{
    Resend,
    sandbox::{
        BOUNCED_ADDRESS, COMPLAINED_ADDRESS, ResendFake, SANDBOX_API_KEY, SANDBOX_SENDER,
        SANDBOX_SENDING_KEY, SANDBOX_WEBHOOK_SECRET,
    },
};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::support::connection_with_key;

async fn start() -> (Arc<ResendFake>, FakeServer) {
    let fake = Arc::new(ResendFake::default());
    let server = FakeServer::start(fake.clone(), TokenTable::default()).await;
    (fake, server)
}

fn sandbox_connection() -> Connection {
    connection_with_key(
        SANDBOX_API_KEY,
        json!({"from": SANDBOX_SENDER, "lookback_days": 30}),
    )
}

async fn read_all(ctx: &Context, conn: &Connection, stream: &str) -> (Vec<Record>, Vec<Page>) {
    let mut cursor = None;
    let mut records = Vec::new();
    let mut pages = Vec::new();
    loop {
        let page = Resend
            .read(
                ctx,
                conn,
                &ReadRequest {
                    stream: stream.into(),
                    cursor: cursor.clone(),
                    page_size: Some(40),
                },
            )
            .await
            .unwrap();
        records.extend(page.records.clone());
        cursor = page.next_cursor.clone();
        let more = page.has_more;
        pages.push(page);
        if !more {
            return (records, pages);
        }
    }
}

#[tokio::test]
async fn a_retried_send_with_the_same_key_sends_once() {
    let (fake, server) = start().await;
    let ctx = server.context();
    let conn = sandbox_connection();
    let input =
        json!({"to": "maria@customer.example", "subject": "KPI alert", "text": "Sessions dropped"});

    // The first answer is lost on the way back, after Resend accepted the email.
    server.arm(Fault::MalformedBody);
    let lost = Resend
        .act(&ctx, &conn, "send_email", &input, Some("alert/7"))
        .await
        .unwrap_err();
    assert!(matches!(lost, AdapterError::Unavailable { .. }), "{lost:?}");
    assert_eq!(fake.sent_emails().len(), 1);

    // The retry carries the same key: Resend answers with the first email's id.
    let first = Resend
        .act(&ctx, &conn, "send_email", &input, Some("alert/7"))
        .await
        .unwrap();
    let again = Resend
        .act(&ctx, &conn, "send_email", &input, Some("alert/7"))
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(fake.sent_emails().len(), 1);
    assert_eq!(
        first.external_id.as_deref(),
        fake.sent_emails()[0]["id"].as_str()
    );

    // Another request under the same key is refused as bad input.
    let other = json!({"to": "li.wei@customer.example", "subject": "KPI alert", "text": "x"});
    let err = Resend
        .act(&ctx, &conn, "send_email", &other, Some("alert/7"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == "idempotency_key"),
        "{err:?}"
    );
    // Without a key every call sends.
    Resend
        .act(&ctx, &conn, "send_email", &input, None)
        .await
        .unwrap();
    Resend
        .act(&ctx, &conn, "send_email", &input, None)
        .await
        .unwrap();
    assert_eq!(fake.sent_emails().len(), 3);
}

#[tokio::test]
async fn batches_send_once_per_key_and_show_up_with_their_status() {
    let (fake, server) = start().await;
    let ctx = server.context();
    let conn = sandbox_connection();
    let input = json!({"emails": [
        {"to": "sam@partner.example", "subject": "Weekly KPI report", "text": "..."},
        {"to": BOUNCED_ADDRESS, "subject": "Weekly KPI report", "text": "..."},
        {"to": [COMPLAINED_ADDRESS], "subject": "Weekly KPI report", "html": "<p>...</p>"}
    ]});
    let sent = Resend
        .act(&ctx, &conn, "send_batch", &input, Some("weekly/2026-11"))
        .await
        .unwrap();
    let again = Resend
        .act(&ctx, &conn, "send_batch", &input, Some("weekly/2026-11"))
        .await
        .unwrap();
    assert_eq!(sent, again);
    assert_eq!(fake.sent_emails().len(), 3);
    let ids: Vec<String> = sent.output["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();

    let mut statuses = Vec::new();
    for id in &ids {
        let email = Resend
            .act(&ctx, &conn, "get_email", &json!({"email_id": id}), None)
            .await
            .unwrap();
        statuses.push(email.output["last_event"].as_str().unwrap().to_owned());
    }
    assert_eq!(statuses, ["delivered", "bounced", "complained"]);

    // The newest emails lead the `emails` stream.
    let (records, _) = read_all(&ctx, &conn, "emails").await;
    let newest: Vec<&str> = records[..3]
        .iter()
        .map(|r| r.external_id.as_str())
        .collect();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.reverse();
    assert_eq!(newest, expected);
}

#[tokio::test]
async fn an_unverified_sender_is_invalid_input() {
    let (_, server) = start().await;
    let err = Resend
        .act(
            &server.context(),
            &sandbox_connection(),
            "send_email",
            &json!({"from": "news@unverified.example", "to": "a@b.example", "subject": "S", "text": "t"}),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Invalid { field: Some(f), message } if f == "from" && message.contains("not verified")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_sending_only_key_sends_but_cannot_connect() {
    let (fake, server) = start().await;
    let ctx = server.context();
    let conn = connection_with_key(SANDBOX_SENDING_KEY, json!({"from": SANDBOX_SENDER}));
    Resend
        .act(
            &ctx,
            &conn,
            "send_email",
            &json!({"to": "a@b.example", "subject": "S", "text": "t"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(fake.sent_emails().len(), 1);
    let err = Resend.check(&ctx, &conn).await.unwrap_err();
    assert!(
        matches!(&err, AdapterError::Unauthorized { refreshable: false, message } if message.contains("Full access")),
        "{err:?}"
    );
}

#[tokio::test]
async fn daily_metrics_agree_with_the_emails() {
    let (_, server) = start().await;
    let ctx = server.context();
    let conn = sandbox_connection();
    let (emails, _) = read_all(&ctx, &conn, "emails").await;
    let (_, pages) = read_all(&ctx, &conn, "email_metrics").await;
    assert_eq!(pages.len(), 1);
    let kpis = &pages[0].kpis;

    let mut sent_per_day: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    let mut bounced_per_day: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    for email in &emails {
        let created = email.data["created_at"].as_str().unwrap();
        let day = NaiveDate::parse_from_str(&created[..10], "%Y-%m-%d").unwrap();
        *sent_per_day.entry(day).or_default() += 1.0;
        if email.data["last_event"] == "bounced" {
            *bounced_per_day.entry(day).or_default() += 1.0;
        }
    }
    let today = Utc::now().date_naive();
    // Days fully inside both windows (the emails horizon is to the second).
    let comparable: Vec<NaiveDate> = sent_per_day
        .keys()
        .copied()
        .filter(|day| *day > today - chrono::Duration::days(29))
        .collect();
    assert!(comparable.len() >= 25, "{}", comparable.len());
    for day in comparable {
        let kpi = |metric: &str| {
            kpis.iter()
                .find(|p| p.metric == metric && p.date == day)
                .map(|p| p.value)
                .unwrap()
        };
        assert_eq!(kpi("emails_sent"), sent_per_day[&day], "{day}");
        assert_eq!(
            kpi("emails_bounced"),
            bounced_per_day.get(&day).copied().unwrap_or(0.0),
            "{day}"
        );
    }
}

#[tokio::test]
async fn sent_emails_come_back_as_verified_webhooks_and_suppressions() {
    let (fake, server) = start().await;
    let ctx = server.context();
    let conn = sandbox_connection();
    let input = json!({"emails": [
        {"to": "ops@junction-demo.dev", "subject": "S", "text": "t"},
        {"to": BOUNCED_ADDRESS, "subject": "S", "text": "t"},
        {"to": COMPLAINED_ADDRESS, "subject": "S", "text": "t"}
    ]});
    Resend
        .act(&ctx, &conn, "send_batch", &input, None)
        .await
        .unwrap();

    let now = Utc::now();
    let hooks = fake.take_webhooks(now);
    let pinned = Context::new(reqwest::Client::new()).with_clock(Arc::new(FixedClock(now)));
    let secret = SecretString::from(SANDBOX_WEBHOOK_SECRET);
    let mut types = Vec::new();
    let mut suppressed = Vec::new();
    let mut last_status: BTreeMap<String, Value> = BTreeMap::new();
    for hook in &hooks {
        let headers = hook.header_map();
        let events = Resend
            .verify_webhook(
                &pinned,
                &secret,
                &WebhookRequest {
                    headers: &headers,
                    body: &hook.body,
                },
            )
            .unwrap();
        assert_eq!(Some(events[0].id.as_str()), hook.message_id());
        types.push(events[0].event_type.clone());
        let effects = Resend
            .apply_webhook(&pinned, &conn, &events[0])
            .await
            .unwrap();
        for record in effects.records {
            last_status.insert(
                record.record.external_id,
                record.record.data["last_event"].clone(),
            );
        }
        suppressed.extend(
            effects
                .suppressions
                .into_iter()
                .map(|s| (s.address, s.reason)),
        );
    }
    assert_eq!(
        types,
        [
            "email.sent",
            "email.delivered",
            "email.sent",
            "email.bounced",
            "email.sent",
            "email.delivered",
            "email.complained"
        ]
    );
    assert_eq!(
        suppressed,
        [
            (BOUNCED_ADDRESS.to_owned(), "bounce".to_owned()),
            (COMPLAINED_ADDRESS.to_owned(), "complaint".to_owned())
        ]
    );
    let statuses: Vec<&Value> = last_status.values().collect();
    assert_eq!(statuses.len(), 3);
    // The webhook statuses match what the API reports for the same emails.
    for email in fake.sent_emails() {
        assert_eq!(
            last_status[email["id"].as_str().unwrap()],
            email["last_event"]
        );
    }
    // A webhook signed for the sandbox does not verify under another secret.
    let headers = hooks[0].header_map();
    assert!(
        Resend
            .verify_webhook(
                &pinned,
                &SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
                &WebhookRequest {
                    headers: &headers,
                    body: &hooks[0].body
                }
            )
            .is_err()
    );
}

#[tokio::test]
async fn faults_are_classified_on_every_call() {
    let (_, server) = start().await;
    let ctx = server.context();
    let conn = sandbox_connection();
    let read = |stream: &'static str| {
        let ctx = ctx.clone();
        let conn = conn.clone();
        async move {
            Resend
                .read(
                    &ctx,
                    &conn,
                    &ReadRequest {
                        stream: stream.into(),
                        cursor: None,
                        page_size: None,
                    },
                )
                .await
        }
    };
    server.arm(Fault::RateLimited {
        retry_after_secs: 3,
    });
    assert_eq!(
        read("emails").await.unwrap_err(),
        AdapterError::RateLimited {
            retry_after: Some(std::time::Duration::from_secs(3))
        }
    );
    server.arm(Fault::QuotaExhausted);
    let err = Resend
        .act(
            &ctx,
            &conn,
            "send_email",
            &json!({"to": "a@b.example", "subject": "S", "text": "t"}),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err, AdapterError::QuotaExhausted { resets_at: None });
    server.arm(Fault::ServerError);
    assert!(matches!(
        read("domains").await,
        Err(AdapterError::Unavailable { .. })
    ));
    server.arm(Fault::MalformedBody);
    assert!(matches!(
        read("email_metrics").await,
        Err(AdapterError::Unavailable { .. })
    ));
    server.arm(Fault::ExpiredToken);
    assert!(matches!(
        read("emails").await,
        Err(AdapterError::Unauthorized {
            refreshable: false,
            ..
        })
    ));
    // Nothing stays armed.
    assert!(read("domains").await.is_ok());
}
