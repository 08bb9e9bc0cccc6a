//! The workspace's notification settings: GET /v1/notification-settings and
//! PUT /v1/notification-settings.
//!
//! Who hears of failed syncs (`sync_failed`), integrations that lost their grant
//! (`needs_reauth`) and dead letters (`dead_letter`), independent of alert rules; and
//! whether each notice is mailed at once or gathered into one email a day at
//! `digest_hour` in `time_zone`. Until a workspace saves settings, the recipients of
//! its enabled alert rules hear of everything at once (`configured: false`, the
//! lists show them).

use actix_web::{get, put, web};
use chrono::{DateTime, Utc};
use junction_app::notifications::settings::{
    EffectiveNotificationSettings, NotificationSettingsInput,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    auth::Auth,
    error::{ApiResult, Problem},
    extract::Json,
    state::AppState,
};

/// Who hears of each kind of notice.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeRecipients {
    /// Syncs that failed for good (dead-lettered).
    #[schema(schema_with = crate::schema::optional_recipients)]
    pub sync_failed: Option<Vec<String>>,
    /// Integrations whose grant the provider refused: they need a reconnect.
    #[schema(schema_with = crate::schema::optional_recipients)]
    pub needs_reauth: Option<Vec<String>>,
    /// Action and webhook jobs that failed for good.
    #[schema(schema_with = crate::schema::optional_recipients)]
    pub dead_letter: Option<Vec<String>>,
}

/// PUT /v1/notification-settings: the whole settings (what is left out takes its
/// default: nobody, immediately, 8 o'clock, UTC).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutNotificationSettings {
    /// Who hears of each kind (a kind left out: nobody).
    pub recipients: Option<NoticeRecipients>,
    #[schema(schema_with = crate::schema::notice_delivery_or_null)]
    pub delivery: Option<String>,
    #[schema(schema_with = crate::schema::hour_or_null)]
    pub digest_hour: Option<i64>,
    #[schema(schema_with = crate::schema::time_zone_or_null)]
    pub time_zone: Option<String>,
}

/// Who hears of each kind of notice (addresses, lower-cased).
#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeRecipientsView {
    pub sync_failed: Vec<String>,
    pub needs_reauth: Vec<String>,
    pub dead_letter: Vec<String>,
}

/// The workspace's notification settings as they apply now.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationSettingsView {
    /// Whether the workspace saved settings; until it does, the recipients of its
    /// enabled alert rules hear of everything, at once (the lists show them).
    pub configured: bool,
    pub recipients: NoticeRecipientsView,
    /// `immediate` or `daily_digest`.
    #[schema(schema_with = crate::schema::notice_delivery)]
    pub delivery: String,
    /// The hour (0-23, in `time_zone`) the daily digest goes out.
    pub digest_hour: i16,
    /// An IANA time zone name.
    pub time_zone: String,
    /// When the next digest goes out (daily digest only).
    pub next_digest_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<EffectiveNotificationSettings> for NotificationSettingsView {
    fn from(settings: EffectiveNotificationSettings) -> Self {
        Self {
            configured: settings.configured,
            recipients: NoticeRecipientsView {
                sync_failed: settings.sync_failed,
                needs_reauth: settings.needs_reauth,
                dead_letter: settings.dead_letter,
            },
            delivery: settings.delivery.as_str().to_owned(),
            digest_hour: settings.digest_hour,
            time_zone: settings.time_zone,
            next_digest_at: settings.next_digest_at,
            updated_at: settings.updated_at,
        }
    }
}

/// The workspace's notification settings.
#[utoipa::path(
    tag = "notifications",
    responses((status = 200, body = NotificationSettingsView)),
    security(("api_key" = []))
)]
#[get("/v1/notification-settings")]
pub async fn get(
    state: web::Data<AppState>,
    auth: Auth,
) -> ApiResult<web::Json<NotificationSettingsView>> {
    let settings = state.app.notification_settings(auth.workspace_id).await?;
    Ok(web::Json(settings.into()))
}

/// Replaces the workspace's notification settings. Switching to the daily digest
/// makes the next digest hour the first digest; switching back to immediate sends
/// the notices still waiting for a digest at once.
#[utoipa::path(
    tag = "notifications",
    request_body = PutNotificationSettings,
    responses(
        (status = 200, body = NotificationSettingsView),
        (status = 422, body = Problem, description = "`validation_failed`: every field at fault (an address that is not one, an hour outside 0-23, a time zone that is not an IANA name)")
    ),
    security(("api_key" = []))
)]
#[put("/v1/notification-settings")]
pub async fn update(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<PutNotificationSettings>,
) -> ApiResult<web::Json<NotificationSettingsView>> {
    let body = body.into_inner();
    let recipients = body.recipients.unwrap_or_default();
    let settings = state
        .app
        .put_notification_settings(
            auth.workspace_id,
            NotificationSettingsInput {
                sync_failed: recipients.sync_failed,
                needs_reauth: recipients.needs_reauth,
                dead_letter: recipients.dead_letter,
                delivery: body.delivery,
                digest_hour: body.digest_hour,
                time_zone: body.time_zone,
            },
        )
        .await?;
    Ok(web::Json(settings.into()))
}
