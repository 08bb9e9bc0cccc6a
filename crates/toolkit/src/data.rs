//! Helpers for turning a provider's data into records, KPI points and webhook
//! effects.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use junction_core::{
    AdapterError, KpiPoint, ReadRequest, Record, StreamKpi, StreamRecord, StreamSpec,
    WebhookEffects, spec::ProviderSpec,
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
    crate::errors::scalar_at(value, "")
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
    }
}
