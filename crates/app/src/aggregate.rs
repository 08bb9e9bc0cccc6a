//! How stored daily KPI points combine into buckets (a week, a month, an alert's
//! window) and into totals across dimensions, by the metric's kind — the one
//! aggregation every reader uses: `/v1/kpis`, alert windows and the weekly report.
//!
//! - `sum`: a bucket adds its days; a total adds its series.
//! - `gauge`: a bucket takes the value of its last day with a point; a total adds
//!   its series' bucket values (the level of each campaign, audience or tag).
//! - `ratio`: a bucket divides the sums of the two component metrics over the same
//!   days and dimension set; a total divides the summed components of its series.
//!   Stored points of the ratio itself (a provider's own daily CTR) are not read.
//!
//! Money never adds across currencies: a money metric's series keep their
//! `currency` dimension and its totals are one per currency. A ratio's components
//! are paired ignoring `currency` (clicks have none, spend has one), and the ratio
//! keeps the currency of its numerator when its unit is money.
//!
//! A provider may write a total point (no breakdown besides the currency) beside
//! breakdown points of the same metric. Totals then read, per integration,
//! currency and day, the total point when there is one and the sum of the
//! breakdown points otherwise, so nothing is counted twice.

use std::{borrow::Cow, collections::BTreeMap};

use chrono::NaiveDate;
use junction_core::spec::{CURRENCY_DIMENSION, MetricKind, MetricSpec, Unit};
use junction_store::models::KpiValueRow;
use serde_json::Value;
use uuid::Uuid;

/// The stored points an aggregation reads: the metric's own, or a ratio's
/// components.
#[derive(Debug, Clone, Copy)]
pub enum Points<'a> {
    /// The points of a sum or gauge metric.
    Own(&'a [KpiValueRow]),
    /// The points of a ratio's numerator and denominator.
    Components {
        numerator: &'a [KpiValueRow],
        denominator: &'a [KpiValueRow],
    },
}

/// One aggregated series: an integration and a dimension set, a value per bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub integration_id: Uuid,
    /// The dimensions, `currency` included for money.
    pub dimensions: Value,
    /// The currency of a money series.
    pub currency: Option<String>,
    /// The first day of each bucket and its value, by date.
    pub points: Vec<(NaiveDate, f64)>,
}

/// The total of every series in one currency (`None` when the metric is not money).
#[derive(Debug, Clone, PartialEq)]
pub struct Total {
    pub currency: Option<String>,
    pub points: Vec<(NaiveDate, f64)>,
}

/// A series' daily values before bucketing: one value per day for sum and gauge,
/// the two components per day for a ratio.
#[derive(Debug, Default)]
struct Daily {
    integration_id: Uuid,
    dimensions: Value,
    currency: Option<String>,
    /// Whether the dimensions are only the currency (a provider's total row).
    is_total: bool,
    days: BTreeMap<NaiveDate, (f64, f64)>,
}

/// A bucket's numbers: for a ratio its two summed components; for sum and gauge the
/// value (in `.0`).
type Buckets = BTreeMap<NaiveDate, (f64, f64)>;

/// The series of `metric` from `points`, bucketed by `bucket` (which maps a day to
/// the first day of its bucket), in (integration, dimensions) order.
pub fn series(
    metric: &MetricSpec,
    points: Points<'_>,
    bucket: impl Fn(NaiveDate) -> NaiveDate,
) -> Vec<Series> {
    Grouped::new(metric, points).series(metric, bucket)
}

/// The totals of `metric` across every series in `points` (every dimension set and
/// integration), one per currency for money, bucketed by `bucket`.
pub fn totals(
    metric: &MetricSpec,
    points: Points<'_>,
    bucket: impl Fn(NaiveDate) -> NaiveDate,
) -> Vec<Total> {
    Grouped::new(metric, points).totals(metric, bucket)
}

/// Stored points grouped into daily series (per integration and dimension set):
/// grouped once, then read for the series and for their totals, which a chart
/// shows side by side.
#[derive(Debug, Default)]
pub struct Grouped(Vec<Daily>);

impl Grouped {
    /// `points` grouped as `metric`'s kind and unit read them.
    pub fn new(metric: &MetricSpec, points: Points<'_>) -> Self {
        Self(daily(metric, points))
    }

    /// Adds another metric's series (a family's member), for totals across them:
    /// they must be of the same kind and unit.
    pub fn append(&mut self, mut other: Grouped) {
        self.0.append(&mut other.0);
    }

    /// The series, bucketed by `bucket`, in (integration, dimensions) order.
    pub fn series(
        &self,
        metric: &MetricSpec,
        bucket: impl Fn(NaiveDate) -> NaiveDate,
    ) -> Vec<Series> {
        self.0
            .iter()
            .map(|daily| Series {
                integration_id: daily.integration_id,
                dimensions: daily.dimensions.clone(),
                currency: daily.currency.clone(),
                points: bucketed(metric, daily, &bucket)
                    .into_iter()
                    .filter_map(|(date, numbers)| Some((date, value(metric, numbers)?)))
                    .collect(),
            })
            .collect()
    }

    /// The totals across every series, one per currency for money, bucketed by
    /// `bucket`.
    pub fn totals(
        &self,
        metric: &MetricSpec,
        bucket: impl Fn(NaiveDate) -> NaiveDate,
    ) -> Vec<Total> {
        if metric.kind == MetricKind::Gauge {
            return gauge_totals(metric, &self.0, bucket);
        }
        // Per integration and currency: the provider's total rows on the days it
        // wrote one, else its breakdown rows, added up. Most integrations have one
        // series per currency, which is read as it is.
        let mut by_key: BTreeMap<(Uuid, Option<&str>), Vec<&Daily>> = BTreeMap::new();
        for daily in &self.0 {
            by_key
                .entry((daily.integration_id, daily.currency.as_deref()))
                .or_default()
                .push(daily);
        }
        let mut groups: BTreeMap<Option<&str>, Buckets> = BTreeMap::new();
        for ((integration_id, currency), dailies) in by_key {
            let merged;
            let daily = match dailies.as_slice() {
                [only] => *only,
                several => {
                    merged = merge_days(integration_id, several);
                    &merged
                }
            };
            let group = groups.entry(currency).or_default();
            for (date, (a, b)) in bucketed(metric, daily, &bucket) {
                let entry = group.entry(date).or_default();
                entry.0 += a;
                entry.1 += b;
            }
        }
        groups
            .into_iter()
            .map(|(currency, buckets)| Total {
                currency: currency.map(str::to_owned),
                points: buckets
                    .into_iter()
                    .filter_map(|(date, numbers)| Some((date, value(metric, numbers)?)))
                    .collect(),
            })
            .collect()
    }
}

/// One integration's series of one currency as a single series: per day, the sum of
/// its total series when it has one that day, else the sum of its breakdown series.
fn merge_days(integration_id: Uuid, dailies: &[&Daily]) -> Daily {
    #[derive(Default)]
    struct Day {
        total: (f64, f64),
        breakdown: (f64, f64),
        has_total: bool,
    }
    let mut days: BTreeMap<NaiveDate, Day> = BTreeMap::new();
    for daily in dailies {
        for (date, (a, b)) in &daily.days {
            let day = days.entry(*date).or_default();
            let sums = if daily.is_total {
                day.has_total = true;
                &mut day.total
            } else {
                &mut day.breakdown
            };
            sums.0 += a;
            sums.1 += b;
        }
    }
    Daily {
        integration_id,
        days: days
            .into_iter()
            .map(|(date, day)| {
                let sums = if day.has_total {
                    day.total
                } else {
                    day.breakdown
                };
                (date, sums)
            })
            .collect(),
        ..Daily::default()
    }
}

/// A gauge's totals: each series' level at the end of the bucket, added up; per
/// integration and currency, the provider's total series when it wrote one, else
/// its breakdown series.
fn gauge_totals(
    metric: &MetricSpec,
    all: &[Daily],
    bucket: impl Fn(NaiveDate) -> NaiveDate,
) -> Vec<Total> {
    let has_total: Vec<(Uuid, Option<&str>)> = all
        .iter()
        .filter(|d| d.is_total)
        .map(|d| (d.integration_id, d.currency.as_deref()))
        .collect();
    let mut groups: BTreeMap<Option<&str>, BTreeMap<NaiveDate, f64>> = BTreeMap::new();
    for daily in all {
        if !daily.is_total && has_total.contains(&(daily.integration_id, daily.currency.as_deref()))
        {
            continue;
        }
        let group = groups.entry(daily.currency.as_deref()).or_default();
        for (date, (level, _)) in bucketed(metric, daily, &bucket) {
            *group.entry(date).or_default() += level;
        }
    }
    groups
        .into_iter()
        .map(|(currency, buckets)| Total {
            currency: currency.map(str::to_owned),
            points: buckets.into_iter().collect(),
        })
        .collect()
}

/// A bucket's value: its number, or a ratio's quotient (none when the denominator
/// is 0).
fn value(metric: &MetricSpec, (a, b): (f64, f64)) -> Option<f64> {
    match metric.kind {
        MetricKind::Sum | MetricKind::Gauge => Some(a),
        MetricKind::Ratio { .. } => metric.quotient(a, b),
    }
}

/// One series' buckets: a sum adds its days, a gauge keeps its last day, a ratio
/// adds both components.
fn bucketed(
    metric: &MetricSpec,
    daily: &Daily,
    bucket: &impl Fn(NaiveDate) -> NaiveDate,
) -> Buckets {
    let mut buckets = Buckets::new();
    // Days come in order, so a gauge's last write is its bucket's last day.
    for (date, (a, b)) in &daily.days {
        let entry = buckets.entry(bucket(*date)).or_default();
        match metric.kind {
            MetricKind::Gauge => *entry = (*a, 0.0),
            MetricKind::Sum | MetricKind::Ratio { .. } => {
                entry.0 += a;
                entry.1 += b;
            }
        }
    }
    buckets
}

/// The rows grouped into daily series. The grouping keys borrow the rows' own
/// dimension keys: a year of points is hundreds of rows per series, and a key
/// copied per row was most of this function's cost.
fn daily(metric: &MetricSpec, points: Points<'_>) -> Vec<Daily> {
    let mut series: BTreeMap<(Uuid, Cow<'_, str>), Daily> = BTreeMap::new();
    match points {
        Points::Own(rows) => {
            let money = metric.unit == Unit::Money;
            for row in rows {
                let daily = series
                    .entry((
                        row.integration_id,
                        Cow::Borrowed(row.dimension_key.as_str()),
                    ))
                    .or_insert_with(|| Daily::of(row, money, true));
                daily.days.entry(row.date).or_default().0 += row.value;
            }
        }
        Points::Components {
            numerator,
            denominator,
        } => {
            // Paired by integration and dimensions without the currency; the ratio
            // keeps the numerator's currency only when it is money itself.
            let keep_currency = metric.unit == Unit::Money;
            for row in numerator {
                let daily = series
                    .entry((row.integration_id, breakdown_key(row)))
                    .or_insert_with(|| Daily::of(row, true, keep_currency));
                daily.days.entry(row.date).or_default().0 += row.value;
            }
            for row in denominator {
                if let Some(daily) = series.get_mut(&(row.integration_id, breakdown_key(row))) {
                    daily.days.entry(row.date).or_default().1 += row.value;
                }
            }
        }
    }
    series.into_values().collect()
}

impl Daily {
    /// An empty series of `row`'s integration and dimensions; `money` reads the
    /// row's currency, `keep_currency` keeps it among the dimensions.
    fn of(row: &KpiValueRow, money: bool, keep_currency: bool) -> Self {
        let currency = money
            .then(|| {
                row.dimensions
                    .get(CURRENCY_DIMENSION)?
                    .as_str()
                    .map(str::to_owned)
            })
            .flatten();
        let mut dimensions = row.dimensions.clone();
        if !keep_currency && let Some(map) = dimensions.as_object_mut() {
            map.remove(CURRENCY_DIMENSION);
        }
        let is_total = dimensions
            .as_object()
            .is_none_or(|map| map.keys().all(|k| k == CURRENCY_DIMENSION));
        Self {
            integration_id: row.integration_id,
            dimensions,
            currency,
            is_total,
            days: BTreeMap::new(),
        }
    }
}

/// The canonical text of a row's dimensions without the currency: its stored
/// dimension key (canonical, [`junction_core::KpiPoint::dimension_key`]) when it
/// has no currency, else that key computed again without it.
fn breakdown_key(row: &KpiValueRow) -> Cow<'_, str> {
    let Some(map) = row.dimensions.as_object() else {
        return Cow::Borrowed("");
    };
    if !map.contains_key(CURRENCY_DIMENSION) {
        return Cow::Borrowed(row.dimension_key.as_str());
    }
    let point = junction_core::KpiPoint {
        metric: String::new(),
        date: NaiveDate::MIN,
        dimensions: map
            .iter()
            .filter(|(name, _)| *name != CURRENCY_DIMENSION)
            .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned()))
            .collect(),
        value: 0.0,
    };
    Cow::Owned(point.dimension_key())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Duration};
    use serde_json::json;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn row(
        integration: Uuid,
        metric: &str,
        date: NaiveDate,
        dims: Value,
        value: f64,
    ) -> KpiValueRow {
        let map: BTreeMap<String, String> = dims
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let key = junction_core::KpiPoint {
            metric: metric.to_owned(),
            date,
            dimensions: map,
            value,
        }
        .dimension_key();
        KpiValueRow {
            integration_id: integration,
            date,
            dimension_key: key,
            dimensions: dims,
            value,
        }
    }

    /// ISO weeks: 2026-11-02 is a Monday.
    fn week(date: NaiveDate) -> NaiveDate {
        date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
    }

    fn month(date: NaiveDate) -> NaiveDate {
        date.with_day(1).unwrap()
    }

    const CTR: MetricSpec = MetricSpec::ratio("ctr", "clicks", "impressions", Unit::Percent, "");
    const CPC: MetricSpec = MetricSpec::ratio("cpc", "spend", "clicks", Unit::Money, "");
    const MRR: MetricSpec = MetricSpec::gauge("mrr", Unit::Money, "");
    const REVENUE: MetricSpec = MetricSpec::sum("gross_revenue", Unit::Money, "");

    #[test]
    fn a_weeks_ratio_divides_the_summed_components() {
        let i = Uuid::new_v4();
        let c = json!({"campaign_id": "1"});
        // Daily CTRs 10 % and 1 %: their sum is 11, their mean 5.5; the week's CTR is
        // 11 clicks / 200 impressions = 5.5 % only by accident of equal days, so
        // the days differ in size here.
        let clicks = [
            row(i, "clicks", day(2), c.clone(), 10.0),
            row(i, "clicks", day(3), c.clone(), 9.0),
        ];
        let impressions = [
            row(i, "impressions", day(2), c.clone(), 100.0),
            row(i, "impressions", day(3), c.clone(), 900.0),
        ];
        let points = Points::Components {
            numerator: &clicks,
            denominator: &impressions,
        };
        let series = series(&CTR, points, week);
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].points, [(day(2), 19.0 / 1000.0 * 100.0)]);
        assert_eq!(series[0].dimensions, c);
        let daily = super::series(&CTR, points, |d| d);
        assert_eq!(daily[0].points, [(day(2), 10.0), (day(3), 1.0)]);
    }

    #[test]
    fn a_money_ratio_pairs_components_across_the_currency_and_keeps_it() {
        let i = Uuid::new_v4();
        let spend = [
            row(
                i,
                "spend",
                day(2),
                json!({"campaign_id": "1", "currency": "EUR"}),
                30.0,
            ),
            row(
                i,
                "spend",
                day(2),
                json!({"campaign_id": "2", "currency": "EUR"}),
                10.0,
            ),
        ];
        let clicks = [
            row(i, "clicks", day(2), json!({"campaign_id": "1"}), 10.0),
            row(i, "clicks", day(2), json!({"campaign_id": "2"}), 0.0),
        ];
        let points = Points::Components {
            numerator: &spend,
            denominator: &clicks,
        };
        let series = series(&CPC, points, week);
        assert_eq!(series[0].points, [(day(2), 3.0)]);
        assert_eq!(series[0].currency.as_deref(), Some("EUR"));
        // No clicks: no CPC for campaign 2.
        assert_eq!(series[1].points, []);
        let totals = totals(&CPC, points, week);
        assert_eq!(
            totals,
            [Total {
                currency: Some("EUR".into()),
                points: vec![(day(2), 4.0)]
            }]
        );
    }

    #[test]
    fn a_gauges_month_is_its_last_day_and_dimensions_add() {
        let i = Uuid::new_v4();
        let usd = json!({"currency": "USD"});
        let rows: Vec<KpiValueRow> = (1..=30)
            .map(|d| row(i, "mrr", day(d), usd.clone(), 1000.0 + f64::from(d)))
            .chain([row(i, "mrr", day(5), json!({"currency": "JPY"}), 12000.0)])
            .collect();
        let series = series(&MRR, Points::Own(&rows), month);
        assert_eq!(series.len(), 2);
        let usd_series = series
            .iter()
            .find(|s| s.currency.as_deref() == Some("USD"))
            .unwrap();
        assert_eq!(usd_series.points, [(day(1), 1030.0)]);
        let totals = totals(&MRR, Points::Own(&rows), month);
        assert_eq!(
            totals,
            [
                Total {
                    currency: Some("JPY".into()),
                    points: vec![(day(1), 12000.0)]
                },
                Total {
                    currency: Some("USD".into()),
                    points: vec![(day(1), 1030.0)]
                }
            ]
        );
        // Two audiences' levels add up in a total.
        let gauge = MetricSpec::gauge("member_count", Unit::Count, "");
        let rows = [
            row(i, "member_count", day(2), json!({"audience_id": "a"}), 10.0),
            row(i, "member_count", day(3), json!({"audience_id": "a"}), 12.0),
            row(i, "member_count", day(2), json!({"audience_id": "b"}), 5.0),
        ];
        let totals = super::totals(&gauge, Points::Own(&rows), week);
        assert_eq!(totals[0].points, [(day(2), 17.0)]);
    }

    #[test]
    fn money_totals_never_mix_currencies_and_prefer_a_total_row() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let rows = [
            row(a, "gross_revenue", day(2), json!({"currency": "USD"}), 55.0),
            row(a, "gross_revenue", day(2), json!({"currency": "EUR"}), 15.0),
            row(
                a,
                "gross_revenue",
                day(2),
                json!({"currency": "JPY"}),
                12000.0,
            ),
            // Integration b wrote a total and its breakdown: the total counts alone.
            row(b, "gross_revenue", day(2), json!({"currency": "USD"}), 20.0),
            row(
                b,
                "gross_revenue",
                day(2),
                json!({"currency": "USD", "country": "DE"}),
                5.0,
            ),
            row(
                b,
                "gross_revenue",
                day(2),
                json!({"currency": "USD", "country": "FR"}),
                15.0,
            ),
        ];
        let totals = totals(&REVENUE, Points::Own(&rows), |d| d);
        let by_currency: Vec<(Option<&str>, f64)> = totals
            .iter()
            .map(|t| (t.currency.as_deref(), t.points[0].1))
            .collect();
        assert_eq!(
            by_currency,
            [
                (Some("EUR"), 15.0),
                (Some("JPY"), 12000.0),
                (Some("USD"), 75.0)
            ]
        );
        // A day with breakdown rows only adds them; a day with a total reads it alone.
        let sessions = MetricSpec::sum("sessions", Unit::Count, "");
        let rows = [
            row(a, "sessions", day(20), json!({}), 10.0),
            row(a, "sessions", day(20), json!({"country": "DE"}), 4.0),
            row(a, "sessions", day(20), json!({"country": "FR"}), 6.0),
            row(a, "sessions", day(21), json!({"country": "DE"}), 1.0),
            row(a, "sessions", day(21), json!({"country": "FR"}), 2.0),
            row(b, "sessions", day(21), json!({}), 100.0),
        ];
        let window = super::totals(&sessions, Points::Own(&rows), |_| day(20));
        assert_eq!(window[0].points, [(day(20), 113.0)]);
        // A count with a currency breakdown (Stripe's new subscriptions) adds up.
        let count = MetricSpec::sum("new_subscriptions", Unit::Count, "");
        let rows = [
            row(
                a,
                "new_subscriptions",
                day(2),
                json!({"currency": "USD"}),
                2.0,
            ),
            row(
                a,
                "new_subscriptions",
                day(2),
                json!({"currency": "EUR"}),
                1.0,
            ),
        ];
        let totals = super::totals(&count, Points::Own(&rows), |d| d);
        assert_eq!(
            totals,
            [Total {
                currency: None,
                points: vec![(day(2), 3.0)]
            }]
        );
    }
}
