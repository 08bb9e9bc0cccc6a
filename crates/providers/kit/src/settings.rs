//! A connection's settings, checked: the growth lookback and the custom-field
//! mapping (`field_map`) that renames the `fields` of `add_subscriber` (and of each
//! subscriber of `bulk_upsert_subscribers`) into Kit custom-field keys. Both are read through their toolkit definitions in the spec,
//! which give the spec's fields too, so the two cannot drift apart.

use std::collections::BTreeMap;

use junction_core::{AdapterError, Connection};

use crate::spec::{FIELD_MAP, FIELD_MAP_FIELD, LOOKBACK};

/// The checked non-secret settings of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    pub lookback_days: u32,
    pub field_map: FieldMap,
}

impl Settings {
    pub(crate) fn from_connection(conn: &Connection) -> Result<Self, AdapterError> {
        Ok(Self {
            lookback_days: LOOKBACK.read_u32(conn)?,
            field_map: FieldMap::parse(FIELD_MAP.read(conn)?.as_deref().unwrap_or(""))?,
        })
    }
}

/// Junction field names → Kit custom-field keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldMap(BTreeMap<String, String>);

impl FieldMap {
    /// Parses `name:key, name:key` (the pattern has checked the syntax). Each name may
    /// appear once, and two names may not share a Kit key (the second value would
    /// silently overwrite the first).
    pub(crate) fn parse(text: &str) -> Result<Self, AdapterError> {
        let mut map = BTreeMap::new();
        let mut targets = BTreeMap::new();
        for pair in text.split(',').filter(|pair| !pair.trim().is_empty()) {
            let Some((name, key)) = pair.split_once(':') else {
                return Err(invalid("each entry must be `junction_name:kit_key`"));
            };
            let (name, key) = (name.trim(), key.trim());
            if map.insert(name.to_owned(), key.to_owned()).is_some() {
                return Err(invalid(format!("maps `{name}` twice")));
            }
            if let Some(other) = targets.insert(key.to_owned(), name.to_owned()) {
                return Err(invalid(format!(
                    "maps both `{other}` and `{name}` to the Kit key `{key}`"
                )));
            }
        }
        Ok(Self(map))
    }

    /// The Kit key a Junction name maps to; unmapped names are used as they are.
    pub(crate) fn kit_key<'a>(&'a self, name: &'a str) -> &'a str {
        self.0.get(name).map(String::as_str).unwrap_or(name)
    }

    /// The Kit keys the map targets, for checking them against the account.
    pub(crate) fn kit_keys(&self) -> impl Iterator<Item = &str> {
        self.0.values().map(String::as_str)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn invalid(message: impl Into<String>) -> AdapterError {
    AdapterError::invalid_field(FIELD_MAP_FIELD, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{DEFAULT_LOOKBACK_DAYS, LOOKBACK_FIELD};
    use junction_core::{IntegrationId, WorkspaceId};
    use serde_json::{Value, json};

    fn conn(config: Value) -> Connection {
        Connection {
            workspace_id: WorkspaceId::new(),
            integration_id: IntegrationId::new(),
            config: config.as_object().cloned().unwrap_or_default(),
            secrets: Default::default(),
            access_token: None,
            token_expires_at: None,
        }
    }

    /// The field map of a connection whose `field_map` is `text`.
    fn field_map(text: &str) -> Result<FieldMap, AdapterError> {
        Settings::from_connection(&conn(json!({ "field_map": text }))).map(|s| s.field_map)
    }

    #[test]
    fn field_map_parses_pairs_and_renames() {
        let map = field_map(" last:last_name ,Company: company_name").unwrap();
        assert_eq!(map.kit_key("last"), "last_name");
        assert_eq!(map.kit_key("Company"), "company_name");
        assert_eq!(map.kit_key("plan"), "plan");
        assert_eq!(
            map.kit_keys().collect::<Vec<_>>(),
            ["company_name", "last_name"]
        );
        assert!(field_map("").unwrap().is_empty());
        assert!(field_map("   ").unwrap().is_empty());
    }

    #[test]
    fn field_map_rejects_ambiguous_or_malformed_entries() {
        for bad in [
            "a", "a:b,", "a:b,,c:d", "a:Bad", "a b:c", "a:b,a:c", "a:k,b:k", ":k", "a:",
        ] {
            let err = field_map(bad).unwrap_err();
            assert!(
                matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == FIELD_MAP_FIELD),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn settings_default_and_bounds() {
        let settings = Settings::from_connection(&conn(json!({}))).unwrap();
        assert_eq!(settings.lookback_days, DEFAULT_LOOKBACK_DAYS);
        assert!(settings.field_map.is_empty());
        let settings =
            Settings::from_connection(&conn(json!({"lookback_days": "90", "field_map": "a:b"})))
                .unwrap();
        assert_eq!(settings.lookback_days, 90);
        assert_eq!(settings.field_map.kit_key("a"), "b");
        for bad in [json!(0), json!(3651), json!("x"), json!(-1)] {
            let err =
                Settings::from_connection(&conn(json!({ "lookback_days": bad }))).unwrap_err();
            assert!(
                matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == LOOKBACK_FIELD),
                "{err:?}"
            );
        }
        let err = Settings::from_connection(&conn(json!({"field_map": {"a": "b"}}))).unwrap_err();
        assert!(
            matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == FIELD_MAP_FIELD)
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// The spec's own check of a `field_map` value (the pattern users see).
        fn pattern_accepts(text: &str) -> bool {
            crate::spec::spec()
                .config
                .iter()
                .find(|field| field.name == FIELD_MAP_FIELD)
                .is_some_and(|field| field.validate(Some(&json!(text))).is_ok())
        }

        proptest! {
            #[test]
            fn parsing_never_panics_and_agrees_with_the_pattern(text in "[ a-zA-Z0-9_:,=]{0,40}") {
                if field_map(&text).is_ok() {
                    prop_assert!(pattern_accepts(&text), "{text:?}");
                }
            }

            #[test]
            fn well_formed_maps_round_trip(
                pairs in proptest::collection::btree_map("[A-Za-z0-9_]{1,12}", "[a-z0-9_]{1,12}", 0..6),
                pad in "[ ]{0,2}",
            ) {
                // Keys must be unique as well as names.
                let mut seen = std::collections::BTreeSet::new();
                let pairs: Vec<_> = pairs.into_iter().filter(|(_, key)| seen.insert(key.clone())).collect();
                let text = pairs
                    .iter()
                    .map(|(name, key)| format!("{pad}{name}{pad}:{pad}{key}{pad}"))
                    .collect::<Vec<_>>()
                    .join(",");
                let map = field_map(&text).unwrap();
                prop_assert!(pattern_accepts(&text), "{text:?}");
                for (name, key) in &pairs {
                    prop_assert_eq!(map.kit_key(name), key.as_str());
                }
                prop_assert_eq!(map.kit_keys().count(), pairs.len());
            }
        }
    }
}
