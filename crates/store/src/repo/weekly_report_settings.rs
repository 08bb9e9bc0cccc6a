//! The `weekly_report_settings` table: a workspace's weekly KPI report (recipients,
//! weekday, hour, time zone, metrics), and the report sweep's cross-tenant list of the
//! reports that are on.

use diesel::{
    QueryableByName,
    prelude::*,
    sql_types::{Integer, Nullable, SmallInt, Text},
};
use diesel_async::RunQueryDsl;
use junction_core::WorkspaceId;
use uuid::Uuid;

use crate::{Conn, StoreError, models::WeeklyReportSettings, schema::weekly_report_settings};

/// Settings to save (every field: a PUT replaces them).
#[derive(Debug, Clone, PartialEq)]
pub struct NewWeeklyReportSettings {
    pub enabled: bool,
    pub recipients: Vec<String>,
    /// ISO weekday, 1 = Monday.
    pub weekday: i16,
    pub hour: i16,
    pub time_zone: String,
    pub metrics: Vec<String>,
}

/// The scoped workspace's settings, if it saved some.
pub async fn get(conn: &mut Conn) -> Result<Option<WeeklyReportSettings>, StoreError> {
    Ok(weekly_report_settings::table
        .select(WeeklyReportSettings::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Saves the workspace's settings.
pub async fn put(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    new: &NewWeeklyReportSettings,
) -> Result<WeeklyReportSettings, StoreError> {
    let values = (
        weekly_report_settings::enabled.eq(new.enabled),
        weekly_report_settings::recipients.eq(&new.recipients),
        weekly_report_settings::weekday.eq(new.weekday),
        weekly_report_settings::hour.eq(new.hour),
        weekly_report_settings::time_zone.eq(&new.time_zone),
        weekly_report_settings::metrics.eq(&new.metrics),
    );
    Ok(diesel::insert_into(weekly_report_settings::table)
        .values((
            weekly_report_settings::workspace_id.eq(workspace_id.as_uuid()),
            values,
        ))
        .on_conflict(weekly_report_settings::workspace_id)
        .do_update()
        .set((
            values,
            weekly_report_settings::updated_at.eq(diesel::dsl::now),
        ))
        .returning(WeeklyReportSettings::as_returning())
        .get_result(conn)
        .await?)
}

/// When an enabled report goes out.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct ReportSchedule {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub workspace_id: Uuid,
    /// ISO weekday, 1 = Monday.
    #[diesel(sql_type = SmallInt)]
    pub weekday: i16,
    #[diesel(sql_type = SmallInt)]
    pub hour: i16,
    #[diesel(sql_type = Text)]
    pub time_zone: String,
}

/// Cross-tenant (the system role's connection): up to `limit` enabled reports after
/// the workspace id `after`, by id.
pub async fn schedules(
    conn: &mut Conn,
    after: Option<Uuid>,
    limit: i32,
) -> Result<Vec<ReportSchedule>, StoreError> {
    Ok(
        diesel::sql_query("SELECT * FROM junction_weekly_report_schedules($1, $2)")
            .bind::<Nullable<diesel::sql_types::Uuid>, _>(after)
            .bind::<Integer, _>(limit)
            .load(conn)
            .await?,
    )
}
