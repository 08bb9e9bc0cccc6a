//! Provider actions, run through one path whether they run within the request or on
//! the action queue.
//!
//! The input is checked against the action's JSON Schema first (every field at
//! fault named, no value echoed). A quick action runs at once; a long-running one —
//! or any, when the caller asks — is recorded with its job staged in the same
//! transaction, to be followed by its run. Every run is recorded in `action_runs`
//! and logged on the integration.
//!
//! Idempotency end to end: every call to the provider carries a key derived from
//! the client's idempotency key (or, without one, from the run id), so a retried
//! request — or a retried job — reaches a provider that honours keys (Stripe,
//! Resend) with the same key, and takes effect there once.
//!
//! The suppression list, for every provider alike: an action whose spec names the
//! input fields that hold email recipients (`email_recipients`: Resend's `to`, `cc`
//! and `bcc`, Stripe's `receipt_email`) has the workspace's suppressed addresses
//! dropped from them before it is recorded and run, and again before each attempt of
//! a queued one (the list may grow meanwhile); the run says which
//! (`suppressed_recipients`). When a field the email needs (its `to`) is left
//! without an address, the action is refused (`recipients_suppressed`; a queued run
//! ends `failed` with that code) and nothing is sent. Addresses the provider itself
//! emails though the input names none (the spec's `provider_recipients`: Stripe
//! emails an invoice to its customer) are read by the adapter before the run (before
//! each attempt of a queued one) and screened too; as nothing can leave them out, a
//! suppressed one refuses the run alike. A field the action mails only
//! under a condition (`when`: Mailchimp's `email_address` of a contact made
//! `pending`, who gets an opt-in confirmation) is screened only when it holds.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use junction_core::{
    ErrorCode, HasErrorCode, WorkspaceId,
    spec::{ActionSpec, RecipientField},
};
use junction_jobs::{ActionJob, Job, JobFailure, outbox};
use junction_store::{
    models::{ActionMode, ActionRun, ActionStatus, Integration, LogLevel, Operation},
    repo::{self, action_runs::NewActionRun, logs::NewLog},
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    App, Error, Listed, PageRequest, Result,
    connections::CallError,
    failures::{call_failure, store_failure},
    integrations::log,
    listed,
    recipients::bare_address,
};

/// An action a client asks for.
#[derive(Debug, Clone)]
pub struct ActionRequest<'a> {
    pub integration_id: Uuid,
    pub action: &'a str,
    /// The action's input (`null` is an empty object).
    pub input: serde_json::Value,
    /// The client's `Idempotency-Key`, when it sent one.
    pub client_key: Option<&'a str>,
    /// Queue it even when it is quick.
    pub queue: bool,
}

/// What became of an action request.
#[derive(Debug, Clone)]
pub enum ActionOutcome {
    /// It ran within the request and succeeded.
    Done(ActionRun),
    /// It waits on the action queue.
    Queued(ActionRun),
}

impl App {
    /// Runs an action of the integration's provider, at once or queued (see the
    /// module docs). A failed inline action is recorded and returned as the error.
    pub async fn perform_action(
        &self,
        workspace_id: WorkspaceId,
        request: ActionRequest<'_>,
    ) -> Result<ActionOutcome> {
        let ActionRequest {
            integration_id,
            action,
            input,
            client_key,
            queue,
        } = request;
        let input = if input.is_null() { json!({}) } else { input };
        let mut tx = self.begin(workspace_id).await?;
        let integration = crate::integration(&mut tx, integration_id).await?;
        tx.commit().await?;
        let adapter = self.adapter(&integration.provider)?;
        let spec = adapter.spec().action(action).cloned().ok_or_else(|| {
            Error::new(
                ErrorCode::UnknownAction,
                format!("{} has no action `{action}`", adapter.spec().name),
            )
        })?;
        spec.validate_input(&input).map_err(Error::validation)?;
        crate::integrations::ensure_active(&integration)?;
        let queued = spec.long_running || queue;
        // A queued run reads whom the provider mails before each attempt, not here:
        // the request does not wait on the provider.
        let mailed = if queued {
            Vec::new()
        } else {
            self.provider_recipients(workspace_id, &integration, &spec, &input)
                .await?
        };
        let (input, suppressed) = self
            .screen_recipients(workspace_id, &spec, input, &mailed)
            .await?;

        let run_id = Uuid::new_v4();
        let key =
            provider_idempotency_key(workspace_id, integration_id, action, client_key, run_id);
        let mut tx = self.begin(workspace_id).await?;
        let new_run = NewActionRun {
            id: run_id,
            workspace_id,
            integration_id,
            action,
            mode: ActionMode::Queued,
            input: &input,
            provider_idempotency_key: &key,
            suppressed_recipients: &suppressed,
        };
        if queued {
            let run = queue_action(&mut tx, new_run).await?;
            tx.commit().await?;
            return Ok(ActionOutcome::Queued(run));
        }
        let run = repo::action_runs::create(
            tx.conn(),
            NewActionRun {
                mode: ActionMode::Inline,
                ..new_run
            },
        )
        .await?;
        repo::action_runs::start_attempt(tx.conn(), run.id).await?;
        tx.commit().await?;

        let ctx = self.context(&integration.provider);
        let outcome = self
            .connections
            .call(workspace_id, &integration, |connection| {
                let (adapter, ctx, input, key) =
                    (adapter.clone(), ctx.clone(), input.clone(), key.clone());
                async move {
                    adapter
                        .act(&ctx, &connection, action, &input, Some(&key))
                        .await
                }
            })
            .await;
        let mut tx = self.begin(workspace_id).await?;
        match outcome {
            Ok(done) => {
                let run = repo::action_runs::succeed(
                    tx.conn(),
                    run.id,
                    done.external_id.as_deref(),
                    &done.output,
                )
                .await?;
                self.emit_action_finished(tx.conn(), &run).await?;
                log(
                    &mut tx,
                    workspace_id,
                    integration_id,
                    LogLevel::Info,
                    Operation::Action,
                    &format!("action `{action}` succeeded"),
                    json!({"action_run_id": run.id, "external_id": run.external_id}),
                )
                .await?;
                tx.commit().await?;
                Ok(ActionOutcome::Done(run))
            }
            Err(error) => {
                let code = error.error_code();
                let message = error.to_string();
                let run =
                    repo::action_runs::fail(tx.conn(), run.id, code.name(), &message, true).await?;
                self.emit_action_finished(tx.conn(), &run).await?;
                log(
                    &mut tx,
                    workspace_id,
                    integration_id,
                    LogLevel::Warn,
                    Operation::Action,
                    &format!("action `{action}` failed: {message}"),
                    json!({"action_run_id": run.id, "code": code.name()}),
                )
                .await?;
                tx.commit().await?;
                Err(error.into())
            }
        }
    }

    /// The addresses the provider itself emails when `spec` runs with `input`, which
    /// the input does not name (Stripe's invoices, to their customer): read by the
    /// adapter for an action whose spec says whom it mails, else none.
    async fn provider_recipients(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
        spec: &ActionSpec,
        input: &serde_json::Value,
    ) -> Result<Vec<String>, CallError> {
        if spec.provider_recipients.is_none() {
            return Ok(Vec::new());
        }
        let adapter = self.connections.adapter(&integration.provider)?;
        let ctx = self.context(&integration.provider);
        let action = spec.name;
        self.connections
            .call(workspace_id, integration, |connection| {
                let (adapter, ctx, input) = (adapter.clone(), ctx.clone(), input.clone());
                async move {
                    adapter
                        .provider_recipients(&ctx, &connection, action, &input)
                        .await
                }
            })
            .await
    }

    /// Drops the workspace's suppressed addresses from the recipient fields of an
    /// action's input (see the module docs): the input to run and the addresses
    /// dropped, as the client wrote them. `mailed` are the addresses the provider
    /// itself emails ([`Self::provider_recipients`]): as nothing can leave them out,
    /// a suppressed one refuses the action.
    async fn screen_recipients(
        &self,
        workspace_id: WorkspaceId,
        spec: &ActionSpec,
        mut input: serde_json::Value,
        mailed: &[String],
    ) -> Result<(serde_json::Value, Vec<String>)> {
        let fields = &spec.email_recipients;
        let written = recipients_of(&input, fields);
        if written.is_empty() && mailed.is_empty() {
            return Ok((input, Vec::new()));
        }
        let bare: Vec<String> = written
            .iter()
            .chain(mailed)
            .map(|r| bare_address(r))
            .collect();
        let mut tx = self.begin(workspace_id).await?;
        let suppressed: BTreeSet<String> =
            repo::email_suppressions::suppressed_among(tx.conn(), &bare)
                .await?
                .into_iter()
                .collect();
        tx.commit().await?;
        if suppressed.is_empty() {
            return Ok((input, Vec::new()));
        }
        let screened = drop_recipients(&mut input, fields, |recipient| {
            suppressed.contains(&bare_address(recipient))
        });
        let mut refused = Vec::new();
        if !screened.emptied.is_empty() {
            refused.push(format!(
                "every address of {}",
                screened
                    .emptied
                    .iter()
                    .map(|field| format!("`{field}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(who) = spec.provider_recipients
            && mailed
                .iter()
                .any(|address| suppressed.contains(&bare_address(address)))
        {
            refused.push(format!("the address the provider emails ({who})"));
        }
        if !refused.is_empty() {
            return Err(Error::new(
                ErrorCode::RecipientsSuppressed,
                format!(
                    "{} {} on the workspace's suppression list (it bounced, complained or was \
                     added by hand); nothing was sent. Take an address off the list \
                     (DELETE /v1/email-suppressions/{{address}}) to mail it again",
                    refused.join(" and "),
                    if refused.len() > 1 { "are" } else { "is" },
                ),
            ));
        }
        tracing::info!(
            %workspace_id,
            dropped = screened.dropped.len(),
            "suppressed recipients dropped from an action's input"
        );
        Ok((input, screened.dropped))
    }

    /// The integration's action runs, newest first.
    pub async fn action_runs(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        page: PageRequest<(DateTime<Utc>, Uuid)>,
    ) -> Result<Listed<ActionRun, (DateTime<Utc>, Uuid)>> {
        let mut tx = self.begin(workspace_id).await?;
        crate::integration(&mut tx, integration_id).await?;
        let rows = repo::action_runs::list_for_integration(
            tx.conn(),
            integration_id,
            page.after,
            page.limit + 1,
        )
        .await?;
        tx.commit().await?;
        Ok(listed(rows, page.limit, |r| (r.created_at, r.id)))
    }

    /// One action run.
    pub async fn action_run(&self, workspace_id: WorkspaceId, id: Uuid) -> Result<ActionRun> {
        let mut tx = self.begin(workspace_id).await?;
        let run = repo::action_runs::get(tx.conn(), id).await?;
        tx.commit().await?;
        Ok(run)
    }

    /// One attempt of a queued action (the action queue's job). Every attempt sends
    /// the run's provider idempotency key; a run that has already finished is not
    /// run again when its task is delivered twice.
    pub async fn run_queued_action(&self, job: &ActionJob) -> Result<(), JobFailure> {
        let begin = async {
            let mut tx = self.store.begin(job.workspace_id).await?;
            let run = repo::action_runs::start_attempt(tx.conn(), job.request_id).await?;
            let integration = repo::integrations::get(tx.conn(), job.integration_id).await?;
            tx.commit().await?;
            Ok((run, integration))
        };
        let (run, integration) = begin.await.map_err(|e| store_failure(&e))?;
        if matches!(run.status, ActionStatus::Succeeded | ActionStatus::Failed) {
            return Ok(());
        }
        let adapter = self
            .connections
            .adapter(&integration.provider)
            .map_err(|e| crate::failures::connect_failure(&e))?;
        let Some(spec) = adapter.spec().action(&job.action) else {
            return Err(JobFailure::permanent(
                ErrorCode::UnknownAction,
                format!("{} has no action `{}`", adapter.spec().name, job.action),
            ));
        };
        // The list may have grown since the request (a retry hours later, a replayed
        // dead letter), and whom the provider mails may have changed: screened again
        // before every attempt.
        let mailed = self
            .provider_recipients(job.workspace_id, &integration, spec, &job.input)
            .await
            .map_err(|e| call_failure(&e, self.now()))?;
        let input = self.screen_queued(job, &run, spec, &mailed).await?;
        let ctx = self.context(&integration.provider);
        let done = self
            .connections
            .call(job.workspace_id, &integration, |connection| {
                let (adapter, ctx, input) = (adapter.clone(), ctx.clone(), input.clone());
                async move {
                    adapter
                        .act(
                            &ctx,
                            &connection,
                            &job.action,
                            &input,
                            Some(&job.idempotency_key),
                        )
                        .await
                }
            })
            .await
            .map_err(|e| call_failure(&e, self.now()))?;

        let record = async {
            let mut tx = self.store.begin(job.workspace_id).await?;
            let run = repo::action_runs::succeed(
                tx.conn(),
                job.request_id,
                done.external_id.as_deref(),
                &done.output,
            )
            .await?;
            self.emit_action_finished(tx.conn(), &run).await?;
            repo::logs::append(
                tx.conn(),
                NewLog {
                    workspace_id: job.workspace_id,
                    integration_id: job.integration_id,
                    level: LogLevel::Info,
                    operation: Operation::Action,
                    message: &format!("action `{}` succeeded", job.action),
                    details: json!({
                        "action_run_id": job.request_id,
                        "external_id": done.external_id,
                    }),
                    run_id: None,
                },
            )
            .await?;
            tx.commit().await
        };
        // Should this fail, the retry sends the same idempotency key: the provider
        // answers with the first result instead of acting again.
        record.await.map_err(|e| store_failure(&e))
    }

    /// The input a queued action's attempt sends: the job's, without the addresses
    /// suppressed since (recorded on the run). A required recipient field left
    /// empty ends the run (`recipients_suppressed`), with nothing sent.
    async fn screen_queued(
        &self,
        job: &ActionJob,
        run: &ActionRun,
        spec: &ActionSpec,
        mailed: &[String],
    ) -> Result<serde_json::Value, JobFailure> {
        let (input, dropped) = self
            .screen_recipients(job.workspace_id, spec, job.input.clone(), mailed)
            .await
            .map_err(|error| match error.code {
                ErrorCode::RecipientsSuppressed => JobFailure::abandon(error.code, error.detail),
                _ => JobFailure::retryable(error.code, error.detail),
            })?;
        if !dropped.is_empty() {
            let mut suppressed = run.suppressed_recipients.clone();
            suppressed.extend(
                dropped
                    .into_iter()
                    .filter(|r| !run.suppressed_recipients.contains(r)),
            );
            let record = async {
                let mut tx = self.store.begin(job.workspace_id).await?;
                repo::action_runs::record_screened(tx.conn(), run.id, &input, &suppressed).await?;
                tx.commit().await
            };
            record.await.map_err(|e| store_failure(&e))?;
        }
        Ok(input)
    }

    /// Records a failed attempt of a queued action; `final_` ends the run.
    pub async fn record_action_failure(&self, job: &ActionJob, failure: &JobFailure, final_: bool) {
        let result = async {
            let mut tx = self.store.begin(job.workspace_id).await?;
            let run = repo::action_runs::fail(
                tx.conn(),
                job.request_id,
                failure.code.name(),
                &failure.message,
                final_,
            )
            .await?;
            self.emit_action_finished(tx.conn(), &run).await?;
            if final_ {
                repo::logs::append(
                    tx.conn(),
                    NewLog {
                        workspace_id: job.workspace_id,
                        integration_id: job.integration_id,
                        level: LogLevel::Error,
                        operation: Operation::Action,
                        message: &format!("action `{}` failed: {}", job.action, failure.message),
                        details: json!({
                            "action_run_id": job.request_id,
                            "error_code": failure.code.name(),
                        }),
                        run_id: None,
                    },
                )
                .await?;
            }
            tx.commit().await
        }
        .await;
        if let Err(error) = result {
            tracing::error!(run = %job.request_id, %error, "could not record an action failure");
        }
    }
}

/// One step of a recipient field's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step<'a> {
    /// The field of that name.
    Field(&'a str),
    /// Each element of the list in the field of that name.
    Each(&'a str),
}

fn steps(path: &str) -> Vec<Step<'_>> {
    path.split('.')
        .map(|part| match part.strip_suffix("[]") {
            Some(name) => Step::Each(name),
            None => Step::Field(part),
        })
        .collect()
}

/// What [`each_slot`] calls for each recipient field: the object holding it, the
/// field's name and its position in the input (`emails[1].to`).
type Slot<'f> = dyn FnMut(&mut serde_json::Map<String, serde_json::Value>, &str, &str) + 'f;

/// Calls `leaf` with each recipient field of `value` at `path`.
fn each_slot(value: &mut serde_json::Value, path: &[Step<'_>], at: &str, leaf: &mut Slot<'_>) {
    let join = |name: &str| {
        if at.is_empty() {
            name.to_owned()
        } else {
            format!("{at}.{name}")
        }
    };
    match path {
        [] => {}
        [Step::Field(name)] => {
            if let Some(object) = value.as_object_mut() {
                leaf(object, name, &join(name));
            }
        }
        [Step::Field(name), rest @ ..] => {
            if let Some(inner) = value.get_mut(*name) {
                each_slot(inner, rest, &join(name), leaf);
            }
        }
        [Step::Each(name), rest @ ..] => {
            let prefix = join(name);
            if let Some(items) = value.get_mut(*name).and_then(|v| v.as_array_mut()) {
                for (i, item) in items.iter_mut().enumerate() {
                    each_slot(item, rest, &format!("{prefix}[{i}]"), leaf);
                }
            }
        }
    }
}

/// Every recipient an input names in its recipient fields, as written.
fn recipients_of(input: &serde_json::Value, fields: &[RecipientField]) -> Vec<String> {
    let mut found = Vec::new();
    let mut copy = input.clone();
    for field in fields {
        each_slot(
            &mut copy,
            &steps(field.path),
            "",
            &mut |object, name, _| match object.get(name) {
                _ if !field.mailed_in(object) => {}
                Some(serde_json::Value::String(one)) => found.push(one.clone()),
                Some(serde_json::Value::Array(many)) => found.extend(
                    many.iter()
                        .filter_map(serde_json::Value::as_str)
                        .map(str::to_owned),
                ),
                _ => {}
            },
        );
    }
    found
}

/// What the suppression list did to an input.
#[derive(Debug, Default, PartialEq)]
struct Screened {
    /// The recipients dropped, as written, each once.
    dropped: Vec<String>,
    /// Required fields left without a recipient (`emails[1].to`).
    emptied: Vec<String>,
}

/// Drops the recipients `suppressed` picks from the recipient fields of `input`: from
/// a list, the element (an emptied list goes, field and all); a single address, the
/// field.
fn drop_recipients(
    input: &mut serde_json::Value,
    fields: &[RecipientField],
    suppressed: impl Fn(&str) -> bool,
) -> Screened {
    let mut screened = Screened::default();
    for field in fields {
        each_slot(input, &steps(field.path), "", &mut |object, name, at| {
            if !field.mailed_in(object) {
                return;
            }
            let mut dropped = Vec::new();
            let emptied = match object.get_mut(name) {
                Some(serde_json::Value::String(one)) if suppressed(one) => {
                    dropped.push(one.clone());
                    true
                }
                Some(serde_json::Value::Array(many)) => {
                    many.retain(|item| match item.as_str() {
                        Some(one) if suppressed(one) => {
                            dropped.push(one.to_owned());
                            false
                        }
                        _ => true,
                    });
                    !dropped.is_empty() && many.is_empty()
                }
                _ => false,
            };
            if emptied {
                object.remove(name);
                if field.required {
                    screened.emptied.push(at.to_owned());
                }
            }
            for recipient in dropped {
                if !screened.dropped.contains(&recipient) {
                    screened.dropped.push(recipient);
                }
            }
        });
    }
    screened
}

/// Records a queued action run and stages its job, in the caller's transaction: the
/// job is sent when (and only if) the transaction commits, with whatever else the
/// caller wrote (a cross-post and its platforms).
pub(crate) async fn queue_action(
    tx: &mut junction_store::WorkspaceTx,
    new: NewActionRun<'_>,
) -> Result<ActionRun> {
    let (workspace_id, integration_id, action) = (new.workspace_id, new.integration_id, new.action);
    let run = repo::action_runs::create(
        tx.conn(),
        NewActionRun {
            mode: ActionMode::Queued,
            ..new
        },
    )
    .await?;
    let job_id = outbox::stage(tx.conn(), &Job::of_action_run(&run)).await?;
    log(
        tx,
        workspace_id,
        integration_id,
        LogLevel::Info,
        Operation::Action,
        &format!("action `{action}` queued"),
        json!({"action_run_id": run.id, "job_id": job_id}),
    )
    .await?;
    Ok(run)
}

/// The key sent to the provider for every attempt of one request. Derived, never the
/// client's raw key: scoped to the workspace, integration and action, so keys of
/// different tenants or actions can never meet at the provider.
pub fn provider_idempotency_key(
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    action: &str,
    client_key: Option<&str>,
    run_id: Uuid,
) -> String {
    match client_key {
        Some(key) => {
            let scoped = format!("{workspace_id}:{integration_id}:{action}:{key}");
            let digest = repo::sha256(scoped.as_bytes());
            format!("jct-{}", hex::encode(&digest[..20]))
        }
        None => format!("jct-run-{}", run_id.simple()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn resend_fields() -> Vec<RecipientField> {
        vec![
            RecipientField::new("to", true),
            RecipientField::new("cc", false),
            RecipientField::new("emails[].to", true),
            RecipientField::new("emails[].bcc", false),
        ]
    }

    fn bounced(recipient: &str) -> bool {
        bare_address(recipient) == "bounced@acme.example"
    }

    #[test]
    fn suppressed_recipients_are_dropped_where_the_spec_says() {
        let mut input = json!({
            "to": ["ops@acme.example", "Bounced <BOUNCED@acme.example>"],
            "cc": "bounced@acme.example",
            "reply_to": "bounced@acme.example",
            "subject": "bounced@acme.example",
        });
        assert_eq!(
            recipients_of(&input, &resend_fields()),
            [
                "ops@acme.example",
                "Bounced <BOUNCED@acme.example>",
                "bounced@acme.example"
            ]
        );
        let screened = drop_recipients(&mut input, &resend_fields(), bounced);
        assert_eq!(
            screened,
            Screened {
                dropped: vec![
                    "Bounced <BOUNCED@acme.example>".into(),
                    "bounced@acme.example".into()
                ],
                emptied: vec![],
            }
        );
        // Fields that are not recipients are left alone.
        assert_eq!(
            input,
            json!({
                "to": ["ops@acme.example"],
                "reply_to": "bounced@acme.example",
                "subject": "bounced@acme.example",
            })
        );
    }

    #[test]
    fn an_email_left_without_a_required_recipient_is_named() {
        let mut single = json!({"to": "bounced@acme.example", "cc": ["ops@acme.example"]});
        let screened = drop_recipients(&mut single, &resend_fields(), bounced);
        assert_eq!(screened.emptied, ["to"]);
        let mut batch = json!({"emails": [
            {"to": "ops@acme.example", "bcc": ["bounced@acme.example"]},
            {"to": ["bounced@acme.example"]},
        ]});
        let screened = drop_recipients(&mut batch, &resend_fields(), bounced);
        assert_eq!(screened.emptied, ["emails[1].to"]);
        assert_eq!(screened.dropped, ["bounced@acme.example"]);
        assert_eq!(batch["emails"][0], json!({"to": "ops@acme.example"}));
        // Nothing suppressed: nothing changes.
        let mut clean = json!({"to": "ops@acme.example"});
        let untouched: Value = clean.clone();
        assert_eq!(
            drop_recipients(&mut clean, &resend_fields(), bounced),
            Screened::default()
        );
        assert_eq!(clean, untouched);
    }

    #[test]
    fn a_conditional_recipient_is_screened_only_when_its_email_goes_out() {
        // Mailchimp mails an opt-in confirmation to a `pending` contact only.
        let fields = [
            RecipientField::new("email_address", true).when("status", "pending"),
            RecipientField::new("contacts[].email_address", true).when("status", "pending"),
        ];
        let mut subscribed =
            json!({"email_address": "bounced@acme.example", "status": "subscribed"});
        assert!(recipients_of(&subscribed, &fields).is_empty());
        assert_eq!(
            drop_recipients(&mut subscribed, &fields, bounced),
            Screened::default()
        );
        assert_eq!(subscribed["email_address"], "bounced@acme.example");

        let mut pending = json!({"email_address": "bounced@acme.example", "status": "pending"});
        assert_eq!(recipients_of(&pending, &fields), ["bounced@acme.example"]);
        let screened = drop_recipients(&mut pending, &fields, bounced);
        assert_eq!(screened.emptied, ["email_address"]);

        let mut bulk = json!({"contacts": [
            {"email_address": "bounced@acme.example"},
            {"email_address": "bounced@acme.example", "status": "pending"},
        ]});
        let screened = drop_recipients(&mut bulk, &fields, bounced);
        assert_eq!(screened.emptied, ["contacts[1].email_address"]);
        assert_eq!(bulk["contacts"][0]["email_address"], "bounced@acme.example");
    }

    #[test]
    fn provider_keys_are_scoped_and_stable() {
        let (ws, integration, run) = (WorkspaceId::new(), Uuid::new_v4(), Uuid::new_v4());
        let key = provider_idempotency_key(ws, integration, "refund", Some("k1"), run);
        assert_eq!(
            key,
            provider_idempotency_key(ws, integration, "refund", Some("k1"), Uuid::new_v4())
        );
        assert_ne!(
            key,
            provider_idempotency_key(WorkspaceId::new(), integration, "refund", Some("k1"), run)
        );
        assert_ne!(
            key,
            provider_idempotency_key(ws, integration, "charge", Some("k1"), run)
        );
        assert_eq!(
            provider_idempotency_key(ws, integration, "refund", None, run),
            format!("jct-run-{}", run.simple())
        );
    }
}
