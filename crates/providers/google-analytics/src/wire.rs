//! The GA4 Data API's JSON shapes for `properties.runReport`,
//! `properties.runRealtimeReport` and `properties.getMetadata` (from the API's
//! discovery document: RunReportRequest, RunRealtimeReportRequest, MinuteRange,
//! RunReportResponse, PropertyQuota, QuotaStatus, Metadata), shared by the adapter
//! and the sandbox fake. A `FilterExpression` stays JSON: it is checked against
//! `filter.schema.json` (see [`crate::filter`]) and passed on as written.
//!
//! The API speaks proto3 JSON: int64 fields (`offset`, `limit`) are JSON strings, and
//! fields at their default value (0, "", empty lists) are left out of responses, so
//! every response field here has a default.

use junction_toolkit::data::proto_int64;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The body of `POST /v1beta/properties/{id}:runReport` (the fields Junction uses).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReportRequest {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub date_ranges: Vec<DateRange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<Dimension>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    /// The first row to return (0-based).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "proto_int64")]
    pub offset: Option<i64>,
    /// How many rows to return (the API's default is 10,000).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "proto_int64")]
    pub limit: Option<i64>,
    /// Whether rows whose metrics are all zero are returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_empty_rows: Option<bool>,
    /// A `FilterExpression` over dimensions (an audience segment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension_filter: Option<Value>,
    /// Whether the response carries the property's quota state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_property_quota: Option<bool>,
}

/// The body of `POST /v1beta/properties/{id}:runRealtimeReport` (the fields
/// Junction uses). Realtime reports have no `offset`: one request returns up to
/// `limit` rows (at most 250,000), `rowCount` says how many there were.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRealtimeReportRequest {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<Dimension>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension_filter: Option<Value>,
    /// Unset: the last 30 minutes (60 for GA4 360 properties).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub minute_ranges: Vec<MinuteRange>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "proto_int64")]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_property_quota: Option<bool>,
}

/// Minutes before now, both ends inclusive (`startMinutesAgo` ≥ `endMinutesAgo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MinuteRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_minutes_ago: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_minutes_ago: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `GET /v1beta/properties/{id}/metadata`: the dimensions and metrics a property's
/// reports accept, its custom definitions (`customEvent:…`, `customUser:…`)
/// included.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Required here: a metadata answer always lists dimensions, and requiring them
    /// tells it apart from another JSON object.
    pub dimensions: Vec<FieldMetadata>,
    #[serde(default)]
    pub metrics: Vec<FieldMetadata>,
}

/// One dimension or metric of [`Metadata`] (DimensionMetadata / MetricMetadata,
/// the fields Junction reads).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldMetadata {
    pub api_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Older names still accepted for a while.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deprecated_api_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_definition: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// A metric's type (`TYPE_INTEGER`, `TYPE_CURRENCY`, ...); absent for dimensions.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub metric_type: Option<String>,
}

impl FieldMetadata {
    /// Whether `name` is this field, by its name or a deprecated one.
    pub fn answers_to(&self, name: &str) -> bool {
        self.api_name == name || self.deprecated_api_names.iter().any(|n| n == name)
    }
}

/// An inclusive range of days: `YYYY-MM-DD`, `today`, `yesterday` or `NdaysAgo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateRange {
    pub start_date: String,
    pub end_date: String,
}

/// A requested dimension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dimension {
    pub name: String,
}

/// A requested metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metric {
    pub name: String,
}

/// The report table `runReport` returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReportResponse {
    #[serde(default)]
    pub dimension_headers: Vec<DimensionHeader>,
    /// Required here although the schema makes everything optional: a request always
    /// names metrics, so a genuine report always has their headers, and requiring them
    /// is what tells a report apart from some other JSON object.
    pub metric_headers: Vec<MetricHeader>,
    #[serde(default)]
    pub rows: Vec<Row>,
    /// Rows in the whole result, independent of `offset` and `limit` (absent when 0).
    #[serde(default)]
    pub row_count: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ResponseMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_quota: Option<PropertyQuota>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// A dimension column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DimensionHeader {
    pub name: String,
}

/// A metric column and its data type (`TYPE_INTEGER`, `TYPE_FLOAT`, `TYPE_CURRENCY`,
/// `TYPE_SECONDS`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricHeader {
    pub name: String,
    #[serde(rename = "type", default)]
    pub metric_type: String,
}

/// One row: dimension values and metric values, in header order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    #[serde(default)]
    pub dimension_values: Vec<DimensionValue>,
    #[serde(default)]
    pub metric_values: Vec<MetricValue>,
}

/// A dimension value (absent when it is the empty string).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DimensionValue {
    #[serde(default)]
    pub value: String,
}

/// A metric value, always a string on the wire; its header says how to parse it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricValue {
    #[serde(default)]
    pub value: Option<String>,
}

/// What the report's numbers are expressed in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// The property's quota state after the request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyQuota {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_day: Option<QuotaStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_hour: Option<QuotaStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent_requests: Option<QuotaStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_errors_per_project_per_hour: Option<QuotaStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub potentially_thresholded_requests_per_hour: Option<QuotaStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_project_per_hour: Option<QuotaStatus>,
}

/// One quota: what this request consumed and what is left (an absent number is 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaStatus {
    #[serde(default)]
    pub consumed: i64,
    #[serde(default)]
    pub remaining: i64,
}

impl PropertyQuota {
    /// The token quotas that are used up: the next request to the property will be
    /// refused with `RESOURCE_EXHAUSTED` until they reset.
    pub fn exhausted_token_quotas(&self) -> Vec<&'static str> {
        [
            ("tokensPerDay", self.tokens_per_day),
            ("tokensPerHour", self.tokens_per_hour),
            ("tokensPerProjectPerHour", self.tokens_per_project_per_hour),
        ]
        .into_iter()
        .filter(|(_, status)| status.is_some_and(|s| s.remaining <= 0))
        .map(|(name, _)| name)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn int64_fields_are_strings_on_the_wire() {
        let request = RunReportRequest {
            offset: Some(0),
            limit: Some(10_000),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"offset": "0", "limit": "10000"})
        );
        let parsed: RunReportRequest =
            serde_json::from_value(json!({"offset": 5, "limit": "20"})).unwrap();
        assert_eq!((parsed.offset, parsed.limit), (Some(5), Some(20)));
        assert!(serde_json::from_value::<RunReportRequest>(json!({"limit": "ten"})).is_err());
    }

    #[test]
    fn omitted_proto3_defaults_read_as_zero() {
        let response: RunReportResponse = serde_json::from_value(json!({
            "metricHeaders": [{"name": "sessions", "type": "TYPE_INTEGER"}],
            "propertyQuota": {"tokensPerHour": {"consumed": 3}, "concurrentRequests": {"remaining": 10}},
            "kind": "analyticsData#runReport"
        }))
        .unwrap();
        assert_eq!(response.row_count, 0);
        assert!(response.rows.is_empty());
        let quota = response.property_quota.unwrap();
        assert_eq!(quota.exhausted_token_quotas(), ["tokensPerHour"]);
        assert!(serde_json::from_value::<RunReportResponse>(json!({"rows": []})).is_err());
    }
}
