//! The fake's `getMetadata`: the dimensions and metrics its reports accept
//! (`schema.json`'s `/metadata`), the property's custom definitions marked
//! `customDefinition`, named `properties/{id}/metadata`.

use serde_json::{Value, json};

use super::data::SCHEMA;

/// `GET /v1beta/properties/{id}/metadata`.
pub(crate) fn metadata(property: &str) -> Value {
    json!({
        "name": format!("properties/{property}/metadata"),
        "dimensions": SCHEMA.at("/metadata/dimensions"),
        "metrics": SCHEMA.at("/metadata/metrics"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Metadata;

    #[test]
    fn the_metadata_lists_what_the_reports_accept() {
        let metadata: Metadata = serde_json::from_value(metadata("42")).unwrap();
        assert_eq!(metadata.name.as_deref(), Some("properties/42/metadata"));
        for dimension in SCHEMA.list("/dimensions") {
            let name = dimension.as_str().unwrap();
            assert!(
                metadata.dimensions.iter().any(|d| d.api_name == name),
                "{name}"
            );
        }
        let metrics = SCHEMA.at("/metrics").as_object().unwrap();
        assert_eq!(metadata.metrics.len(), metrics.len());
        for metric in &metadata.metrics {
            assert_eq!(
                metrics[&metric.api_name],
                metric.metric_type.as_deref().unwrap()
            );
        }
        let custom: Vec<&str> = metadata
            .dimensions
            .iter()
            .filter(|d| d.custom_definition == Some(true))
            .map(|d| d.api_name.as_str())
            .collect();
        assert_eq!(custom, ["customUser:membership", "customEvent:plan_name"]);
    }
}
