//! KPIs as users read them: a metric's (or a canonical family's) series by day,
//! week or month and their totals, aggregated by the metric's kind
//! ([`crate::aggregate`]) in the workspace's calendar (its time zone's "today",
//! its first day of the week); the catalog of every metric; the workspace's
//! calendar settings.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use junction_core::{
    ErrorCode, WorkspaceId,
    spec::{FieldError, MetricFamily, MetricKind, MetricSpec, Unit},
};
use junction_store::{Conn, StoreError, models::KpiValueRow, models::Workspace, repo};
use uuid::Uuid;

use crate::{
    App, Error, Result,
    aggregate::{self, Grouped, Points, Total},
    notifications::{calendar, settings::check_time_zone},
};

/// The longest range one KPI request may cover.
pub const MAX_KPI_DAYS: i64 = 3660;

/// How KPI points are bucketed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Granularity {
    #[default]
    Day,
    /// Weeks starting on the workspace's first day of the week.
    Week,
    Month,
}

/// A workspace's calendar: the time zone its "today" is in and the day its weeks
/// start on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    pub time_zone: Tz,
    pub week_start: Weekday,
}

impl Default for Calendar {
    fn default() -> Self {
        Self {
            time_zone: Tz::UTC,
            week_start: Weekday::Mon,
        }
    }
}

/// Every time zone a workspace may read its KPIs in (IANA names).
pub fn time_zone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|zone| zone.name())
}

/// The names of the days a week may start on.
pub fn week_start_names() -> impl Iterator<Item = &'static str> {
    WEEK_STARTS.iter().map(|(name, _)| *name)
}

/// The days a week may start on, by name.
const WEEK_STARTS: [(&str, Weekday); 3] = [
    ("monday", Weekday::Mon),
    ("sunday", Weekday::Sun),
    ("saturday", Weekday::Sat),
];

impl Calendar {
    /// The workspace's stored calendar (a stored value that no longer parses, which
    /// the checks on writing prevent, reads as the default).
    pub fn of(workspace: &Workspace) -> Self {
        Self {
            time_zone: calendar::time_zone(&workspace.time_zone).unwrap_or(Tz::UTC),
            week_start: WEEK_STARTS
                .iter()
                .find(|(name, _)| *name == workspace.week_start)
                .map_or(Weekday::Mon, |(_, day)| *day),
        }
    }

    /// The date at `now` in the workspace's time zone.
    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.time_zone).date_naive()
    }

    /// The first day of the week holding `date`.
    pub fn week_of(&self, date: NaiveDate) -> NaiveDate {
        let back = (7 + date.weekday().num_days_from_monday()
            - self.week_start.num_days_from_monday())
            % 7;
        date - Duration::days(i64::from(back))
    }

    /// The first day of the bucket holding `date`.
    pub fn bucket(&self, granularity: Granularity, date: NaiveDate) -> NaiveDate {
        match granularity {
            Granularity::Day => date,
            Granularity::Week => self.week_of(date),
            Granularity::Month => date.with_day(1).unwrap_or(date),
        }
    }

    /// The name of the first day of the week (`monday`).
    pub fn week_start_name(&self) -> &'static str {
        WEEK_STARTS
            .iter()
            .find(|(_, day)| *day == self.week_start)
            .map_or("monday", |(name, _)| name)
    }
}

/// New workspace settings: the calendar, and the allow-list of connect-session
/// return URLs; `None` keeps a value.
#[derive(Debug, Clone, Default)]
pub struct WorkspaceChanges {
    pub time_zone: Option<String>,
    pub week_start: Option<String>,
    /// Replaces the whole list (see [`crate::connect_sessions`]).
    pub connect_return_urls: Option<Vec<String>>,
}

/// What to read: one metric by name, or a canonical family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KpiSelector {
    Metric(String),
    Family(MetricFamily),
}

/// Which KPI series to read.
#[derive(Debug, Clone)]
pub struct KpiQuery {
    pub selector: KpiSelector,
    /// Only this integration (default: every integration of the workspace).
    pub integration_id: Option<Uuid>,
    /// First day, inclusive (default: 29 days before `to`).
    pub from: Option<NaiveDate>,
    /// Last day, inclusive (default: today in the workspace's time zone).
    pub to: Option<NaiveDate>,
    pub granularity: Granularity,
}

/// One series: an integration's metric and a set of dimensions, a value per bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiSeries {
    pub integration_id: Uuid,
    /// The metric the series is of (a family's member).
    pub metric: &'static str,
    pub dimensions: serde_json::Value,
    /// The currency of a money series.
    pub currency: Option<String>,
    /// The first day of each bucket, and its value.
    pub points: Vec<(NaiveDate, f64)>,
}

/// A metric's or a family's series over a range, and their totals.
#[derive(Debug, Clone, PartialEq)]
pub struct Kpis {
    pub selector: KpiSelector,
    pub kind: MetricKind,
    pub unit: Unit,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub calendar: Calendar,
    pub series: Vec<KpiSeries>,
    /// Across every series, one per currency for money.
    pub totals: Vec<Total>,
}

/// A metric of the catalog, with the provider that produces it.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricEntry {
    pub provider: &'static str,
    pub stream: &'static str,
    pub metric: MetricSpec,
}

impl App {
    /// Every metric of every provider, by provider and stream.
    pub fn metric_catalog(&self) -> Vec<MetricEntry> {
        self.registry()
            .specs()
            .flat_map(|spec| {
                spec.streams.iter().flat_map(move |stream| {
                    stream.metrics.iter().map(move |metric| MetricEntry {
                        provider: spec.id,
                        stream: stream.name,
                        metric: *metric,
                    })
                })
            })
            .collect()
    }

    /// The workspace with its calendar.
    pub async fn workspace(&self, workspace_id: WorkspaceId) -> Result<Workspace> {
        let mut tx = self.begin(workspace_id).await?;
        let workspace = repo::workspaces::get(tx.conn(), workspace_id).await?;
        tx.commit().await?;
        Ok(workspace)
    }

    /// Changes the workspace's settings, in one transaction: its calendar (an IANA
    /// time zone such as `Europe/Berlin` and the first day of its weeks, `monday`,
    /// `sunday` or `saturday`) and the return URLs connect sessions may use.
    pub async fn update_workspace(
        &self,
        workspace_id: WorkspaceId,
        input: WorkspaceChanges,
    ) -> Result<Workspace> {
        let mut errors = Vec::new();
        // An absent time zone keeps the current one; a given one is checked as every
        // setting's is.
        let time_zone = match input.time_zone.as_deref() {
            Some(zone) => check_time_zone("time_zone", Some(zone), &mut errors),
            None => None,
        };
        if let Some(day) = &input.week_start
            && !WEEK_STARTS.iter().any(|(name, _)| name == day)
        {
            errors.push(FieldError::new(
                "week_start",
                "must be `monday`, `sunday` or `saturday`",
            ));
        }
        let return_urls = input
            .connect_return_urls
            .as_deref()
            .map(|urls| crate::connect_sessions::check_return_urls(urls, &mut errors));
        if !errors.is_empty() {
            return Err(Error::validation(errors));
        }
        let mut tx = self.begin(workspace_id).await?;
        let current = repo::workspaces::get(tx.conn(), workspace_id).await?;
        let time_zone = time_zone.unwrap_or(current.time_zone);
        let week_start = input.week_start.unwrap_or(current.week_start);
        let mut workspace =
            repo::workspaces::set_calendar(tx.conn(), workspace_id, &time_zone, &week_start)
                .await?;
        if let Some(urls) = return_urls {
            workspace =
                repo::workspaces::set_connect_return_urls(tx.conn(), workspace_id, &urls).await?;
        }
        tx.commit().await?;
        Ok(workspace)
    }

    /// A metric's or family's series by day, week or month, per integration and
    /// dimension set, and their totals, each aggregated by the metric's kind.
    pub async fn kpis(&self, workspace_id: WorkspaceId, query: KpiQuery) -> Result<Kpis> {
        let mut tx = self.begin(workspace_id).await?;
        // One integration asked for: only it (404 when it is not the workspace's),
        // without listing the workspace's others.
        let integrations: Vec<(Uuid, String)> = match query.integration_id {
            Some(id) => {
                let integration = crate::integration(&mut tx, id).await?;
                vec![(integration.id, integration.provider)]
            }
            None => repo::integrations::providers(tx.conn()).await?,
        };
        let workspace = repo::workspaces::get(tx.conn(), workspace_id).await?;
        let calendar = Calendar::of(&workspace);
        let to = query.to.unwrap_or_else(|| calendar.today(self.now()));
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
        let (kind, unit, members) = self.members(&query.selector, &integrations)?;
        let bucket = |date| calendar.bucket(query.granularity, date);
        let mut series = Vec::new();
        // Each member's points are grouped once, for its series and for the totals.
        let mut grouped_all = Grouped::default();
        for (metric, integration_ids) in members {
            let rows =
                Rows::load(tx.conn(), metric.name, &metric, &integration_ids, from, to).await?;
            let grouped = Grouped::new(&metric, rows.points(&metric));
            for s in grouped.series(&metric, bucket) {
                series.push(KpiSeries {
                    integration_id: s.integration_id,
                    metric: metric.name,
                    dimensions: s.dimensions,
                    currency: s.currency,
                    points: s.points,
                });
            }
            grouped_all.append(grouped);
        }
        tx.commit().await?;
        // Every member of a family is a sum of the same unit, and a metric read
        // across providers is read as the first provider declares it: one kind for
        // the totals.
        let total_spec = MetricSpec {
            name: "",
            kind,
            unit,
            description: "",
            family: None,
        };
        let totals = grouped_all.totals(&total_spec, bucket);
        Ok(Kpis {
            selector: query.selector,
            kind,
            unit,
            from,
            to,
            calendar,
            series,
            totals,
        })
    }

    /// The value of a metric over `[from, to]` as one bucket, per currency (money)
    /// or once, across every dimension of the integrations given (or all of the
    /// workspace's when `None`): what alert windows and the weekly report compare.
    pub(crate) async fn window_totals(
        &self,
        conn: &mut Conn,
        name: &str,
        metric: &MetricSpec,
        integration_id: Option<Uuid>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(Option<String>, f64)>, StoreError> {
        let ids: Vec<Uuid> = match integration_id {
            Some(id) => vec![id],
            None => repo::integrations::providers(conn)
                .await?
                .into_iter()
                .map(|(id, _)| id)
                .collect(),
        };
        let rows = Rows::load(conn, name, metric, &ids, from, to).await?;
        Ok(aggregate::totals(metric, rows.points(metric), |_| from)
            .into_iter()
            .filter_map(|total| Some((total.currency, total.points.first()?.1)))
            .collect())
    }

    /// The metrics a selector reads, each with the integrations whose provider
    /// declares it, and the kind and unit of the whole.
    fn members(
        &self,
        selector: &KpiSelector,
        integrations: &[(Uuid, String)],
    ) -> Result<(MetricKind, Unit, Vec<Member>)> {
        let spec_of = |provider: &str| self.registry().get(provider).map(|a| a.spec());
        let mut members: BTreeMap<&'static str, (MetricSpec, Vec<Uuid>)> = BTreeMap::new();
        for (id, provider) in integrations {
            let Some(spec) = spec_of(provider) else {
                continue;
            };
            let metrics = spec.metrics().filter(|m| match selector {
                KpiSelector::Metric(name) => m.name == name.trim(),
                KpiSelector::Family(family) => m.family == Some(*family),
            });
            for metric in metrics {
                members
                    .entry(metric.name)
                    .or_insert_with(|| (*metric, Vec::new()))
                    .1
                    .push(*id);
            }
        }
        let (kind, unit) = match selector {
            KpiSelector::Family(family) => (family.kind(), family.unit()),
            KpiSelector::Metric(name) => {
                let declared = members.values().map(|(m, _)| *m).next().or_else(|| {
                    self.registry()
                        .specs()
                        .find_map(|spec| spec.metric(name.trim()).copied())
                });
                let Some(metric) = declared else {
                    return Err(Error::new(
                        ErrorCode::UnknownMetric,
                        format!(
                            "no provider declares the metric `{}` (GET /v1/metrics lists them)",
                            name.trim()
                        ),
                    ));
                };
                (metric.kind, metric.unit)
            }
        };
        Ok((kind, unit, members.into_values().collect()))
    }
}

/// A metric a selector reads and the integrations whose provider declares it.
type Member = (MetricSpec, Vec<Uuid>);

/// The stored points a metric's aggregation reads.
#[derive(Debug, Default)]
struct Rows {
    own: Vec<KpiValueRow>,
    numerator: Vec<KpiValueRow>,
    denominator: Vec<KpiValueRow>,
}

impl Rows {
    /// The points of metric `name` (a ratio's components) of the integrations given.
    async fn load(
        conn: &mut Conn,
        name: &str,
        metric: &MetricSpec,
        integration_ids: &[Uuid],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Self, StoreError> {
        Ok(match metric.kind {
            MetricKind::Sum | MetricKind::Gauge => Self {
                own: points_of(conn, name, integration_ids, from, to).await?,
                ..Self::default()
            },
            MetricKind::Ratio {
                numerator,
                denominator,
            } => Self {
                numerator: points_of(conn, numerator, integration_ids, from, to).await?,
                denominator: points_of(conn, denominator, integration_ids, from, to).await?,
                ..Self::default()
            },
        })
    }

    fn points(&self, metric: &MetricSpec) -> Points<'_> {
        match metric.kind {
            MetricKind::Sum | MetricKind::Gauge => Points::Own(&self.own),
            MetricKind::Ratio { .. } => Points::Components {
                numerator: &self.numerator,
                denominator: &self.denominator,
            },
        }
    }
}

/// The points of one metric in `[from, to]` of the integrations given.
async fn points_of(
    conn: &mut Conn,
    metric: &str,
    integration_ids: &[Uuid],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<KpiValueRow>, StoreError> {
    repo::kpis::series(conn, Some(integration_ids), metric, from, to).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn weeks_start_on_the_workspaces_day_and_months_on_the_first() {
        let thursday = date(2026, 11, 19);
        let monday = Calendar::default();
        assert_eq!(monday.bucket(Granularity::Day, thursday), thursday);
        assert_eq!(
            monday.bucket(Granularity::Week, thursday),
            date(2026, 11, 16)
        );
        assert_eq!(
            monday.bucket(Granularity::Month, thursday),
            date(2026, 11, 1)
        );
        let sunday = Calendar {
            week_start: Weekday::Sun,
            ..Calendar::default()
        };
        assert_eq!(sunday.week_of(thursday), date(2026, 11, 15));
        assert_eq!(sunday.week_of(date(2026, 11, 15)), date(2026, 11, 15));
        let saturday = Calendar {
            week_start: Weekday::Sat,
            ..Calendar::default()
        };
        assert_eq!(saturday.week_of(date(2026, 11, 20)), date(2026, 11, 14));
        assert_eq!(saturday.week_of(date(2026, 11, 21)), date(2026, 11, 21));
    }

    #[test]
    fn today_is_the_workspaces_date() {
        let tokyo = Calendar {
            time_zone: chrono_tz::Asia::Tokyo,
            ..Calendar::default()
        };
        // 20:00 UTC on the 5th is 05:00 on the 6th in Tokyo.
        let now = DateTime::parse_from_rfc3339("2026-12-05T20:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(tokyo.today(now), date(2026, 12, 6));
        assert_eq!(Calendar::default().today(now), date(2026, 12, 5));
    }
}
