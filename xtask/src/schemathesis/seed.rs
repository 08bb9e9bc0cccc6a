//! The data a schemathesis run works on: made through the running API (and the
//! sandbox's published test credentials), the way a client would, before
//! schemathesis starts, so operations on `{id}` paths meet real resources instead of
//! only ever answering 404 to random UUIDs.
//!
//! A worker runs while the seeding does, so the sync, the queued action (refused by
//! the provider for good: a dead letter) and the webhook delivery finish;
//! [`Seeded::config`] then names the ids per operation in a `schemathesis.toml`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use chrono::Utc;
use junction_core::webhook::stripe;
use reqwest::{Client, RequestBuilder};
use secrecy::SecretString;
use serde_json::{Value, json};

/// The Stripe sandbox's published test values (not secrets: the sandbox accepts
/// them and nothing else does).
const STRIPE_KEY: &str = "sk_test_sandbox";
const STRIPE_WEBHOOK_SECRET: &str = "whsec_junctionsandbox";
/// A verify token for the Meta integration's subscription handshake.
const META_VERIFY_TOKEN: &str = "schemathesis-verify-token";
/// An id no resource has: what operations get that cannot be fuzzed against a live
/// resource without a check mistaking the API's right answer for a fault (see
/// [`Seeded::config`]).
const NO_SUCH_ID: &str = "00000000-0000-4000-8000-000000000000";
/// An action no provider has.
const NO_SUCH_ACTION: &str = "no_such_action";
/// A provider Junction does not know.
const NO_SUCH_PROVIDER: &str = "no-such-provider";
/// Where the seeded webhook endpoint points: a public name that resolves nowhere,
/// so its deliveries fail and wait for their retries (the worker stops with the
/// seeding).
const ENDPOINT_URL: &str = "https://hooks.schemathesis.example/junction";
/// How long the worker may take over what the seeding queued.
const WORKER_DEADLINE: Duration = Duration::from_secs(120);

/// The ids schemathesis gets, one kind per operation.
pub(super) struct Seeded {
    /// A Stripe integration with a finished sync (records, KPI points), an action
    /// run, a dead letter, a processed webhook event and alert rules: what the
    /// integration operations meet, but DELETE.
    stripe: String,
    /// A Stripe integration only DELETE /v1/integrations/{id} gets (it deletes it).
    doomed: String,
    /// A Meta Ads integration (OAuth) with a verify token: the webhook handshake.
    meta: String,
    /// A customer of the Stripe sandbox the seeding created (through an action).
    customer: String,
    run: String,
    action_run: String,
    dead_letter: String,
    webhook_event: String,
    /// An event sent to the seeded webhook endpoint (the sync's end).
    outbound_event: String,
    /// A connect session's return URL on the API's own origin, which every
    /// workspace admits whatever its allow-list (schemathesis changes that list
    /// through PATCH /v1/workspace as it goes).
    connect_return_url: String,
}

/// The running API and sandbox the seeding talks to.
pub(super) struct Target<'a> {
    pub api: &'a str,
    pub sandbox: &'a str,
    pub api_key: &'a str,
}

impl Target<'_> {
    fn get(&self, http: &Client, path: &str) -> RequestBuilder {
        http.get(format!("{}{path}", self.api))
            .bearer_auth(self.api_key)
    }

    fn post(&self, http: &Client, path: &str) -> RequestBuilder {
        http.post(format!("{}{path}", self.api))
            .bearer_auth(self.api_key)
    }

    fn put(&self, http: &Client, path: &str) -> RequestBuilder {
        http.put(format!("{}{path}", self.api))
            .bearer_auth(self.api_key)
    }
}

/// Sends a request and returns its JSON body, failing with `what` and the API's
/// answer (a problem document, never a credential) when it is not a success.
async fn call(request: RequestBuilder, what: &str) -> Result<Value> {
    let response = request.send().await.with_context(|| what.to_owned())?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{what}: {status} {body}");
    }
    serde_json::from_str(&body).with_context(|| format!("{what}: not JSON: {body}"))
}

fn id(body: &Value, field: &str, what: &str) -> Result<String> {
    body[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("{what}: no `{field}` in {body}"))
}

/// Seeds the workspace; the worker must be running.
pub(super) async fn seed(target: &Target<'_>) -> Result<Seeded> {
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?;
    let stripe = connect_stripe(target, &http, "Schemathesis Stripe").await?;
    let doomed = connect_stripe(target, &http, "Schemathesis Stripe (deleted)").await?;
    let meta = connect_meta(target, &http).await?;
    // Before the facts below, so they become events sent to it. Schemathesis makes
    // its own endpoints (and follows their `Location`), as with alert rules.
    call(
        target
            .post(&http, "/v1/webhook-endpoints")
            .json(&json!({"url": ENDPOINT_URL, "description": "Schemathesis"})),
        "creating a webhook endpoint",
    )
    .await?;

    let sync = call(
        target.post(&http, &format!("/v1/integrations/{stripe}/sync")),
        "requesting a Stripe sync",
    )
    .await?;
    let run = id(&sync, "run_id", "the sync")?;

    // Runs within the request: an action run that succeeded.
    let action = call(
        target
            .post(
                &http,
                &format!("/v1/integrations/{stripe}/actions/create_customer"),
            )
            .json(&json!({"email": "ada@schemathesis.example", "name": "Ada"})),
        "creating a Stripe customer",
    )
    .await?;
    let action_run = id(&action, "id", "the action")?;
    let customer = id(&action, "external_id", "the action")?;
    // Queued, and refused by Stripe for good (no such charge): the worker
    // dead-letters it.
    call(
        target
            .post(
                &http,
                &format!("/v1/integrations/{stripe}/actions/refund?async=true"),
            )
            .json(&json!({"charge": "ch_schemathesis_missing"})),
        "queueing a refund of a missing charge",
    )
    .await?;

    let webhook_event = deliver_stripe_event(target, &http, &stripe).await?;

    // Not named in the configuration: schemathesis finds them (see Seeded::config).
    for name in ["Revenue drop", "Refunds up"] {
        create_alert(target, &http, &stripe, name).await?;
    }

    wait_for_worker(target, &http, &run, &webhook_event).await?;
    let letters = call(
        target.get(&http, "/v1/dead-letters?queue=action"),
        "listing dead letters",
    )
    .await?;
    let dead_letter = id(&letters["data"][0], "id", "the dead letter")?;
    let events = call(
        target.get(&http, "/v1/events?event_type=sync.succeeded"),
        "listing events",
    )
    .await?;
    let outbound_event = id(&events["data"][0], "id", "the sync's event")?;

    Ok(Seeded {
        stripe,
        doomed,
        meta,
        customer,
        run,
        action_run,
        dead_letter,
        webhook_event,
        outbound_event,
        connect_return_url: format!("{}/connected", target.api.trim_end_matches('/')),
    })
}

async fn connect_stripe(target: &Target<'_>, http: &Client, name: &str) -> Result<String> {
    let created = call(
        target.post(http, "/v1/integrations").json(&json!({
            "provider": "stripe",
            "display_name": name,
            "credentials": {"secret_key": STRIPE_KEY, "webhook_secret": STRIPE_WEBHOOK_SECRET},
        })),
        "connecting Stripe",
    )
    .await?;
    id(&created, "id", "connecting Stripe")
}

/// Connects Meta Ads through the sandbox's consent page (answered the way a script
/// may: `decision=approve`) and sets the handshake's verify token.
async fn connect_meta(target: &Target<'_>, http: &Client) -> Result<String> {
    let started = call(
        target.post(http, "/v1/connect/meta-ads").json(&json!({
            "display_name": "Schemathesis Meta Ads",
            "config": {"ad_account_id": "1234567890"},
        })),
        "starting the Meta Ads connection",
    )
    .await?;
    let authorize = id(&started, "authorize_url", "the Meta Ads connection")?;
    let consent = http
        .get(format!("{authorize}&decision=approve"))
        .send()
        .await?;
    let callback = consent
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| anyhow!("the sandbox did not redirect back to Junction"))?
        .to_owned();
    let outcome = call(http.get(&callback), "finishing the Meta Ads connection").await?;
    let meta = id(&outcome, "integration_id", "the Meta Ads callback")?;
    call(
        target
            .put(http, &format!("/v1/integrations/{meta}/webhook"))
            .json(&json!({"verify_token": META_VERIFY_TOKEN})),
        "setting the Meta verify token",
    )
    .await?;
    Ok(meta)
}

/// Delivers a signed `charge.refunded` event for a charge of the sandbox, as Stripe
/// would; returns the stored event's id.
async fn deliver_stripe_event(target: &Target<'_>, http: &Client, stripe: &str) -> Result<String> {
    let charges = call(
        http.get(format!("{}/stripe/v1/charges?limit=20", target.sandbox))
            .bearer_auth(STRIPE_KEY),
        "listing the sandbox's charges",
    )
    .await?;
    let charge = charges["data"]
        .as_array()
        .and_then(|charges| charges.iter().find(|c| c["status"] == "succeeded"))
        .cloned()
        .ok_or_else(|| anyhow!("the Stripe sandbox has no succeeded charge"))?;
    let body = serde_json::to_vec(&json!({
        "id": "evt_schemathesis_refunded",
        "object": "event",
        "api_version": "2024-06-20",
        "created": Utc::now().timestamp(),
        "type": "charge.refunded",
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "data": {"object": charge}
    }))?;
    let signature = stripe::sign(
        &SecretString::from(STRIPE_WEBHOOK_SECRET),
        &body,
        Utc::now().timestamp(),
    );
    call(
        http.post(format!("{}/webhooks/stripe/{stripe}", target.api))
            .header("Stripe-Signature", signature)
            .header("Content-Type", "application/json")
            .body(body),
        "delivering a Stripe webhook",
    )
    .await?;
    let events = call(
        target.get(http, &format!("/v1/webhook-events?integration_id={stripe}")),
        "listing webhook events",
    )
    .await?;
    id(&events["data"][0], "id", "the webhook event")
}

async fn create_alert(
    target: &Target<'_>,
    http: &Client,
    integration: &str,
    name: &str,
) -> Result<()> {
    let rule = call(
        target.post(http, "/v1/alerts").json(&json!({
            "name": name,
            "integration_id": integration,
            "metric": "gross_revenue",
            "condition": "below",
            "threshold": 0.0,
            "window_days": 7,
            "recipients": ["ops@schemathesis.example"],
        })),
        "creating an alert rule",
    )
    .await?;
    id(&rule, "id", "the alert rule")?;
    Ok(())
}

/// Waits until the sync succeeded, the webhook event is processed and the refund is
/// dead-lettered.
async fn wait_for_worker(target: &Target<'_>, http: &Client, run: &str, event: &str) -> Result<()> {
    let deadline = Instant::now() + WORKER_DEADLINE;
    loop {
        let run = call(
            target.get(http, &format!("/v1/runs/{run}")),
            "reading the sync",
        )
        .await?;
        if matches!(run["status"].as_str(), Some("failed" | "dead")) {
            bail!("the seeding sync failed: {}", run["error_message"]);
        }
        let event = call(
            target.get(http, &format!("/v1/webhook-events/{event}")),
            "reading the webhook event",
        )
        .await?;
        let letters = call(
            target.get(http, "/v1/dead-letters?queue=action"),
            "listing dead letters",
        )
        .await?;
        let done = run["status"] == "succeeded"
            && event["status"] == "processed"
            && letters["data"].as_array().is_some_and(|d| !d.is_empty());
        if done {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "the worker did not finish the seeding within {}s (sync {}, webhook event {}, \
                 dead letters {}; see worker.log)",
                WORKER_DEADLINE.as_secs(),
                run["status"],
                event["status"],
                letters["data"]
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A TOML basic string.
fn quoted(text: &str) -> String {
    let mut out = String::from('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// How one operation meets the seeded data.
struct Entry {
    /// The operation, as schemathesis names it (`METHOD /path`).
    name: &'static str,
    /// Values every case gets: path and query values in every phase, body values in
    /// the bodies the fuzzing and stateful phases generate.
    pinned: Vec<(&'static str, String)>,
    /// Whether schemathesis may fill the operation's inputs with values it saw in
    /// earlier responses (its resource pool).
    pool: bool,
}

impl Entry {
    fn new(name: &'static str, pinned: Vec<(&'static str, String)>) -> Self {
        Self {
            name,
            pinned,
            pool: true,
        }
    }
}

impl Seeded {
    /// A `schemathesis.toml` that gives each operation the right kind of id, one
    /// `[[operations]]` entry per operation (an operation two entries matched would
    /// get their parameters merged). A pinned path or query value holds in every
    /// phase, over whatever schemathesis would otherwise put there (a value from an
    /// earlier response, a link's); a pinned body value holds in the bodies of the
    /// fuzzing and stateful phases (the coverage phase takes none).
    ///
    /// Six operations take input that is valid only for the provider of the
    /// resource they name — a config of its fields, credentials it accepts, an
    /// action's input, secrets of its kind of webhooks, a delivery signed with its
    /// secret — which no schema of the operation can say: against a live resource a
    /// check would take the API's right answer (422, 400) for a fault. They get a
    /// resource of nothing, as before the seeding. Creating an integration names its
    /// provider in the body, so it is kept off the values of earlier responses, and
    /// it creates none: below a created integration schemathesis takes any 404 for a
    /// resource gone missing, and here operations meet a deleted integration, one of
    /// nothing, or the provider's own 404 by design. Alert rules are left to
    /// schemathesis: it creates them (for the seeded integration, on a metric of its
    /// provider), finds them in GET /v1/alerts and follows its links; so are the
    /// suppressed addresses, which it adds and then takes off the list.
    ///
    /// For the same reason the stateful phase follows the links a created
    /// resource's `Location` gives, not the ones schemathesis infers from field
    /// names: those put one provider's name or integration into a body whose other
    /// fields must then fit that provider (a `provider` from GET /v1/integrations
    /// into POST /v1/integrations with a config and credentials of no provider).
    pub(super) fn config(&self) -> String {
        let Seeded {
            stripe,
            doomed,
            meta,
            customer,
            run,
            action_run,
            dead_letter,
            webhook_event,
            outbound_event,
            connect_return_url,
        } = self;
        let customer_path = quoted(&format!("v1/customers/{customer}"));
        let writes_path = quoted(&format!("v1/customers/{customer}/balance_transactions"));
        let id = |name, value: &str| Entry::new(name, vec![("path.id", quoted(value))]);
        let proxied = |name, path: &String| {
            Entry::new(
                name,
                vec![("path.id", quoted(stripe)), ("path.path", path.clone())],
            )
        };
        let entries = vec![
            id("GET /v1/integrations/{id}", stripe),
            id("GET /v1/integrations/{id}/action-runs", stripe),
            id("GET /v1/integrations/{id}/logs", stripe),
            id("GET /v1/integrations/{id}/runs", stripe),
            id("POST /v1/integrations/{id}/sync", stripe),
            id("GET /v1/integrations/{id}/streams", stripe),
            // A stream of the seeded integration (one it names at random is 404
            // `unknown_stream`, which the document declares too).
            Entry::new(
                "PATCH /v1/integrations/{id}/streams/{stream}",
                vec![
                    ("path.id", quoted(stripe)),
                    ("path.stream", quoted("customers")),
                ],
            ),
            Entry::new(
                "POST /v1/integrations/{id}/streams/{stream}/reset",
                vec![
                    ("path.id", quoted(stripe)),
                    ("path.stream", quoted("charges")),
                ],
            ),
            id("POST /v1/integrations/{id}/test", stripe),
            id("GET /v1/integrations/{id}/webhook", stripe),
            id("DELETE /v1/integrations/{id}", doomed),
            // The sandbox serves GET on the list and on a customer; the writes go to
            // a customer's balance transactions, which it does not serve, and get
            // the provider's own 404 back (a POST to the customer itself is an
            // update, which Stripe refuses with a 400 for a body of no parameter of
            // its own: right for Stripe, not a fault of the proxy).
            proxied(
                "GET /v1/integrations/{id}/proxy/{path}",
                &quoted("v1/customers"),
            ),
            proxied("POST /v1/integrations/{id}/proxy/{path}", &writes_path),
            proxied("PUT /v1/integrations/{id}/proxy/{path}", &customer_path),
            proxied("PATCH /v1/integrations/{id}/proxy/{path}", &customer_path),
            proxied("DELETE /v1/integrations/{id}/proxy/{path}", &customer_path),
            Entry::new(
                "GET /webhooks/{provider}/{integration_id}",
                vec![
                    ("path.provider", quoted("meta-ads")),
                    ("path.integration_id", quoted(meta)),
                    ("query.hub.verify_token", quoted(META_VERIFY_TOKEN)),
                ],
            ),
            Entry::new(
                "GET /v1/records",
                vec![
                    ("query.integration_id", quoted(stripe)),
                    ("query.stream", quoted("charges")),
                ],
            ),
            Entry::new(
                "GET /v1/kpis",
                vec![
                    ("query.integration_id", quoted(stripe)),
                    ("query.metric", quoted("gross_revenue")),
                ],
            ),
            // A rule watches a metric of its integration's provider. The rules it
            // creates are what the operations on one meet (schemathesis finds them in
            // GET /v1/alerts, and follows its links), beside the seeded two.
            Entry {
                name: "POST /v1/alerts",
                pinned: vec![
                    ("body.integration_id", quoted(stripe)),
                    ("body.metric", quoted("gross_revenue")),
                ],
                pool: false,
            },
            id("GET /v1/runs/{id}", run),
            id("GET /v1/action-runs/{id}", action_run),
            id("GET /v1/dead-letters/{id}", dead_letter),
            id("POST /v1/dead-letters/{id}/replay", dead_letter),
            id("GET /v1/webhook-events/{id}", webhook_event),
            id("POST /v1/webhook-events/{id}/replay", webhook_event),
            id("GET /v1/events/{id}", outbound_event),
            id("GET /v1/events/{id}/attempts", outbound_event),
            // An endpoint's URL must be a public address; the endpoints schemathesis
            // creates (and the operations on one, through their `Location`) get one.
            Entry {
                name: "POST /v1/webhook-endpoints",
                pinned: vec![("body.url", quoted(ENDPOINT_URL))],
                pool: false,
            },
            Entry {
                name: "PATCH /v1/webhook-endpoints/{id}",
                pinned: vec![("body.url", quoted(ENDPOINT_URL))],
                pool: true,
            },
            // A session's return URL must be admitted; the sessions schemathesis
            // creates are what GET and DELETE on one meet (through their `Location`).
            Entry {
                name: "POST /v1/connect-sessions",
                pinned: vec![("body.return_url", quoted(connect_return_url))],
                pool: false,
            },
            // The seeded Meta integration's ad accounts, from the sandbox.
            Entry::new(
                "GET /v1/integrations/{id}/options/{field}",
                vec![
                    ("path.id", quoted(meta)),
                    ("path.field", quoted("ad_account_id")),
                ],
            ),
            // The provider-bound six (see above).
            id("PATCH /v1/integrations/{id}", NO_SUCH_ID),
            id("POST /v1/integrations/{id}/reconnect", NO_SUCH_ID),
            id("PUT /v1/integrations/{id}/webhook", NO_SUCH_ID),
            Entry::new(
                "POST /v1/integrations/{id}/actions/{action}",
                vec![
                    ("path.id", quoted(stripe)),
                    ("path.action", quoted(NO_SUCH_ACTION)),
                ],
            ),
            Entry::new(
                "POST /webhooks/{provider}/{integration_id}",
                vec![
                    ("path.provider", quoted("stripe")),
                    ("path.integration_id", quoted(NO_SUCH_ID)),
                ],
            ),
            Entry::new(
                "POST /v1/connect/{provider}",
                vec![("path.provider", quoted(NO_SUCH_PROVIDER))],
            ),
            // Its provider is a body field, which schemathesis would take from the
            // pool (and then fill the rest of the body for no provider in particular).
            // Nor may it create integrations: below a created one schemathesis takes a
            // 404 for a resource gone missing, and an operation meets a deleted one,
            // one of nothing or the provider's own 404 here by design.
            Entry {
                name: "POST /v1/integrations",
                pinned: Vec::new(),
                pool: false,
            },
        ];
        render(&entries)
    }
}

/// The TOML of the operation entries.
fn render(entries: &[Entry]) -> String {
    let mut toml = String::from(concat!(
        "# Written by `cargo xtask schemathesis` from the data it seeded.\n",
        "\n",
        "# A run is its seed's: nothing replayed from an earlier run's cache.\n",
        "[cache]\n",
        "enabled = false\n",
        "\n",
        "# Links from the `Location` of what a request created, not links inferred\n",
        "# from field names (see Seeded::config in xtask/src/schemathesis/seed.rs).\n",
        "[phases.stateful.inference]\n",
        "algorithms = [\"location-headers\"]\n",
    ));
    for entry in entries {
        let pairs: Vec<String> = entry
            .pinned
            .iter()
            .map(|(key, value)| format!("{} = {value}", quoted(key)))
            .collect();
        toml.push_str(&format!(
            "\n[[operations]]\ninclude-name = {}\n",
            quoted(entry.name)
        ));
        if !pairs.is_empty() {
            toml.push_str(&format!("parameters = {{ {} }}\n", pairs.join(", ")));
        }
        if !entry.pool {
            for phase in ["coverage", "fuzzing"] {
                toml.push_str(&format!(
                    "phases.{phase}.extra-data-sources.responses = false\n"
                ));
            }
        }
    }
    toml
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded() -> Seeded {
        let id = |n: u8| format!("00000000-0000-4000-8000-0000000000{n:02}");
        Seeded {
            stripe: id(1),
            doomed: id(2),
            meta: id(3),
            customer: "cus_1".into(),
            run: id(4),
            action_run: id(5),
            dead_letter: id(6),
            webhook_event: id(7),
            outbound_event: id(8),
            connect_return_url: "http://127.0.0.1:8080/connected".into(),
        }
    }

    #[test]
    fn toml_strings_are_quoted_and_escaped() {
        assert_eq!(quoted("v1/customers"), "\"v1/customers\"");
        assert_eq!(quoted("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000A\"");
    }

    /// A new operation with a path parameter gets a decision here: seeded data, or
    /// (below) a reason it needs none.
    #[test]
    fn every_operation_with_a_path_parameter_has_an_entry() {
        // A provider id, which schemathesis draws from GET /v1/providers; the OAuth
        // callback, whose state is single-use; the alert rules, webhook endpoints and
        // connect sessions schemathesis creates; the suppressed addresses it adds
        // (POST answers with their `Location`).
        let not_seeded = [
            "GET /v1/providers/{provider}",
            "GET /oauth/callback/{provider}",
            "GET /v1/alerts/{id}",
            "PATCH /v1/alerts/{id}",
            "DELETE /v1/alerts/{id}",
            "GET /v1/webhook-endpoints/{id}",
            "DELETE /v1/webhook-endpoints/{id}",
            "GET /v1/webhook-endpoints/{id}/secret",
            "POST /v1/webhook-endpoints/{id}/rotate-secret",
            "GET /v1/webhook-endpoints/{id}/attempts",
            "DELETE /v1/email-suppressions/{address}",
            "GET /v1/connect-sessions/{id}",
            "POST /v1/connect-sessions/{id}/revoke",
            // The sandbox's blog fakes would take a cross-post, but the operations
            // on one meet it through the `Location` of those schemathesis creates.
            "GET /v1/cross-posts/{id}",
            "PATCH /v1/cross-posts/{id}",
        ];
        let document: Value = serde_json::from_str(
            &std::fs::read_to_string(crate::workspace_root().join("docs/openapi.json")).unwrap(),
        )
        .unwrap();
        let config = seeded().config();
        let mut missing = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            if !path.contains('{') {
                continue;
            }
            for method in item.as_object().unwrap().keys() {
                let name = format!("{} {path}", method.to_uppercase());
                let entry = format!("include-name = {}", quoted(&name));
                if !config.contains(&entry) && !not_seeded.contains(&name.as_str()) {
                    missing.push(name);
                }
            }
        }
        assert!(missing.is_empty(), "no entry for {missing:?}");
        assert_eq!(config.matches("[[operations]]").count(), 39);
    }

    #[test]
    fn each_entry_pins_its_values() {
        let config = seeded().config();
        let entry = |name: &str| {
            let start = config
                .find(&format!("include-name = {}", quoted(name)))
                .unwrap();
            let end = config[start..]
                .find("\n\n")
                .map_or(config.len(), |end| start + end);
            config[start..end].to_owned()
        };
        assert!(
            entry("GET /v1/integrations/{id}")
                .contains("\"path.id\" = \"00000000-0000-4000-8000-000000000001\"")
        );
        assert!(entry("DELETE /v1/integrations/{id}").contains("000000000002"));
        assert!(entry("PUT /v1/integrations/{id}/webhook").contains(NO_SUCH_ID));
        let create = entry("POST /v1/integrations");
        assert!(!create.contains("parameters"), "{create}");
        assert!(create.contains("phases.coverage.extra-data-sources.responses = false"));
        let rule = entry("POST /v1/alerts");
        assert!(
            rule.contains("\"body.metric\" = \"gross_revenue\""),
            "{rule}"
        );
        assert!(!entry("GET /v1/kpis").contains("extra-data-sources"));
    }
}
