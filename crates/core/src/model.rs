//! What a sync produces: [`Record`]s, [`KpiPoint`]s and the [`Page`] that carries them.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// One object read from a provider (a charge, a subscriber, a report row), kept as the
/// provider's JSON. Records are upserted by (integration, stream, external id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The provider's id for the object (its primary key, joined when composite).
    pub external_id: String,
    /// The object as the provider returned it (or normalized by the adapter).
    pub data: serde_json::Value,
    /// When the provider last changed the object, when it says.
    pub modified_at: Option<DateTime<Utc>>,
}

/// One value of one metric on one day, optionally broken down by dimensions
/// (campaign, currency, country). Unique per integration + metric + date + dimensions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiPoint {
    /// Metric name, e.g. `sessions`, `spend`, `mrr`.
    pub metric: String,
    /// The day the value belongs to (in the provider's reporting time zone).
    pub date: NaiveDate,
    /// Breakdown dimensions; empty for a total.
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
}

impl KpiPoint {
    /// A point without dimensions.
    pub fn total(metric: impl Into<String>, date: NaiveDate, value: f64) -> Self {
        Self {
            metric: metric.into(),
            date,
            dimensions: BTreeMap::new(),
            value,
        }
    }

    /// Adds one dimension.
    pub fn with_dimension(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.dimensions.insert(name.into(), value.into());
        self
    }

    /// The canonical key of the dimensions: the same set of dimensions always gives the
    /// same key (the map is ordered), so it can stand in a unique constraint.
    pub fn dimension_key(&self) -> String {
        self.dimensions
            .iter()
            .map(|(name, value)| format!("{}={}", escape_key_part(name), escape_key_part(value)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// The dimensions a [`KpiPoint::dimension_key`] was made from: the key is
/// canonical and unambiguous, so it carries them whole, and a reader that has the
/// key needs nothing else (the KPI read takes only the key from its index).
pub fn dimensions_from_key(key: &str) -> BTreeMap<String, String> {
    if key.is_empty() {
        return BTreeMap::new();
    }
    key.split('&')
        .map(|part| {
            // Only the separator is a raw `=`: one inside a name or value is escaped.
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            (unescape_key_part(name), unescape_key_part(value))
        })
        .collect()
}

/// Escapes the separators so that `a=b&c` cannot collide with another dimension set.
fn escape_key_part(part: &str) -> String {
    part.replace('%', "%25")
        .replace('&', "%26")
        .replace('=', "%3D")
}

/// Undoes [`escape_key_part`]. Every `%` of an escaped part starts one of its
/// three codes, and one that stood for itself is `%25`, which neither of the other
/// codes' replacements can form, so undoing `%25` last is exact.
fn unescape_key_part(part: &str) -> String {
    if !part.contains('%') {
        return part.to_owned();
    }
    part.replace("%3D", "=")
        .replace("%26", "&")
        .replace("%25", "%")
}

/// One page of one stream, as returned by [`crate::Adapter::read`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Page {
    /// Records read on this page.
    pub records: Vec<Record>,
    /// KPI points derived from this page.
    pub kpis: Vec<KpiPoint>,
    /// The cursor to resume from after this page is committed. `None` keeps the
    /// stored cursor as it is.
    pub next_cursor: Option<serde_json::Value>,
    /// Whether another page follows right away.
    pub has_more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimension_key_is_canonical_and_unambiguous() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let a = KpiPoint::total("spend", date, 1.0)
            .with_dimension("campaign", "x")
            .with_dimension("currency", "EUR");
        let b = KpiPoint::total("spend", date, 2.0)
            .with_dimension("currency", "EUR")
            .with_dimension("campaign", "x");
        assert_eq!(a.dimension_key(), b.dimension_key());
        assert_eq!(a.dimension_key(), "campaign=x&currency=EUR");
        let tricky =
            KpiPoint::total("spend", date, 1.0).with_dimension("campaign", "x&currency=EUR");
        assert_ne!(tricky.dimension_key(), a.dimension_key());
        assert_eq!(KpiPoint::total("spend", date, 1.0).dimension_key(), "");
    }

    #[test]
    fn a_dimension_key_gives_back_its_dimensions() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        for point in [
            KpiPoint::total("spend", date, 1.0),
            KpiPoint::total("spend", date, 1.0).with_dimension("", ""),
            KpiPoint::total("spend", date, 1.0)
                .with_dimension("campaign", "x&currency=EUR")
                .with_dimension("currency", "EUR"),
            KpiPoint::total("spend", date, 1.0).with_dimension("a%3D=", "%25%%26&=b"),
        ] {
            assert_eq!(
                dimensions_from_key(&point.dimension_key()),
                point.dimensions
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_dimensions_survive_their_key(
            dimensions in proptest::collection::btree_map("[a%&=3D25é]{0,8}", "[a%&=3D26é]{0,8}", 0..5),
        ) {
            let date = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
            let point = KpiPoint { metric: "m".into(), date, dimensions, value: 1.0 };
            proptest::prop_assert_eq!(dimensions_from_key(&point.dimension_key()), point.dimensions);
        }
    }
}
