//! A spec's streams and actions kept as data: JSON files of the provider crate
//! (`include_str!("streams.json")`), in the shape `GET /v1/providers/{id}` serves
//! them, read into the spec's [`StreamSpec`]s and [`ActionSpec`]s.
//!
//! Names, descriptions, keys and metric names are borrowed from the file (it lives as
//! long as the program), so they are written without JSON escapes. A file that does
//! not parse gives no streams or actions and logs why: the provider's unit tests read
//! each file (through its spec), so a build that passed them always gets all of them.

use std::time::Duration;

use junction_core::spec::{
    ActionSpec, MetricFamily, MetricKind, MetricSpec, RecipientField, StreamSpec, Unit,
};
use serde::Deserialize;
use serde_json::Value;

/// One stream: `default_schedule` in seconds, as the API serves it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamDef {
    name: &'static str,
    description: &'static str,
    primary_key: Vec<&'static str>,
    #[serde(default)]
    cursor_field: Option<&'static str>,
    /// Fed by webhooks only (a sync reads nothing): never compared for deletions.
    #[serde(default)]
    webhook_only: bool,
    default_schedule: u64,
    #[serde(default)]
    metrics: Vec<MetricDef>,
}

/// One metric: `kind` is `sum`, `gauge` or `ratio` (with `numerator` and
/// `denominator`), as the API serves it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricDef {
    name: &'static str,
    kind: KindName,
    #[serde(default)]
    numerator: Option<&'static str>,
    #[serde(default)]
    denominator: Option<&'static str>,
    unit: Unit,
    description: &'static str,
    #[serde(default)]
    family: Option<MetricFamily>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum KindName {
    Sum,
    Gauge,
    Ratio,
}

impl MetricDef {
    /// The metric, or why it is not one (a ratio without both components).
    fn spec(self) -> Result<MetricSpec, String> {
        let kind = match (self.kind, self.numerator, self.denominator) {
            (KindName::Sum, None, None) => MetricKind::Sum,
            (KindName::Gauge, None, None) => MetricKind::Gauge,
            (KindName::Ratio, Some(numerator), Some(denominator)) => MetricKind::Ratio {
                numerator,
                denominator,
            },
            (KindName::Ratio, _, _) => {
                return Err(format!(
                    "ratio `{}` needs a numerator and a denominator",
                    self.name
                ));
            }
            _ => {
                return Err(format!("only a ratio has components (`{}`)", self.name));
            }
        };
        Ok(MetricSpec {
            name: self.name,
            kind,
            unit: self.unit,
            description: self.description,
            family: self.family,
        })
    }
}

/// One action; `long_running` is false unless the file says otherwise,
/// `email_recipients` empty and `provider_recipients` absent (an action that sends
/// no email).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionDef {
    name: &'static str,
    description: &'static str,
    input_schema: Value,
    #[serde(default)]
    long_running: bool,
    #[serde(default)]
    email_recipients: Vec<RecipientField>,
    #[serde(default)]
    provider_recipients: Option<&'static str>,
}

/// The streams of `json`, a list of `{name, description, primary_key, cursor_field,
/// webhook_only, default_schedule, metrics}`, for `provider` (named in the log when it does not
/// parse).
pub fn streams(json: &'static str, provider: &str) -> Vec<StreamSpec> {
    let streams: Result<Vec<StreamSpec>, String> = parse::<StreamDef>(json, provider, "streams")
        .into_iter()
        .map(|def| {
            Ok(StreamSpec {
                name: def.name,
                description: def.description,
                primary_key: def.primary_key,
                cursor_field: def.cursor_field,
                webhook_only: def.webhook_only,
                default_schedule: Duration::from_secs(def.default_schedule),
                metrics: def
                    .metrics
                    .into_iter()
                    .map(MetricDef::spec)
                    .collect::<Result<_, _>>()?,
            })
        })
        .collect();
    streams.unwrap_or_else(|err| {
        tracing::error!(provider, %err, "the streams of the provider's spec do not parse");
        Vec::new()
    })
}

/// The actions of `json`, a list of `{name, description, input_schema,
/// long_running, email_recipients, provider_recipients}`.
pub fn actions(json: &'static str, provider: &str) -> Vec<ActionSpec> {
    parse::<ActionDef>(json, provider, "actions")
        .into_iter()
        .map(|def| ActionSpec {
            name: def.name,
            description: def.description,
            input_schema: def.input_schema,
            long_running: def.long_running,
            email_recipients: def.email_recipients,
            provider_recipients: def.provider_recipients,
        })
        .collect()
}

fn parse<T: Deserialize<'static>>(json: &'static str, provider: &str, what: &str) -> Vec<T> {
    serde_json::from_str(json).unwrap_or_else(|err| {
        tracing::error!(provider, %err, "the {what} of the provider's spec do not parse");
        Vec::new()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_and_actions_are_read_as_the_api_serves_them() {
        let streams = streams(
            r#"[
                {"name": "orders", "description": "Orders.", "primary_key": ["id"],
                 "cursor_field": "updated_at", "default_schedule": 21600, "metrics": [
                   {"name": "revenue", "kind": "sum", "unit": "money", "description": "Sales.",
                    "family": "revenue"},
                   {"name": "orders", "kind": "sum", "unit": "count", "description": "Orders."},
                   {"name": "average_order", "kind": "ratio", "numerator": "revenue",
                    "denominator": "orders", "unit": "money", "description": "Per order."}]},
                {"name": "tags", "description": "Tags.", "primary_key": ["id"], "default_schedule": 3600},
                {"name": "events", "description": "Events.", "primary_key": ["id"],
                 "webhook_only": true, "default_schedule": 86400}
            ]"#,
            "example",
        );
        assert_eq!(streams.len(), 3);
        assert_eq!(
            streams[0].default_schedule,
            Duration::from_secs(6 * 60 * 60)
        );
        assert_eq!(streams[0].cursor_field, Some("updated_at"));
        assert_eq!(
            streams[0].metrics[0],
            MetricSpec::sum("revenue", Unit::Money, "Sales.").in_family(MetricFamily::Revenue)
        );
        assert_eq!(
            streams[0].metrics[2].kind,
            MetricKind::Ratio {
                numerator: "revenue",
                denominator: "orders"
            }
        );
        let served = serde_json::to_value(&streams[0]).unwrap();
        assert_eq!(
            served["metrics"][2],
            serde_json::json!({"name": "average_order", "kind": "ratio", "numerator": "revenue",
                "denominator": "orders", "unit": "money", "description": "Per order."})
        );
        assert_eq!(
            (streams[1].cursor_field, streams[1].metrics.len()),
            (None, 0)
        );
        let served = serde_json::to_value(&streams[1]).unwrap();
        assert_eq!(served["default_schedule"], 3600);
        // Without a cursor: read whole and compared, unless webhooks alone feed it.
        assert_eq!(
            streams
                .iter()
                .map(|s| (s.webhook_only, s.full_refresh()))
                .collect::<Vec<_>>(),
            [(false, false), (false, true), (true, false)]
        );
        assert_eq!(
            serde_json::to_value(&streams[2]).unwrap()["webhook_only"],
            true
        );

        let actions = actions(
            r#"[{"name": "send", "description": "Sends.", "input_schema": {"type": "object"}},
                {"name": "export", "description": "Exports.", "input_schema": {}, "long_running": true}]"#,
            "example",
        );
        assert_eq!(
            actions
                .iter()
                .map(|a| (a.name, a.long_running))
                .collect::<Vec<_>>(),
            [("send", false), ("export", true)]
        );
        assert_eq!(actions[0].input_schema["type"], "object");
    }

    #[test]
    fn files_that_do_not_parse_give_nothing() {
        assert!(streams("[{\"name\": 1}]", "example").is_empty());
        assert!(actions("not json", "example").is_empty());
        // A misspelt key is refused, not silently defaulted.
        assert!(streams(
            r#"[{"name": "a", "description": "", "primary_key": [], "default_schedule": 1, "metric": []}]"#,
            "example"
        )
        .is_empty());
        // A ratio without its denominator is no metric.
        assert!(
            streams(
                r#"[{"name": "a", "description": "", "primary_key": [], "default_schedule": 1,
                 "metrics": [{"name": "r", "kind": "ratio", "numerator": "x", "unit": "ratio",
                              "description": ""}]}]"#,
                "example"
            )
            .is_empty()
        );
    }
}
