//! The `kpi_points` table: metric values per day, upserted by
//! (integration, metric, date, dimension key).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::{prelude::*, upsert::excluded};
use diesel_async::RunQueryDsl;
use junction_core::{KpiPoint, WorkspaceId};
use uuid::Uuid;

use crate::{Conn, StoreError, models::KpiValueRow, schema::kpi_points};

const CHUNK: usize = 1000;

/// Upserts KPI points. A point whose value is unchanged is left alone. Returns how
/// many rows were inserted or changed. Duplicates within the batch keep the last.
pub async fn upsert(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    stream: &str,
    points: &[KpiPoint],
) -> Result<u64, StoreError> {
    let mut unique: BTreeMap<(&str, NaiveDate, String), &KpiPoint> = BTreeMap::new();
    for point in points {
        if !point.value.is_finite() {
            return Err(StoreError::Invalid(format!(
                "KPI `{}` on {} is not a finite number",
                point.metric, point.date
            )));
        }
        unique.insert(
            (point.metric.as_str(), point.date, point.dimension_key()),
            point,
        );
    }
    let rows: Vec<_> = unique
        .iter()
        .map(|((metric, date, key), point)| {
            (
                kpi_points::workspace_id.eq(workspace_id.as_uuid()),
                kpi_points::integration_id.eq(integration_id),
                kpi_points::metric.eq(*metric),
                kpi_points::date.eq(*date),
                kpi_points::dimension_key.eq(key.as_str()),
                kpi_points::dimensions
                    .eq(serde_json::to_value(&point.dimensions).unwrap_or_default()),
                kpi_points::value.eq(point.value),
                kpi_points::stream.eq(stream),
            )
        })
        .collect();
    // The ON CONFLICT ... WHERE clause comes from FilterDsl on the insert statement.
    use diesel::query_dsl::methods::FilterDsl;
    let mut written = 0u64;
    for chunk in rows.chunks(CHUNK) {
        let changed = diesel::insert_into(kpi_points::table)
            .values(chunk)
            .on_conflict((
                kpi_points::integration_id,
                kpi_points::metric,
                kpi_points::date,
                kpi_points::dimension_key,
            ))
            .do_update()
            .set((
                kpi_points::value.eq(excluded(kpi_points::value)),
                kpi_points::dimensions.eq(excluded(kpi_points::dimensions)),
                kpi_points::stream.eq(excluded(kpi_points::stream)),
                kpi_points::updated_at.eq(diesel::dsl::now),
            ))
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "kpi_points.value IS DISTINCT FROM excluded.value OR kpi_points.dimensions IS DISTINCT FROM excluded.dimensions",
            ))
            .execute(conn)
            .await?;
        written += changed as u64;
    }
    Ok(written)
}

/// How many KPI points of a stream changed after `since`.
pub async fn changed_since(
    conn: &mut Conn,
    integration_id: Uuid,
    stream: &str,
    since: DateTime<Utc>,
) -> Result<i64, StoreError> {
    Ok(kpi_points::table
        .filter(kpi_points::integration_id.eq(integration_id))
        .filter(kpi_points::stream.eq(stream.to_owned()))
        .filter(kpi_points::updated_at.gt(since))
        .count()
        .get_result(conn)
        .await?)
}

/// A metric's points in a date range (inclusive), for the integrations given or all
/// of the scoped workspace's, ordered by date. The integrations are filtered in
/// Postgres (the primary key leads with the integration): a chart of one
/// integration reads its own points, not the whole workspace's.
pub async fn series(
    conn: &mut Conn,
    integration_ids: Option<&[Uuid]>,
    metric: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<KpiValueRow>, StoreError> {
    let mut query = kpi_points::table
        .filter(kpi_points::metric.eq(metric.to_owned()))
        .filter(kpi_points::date.between(from, to))
        .order((
            kpi_points::date,
            kpi_points::integration_id,
            kpi_points::dimension_key,
        ))
        .select(KpiValueRow::as_select())
        .into_boxed();
    if let Some(ids) = integration_ids {
        query = query.filter(kpi_points::integration_id.eq_any(ids.to_vec()));
    }
    Ok(query.load(conn).await?)
}
