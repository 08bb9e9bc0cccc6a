//! Notification settings, the weekly report and the email suppression list through
//! the API: every field at fault named at once, the defaults a workspace starts
//! from, the preview in its three forms, the list paged and edited, and the
//! suppression list honoured by the actions that send email (Resend's `send_email`,
//! Stripe's receipts) with the run naming what it dropped.

use chrono::{NaiveDate, Utc};
use junction_core::KpiPoint;
use junction_store::{models::IntegrationStatus, repo};
use junction_testkit::{create_integration, create_workspace};
use serde_json::{Value, json};

use crate::{
    support::{TestApp, assert_problem},
    webhooks::{Worker, connect_stripe, wait_count},
};

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_settings_start_from_the_alert_rules_and_check_every_field() {
    let app = TestApp::spawn().await;
    let integration = create_integration(app.db.store(), app.workspace, "google-analytics").await;
    let rule = app
        .post("/v1/alerts")
        .json(&json!({
            "name": "Traffic", "integration_id": integration.id, "metric": "sessions",
            "condition": "below", "threshold": 1, "recipients": ["Watcher@Acme.example"]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(rule.status(), 201);

    let settings: Value = app
        .get("/v1/notification-settings")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(settings["configured"], false);
    assert_eq!(
        settings["recipients"]["sync_failed"],
        json!(["watcher@acme.example"])
    );
    assert_eq!(settings["delivery"], "immediate");
    assert_eq!(settings["next_digest_at"], Value::Null);

    let response = app
        .put("/v1/notification-settings")
        .json(&json!({
            "recipients": {"sync_failed": ["ops@acme.example", "not an address"]},
            "delivery": "weekly",
            "digest_hour": 24,
            "time_zone": "Mars/Olympus_Mons"
        }))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(
        fields(&problem),
        [
            "recipients.sync_failed[1]",
            "delivery",
            "digest_hour",
            "time_zone"
        ]
    );
    assert!(problem.to_string().contains("IANA time zone"), "{problem}");
    let unknown = app
        .put("/v1/notification-settings")
        .json(&json!({"recipients": {"alerts": []}}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 422);

    let saved: Value = app
        .put("/v1/notification-settings")
        .json(&json!({
            "recipients": {
                "sync_failed": [" Ops@Acme.example", "ops@acme.example"],
                "needs_reauth": ["owner@acme.example"]
            },
            "delivery": "daily_digest",
            "digest_hour": 7,
            "time_zone": "America/New_York"
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(saved["configured"], true);
    assert_eq!(
        saved["recipients"],
        json!({
            "sync_failed": ["ops@acme.example"],
            "needs_reauth": ["owner@acme.example"],
            "dead_letter": []
        })
    );
    assert_eq!(saved["delivery"], "daily_digest");
    assert_eq!(saved["time_zone"], "America/New_York");
    let next: chrono::DateTime<Utc> = saved["next_digest_at"].as_str().unwrap().parse().unwrap();
    assert!(next > Utc::now() && next <= Utc::now() + chrono::Duration::days(1));
    // 07:00 in New York is 11:00 or 12:00 UTC (daylight saving time or not).
    assert!(
        matches!(next.format("%H:%M").to_string().as_str(), "11:00" | "12:00"),
        "{next}"
    );
    let read: Value = app
        .get("/v1/notification-settings")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read, saved);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_weekly_report_is_checked_against_the_providers_and_previews_its_email() {
    let app = TestApp::spawn().await;
    let report: Value = app
        .get("/v1/reports/weekly")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            &report["configured"],
            &report["enabled"],
            &report["weekday"]
        ),
        (&json!(false), &json!(false), &json!("monday"))
    );

    let response = app
        .put("/v1/reports/weekly")
        .json(&json!({
            "enabled": true,
            "recipients": ["not an address"],
            "weekday": "someday",
            "hour": -1,
            "time_zone": "Berlin",
            "metrics": ["sessions", "vibes"]
        }))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(
        fields(&problem),
        [
            "recipients[0]",
            "weekday",
            "hour",
            "time_zone",
            "metrics[1]"
        ]
    );

    let saved: Value = app
        .put("/v1/reports/weekly")
        .json(&json!({
            "enabled": true,
            "recipients": ["CFO@acme.example"],
            "weekday": "Friday",
            "hour": 17,
            "time_zone": "Europe/Berlin",
            "metrics": ["sessions", "gross_revenue", "sessions"]
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(saved["weekday"], "friday");
    assert_eq!(saved["recipients"], json!(["cfo@acme.example"]));
    assert_eq!(saved["metrics"], json!(["sessions", "gross_revenue"]));
    let next: chrono::DateTime<Utc> = saved["next_send_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(next.format("%A").to_string(), "Friday");
    assert!(next > Utc::now() && next <= Utc::now() + chrono::Duration::days(7));

    // Data of the last whole week, by the real clock.
    let integration = create_integration(app.db.store(), app.workspace, "google-analytics").await;
    let last_week = Utc::now()
        .date_naive()
        .week(chrono::Weekday::Mon)
        .first_day()
        - chrono::Duration::days(7);
    let points: Vec<KpiPoint> = (0..7)
        .map(|i| KpiPoint::total("sessions", last_week + chrono::Duration::days(i), 10.0))
        .collect();
    let mut tx = app.db.store().begin(app.workspace).await.unwrap();
    repo::kpis::upsert(
        tx.conn(),
        app.workspace,
        integration.id,
        "daily_report",
        &points,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let preview: Value = app
        .get("/v1/reports/weekly/preview")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let week_start: NaiveDate = preview["week_start"].as_str().unwrap().parse().unwrap();
    // Berlin and UTC can disagree about today only around midnight.
    assert!(
        week_start == last_week || week_start == last_week + chrono::Duration::days(7),
        "{preview}"
    );
    assert_eq!(preview["recipients"], json!(["cfo@acme.example"]));
    if week_start == last_week {
        let text = preview["text"].as_str().unwrap();
        assert!(
            text.contains("/ sessions: 70 (previous week –, –)"),
            "{text}"
        );
    }
    assert!(
        preview["subject"]
            .as_str()
            .unwrap()
            .contains("Weekly KPI report")
    );

    let html = app
        .get("/v1/reports/weekly/preview?format=html")
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), 200);
    assert_eq!(
        html.headers()["content-type"].to_str().unwrap(),
        "text/html; charset=utf-8"
    );
    assert!(html.text().await.unwrap().starts_with("<!DOCTYPE html>"));
    let text = app
        .get("/v1/reports/weekly/preview?format=text")
        .send()
        .await
        .unwrap();
    assert_eq!(
        text.headers()["content-type"].to_str().unwrap(),
        "text/plain; charset=utf-8"
    );
    assert!(text.text().await.unwrap().starts_with("KPIs of "));
    let refused = app
        .get("/v1/reports/weekly/preview?format=pdf")
        .send()
        .await
        .unwrap();
    assert!(refused.status().is_client_error());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suppression_list_is_paged_edited_and_kept_per_workspace() {
    let app = TestApp::spawn().await;
    for address in ["a@acme.example", "b@acme.example", "c@acme.example"] {
        let response = app
            .post("/v1/email-suppressions")
            .json(&json!({"address": address, "reason": "asked to stop"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        assert_eq!(
            response.headers()["location"].to_str().unwrap(),
            format!("/v1/email-suppressions/{address}")
        );
    }
    // Already there: the first reason stays.
    let again = app
        .post("/v1/email-suppressions")
        .json(&json!({"address": " B@ACME.example "}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    let entry: Value = again.json().await.unwrap();
    assert_eq!(
        (&entry["address"], &entry["reason"]),
        (&json!("b@acme.example"), &json!("asked to stop"))
    );
    let response = app
        .post("/v1/email-suppressions")
        .json(&json!({"address": "Someone <x@acme.example>", "reason": "two\nlines"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(fields(&problem), ["address", "reason"]);

    let mut seen = Vec::new();
    let mut path = "/v1/email-suppressions?limit=2".to_owned();
    loop {
        let page: Value = app.get(&path).send().await.unwrap().json().await.unwrap();
        for entry in page["data"].as_array().unwrap() {
            seen.push(entry["address"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/email-suppressions?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["a@acme.example", "b@acme.example", "c@acme.example"]);

    // Another workspace has its own list.
    let (other, key) = create_workspace(app.db.store(), "Other").await;
    let theirs: Value = app
        .client
        .get(format!("{}/v1/email-suppressions", app.url))
        .bearer_auth(secrecy::ExposeSecret::expose_secret(&key))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["data"], json!([]), "{other}");

    let removed = app
        .delete("/v1/email-suppressions/B@acme.example")
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    let gone = app
        .delete("/v1/email-suppressions/b@acme.example")
        .send()
        .await
        .unwrap();
    assert_problem(gone, 404, "email_suppression_not_found").await;
    assert_eq!(
        app.count("SELECT count(*) AS n FROM email_suppressions")
            .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_that_send_email_skip_suppressed_recipients_and_say_which() {
    let app = TestApp::spawn().await;
    // Resend as the sandbox's catalog connects it (its sender's domain is verified).
    let catalog = app.catalog().await;
    let resend = app
        .connect_from_catalog(catalog.provider("resend").unwrap())
        .await;
    let stripe = connect_stripe(&app).await;
    let added = app
        .post("/v1/email-suppressions")
        .json(&json!({"address": "bounced@acme.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);

    let response = app
        .post(&format!("/v1/integrations/{resend}/actions/send_email"))
        .json(&json!({
            "to": ["ops@acme.example", "bounced@acme.example"],
            "subject": "Numbers",
            "text": "Attached."
        }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let run: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{run}");
    assert_eq!(
        run["suppressed_recipients"],
        json!(["bounced@acme.example"])
    );
    assert_eq!(run["input"]["to"], json!(["ops@acme.example"]));
    assert_eq!(run["status"], "succeeded");

    let response = app
        .post(&format!("/v1/integrations/{resend}/actions/send_email"))
        .json(&json!({"to": "Bounced <BOUNCED@acme.example>", "subject": "Hi", "text": "x"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "recipients_suppressed").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("`to`"),
        "{problem}"
    );

    // Stripe mails a payment's receipt to `receipt_email`: the payment goes
    // through, without the receipt to a suppressed address.
    let response = app
        .post(&format!(
            "/v1/integrations/{stripe}/actions/create_payment_intent"
        ))
        .json(&json!({
            "amount": 1099,
            "currency": "usd",
            "receipt_email": "bounced@acme.example"
        }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let run: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{run}");
    assert_eq!(
        run["suppressed_recipients"],
        json!(["bounced@acme.example"])
    );
    assert!(run["input"].get("receipt_email").is_none(), "{run}");
    let intent: Value = app
        .client
        .get(format!(
            "{}stripe/v1/payment_intents/{}",
            app.sandbox.url,
            run["external_id"].as_str().unwrap()
        ))
        .bearer_auth("sk_test_sandbox")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(intent["receipt_email"], Value::Null, "{intent}");
    assert_eq!(intent["amount"], 1099);
}

/// SendGrid's `send_mail` with personalizations: each one's `to`, `cc` and `bcc`
/// lose their suppressed addresses before SendGrid sees the request (its Email
/// Activity shows no message to them), and a personalization left without a `to`
/// refuses the whole send, named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sendgrid_personalizations_drop_suppressed_recipients_end_to_end() {
    let app = TestApp::spawn().await;
    let catalog = app.catalog().await;
    let entry = catalog.provider("sendgrid").unwrap();
    let sendgrid = app.connect_from_catalog(entry).await;
    let key = entry.connect.credentials["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = entry.base_url.clone().unwrap();
    let messages_to = |address: &str| {
        let url = format!("{base}v3/messages?limit=100&query=to_email%3D%22{address}%22");
        let request = app.client.get(url).bearer_auth(&key);
        async move {
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            body["messages"].as_array().unwrap().len()
        }
    };
    let added = app
        .post("/v1/email-suppressions")
        .json(&json!({"address": "bounced@acme.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let path = format!("/v1/integrations/{sendgrid}/actions/send_mail");

    let response = app
        .post(&path)
        .json(&json!({
            "subject": "Numbers",
            "text": "Attached.",
            "personalizations": [
                {"to": ["ops@acme.example", "Bounced <BOUNCED@acme.example>"],
                 "cc": ["bounced@acme.example"]},
                {"to": ["cfo@acme.example"], "bcc": ["bounced@acme.example", "audit@acme.example"]},
            ],
        }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let run: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{run}");
    assert_eq!(
        run["suppressed_recipients"],
        json!(["Bounced <BOUNCED@acme.example>", "bounced@acme.example"])
    );
    assert_eq!(
        run["input"]["personalizations"],
        json!([
            {"to": ["ops@acme.example"]},
            {"to": ["cfo@acme.example"], "bcc": ["audit@acme.example"]},
        ])
    );
    // The fake's Email Activity lists each message per `to` recipient.
    for address in ["ops@acme.example", "cfo@acme.example"] {
        assert_eq!(messages_to(address).await, 1, "{address}");
    }
    assert_eq!(messages_to("bounced@acme.example").await, 0);

    // A personalization whose only `to` is suppressed: nothing goes out.
    let response = app
        .post(&path)
        .json(&json!({
            "subject": "Numbers",
            "text": "Again.",
            "personalizations": [
                {"to": ["ops@acme.example"]},
                {"to": ["bounced@acme.example"]},
            ],
        }))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "recipients_suppressed").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("`personalizations[1].to`"),
        "{problem}"
    );
    assert_eq!(messages_to("ops@acme.example").await, 1, "not sent again");
}

/// Stripe emails an invoice collected by `send_invoice` to its customer, an address
/// the input does not hold: the adapter reads it before the run and a suppressed one
/// refuses the action (Stripe cannot be told to leave it out), nothing done at
/// Stripe. An invoice nobody is mailed for goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_invoices_are_not_emailed_to_a_suppressed_customer() {
    let app = TestApp::spawn().await;
    let stripe = connect_stripe(&app).await;
    let act = |action: &str, input: Value| {
        app.post(&format!("/v1/integrations/{stripe}/actions/{action}"))
            .json(&input)
            .send()
    };
    let done = |response: reqwest::Response| async move {
        let status = response.status();
        let run: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{run}");
        run["external_id"].as_str().unwrap().to_owned()
    };
    let refused = |response: reqwest::Response| async move {
        let problem = assert_problem(response, 422, "recipients_suppressed").await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("the address the provider emails (the"),
            "{problem}"
        );
    };
    let customer = done(
        act(
            "create_customer",
            json!({"email": "Billing@Bounced.example", "name": "Bounced Ltd"}),
        )
        .await
        .unwrap(),
    )
    .await;
    let added = app
        .post("/v1/email-suppressions")
        .json(&json!({"address": "billing@bounced.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);

    // Stripe would finalize this draft in an hour and email it.
    let by_email = json!({
        "customer": customer, "collection_method": "send_invoice", "days_until_due": 30,
    });
    let mut advancing = by_email.clone();
    advancing["auto_advance"] = json!(true);
    refused(act("create_invoice", advancing).await.unwrap()).await;
    // Each of its invoices would be emailed.
    refused(
        act(
            "create_subscription",
            json!({
                "customer": customer, "collection_method": "send_invoice", "days_until_due": 30,
                "items": [{"price": "price_sandbox_starter_monthly"}],
            }),
        )
        .await
        .unwrap(),
    )
    .await;

    // A draft left alone, finalized without auto-advancing: nobody is mailed.
    let invoice = done(act("create_invoice", by_email).await.unwrap()).await;
    let mut finalize = json!({"invoice": invoice, "auto_advance": true});
    refused(act("finalize_invoice", finalize.clone()).await.unwrap()).await;
    finalize["auto_advance"] = json!(false);
    done(act("finalize_invoice", finalize).await.unwrap()).await;
    // Sending it mails the customer.
    refused(
        act("send_invoice", json!({"invoice": invoice}))
            .await
            .unwrap(),
    )
    .await;
    let runs: Value = app
        .get(&format!("/v1/integrations/{stripe}/action-runs?limit=100"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = runs["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["finalize_invoice", "create_invoice", "create_customer"],
        "only what mails nobody ran"
    );

    // Queued, the worker reads the customer before the attempt: the run ends
    // failed, nothing sent.
    let worker = Worker::start(&app).await;
    let response = app
        .post(&format!(
            "/v1/integrations/{stripe}/actions/send_invoice?async=true"
        ))
        .json(&json!({"invoice": invoice}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let queued: Value = response.json().await.unwrap();
    wait_count(
        &app,
        &format!(
            "SELECT count(*) AS n FROM action_runs WHERE id = '{}' AND status = 'failed' \
             AND error_code = 'recipients_suppressed'",
            queued["id"].as_str().unwrap()
        ),
        1,
    )
    .await;
    worker.stop().await;

    // Off the list, the invoice goes out.
    let removed = app
        .delete("/v1/email-suppressions/billing@bounced.example")
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    done(
        act("send_invoice", json!({"invoice": invoice}))
            .await
            .unwrap(),
    )
    .await;
}

/// Mailchimp mails a double opt-in confirmation to a contact made `pending`: that
/// upsert is screened (and refused, the contact needing its address), while the
/// same address upserted as `subscribed` gets no email and is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_in_confirmation_to_a_suppressed_address_is_refused() {
    let app = TestApp::spawn().await;
    let catalog = app.catalog().await;
    let mailchimp = app
        .connect_from_catalog(catalog.provider("mailchimp").unwrap())
        .await;
    let added = app
        .post("/v1/email-suppressions")
        .json(&json!({"address": "bounced@acme.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    // The sandbox's newsletter audience.
    let upsert = |status: &str, field: &str| json!({"audience_id": "b1f3a9c2d4", "email_address": "Bounced@Acme.example", field: status});
    let path = format!("/v1/integrations/{mailchimp}/actions/upsert_contact");

    for field in ["status", "status_if_new"] {
        let response = app
            .post(&path)
            .json(&upsert("pending", field))
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 422, "recipients_suppressed").await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("`email_address`"),
            "{problem}"
        );
    }
    let runs: Value = app
        .get(&format!("/v1/integrations/{mailchimp}/action-runs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(runs["data"], json!([]), "nothing was run");

    let response = app
        .post(&path)
        .json(&upsert("subscribed", "status"))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let run: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["suppressed_recipients"], json!([]));
    assert_eq!(run["input"]["email_address"], "Bounced@Acme.example");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integration_that_lost_its_grant_shows_it_in_its_health() {
    let app = TestApp::spawn().await;
    let integration = create_integration(app.db.store(), app.workspace, "google-analytics").await;
    let mut tx = app.db.store().begin(app.workspace).await.unwrap();
    repo::integrations::record_health(
        tx.conn(),
        integration.id,
        junction_store::models::Health::Healthy,
        None,
    )
    .await
    .unwrap();
    repo::integrations::set_status(
        tx.conn(),
        integration.id,
        IntegrationStatus::NeedsReauth,
        Some((
            "integration_needs_reauth",
            "The provider rejected the refresh token (invalid_grant).",
        )),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let body: Value = app
        .get(&format!("/v1/integrations/{}", integration.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "needs_reauth");
    assert_eq!(body["health"]["status"], "needs_reauth", "{body}");
    assert_eq!(
        body["health"]["message"],
        "The provider rejected the refresh token (invalid_grant)."
    );
    assert!(body["health"]["checked_at"].is_string());
}
