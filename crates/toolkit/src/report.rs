//! Reports as tables: a report by day whose columns are named dimensions (the day
//! first) and metrics, every cell text — GA4's `runReport`; YouTube Analytics and
//! Search Console answer the same way — turned into records and KPI points.
//!
//! The provider describes its table as data ([`Table`]): the day column and how its
//! values are written, the KPIs ([`Kpi`]: which metric column is stored as which
//! KPI, declared with its kind and unit in the stream's spec), and, per connection,
//! the breakdown dimensions after the day. Each row then
//! becomes a record `{column: value}` whose id is its dimension values joined with
//! `|` ([`id_part`] keeps that unambiguous), and one KPI point per metric for its
//! day, broken down by the other dimensions. A report without the requested columns,
//! or with a metric that is missing or not a number, is malformed: `Unavailable` (a
//! retry may fetch a good one), naming the column, never quoting the value.

use std::{collections::BTreeMap, fmt::Display};

use chrono::NaiveDate;
use junction_core::{AdapterError, KpiPoint, Record, spec::MetricSpec};
use serde_json::{Map, Number, Value};

use crate::data;

/// A metric column of a report and the KPI it is stored as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kpi {
    /// The provider's column (`totalUsers`).
    pub column: &'static str,
    /// The KPI's name (`total_users`), as the stream's spec declares it.
    pub metric: &'static str,
}

impl Kpi {
    pub const fn new(column: &'static str, metric: &'static str) -> Self {
        Self { column, metric }
    }
}

/// How a metric column's cells read (a report's header says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// Whole numbers, kept as integers in records.
    Integer,
    /// Any other number (rates, amounts, durations), as floating point.
    Decimal,
}

/// A report's table as the adapter asks for it: a `const` of the provider with no
/// breakdown, given the connection's with [`Table::by`] (and the stream's declared
/// metrics) and the report's currency with [`Table::in_currency`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Table<'a> {
    /// What the report is called in errors and logs (`GA4 report`).
    pub name: &'static str,
    /// The day dimension, the first column of every row (`date`).
    pub day: &'static str,
    /// How the day's values are written (`%Y%m%d`).
    pub day_format: &'static str,
    /// The dimensions after the day.
    pub breakdown: &'a [String],
    /// The metric columns, in the order requested, and their KPIs.
    pub kpis: &'static [Kpi],
    /// The stream's metrics as its spec declares them (which are money). Empty in
    /// the description; [`Table::by`] gives them.
    pub declared: &'a [MetricSpec],
    /// The currency (ISO 4217) of the report's money: money KPIs carry it as their
    /// `currency` dimension. `None` in the description; the report says it.
    pub currency: Option<&'a str>,
}

impl<'a> Table<'a> {
    /// This table broken down by `breakdown` after the day, its KPIs as `declared`
    /// (the stream spec's `metrics`).
    pub fn by<'b>(&self, breakdown: &'b [String], declared: &'b [MetricSpec]) -> Table<'b> {
        Table {
            name: self.name,
            day: self.day,
            day_format: self.day_format,
            breakdown,
            kpis: self.kpis,
            declared,
            currency: None,
        }
    }

    /// This table with its money in `currency` (upper-cased).
    pub fn in_currency(self, currency: Option<&'a str>) -> Self {
        Self { currency, ..self }
    }

    /// The dimension columns, the day first.
    pub fn dimensions(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.day).chain(self.breakdown.iter().map(String::as_str))
    }

    /// The metric columns, in order.
    pub fn columns(&self) -> impl Iterator<Item = &'static str> {
        self.kpis.iter().map(|kpi| kpi.column)
    }

    /// The KPI names, in order.
    pub fn metrics(&self) -> impl Iterator<Item = &'static str> {
        self.kpis.iter().map(|kpi| kpi.metric)
    }

    /// Checks that a report has the requested columns, in order (its headers'
    /// names): a report of other columns would be stored under the wrong names.
    pub fn check_columns<'h>(
        &self,
        dimensions: impl IntoIterator<Item = &'h str>,
        metrics: impl IntoIterator<Item = &'h str>,
    ) -> Result<(), AdapterError> {
        if !dimensions.into_iter().eq(self.dimensions()) {
            return Err(self.malformed("dimension headers differ from the requested dimensions"));
        }
        if !metrics.into_iter().eq(self.columns()) {
            return Err(self.malformed("metric headers differ from the requested metrics"));
        }
        Ok(())
    }

    /// One row — its dimension values (the day first) and metric values, in the
    /// order of the columns — as its record and KPI points; `cells` says how each
    /// metric's values read. A row whose day does not parse (GA4 folds rare
    /// combinations into an `(other)` row on huge reports) is kept as a record
    /// without KPI points: it has no day to chart.
    pub fn row<'v>(
        &self,
        dimension_values: impl IntoIterator<Item = &'v str>,
        metric_values: impl IntoIterator<Item = Option<&'v str>>,
        cells: &[Cell],
    ) -> Result<(Record, Vec<KpiPoint>), AdapterError> {
        let dimension_values: Vec<&str> = dimension_values.into_iter().collect();
        let metric_values: Vec<Option<&str>> = metric_values.into_iter().collect();
        if dimension_values.len() != 1 + self.breakdown.len()
            || metric_values.len() != self.kpis.len()
        {
            return Err(self.malformed("a row does not match the headers"));
        }
        let mut data = Map::new();
        for (name, value) in self.dimensions().zip(&dimension_values) {
            data.insert(name.to_owned(), Value::String((*value).to_owned()));
        }
        let mut values = Vec::with_capacity(self.kpis.len());
        for (index, (kpi, value)) in self.kpis.iter().zip(&metric_values).enumerate() {
            let name = kpi.column;
            let text =
                value.ok_or_else(|| self.malformed(format_args!("`{name}` has no value")))?;
            let cell = cells.get(index).copied().unwrap_or(Cell::Decimal);
            let (number, value) = parse(text, cell)
                .ok_or_else(|| self.malformed(format_args!("`{name}` is not a number")))?;
            data.insert(name.to_owned(), Value::Number(number));
            values.push((kpi.metric, Some(value)));
        }
        let day = dimension_values.first().copied().unwrap_or_default();
        let points = match NaiveDate::parse_from_str(day, self.day_format) {
            Ok(date) => {
                let breakdown: BTreeMap<String, String> = self
                    .breakdown
                    .iter()
                    .cloned()
                    .zip(dimension_values.iter().skip(1).map(|v| (*v).to_owned()))
                    .collect();
                data::metric_points(date, &breakdown, self.currency, self.declared, values)
            }
            Err(_) => {
                tracing::warn!(
                    report = self.name,
                    date = day,
                    "a report row without a calendar date: no KPI points for it"
                );
                Vec::new()
            }
        };
        let id: Vec<String> = dimension_values.iter().map(|v| id_part(v)).collect();
        let record = Record {
            external_id: id.join("|"),
            data: Value::Object(data),
            modified_at: None,
        };
        Ok((record, points))
    }

    fn malformed(&self, what: impl Display) -> AdapterError {
        AdapterError::unavailable(format!("malformed {}: {what}", self.name))
    }
}

/// A metric's text read as its cell says: the JSON number of the record and the
/// KPI's value; `None` when it is not a (finite) number.
fn parse(text: &str, cell: Cell) -> Option<(Number, f64)> {
    let text = text.trim();
    match cell {
        Cell::Integer => {
            let n = text.parse::<i64>().ok()?;
            Some((Number::from(n), n as f64))
        }
        Cell::Decimal => {
            let value = text.parse::<f64>().ok()?;
            Number::from_f64(value).map(|n| (n, value))
        }
    }
}

/// A value as a part of a record id joined with `|`: `%` and `|` escaped, so
/// `a|b` + `c` and `a` + `b|c` cannot make the same id.
pub fn id_part(value: &str) -> String {
    value.replace('%', "%25").replace('|', "%7C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use junction_core::spec::Unit;
    use serde_json::json;

    const REPORT: Table<'static> = Table {
        name: "example report",
        day: "date",
        day_format: "%Y%m%d",
        breakdown: &[],
        kpis: &[
            Kpi::new("sessions", "sessions"),
            Kpi::new("totalRevenue", "revenue"),
        ],
        declared: &[],
        currency: None,
    };

    const DECLARED: [MetricSpec; 2] = [
        MetricSpec::sum("sessions", Unit::Count, ""),
        MetricSpec::sum("revenue", Unit::Money, ""),
    ];

    const CELLS: [Cell; 2] = [Cell::Integer, Cell::Decimal];

    fn unavailable(err: AdapterError) -> String {
        match err {
            AdapterError::Unavailable { message } => message,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_table_names_its_columns() {
        let breakdown = vec!["country".to_owned()];
        let table = REPORT.by(&breakdown, &DECLARED);
        assert_eq!(table.dimensions().collect::<Vec<_>>(), ["date", "country"]);
        assert_eq!(
            table.columns().collect::<Vec<_>>(),
            ["sessions", "totalRevenue"]
        );
        assert_eq!(table.metrics().collect::<Vec<_>>(), ["sessions", "revenue"]);
        assert_eq!(
            table.check_columns(["date", "country"], ["sessions", "totalRevenue"]),
            Ok(())
        );
        let err = table
            .check_columns(["date"], ["sessions", "totalRevenue"])
            .unwrap_err();
        assert_eq!(
            unavailable(err),
            "malformed example report: dimension headers differ from the requested dimensions"
        );
        let err = table
            .check_columns(["date", "country"], ["totalRevenue", "sessions"])
            .unwrap_err();
        assert!(unavailable(err).contains("metric headers differ"));
    }

    #[test]
    fn rows_become_records_and_points_by_day() {
        let breakdown = vec!["country".to_owned()];
        let table = REPORT.by(&breakdown, &DECLARED).in_currency(Some("jpy"));
        let (record, points) = table
            .row(
                ["20260314", "Japan|JP"],
                [Some("980"), Some("1200.5")],
                &CELLS,
            )
            .unwrap();
        assert_eq!(record.external_id, "20260314|Japan%7CJP");
        assert_eq!(
            record.data,
            json!({"date": "20260314", "country": "Japan|JP", "sessions": 980, "totalRevenue": 1200.5})
        );
        let day = NaiveDate::from_ymd_opt(2026, 3, 14).unwrap();
        // Only the declared money metric carries the report's currency.
        assert_eq!(
            points,
            [
                KpiPoint::total("sessions", day, 980.0).with_dimension("country", "Japan|JP"),
                KpiPoint::total("revenue", day, 1200.5)
                    .with_dimension("country", "Japan|JP")
                    .with_dimension("currency", "JPY"),
            ]
        );
        // A decimal column keeps its fraction; an integer one refuses one.
        let (record, _) = REPORT
            .row(["20260314"], [Some("3"), Some("1")], &[Cell::Decimal; 2])
            .unwrap();
        assert_eq!(record.data["sessions"], json!(3.0));
        // A row without a calendar day is a record without points.
        let (record, points) = REPORT
            .row(["(other)"], [Some("1"), Some("0.5")], &CELLS)
            .unwrap();
        assert_eq!((record.external_id.as_str(), points.len()), ("(other)", 0));
    }

    #[test]
    fn malformed_rows_name_the_column_not_the_value() {
        let row = |dimensions: &[&str], metrics: &[Option<&str>]| {
            let (dimensions, metrics) = (dimensions.iter().copied(), metrics.iter().copied());
            unavailable(REPORT.row(dimensions, metrics, &CELLS).unwrap_err())
        };
        assert_eq!(
            row(&["20260314", "x"], &[Some("1"), Some("1")]),
            "malformed example report: a row does not match the headers"
        );
        assert!(row(&["20260314"], &[Some("1")]).contains("does not match"));
        assert_eq!(
            row(&["20260314"], &[None, Some("1")]),
            "malformed example report: `sessions` has no value"
        );
        for bad in ["many", "1.5", ""] {
            let message = row(&["20260314"], &[Some(bad), Some("1")]);
            assert_eq!(
                message,
                "malformed example report: `sessions` is not a number"
            );
        }
        let message = row(&["20260314"], &[Some("1"), Some("NaN")]);
        assert!(message.contains("`totalRevenue` is not a number"));
    }

    #[test]
    fn id_parts_cannot_collide() {
        assert_ne!(id_part("a|b"), "a|b");
        assert_eq!(id_part("100%|x"), "100%25%7Cx");
        assert_ne!(
            [id_part("a|b"), id_part("c")].join("|"),
            [id_part("a"), id_part("b|c")].join("|")
        );
    }
}
