//! What syncs and webhooks produced: an integration's records, in the order they
//! last changed, and KPI series by day, week or month.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use junction_core::{ErrorCode, WorkspaceId};
use junction_store::{models::RecordRow, repo};
use uuid::Uuid;

use crate::{App, Error, Listed, PageRequest, Result, listed};

/// The longest range one KPI request may cover.
pub const MAX_KPI_DAYS: i64 = 3660;

/// How KPI points are bucketed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Granularity {
    #[default]
    Day,
    /// ISO weeks, starting on Monday.
    Week,
    Month,
}

impl Granularity {
    fn bucket(self, date: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Day => date,
            Granularity::Week => {
                date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
            }
            Granularity::Month => date.with_day(1).unwrap_or(date),
        }
    }
}

/// Which KPI series to read.
#[derive(Debug, Clone)]
pub struct KpiQuery {
    pub metric: String,
    /// Only this integration (default: every integration of the workspace).
    pub integration_id: Option<Uuid>,
    /// First day, inclusive (default: 29 days before `to`).
    pub from: Option<NaiveDate>,
    /// Last day, inclusive (default: today, UTC).
    pub to: Option<NaiveDate>,
    pub granularity: Granularity,
}

/// One series: an integration and a set of dimensions, a value per bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiSeries {
    pub integration_id: Uuid,
    pub dimensions: serde_json::Value,
    /// The first day of each bucket, and its value.
    pub points: Vec<(NaiveDate, f64)>,
}

/// A metric's series over a range.
#[derive(Debug, Clone, PartialEq)]
pub struct Kpis {
    pub metric: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Whether buckets average daily values (rates) instead of adding them up.
    pub mean: bool,
    pub series: Vec<KpiSeries>,
}

impl App {
    /// Records of one stream of an integration, in the order they last changed, so a
    /// client can follow changes with `modified_after` and the page keyset. Records
    /// found removed upstream are in it, with their `deleted_at` (marking one is a
    /// change).
    pub async fn records(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        stream: &str,
        modified_after: Option<DateTime<Utc>>,
        page: PageRequest<(DateTime<Utc>, String)>,
    ) -> Result<Listed<RecordRow, (DateTime<Utc>, String)>> {
        let mut tx = self.begin(workspace_id).await?;
        let integration = crate::integration(&mut tx, integration_id).await?;
        let adapter = self.adapter(&integration.provider)?;
        if adapter.spec().stream(stream).is_none() {
            return Err(Error::new(
                ErrorCode::UnknownStream,
                format!("{} has no stream `{stream}`", adapter.spec().name),
            ));
        }
        let rows = repo::records::list(
            tx.conn(),
            integration.id,
            stream,
            modified_after,
            page.after,
            page.limit + 1,
        )
        .await?;
        tx.commit().await?;
        Ok(listed(rows, page.limit, |r| {
            (r.updated_at, r.external_id.clone())
        }))
    }

    /// A metric's series by day, week or month, per integration and dimension set.
    /// Buckets add daily values up, except rates (metrics named `*rate`), which are
    /// averaged.
    pub async fn kpis(&self, workspace_id: WorkspaceId, query: KpiQuery) -> Result<Kpis> {
        let to = query.to.unwrap_or_else(|| self.now().date_naive());
        let days_before = |days: i64| {
            to.checked_sub_signed(Duration::days(days))
                .unwrap_or(NaiveDate::MIN)
        };
        // The answer says which days it covers (`from`, `to`), so a range is never
        // refused: a longer one than MAX_KPI_DAYS is cut to the days ending at `to`,
        // and one that ends before it starts holds no day (and so no point).
        let from = query
            .from
            .unwrap_or_else(|| days_before(29))
            .max(days_before(MAX_KPI_DAYS));
        // A metric nothing produces (a blank one too) has no series.
        let metric = query.metric.trim();
        let mut tx = self.begin(workspace_id).await?;
        crate::filtered_integration(&mut tx, query.integration_id).await?;
        let rows = repo::kpis::series(tx.conn(), query.integration_id, metric, from, to).await?;
        tx.commit().await?;

        let mean = metric.ends_with("rate");
        // (integration, dimension key) -> (dimensions, bucket -> (sum, count))
        type Buckets = BTreeMap<NaiveDate, (f64, u32)>;
        let mut grouped: BTreeMap<(Uuid, String), (serde_json::Value, Buckets)> = BTreeMap::new();
        for row in rows {
            let entry = grouped
                .entry((row.integration_id, row.dimension_key))
                .or_insert_with(|| (row.dimensions, BTreeMap::new()));
            let bucket = entry
                .1
                .entry(query.granularity.bucket(row.date))
                .or_insert((0.0, 0));
            bucket.0 += row.value;
            bucket.1 += 1;
        }
        let series = grouped
            .into_iter()
            .map(|((integration_id, _), (dimensions, buckets))| KpiSeries {
                integration_id,
                dimensions,
                points: buckets
                    .into_iter()
                    .map(|(date, (sum, count))| {
                        let value = if mean && count > 0 {
                            sum / f64::from(count)
                        } else {
                            sum
                        };
                        (date, value)
                    })
                    .collect(),
            })
            .collect();
        Ok(Kpis {
            metric: metric.to_owned(),
            from,
            to,
            mean,
            series,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_start_on_monday_and_the_first_of_the_month() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap_or_default(); // a Thursday
        assert_eq!(Granularity::Day.bucket(date), date);
        assert_eq!(
            Granularity::Week.bucket(date),
            NaiveDate::from_ymd_opt(2026, 11, 16).unwrap_or_default()
        );
        assert_eq!(
            Granularity::Month.bucket(date),
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default()
        );
    }
}
