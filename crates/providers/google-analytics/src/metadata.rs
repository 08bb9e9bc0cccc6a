//! User-chosen names checked against the property: `GET /v1beta/properties/{id}/
//! metadata` lists the dimensions and metrics its reports accept — the universal
//! ones and the property's registered custom definitions (`customEvent:plan`,
//! `customUser:membership`) — each by its API name or a deprecated one still
//! accepted.
//!
//! A custom report or a `run_report` call asks for it first, so a name that is
//! misspelt or not registered on this property is refused before any report runs,
//! every bad name listed at once under the field that holds it.

use junction_core::{AdapterError, Connection, Context};

use crate::{google, wire::Metadata};

/// Which names are asked for, by the field that holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Wanted<'a> {
    /// Field name (`custom_dimensions`, `dimensions`) and its dimension names.
    pub dimensions: (&'a str, &'a [String]),
    /// Field name and its metric names.
    pub metrics: (&'a str, &'a [String]),
    /// Field name of the dimension filter and the dimensions it filters on.
    pub filter: (&'a str, &'a [String]),
}

/// Reads the property's metadata.
pub(crate) async fn fetch(
    ctx: &Context,
    conn: &Connection,
    property_id: &str,
) -> Result<Metadata, AdapterError> {
    let client = google::client(ctx, conn)?;
    client
        .get(&format!("properties/{property_id}/metadata"), &[])
        .await
}

/// Checks every wanted name against `metadata`: the first field with unknown names
/// is the error, naming all of them.
pub(crate) fn check(
    metadata: &Metadata,
    property_id: &str,
    wanted: &Wanted<'_>,
) -> Result<(), AdapterError> {
    let checks = [
        (wanted.dimensions, &metadata.dimensions, "dimensions"),
        (wanted.metrics, &metadata.metrics, "metrics"),
        (wanted.filter, &metadata.dimensions, "dimensions"),
    ];
    for ((field, names), known, what) in checks {
        let unknown: Vec<String> = names
            .iter()
            .filter(|name| !known.iter().any(|k| k.answers_to(name)))
            .map(|name| format!("`{name}`"))
            .collect();
        if !unknown.is_empty() {
            return Err(AdapterError::invalid_field(
                field,
                format!(
                    "not {what} of GA4 property {property_id}: {}. The property's {what} are \
                     listed by GET /v1beta/properties/{property_id}/metadata; custom ones \
                     (`customEvent:…`, `customUser:…`) must first be registered in Admin → \
                     Custom definitions",
                    unknown.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::FieldMetadata;

    fn named(name: &str, deprecated: &[&str]) -> FieldMetadata {
        FieldMetadata {
            api_name: name.into(),
            deprecated_api_names: deprecated.iter().map(|d| (*d).to_owned()).collect(),
            ..FieldMetadata::default()
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn unknown_names_are_listed_under_their_field() {
        let metadata = Metadata {
            name: None,
            dimensions: vec![named("country", &[]), named("customEvent:plan", &[])],
            metrics: vec![named("keyEvents", &["conversions"]), named("sessions", &[])],
        };
        let (dims, metrics) = (
            names(&["country", "customEvent:plan"]),
            names(&["conversions"]),
        );
        let filter = names(&["country"]);
        let wanted = Wanted {
            dimensions: ("custom_dimensions", &dims),
            metrics: ("custom_metrics", &metrics),
            filter: ("custom_filter", &filter),
        };
        assert_eq!(check(&metadata, "1", &wanted), Ok(()));

        let bad_metrics = names(&["sessions", "sesions", "customEvent:levels"]);
        let err = check(
            &metadata,
            "1",
            &Wanted {
                metrics: ("custom_metrics", &bad_metrics),
                ..wanted.clone()
            },
        )
        .unwrap_err();
        let AdapterError::Invalid { field, message } = err else {
            panic!()
        };
        assert_eq!(field.as_deref(), Some("custom_metrics"));
        assert!(
            message.starts_with("not metrics of GA4 property 1: `sesions`, `customEvent:levels`."),
            "{message}"
        );
        let bad_filter = names(&["customUser:tier"]);
        let err = check(
            &metadata,
            "1",
            &Wanted {
                filter: ("custom_filter", &bad_filter),
                ..wanted
            },
        )
        .unwrap_err();
        assert!(
            matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "custom_filter")
        );
    }
}
