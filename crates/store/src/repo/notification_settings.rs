//! The `notification_settings` table: one row per workspace that chose who hears of
//! its failed syncs, lost grants and dead letters, and whether they come at once or
//! in a daily digest; and the digest sweep's cross-tenant list of such workspaces.

use chrono::NaiveDate;
use diesel::{
    QueryableByName,
    prelude::*,
    sql_types::{Date, Integer, Nullable, SmallInt, Text},
};
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use uuid::Uuid;

use crate::{
    Conn, StoreError,
    models::{NoticeDelivery, NotificationSettings},
    schema::notification_settings,
};

/// Settings to save (every field: a PUT replaces them).
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotificationSettings {
    pub sync_failed_recipients: Vec<String>,
    pub needs_reauth_recipients: Vec<String>,
    pub dead_letter_recipients: Vec<String>,
    pub delivery: NoticeDelivery,
    pub digest_hour: i16,
    pub time_zone: String,
}

/// The scoped workspace's settings, if it saved some.
pub async fn get(conn: &mut Conn) -> Result<Option<NotificationSettings>, StoreError> {
    Ok(notification_settings::table
        .select(NotificationSettings::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The same, locked until the transaction ends (the digest pass of a day runs once).
pub async fn get_for_update(conn: &mut Conn) -> Result<Option<NotificationSettings>, StoreError> {
    Ok(notification_settings::table
        .select(NotificationSettings::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

/// Saves the workspace's settings (the day of the last digest is kept).
pub async fn put(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    new: &NewNotificationSettings,
) -> Result<NotificationSettings, StoreError> {
    let values = (
        notification_settings::sync_failed_recipients.eq(&new.sync_failed_recipients),
        notification_settings::needs_reauth_recipients.eq(&new.needs_reauth_recipients),
        notification_settings::dead_letter_recipients.eq(&new.dead_letter_recipients),
        notification_settings::delivery.eq(new.delivery),
        notification_settings::digest_hour.eq(new.digest_hour),
        notification_settings::time_zone.eq(&new.time_zone),
    );
    Ok(diesel::insert_into(notification_settings::table)
        .values((
            notification_settings::workspace_id.eq(workspace_id.as_uuid()),
            values,
        ))
        .on_conflict(notification_settings::workspace_id)
        .do_update()
        .set((
            values,
            notification_settings::updated_at.eq(diesel::dsl::now),
        ))
        .returning(NotificationSettings::as_returning())
        .get_result(conn)
        .await?)
}

/// Records the local day whose digest was handled.
pub async fn set_last_digest_on(conn: &mut Conn, day: NaiveDate) -> Result<(), StoreError> {
    diesel::update(notification_settings::table)
        .set(notification_settings::last_digest_on.eq(Some(day)))
        .execute(conn)
        .await?;
    Ok(())
}

/// A workspace that gathers its notices into a daily digest.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct DigestSchedule {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub workspace_id: Uuid,
    #[diesel(sql_type = SmallInt)]
    pub digest_hour: i16,
    #[diesel(sql_type = Text)]
    pub time_zone: String,
    #[diesel(sql_type = Nullable<Date>)]
    pub last_digest_on: Option<NaiveDate>,
}

/// Cross-tenant (the system role's connection): up to `limit` workspaces in digest
/// mode after the workspace id `after`, by id.
pub async fn digest_schedules(
    conn: &mut Conn,
    after: Option<Uuid>,
    limit: i32,
) -> Result<Vec<DigestSchedule>, StoreError> {
    Ok(
        diesel::sql_query("SELECT * FROM junction_digest_schedules($1, $2)")
            .bind::<Nullable<diesel::sql_types::Uuid>, _>(after)
            .bind::<Integer, _>(limit)
            .load(conn)
            .await?,
    )
}
