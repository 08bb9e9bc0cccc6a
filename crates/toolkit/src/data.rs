//! Helpers for turning a provider's data into records, KPI points and webhook
//! effects.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use junction_core::{
    AdapterError, KpiPoint, ReadRequest, Record, StreamDeletion, StreamKpi, StreamRecord,
    StreamSpec, WebhookEffects,
    spec::{CURRENCY_DIMENSION, MetricSpec, ProviderSpec, Unit},
};
use serde_json::Value;

/// The stream a read asks for, or an `Invalid` error naming `stream`.
pub fn stream<'s>(
    spec: &'s ProviderSpec,
    request: &ReadRequest,
) -> Result<&'s StreamSpec, AdapterError> {
    spec.stream(&request.stream).ok_or_else(|| {
        AdapterError::invalid_field(
            "stream",
            format!("{} has no stream `{}`", spec.name, request.stream),
        )
    })
}

/// A string, number or boolean as trimmed, non-empty text (ids that arrive either
/// way, `"123"` or `123`).
pub fn text(value: Option<&Value>) -> Option<String> {
    scalar_at(value, "")
}

/// A string, number or boolean at `pointer`, as non-empty trimmed text.
pub(crate) fn scalar_at(body: Option<&Value>, pointer: &str) -> Option<String> {
    match body?.pointer(pointer)? {
        Value::String(text) => Some(text.trim().to_owned()).filter(|t| !t.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A number that arrives as a JSON number or as a numeric string (Meta's insights,
/// GA4's metric values, proto3 int64s); finite only.
pub fn number(value: &Value) -> Option<f64> {
    let number = match value {
        Value::String(text) => text.trim().parse::<f64>().ok()?,
        Value::Number(n) => n.as_f64()?,
        _ => return None,
    };
    number.is_finite().then_some(number)
}

/// One day's KPI points broken down by `dimensions`, one per `(metric, value)`; a
/// metric without a value, or with one that is not finite, has no point (a ratio over
/// nothing is not zero).
pub fn day_points<'a>(
    date: NaiveDate,
    dimensions: &BTreeMap<String, String>,
    values: impl IntoIterator<Item = (&'a str, Option<f64>)>,
) -> Vec<KpiPoint> {
    values
        .into_iter()
        .filter_map(|(metric, value)| {
            let value = value.filter(|v| v.is_finite())?;
            Some(KpiPoint {
                metric: metric.to_owned(),
                date,
                dimensions: dimensions.clone(),
                value,
            })
        })
        .collect()
}

/// [`day_points`] of a stream's `declared` metrics, by name: a money metric's point
/// also carries `currency` (upper-cased) as its [`CURRENCY_DIMENSION`], so money is
/// never added across currencies downstream. The declarations come from the spec
/// (data), the values from the adapter's mapping; naming each value keeps the two
/// from drifting apart by position.
pub fn metric_points<'a>(
    date: NaiveDate,
    dimensions: &BTreeMap<String, String>,
    currency: Option<&str>,
    declared: &[MetricSpec],
    values: impl IntoIterator<Item = (&'a str, Option<f64>)>,
) -> Vec<KpiPoint> {
    let currency = currency
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty());
    let money = |name: &str| {
        declared
            .iter()
            .any(|metric| metric.name == name && metric.unit == Unit::Money)
    };
    values
        .into_iter()
        .filter_map(|(name, value)| {
            let mut point = day_points(date, dimensions, [(name, value)]).pop()?;
            if let (true, Some(currency)) = (money(name), &currency) {
                point
                    .dimensions
                    .insert(CURRENCY_DIMENSION.to_owned(), currency.clone());
            }
            Some(point)
        })
        .collect()
}

/// A provider's text as one line — every run of whitespace, line breaks included,
/// one space — of at most `max_chars` characters, cut with `…`: how provider
/// messages go into errors, logs and reports (as the error table's envelope does).
pub fn one_line(text: &str, max_chars: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max_chars {
        return line;
    }
    let kept = line.chars().take(max_chars.saturating_sub(1));
    kept.chain(std::iter::once('…')).collect()
}

/// A provider's JSON object (a report row, an item of a list) read field by field,
/// as [`crate::input::Input`] reads an action's input. Every failure is
/// `Unavailable` — the provider sent something malformed; a retry may fetch a sane
/// answer — and names the field, never quoting the value (it may reach dashboards).
/// `what` names the object in messages: with "Meta sent an insights row", a bad
/// `spend` is "Meta sent an insights row whose `spend` is not a number".
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    value: &'a Value,
    what: &'a str,
}

impl<'a> Fields<'a> {
    pub fn new(value: &'a Value, what: &'a str) -> Self {
        Self { value, what }
    }

    /// The field's value; `None` when it is absent or null.
    pub fn get(&self, field: &str) -> Option<&'a Value> {
        self.value.get(field).filter(|value| !value.is_null())
    }

    /// `Unavailable`: "{what} whose `{field}` {problem}".
    pub fn malformed(&self, field: &str, problem: &str) -> AdapterError {
        AdapterError::unavailable(format!("{} whose `{field}` {problem}", self.what))
    }

    /// A required string, not empty, as sent: "{what} without `{field}`" otherwise.
    pub fn text(&self, field: &str) -> Result<String, AdapterError> {
        self.get(field)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| AdapterError::unavailable(format!("{} without `{field}`", self.what)))
    }

    /// A required day written in `format` (`%Y-%m-%d`).
    pub fn date(&self, field: &str, format: &str) -> Result<NaiveDate, AdapterError> {
        NaiveDate::parse_from_str(&self.text(field)?, format)
            .map_err(|_| self.malformed(field, "is not a date"))
    }

    /// A number sent as a JSON number or a numeric string ([`number`]); `None` when
    /// absent or null.
    pub fn number(&self, field: &str) -> Result<Option<f64>, AdapterError> {
        self.get(field)
            .map(|value| number(value).ok_or_else(|| self.malformed(field, "is not a number")))
            .transpose()
    }

    /// A list; `None` when absent or null.
    pub fn list(&self, field: &str) -> Result<Option<&'a [Value]>, AdapterError> {
        self.get(field)
            .map(|value| match value {
                Value::Array(items) => Ok(items.as_slice()),
                _ => Err(self.malformed(field, "is not a list")),
            })
            .transpose()
    }
}

/// The records and KPI points of rows mapped one by one (`map` gives a row's
/// record and points); the first row that fails fails them all.
pub fn records_and_points<T>(
    rows: impl IntoIterator<Item = T>,
    mut map: impl FnMut(T) -> Result<(Record, Vec<KpiPoint>), AdapterError>,
) -> Result<(Vec<Record>, Vec<KpiPoint>), AdapterError> {
    let (mut records, mut kpis) = (Vec::new(), Vec::new());
    for row in rows {
        let (record, points) = map(row)?;
        records.push(record);
        kpis.extend(points);
    }
    Ok((records, kpis))
}

/// The webhook effects on `stream` of pages of records and KPI points (what a
/// webhook's re-read through [`crate::paging::walk`] gives).
pub fn effects(
    stream: &str,
    pages: impl IntoIterator<Item = (Vec<Record>, Vec<KpiPoint>)>,
) -> WebhookEffects {
    let mut effects = WebhookEffects::default();
    for (records, kpis) in pages {
        add_effects(&mut effects, stream, records, kpis);
    }
    effects
}

/// Adds records and KPI points of `stream` to webhook effects.
pub fn add_effects(
    effects: &mut WebhookEffects,
    stream: &str,
    records: Vec<Record>,
    kpis: Vec<KpiPoint>,
) {
    effects
        .records
        .extend(records.into_iter().map(|record| StreamRecord {
            stream: stream.to_owned(),
            record,
        }));
    effects.kpis.extend(kpis.into_iter().map(|point| StreamKpi {
        stream: stream.to_owned(),
        point,
    }));
}

/// Adds to webhook effects the records of `stream` an event says were deleted
/// upstream, by their external ids.
pub fn add_deletions<I, S>(effects: &mut WebhookEffects, stream: &str, external_ids: I)
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    effects
        .deletions
        .extend(external_ids.into_iter().map(|external_id| StreamDeletion {
            stream: stream.to_owned(),
            external_id: external_id.into(),
        }));
}

/// proto3 JSON int64 (Google APIs), for `#[serde(with = "...")]` on an
/// `Option<i64>`: written as a decimal string, read from a string or a number.
pub mod proto_int64 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(value: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.serialize_str(&v.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Int64 {
            Number(i64),
            Text(String),
        }
        match Option::<Int64>::deserialize(d)? {
            None => Ok(None),
            Some(Int64::Number(n)) => Ok(Some(n)),
            Some(Int64::Text(text)) => text
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| D::Error::custom("expected an int64 as a decimal string")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn proto_int64s_are_strings_on_the_wire() {
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        struct Body {
            #[serde(default, skip_serializing_if = "Option::is_none", with = "proto_int64")]
            limit: Option<i64>,
        }
        let body = Body { limit: Some(10) };
        assert_eq!(serde_json::to_value(&body).unwrap(), json!({"limit": "10"}));
        let read: Body = serde_json::from_value(json!({"limit": 5})).unwrap();
        assert_eq!(read, Body { limit: Some(5) });
        assert!(serde_json::from_value::<Body>(json!({"limit": "ten"})).is_err());
    }

    #[test]
    fn fields_of_provider_objects_name_the_field_not_the_value() {
        let row = json!({"campaign_id": "7", "empty": "", "date_start": "2026-03-01",
                         "spend": "12.50", "clicks": 3, "cpc": null, "ctr": "12,5",
                         "actions": [{"value": "1"}], "bad_date": "March", "one": {}});
        let fields = Fields::new(&row, "Example sent a row");
        let message = |err: AdapterError| match err {
            AdapterError::Unavailable { message } => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(fields.text("campaign_id").unwrap(), "7");
        for missing in ["empty", "nope", "clicks", "cpc"] {
            assert_eq!(
                message(fields.text(missing).unwrap_err()),
                format!("Example sent a row without `{missing}`")
            );
        }
        assert_eq!(
            fields.date("date_start", "%Y-%m-%d").unwrap(),
            NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
        );
        assert_eq!(
            message(fields.date("bad_date", "%Y-%m-%d").unwrap_err()),
            "Example sent a row whose `bad_date` is not a date"
        );
        assert_eq!(fields.number("spend").unwrap(), Some(12.5));
        assert_eq!(fields.number("clicks").unwrap(), Some(3.0));
        assert_eq!(fields.number("cpc").unwrap(), None);
        assert_eq!(fields.number("nope").unwrap(), None);
        let err = message(fields.number("ctr").unwrap_err());
        assert_eq!(err, "Example sent a row whose `ctr` is not a number");
        assert!(!err.contains("12,5"));
        assert_eq!(fields.list("actions").unwrap().map(<[Value]>::len), Some(1));
        assert_eq!(fields.list("cpc").unwrap(), None);
        assert_eq!(
            message(fields.list("one").unwrap_err()),
            "Example sent a row whose `one` is not a list"
        );
        assert_eq!(fields.get("cpc"), None);
    }

    #[test]
    fn rows_map_to_records_and_points_and_pages_to_effects() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let map = |n: u32| {
            if n == 0 {
                return Err(AdapterError::unavailable("zero"));
            }
            let record = Record {
                external_id: n.to_string(),
                data: json!({}),
                modified_at: None,
            };
            Ok((
                record,
                vec![KpiPoint::total("n", date, f64::from(n)); n as usize],
            ))
        };
        let (records, kpis) = records_and_points([1, 2], map).unwrap();
        assert_eq!((records.len(), kpis.len()), (2, 3));
        assert_eq!(records[1].external_id, "2");
        assert!(records_and_points([1, 0, 2], map).is_err());
        let pages = [
            records_and_points([1], map).unwrap(),
            records_and_points([2], map).unwrap(),
        ];
        let effects = effects("s", pages);
        assert_eq!((effects.records.len(), effects.kpis.len()), (2, 3));
        assert!(effects.records.iter().all(|r| r.stream == "s"));
    }

    #[test]
    fn messages_become_one_cut_line() {
        assert_eq!(one_line("  a\n\tb   c ", 10), "a b c");
        assert_eq!(one_line("abcdef", 6), "abcdef");
        assert_eq!(one_line("abcdefg", 6), "abcde…");
        assert_eq!(one_line("ééééé", 3), "éé…");
        assert_eq!(one_line("", 3), "");
    }

    #[test]
    fn numbers_points_and_effects() {
        assert_eq!(text(Some(&json!(" 12 "))).as_deref(), Some("12"));
        assert_eq!(text(Some(&json!(12))).as_deref(), Some("12"));
        assert_eq!(text(Some(&json!({}))), None);
        let spec = crate::testing::oauth_spec();
        let request = ReadRequest {
            stream: "nope".into(),
            cursor: None,
            page_size: None,
        };
        assert_eq!(
            stream(&spec, &request).unwrap_err(),
            AdapterError::invalid_field("stream", "Example has no stream `nope`")
        );
        assert_eq!(number(&json!(" 12.5 ")), Some(12.5));
        assert_eq!(number(&json!(3)), Some(3.0));
        for bad in [json!("12,5"), json!("NaN"), json!(null), json!([1])] {
            assert_eq!(number(&bad), None, "{bad}");
        }
        let date = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let dims: BTreeMap<String, String> = [("campaign".to_owned(), "7".to_owned())].into();
        let points = day_points(
            date,
            &dims,
            [
                ("spend", Some(2.0)),
                ("roas", None),
                ("ctr", Some(f64::NAN)),
            ],
        );
        assert_eq!(
            points,
            [KpiPoint::total("spend", date, 2.0).with_dimension("campaign", "7")]
        );
        let mut effects = WebhookEffects::default();
        let record = Record {
            external_id: "r".into(),
            data: json!({}),
            modified_at: None,
        };
        add_effects(&mut effects, "s", vec![record], points);
        assert_eq!(
            (effects.records[0].stream.as_str(), effects.kpis.len()),
            ("s", 1)
        );
        add_deletions(&mut effects, "customers", ["cus_1", "cus_2"]);
        assert_eq!(
            effects.deletions,
            [
                StreamDeletion {
                    stream: "customers".into(),
                    external_id: "cus_1".into()
                },
                StreamDeletion {
                    stream: "customers".into(),
                    external_id: "cus_2".into()
                },
            ]
        );
    }
}
