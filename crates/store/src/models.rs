//! Row types of every table, and the text-backed enums stored in status columns.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use crate::schema::*;

/// Declares an enum stored as `text` (each table's CHECK constraint lists the same
/// values), with diesel conversions and `as_str`/`parse`.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, diesel::AsExpression, diesel::FromSqlRow)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant,)+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stored text.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// Parses the stored text.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg>>::to_sql(self.as_str(), out)
            }
        }

        impl diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg> for $name {
            fn from_sql(bytes: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
                let text = <String as diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg>>::from_sql(bytes)?;
                $name::parse(&text).ok_or_else(|| format!("unknown {} `{text}`", stringify!($name)).into())
            }
        }
    };
}

text_enum!(
    /// Where an integration stands. `needs_setup`: connected (credentials stored)
    /// but a required setting whose choices the provider lists is still to be
    /// picked; never synced or scheduled until the config is completed.
    IntegrationStatus {
        Pending => "pending",
        Active => "active",
        NeedsReauth => "needs_reauth",
        Error => "error",
        Disabled => "disabled",
        NeedsSetup => "needs_setup",
    }
);

text_enum!(
    /// The auth kind of an integration (as in the provider's spec).
    AuthKind {
        OAuth2 => "oauth2",
        ApiKey => "api_key",
        Basic => "basic",
        ClientCredentials => "client_credentials",
    }
);

text_enum!(
    /// The last health check's verdict; `needs_reauth` from the moment the provider
    /// refused the integration's grant until it is reconnected.
    Health {
        Unknown => "unknown",
        Healthy => "healthy",
        Unhealthy => "unhealthy",
        NeedsReauth => "needs_reauth",
    }
);

text_enum!(
    /// What started a sync run.
    SyncTrigger {
        Schedule => "schedule",
        Manual => "manual",
        Replay => "replay",
        Webhook => "webhook",
    }
);

text_enum!(
    /// Where a sync run stands.
    RunStatus {
        Queued => "queued",
        Running => "running",
        Retrying => "retrying",
        Succeeded => "succeeded",
        Failed => "failed",
        Dead => "dead",
        Cancelled => "cancelled",
    }
);

text_enum!(
    /// Processing state of a stored webhook event.
    WebhookStatus {
        Received => "received",
        Processing => "processing",
        Processed => "processed",
        Failed => "failed",
        Dead => "dead",
    }
);

text_enum!(
    /// The job queues.
    Queue {
        Sync => "sync",
        Action => "action",
        Webhook => "webhook",
        Notify => "notify",
        Outbound => "outbound",
    }
);

text_enum!(
    /// The types of the events Junction sends to a workspace's webhook endpoints.
    OutboundEventType {
        ConnectionCreated => "connection.created",
        ConnectionNeedsReauth => "connection.needs_reauth",
        ConnectionDeleted => "connection.deleted",
        SyncSucceeded => "sync.succeeded",
        SyncFailed => "sync.failed",
        RecordsChanged => "records.changed",
        ActionFinished => "action.finished",
        ProviderEventReceived => "provider_event.received",
    }
);

text_enum!(
    /// Where the delivery of an event to one endpoint stands.
    DeliveryStatus {
        Pending => "pending",
        Succeeded => "succeeded",
        Failed => "failed",
    }
);

text_enum!(
    /// Severity of an integration log entry.
    LogLevel {
        Info => "info",
        Warn => "warn",
        Error => "error",
    }
);

text_enum!(
    /// The operation an integration log entry is about.
    Operation {
        Connect => "connect",
        Check => "check",
        Sync => "sync",
        Refresh => "refresh",
        Action => "action",
        Webhook => "webhook",
        Revoke => "revoke",
        Update => "update",
        Reconnect => "reconnect",
        Alert => "alert",
        Proxy => "proxy",
    }
);

text_enum!(
    /// How an alert rule compares a metric with its threshold.
    AlertCondition {
        Above => "above",
        Below => "below",
        ChangePctAbove => "change_pct_above",
        ChangePctBelow => "change_pct_below",
    }
);

text_enum!(
    /// What a notification reports.
    NotificationKind {
        KpiAlert => "kpi_alert",
        SyncFailed => "sync_failed",
        NeedsReauth => "needs_reauth",
        DeadLetter => "dead_letter",
        WeeklyReport => "weekly_report",
        DailyDigest => "daily_digest",
        PaymentEmail => "payment_email",
    }
);

text_enum!(
    /// Delivery state of a notification: `awaiting_digest` notices wait for the
    /// workspace's daily digest, which marks them `digested`.
    NotificationStatus {
        Pending => "pending",
        Sent => "sent",
        Failed => "failed",
        Suppressed => "suppressed",
        AwaitingDigest => "awaiting_digest",
        Digested => "digested",
    }
);

text_enum!(
    /// How a workspace's operational notices (failed syncs, lost grants, dead
    /// letters) go out.
    NoticeDelivery {
        Immediate => "immediate",
        DailyDigest => "daily_digest",
    }
);

text_enum!(
    /// How an action runs: within the API request, or on the action queue.
    ActionMode {
        Inline => "inline",
        Queued => "queued",
    }
);

text_enum!(
    /// Where an action run stands.
    ActionStatus {
        Queued => "queued",
        Running => "running",
        Succeeded => "succeeded",
        Failed => "failed",
    }
);

/// One action requested through the API.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = action_runs, check_for_backend(diesel::pg::Pg))]
pub struct ActionRun {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub integration_id: Uuid,
    pub action: String,
    pub mode: ActionMode,
    pub status: ActionStatus,
    pub input: serde_json::Value,
    pub output: Option<serde_json::Value>,
    pub external_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// The key every attempt sends to the provider (never the client's raw key).
    pub provider_idempotency_key: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Addresses the workspace's suppression list dropped from the input (actions
    /// that send email), as the client wrote them.
    pub suppressed_recipients: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = workspaces, check_for_backend(diesel::pg::Pg))]
pub struct Workspace {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// The IANA time zone its "today" is in (`Europe/Berlin`).
    pub time_zone: String,
    /// The first day of its weeks: `monday`, `sunday` or `saturday`.
    pub week_start: String,
    /// Where connect sessions may send their end users back: whole URLs, or
    /// origins (`https://app.example.com`) admitting any path of theirs.
    pub connect_return_urls: Vec<String>,
}

/// An installation-wide operator key (no workspace): it reads installation-wide
/// figures. Stored only as SHA-256.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = operator_keys, check_for_backend(diesel::pg::Pg))]
pub struct OperatorKey {
    pub id: Uuid,
    pub name: String,
    pub display_prefix: String,
    #[serde(skip)]
    pub key_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
pub struct ApiKey {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub display_prefix: String,
    #[serde(skip)]
    pub key_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = integrations, check_for_backend(diesel::pg::Pg))]
pub struct Integration {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub provider: String,
    pub display_name: String,
    pub status: IntegrationStatus,
    pub auth_kind: AuthKind,
    pub config: serde_json::Value,
    pub scopes: Vec<String>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub schedule_seconds: i32,
    pub sync_enabled: bool,
    pub next_sync_at: Option<DateTime<Utc>>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub health: Health,
    pub health_checked_at: Option<DateTime<Utc>>,
    pub health_message: Option<String>,
    pub last_error_code: Option<String>,
    pub last_error_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The end user a connect session connected it for (the client app's id).
    pub end_user_id: Option<String>,
    /// That end user as the session described them (`id`, `email`, `display_name`).
    pub end_user: Option<serde_json::Value>,
    /// The session's tags (a string map), for the client app's own filters.
    pub tags: Option<serde_json::Value>,
    /// The connect session that connected it.
    pub connect_session_id: Option<Uuid>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = integrations)]
pub struct NewIntegration {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub provider: String,
    pub display_name: String,
    pub status: IntegrationStatus,
    pub auth_kind: AuthKind,
    pub config: serde_json::Value,
    pub scopes: Vec<String>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub schedule_seconds: i32,
    pub next_sync_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = credentials, check_for_backend(diesel::pg::Pg))]
pub struct CredentialRow {
    pub workspace_id: Uuid,
    pub integration_id: Uuid,
    pub field: String,
    pub key_id: String,
    pub sealed: Vec<u8>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_states, check_for_backend(diesel::pg::Pg))]
pub struct OAuthState {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub provider: String,
    pub integration_id: Option<Uuid>,
    pub state_hash: Vec<u8>,
    pub pkce_key_id: Option<String>,
    pub pkce_verifier_sealed: Option<Vec<u8>>,
    pub redirect_uri: String,
    pub return_to: Option<String>,
    pub config: serde_json::Value,
    pub display_name: Option<String>,
    pub schedule_seconds: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub consumed_at: Option<DateTime<Utc>>,
    /// The connect session the flow was started through.
    pub connect_session_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = sync_runs, check_for_backend(diesel::pg::Pg))]
pub struct SyncRun {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub integration_id: Uuid,
    pub stream: Option<String>,
    pub trigger: SyncTrigger,
    pub status: RunStatus,
    pub job_id: Option<String>,
    pub attempts: i32,
    pub records_read: i64,
    pub records_written: i64,
    pub kpi_points_written: i64,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The streams the run reads, decided when it was queued; `None` on runs queued
    /// before streams had schedules of their own (every enabled stream).
    pub streams: Option<Vec<String>>,
    /// Records the run marked deleted (gone from a full-refresh stream).
    pub records_deleted: i64,
}

/// The state of one stream of an integration: its cursor, its schedule and its
/// read in progress.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = stream_states, check_for_backend(diesel::pg::Pg))]
pub struct StreamState {
    pub workspace_id: Uuid,
    pub integration_id: Uuid,
    pub stream: String,
    pub cursor: Option<serde_json::Value>,
    pub pages_committed: i64,
    pub updated_at: DateTime<Utc>,
    /// A disabled stream is never synced by the scheduler.
    pub enabled: bool,
    /// The stream's own schedule; `None`: the provider's default for the stream.
    pub schedule_seconds: Option<i32>,
    /// When the stream is due next; `None`: as soon as the integration is scheduled.
    pub next_sync_at: Option<DateTime<Utc>>,
    /// When a sync last read the stream to its end.
    pub last_synced_at: Option<DateTime<Utc>>,
    /// The run that did.
    pub last_run_id: Option<Uuid>,
    /// The pass in progress (`None` between passes).
    pub pass_id: Option<Uuid>,
    pub pass_started_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = records, check_for_backend(diesel::pg::Pg))]
pub struct RecordRow {
    pub workspace_id: Uuid,
    pub integration_id: Uuid,
    pub stream: String,
    pub external_id: String,
    pub data: serde_json::Value,
    #[serde(skip)]
    pub content_hash: Vec<u8>,
    pub provider_modified_at: Option<DateTime<Utc>>,
    pub first_seen_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the record was found removed upstream (kept, marked); `None`: live.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A stored KPI point as the readers aggregate it ([`crate::repo::kpis::series`]):
/// only what an aggregation reads. A year of one chart is hundreds of rows per
/// request: the read takes them from the primary key's index alone, and the
/// dimensions come from their key ([`junction_core::dimensions_from_key`]).
#[derive(Debug, Clone, PartialEq)]
pub struct KpiValueRow {
    pub integration_id: Uuid,
    pub date: NaiveDate,
    pub dimension_key: String,
    pub dimensions: serde_json::Value,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = kpi_points, check_for_backend(diesel::pg::Pg))]
pub struct KpiRow {
    pub workspace_id: Uuid,
    pub integration_id: Uuid,
    pub metric: String,
    pub date: NaiveDate,
    pub dimension_key: String,
    pub dimensions: serde_json::Value,
    pub value: f64,
    pub stream: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = webhook_events, check_for_backend(diesel::pg::Pg))]
pub struct WebhookEventRow {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub integration_id: Uuid,
    pub provider: String,
    pub event_id: String,
    pub event_type: String,
    pub headers: serde_json::Value,
    #[serde(skip)]
    pub body: Vec<u8>,
    pub status: WebhookStatus,
    pub attempts: i32,
    pub error_message: Option<String>,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
    /// How often operators replayed the event (each replay is a job of its own).
    pub replays: i32,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = dead_letters, check_for_backend(diesel::pg::Pg))]
pub struct DeadLetter {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub integration_id: Option<Uuid>,
    pub queue: Queue,
    pub job_id: String,
    pub job: serde_json::Value,
    pub error_code: String,
    pub error_message: String,
    pub attempts: i32,
    pub attempt_log: serde_json::Value,
    pub first_failed_at: DateTime<Utc>,
    pub dead_at: DateTime<Utc>,
    pub replayed_at: Option<DateTime<Utc>>,
    pub replay_job_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = integration_logs, check_for_backend(diesel::pg::Pg))]
pub struct IntegrationLog {
    pub id: i64,
    pub workspace_id: Uuid,
    pub integration_id: Uuid,
    pub at: DateTime<Utc>,
    pub level: LogLevel,
    pub operation: Operation,
    pub message: String,
    pub details: serde_json::Value,
    pub run_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys, check_for_backend(diesel::pg::Pg))]
pub struct IdempotencyRecord {
    pub workspace_id: Uuid,
    pub key: String,
    pub method: String,
    pub path: String,
    pub request_hash: Vec<u8>,
    pub response_status: Option<i16>,
    /// The answer of a row written before `response_raw` (replayed as JSON).
    pub response_body: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub response_content_type: Option<String>,
    /// The answer's body as it was sent.
    pub response_raw: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = alert_rules, check_for_backend(diesel::pg::Pg))]
pub struct AlertRule {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub integration_id: Option<Uuid>,
    pub name: String,
    pub metric: String,
    pub condition: AlertCondition,
    pub threshold: f64,
    pub window_days: i32,
    pub recipients: Vec<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    /// When the rule last mailed.
    pub last_triggered_at: Option<DateTime<Utc>>,
    /// Since when the condition holds; `None` while it does not.
    pub firing_since: Option<DateTime<Utc>>,
    /// The value the last evaluation computed (a change in percent for `change_pct_*`).
    pub last_value: Option<f64>,
    pub last_evaluated_at: Option<DateTime<Utc>>,
    /// The one currency a rule on a money metric watches; `None`: each alone.
    pub currency: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = notifications, check_for_backend(diesel::pg::Pg))]
pub struct Notification {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub kind: NotificationKind,
    pub dedupe_key: String,
    pub alert_rule_id: Option<Uuid>,
    pub integration_id: Option<Uuid>,
    pub recipients: Vec<String>,
    pub subject: String,
    pub status: NotificationStatus,
    pub provider_message_id: Option<String>,
    pub error_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// What the notification reports, as recorded when it was created.
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = webhook_endpoints, check_for_backend(diesel::pg::Pg))]
pub struct WebhookEndpoint {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub url: String,
    pub description: String,
    /// The event types it receives; empty: every type.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why Junction disabled it (it answered 410 Gone).
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who hears of a workspace's failed syncs, lost grants and dead letters, and how.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = notification_settings, check_for_backend(diesel::pg::Pg))]
pub struct NotificationSettings {
    pub workspace_id: Uuid,
    pub sync_failed_recipients: Vec<String>,
    pub needs_reauth_recipients: Vec<String>,
    pub dead_letter_recipients: Vec<String>,
    pub delivery: NoticeDelivery,
    /// The local hour (0-23) the daily digest goes out at.
    pub digest_hour: i16,
    /// An IANA time zone name.
    pub time_zone: String,
    /// The local day of the last digest.
    pub last_digest_on: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A workspace's weekly KPI report.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = weekly_report_settings, check_for_backend(diesel::pg::Pg))]
pub struct WeeklyReportSettings {
    pub workspace_id: Uuid,
    pub enabled: bool,
    pub recipients: Vec<String>,
    /// ISO weekday: 1 = Monday ... 7 = Sunday.
    pub weekday: i16,
    /// The local hour (0-23) it goes out at.
    pub hour: i16,
    /// An IANA time zone name.
    pub time_zone: String,
    /// The metrics reported; empty: every metric of the workspace's integrations.
    pub metrics: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A sealed signing secret of an endpoint (opened only to sign or to show it).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoint_secrets, check_for_backend(diesel::pg::Pg))]
pub struct EndpointSecretRow {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub endpoint_id: Uuid,
    pub key_id: String,
    pub sealed: Vec<u8>,
    pub created_at: DateTime<Utc>,
    /// `None` for the current secret; a replaced one signs until then.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = outbound_events, check_for_backend(diesel::pg::Pg))]
pub struct OutboundEvent {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub event_type: OutboundEventType,
    pub integration_id: Option<Uuid>,
    pub dedupe_key: String,
    /// The body every delivery sends.
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = outbound_deliveries, check_for_backend(diesel::pg::Pg))]
pub struct OutboundDelivery {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub event_id: Uuid,
    pub endpoint_id: Uuid,
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// The job running it (a dead letter's replay has its own).
    pub job_id: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub succeeded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = outbound_attempts, check_for_backend(diesel::pg::Pg))]
pub struct OutboundAttempt {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub delivery_id: Uuid,
    pub event_id: Uuid,
    pub endpoint_id: Uuid,
    /// 1-based, counted over the delivery's whole life (replays included).
    pub attempt: i32,
    pub url: String,
    /// `None` when no answer came (timeout, refused connection).
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    /// The start of the answer's body.
    pub response_excerpt: Option<String>,
    pub succeeded: bool,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub attempted_at: DateTime<Utc>,
    /// When the next attempt is due, once its retry is scheduled.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// An address the workspace's emails must skip.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = email_suppressions, check_for_backend(diesel::pg::Pg))]
pub struct EmailSuppression {
    pub workspace_id: Uuid,
    /// Lower-cased.
    pub address: String,
    /// Why (`bounce`, `complaint`, `manual`, ...).
    pub reason: String,
    /// The integration whose webhook reported it, if one did.
    pub source_integration_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// A connect session: a short-lived token (stored as its SHA-256) with which a
/// workspace's end user connects providers, and nothing else.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = connect_sessions, check_for_backend(diesel::pg::Pg))]
pub struct ConnectSession {
    pub id: Uuid,
    pub workspace_id: Uuid,
    #[serde(skip)]
    pub token_hash: Vec<u8>,
    /// The providers the session may connect; empty: every provider.
    pub allowed_providers: Vec<String>,
    pub end_user_id: String,
    pub end_user: serde_json::Value,
    pub tags: serde_json::Value,
    pub return_url: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An article cross-posted to several blog integrations; its canonical URL is its
/// identity within the workspace.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = cross_posts, check_for_backend(diesel::pg::Pg))]
pub struct CrossPost {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub canonical_url: String,
    /// The article as last written (title, body, tags, ...).
    pub article: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One platform of a cross-post: the runs that publish and update the post there.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = cross_post_targets, check_for_backend(diesel::pg::Pg))]
pub struct CrossPostTarget {
    pub cross_post_id: Uuid,
    pub workspace_id: Uuid,
    pub integration_id: Uuid,
    /// Where the client listed it.
    pub position: i16,
    /// Platform-specific input the client gave.
    pub options: serde_json::Value,
    pub publish_run_id: Uuid,
    pub update_run_id: Option<Uuid>,
    /// What the platform could not take (tags beyond its limit, an edit it allows
    /// not), in words.
    pub notes: Vec<String>,
}
