//! The `kpi_points` table: metric values per day, upserted by
//! (integration, metric, date, dimension key).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use junction_core::{KpiPoint, WorkspaceId};
use uuid::Uuid;

use crate::{Conn, StoreError, models::KpiValueRow, schema::kpi_points};

/// Points per statement: bounds the arrays one statement carries when a provider's
/// page is very large.
const CHUNK: usize = 20_000;

/// The upsert of [`upsert`]: the points come as one array per column, unnested, so
/// the statement's text is the same for any number of points — Postgres parses and
/// plans it once per connection (prepared), where a multi-row `VALUES` list of
/// thousands of parameters cost more to parse and plan than its rows cost to write.
const UPSERT: &str = "INSERT INTO kpi_points \
    (workspace_id, integration_id, metric, date, dimension_key, dimensions, value, stream) \
    SELECT $1, $2, p.metric, p.date, p.dimension_key, p.dimensions, p.value, $3 \
    FROM unnest($4::text[], $5::date[], $6::text[], $7::jsonb[], $8::float8[]) \
        AS p (metric, date, dimension_key, dimensions, value) \
    ON CONFLICT (integration_id, metric, date, dimension_key) DO UPDATE SET \
        value = excluded.value, dimensions = excluded.dimensions, stream = excluded.stream, \
        updated_at = now() \
    WHERE kpi_points.value IS DISTINCT FROM excluded.value \
        OR kpi_points.dimensions IS DISTINCT FROM excluded.dimensions";

/// Upserts KPI points. A point whose value is unchanged is left alone. Returns how
/// many rows were inserted or changed. Duplicates within the batch keep the last.
pub async fn upsert(
    conn: &mut Conn,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    stream: &str,
    points: &[KpiPoint],
) -> Result<u64, StoreError> {
    use diesel::sql_types::{Array, Date, Double, Jsonb, Text, Uuid as SqlUuid};
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
    let rows: Vec<_> = unique.into_iter().collect();
    let mut written = 0u64;
    for chunk in rows.chunks(CHUNK) {
        let metrics: Vec<&str> = chunk.iter().map(|((metric, _, _), _)| *metric).collect();
        let dates: Vec<NaiveDate> = chunk.iter().map(|((_, date, _), _)| *date).collect();
        let keys: Vec<&str> = chunk.iter().map(|((_, _, key), _)| key.as_str()).collect();
        let dimensions: Vec<serde_json::Value> = chunk
            .iter()
            .map(|(_, point)| serde_json::to_value(&point.dimensions).unwrap_or_default())
            .collect();
        let values: Vec<f64> = chunk.iter().map(|(_, point)| point.value).collect();
        let changed = diesel::sql_query(UPSERT)
            .bind::<SqlUuid, _>(workspace_id.as_uuid())
            .bind::<SqlUuid, _>(integration_id)
            .bind::<Text, _>(stream)
            .bind::<Array<Text>, _>(&metrics)
            .bind::<Array<Date>, _>(&dates)
            .bind::<Array<Text>, _>(&keys)
            .bind::<Array<Jsonb>, _>(&dimensions)
            .bind::<Array<Double>, _>(&values)
            .execute(conn)
            .await?;
        written += changed as u64;
    }
    Ok(written)
}

/// How many KPI points of each stream changed after `since` (streams without a
/// change are absent). One pass over the integration's points for every stream
/// at once: the end of a sync reports each of its streams, and a pass per stream
/// read all of the integration's points once per stream.
pub async fn changed_since(
    conn: &mut Conn,
    integration_id: Uuid,
    since: DateTime<Utc>,
) -> Result<BTreeMap<String, i64>, StoreError> {
    let counts: Vec<(String, i64)> = kpi_points::table
        .filter(kpi_points::integration_id.eq(integration_id))
        .filter(kpi_points::updated_at.gt(since))
        .group_by(kpi_points::stream)
        .select((kpi_points::stream, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    Ok(counts.into_iter().collect())
}

/// A metric's points in a date range (inclusive), for the integrations given or all
/// of the scoped workspace's, ordered by date. The integrations are filtered in
/// Postgres (the primary key leads with the integration): a chart of one
/// integration reads its own points, not the whole workspace's.
///
/// It reads only columns the primary key's index holds (its key, and `workspace_id`
/// and `value` included: migration `2026-12-12-000020_kpi_read_index`), so
/// Postgres answers from the index without visiting a table page per day — a
/// year of one integration's points lies on hundreds of pages, one per day's sync.
/// The dimensions are rebuilt from their canonical key.
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
        .select((
            kpi_points::integration_id,
            kpi_points::date,
            kpi_points::dimension_key,
            kpi_points::value,
        ))
        .into_boxed();
    if let Some(ids) = integration_ids {
        query = query.filter(kpi_points::integration_id.eq_any(ids.to_vec()));
    }
    let rows: Vec<(Uuid, NaiveDate, String, f64)> = query.load(conn).await?;
    Ok(rows
        .into_iter()
        .map(|(integration_id, date, dimension_key, value)| KpiValueRow {
            integration_id,
            date,
            dimensions: dimensions_of(&dimension_key),
            dimension_key,
            value,
        })
        .collect())
}

/// The dimensions of a stored key, as the JSON object they were stored as.
fn dimensions_of(dimension_key: &str) -> serde_json::Value {
    serde_json::Value::Object(
        junction_core::dimensions_from_key(dimension_key)
            .into_iter()
            .map(|(name, value)| (name, serde_json::Value::String(value)))
            .collect(),
    )
}
