//! The fake account's data: CRM objects (contacts, companies, deals, notes) with
//! their properties as HubSpot keeps them (all text; dates as ISO 8601 with
//! milliseconds), the default associations between them, and the seed laid out
//! backwards from the first request (`seed.json`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use junction_toolkit::fake::Data;
use serde_json::{Map, Value, json};

/// The seed and HubSpot's words.
pub(super) static SEED: Data = Data::new(include_str!("seed.json"));

/// The object types the fake keeps, by path segment, with the property of their
/// last change.
pub(super) const TYPES: [(&str, &str); 4] = [
    ("contacts", "lastmodifieddate"),
    ("companies", "hs_lastmodifieddate"),
    ("deals", "hs_lastmodifieddate"),
    ("notes", "hs_lastmodifieddate"),
];

/// One CRM object.
#[derive(Debug, Clone)]
pub(super) struct Object {
    pub id: u64,
    pub properties: Map<String, Value>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// The fake account.
#[derive(Debug)]
pub(super) struct Store {
    next_id: u64,
    /// Objects by type (`contacts`) and id.
    pub objects: BTreeMap<&'static str, BTreeMap<u64, Object>>,
    /// Default associations, both directions: (type, id, type, id) with singular
    /// type names (`contact`).
    pub associations: BTreeSet<(String, u64, String, u64)>,
}

/// HubSpot's text of a time.
pub(super) fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The epoch milliseconds of a property's text (a number or an ISO time).
pub(super) fn millis(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().or_else(|| {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|at| at.timestamp_millis())
    })
}

/// The singular name of a type (`contacts` → `contact`).
pub(super) fn singular(plural: &str) -> &str {
    match plural {
        "companies" => "company",
        other => other.strip_suffix('s').unwrap_or(other),
    }
}

impl Store {
    /// The seed, laid out backwards from `now`.
    pub fn seed(now: DateTime<Utc>) -> Self {
        let mut store = Self {
            next_id: 101,
            objects: TYPES
                .iter()
                .map(|(name, _)| (*name, BTreeMap::new()))
                .collect(),
            associations: BTreeSet::new(),
        };
        let back = |days: i64| now - Duration::days(days) - Duration::hours(2);
        let text = |row: &Value, i: usize| row[i].as_str().unwrap_or_default().to_owned();
        for row in SEED.list("/contacts") {
            let (first, last) = (text(row, 0), text(row, 1));
            let email = format!("{}.{}@sandbox.example", first, last).to_lowercase();
            let mut properties = Map::new();
            for (name, value) in [
                ("email", email),
                ("firstname", first),
                ("lastname", last),
                ("company", text(row, 2)),
                ("lifecyclestage", text(row, 3)),
            ] {
                properties.insert(name.into(), Value::String(value));
            }
            let at = back(row[4].as_i64().unwrap_or_default());
            store.insert("contacts", properties, at);
        }
        for row in SEED.list("/companies") {
            let mut properties = Map::new();
            for (i, name) in ["name", "domain", "industry"].into_iter().enumerate() {
                properties.insert(name.into(), Value::String(text(row, i)));
            }
            let at = back(row[3].as_i64().unwrap_or_default());
            store.insert("companies", properties, at);
        }
        for row in SEED.list("/deals") {
            let stage = text(row, 3);
            let mut properties = Map::new();
            properties.insert("dealname".into(), Value::String(text(row, 0)));
            properties.insert("pipeline".into(), json!("default"));
            if let Some(amount) = row[1].as_f64() {
                properties.insert("amount".into(), Value::String(format_amount(amount)));
            }
            if let Some(currency) = row[2].as_str() {
                properties.insert("deal_currency_code".into(), json!(currency));
            }
            let closed = stage.starts_with("closed");
            properties.insert("hs_is_closed".into(), json!(closed.to_string()));
            properties.insert(
                "hs_is_closed_won".into(),
                json!((stage == "closedwon").to_string()),
            );
            if let Some(days) = row[5].as_i64() {
                properties.insert("closedate".into(), json!(iso(back(days))));
            }
            properties.insert("dealstage".into(), Value::String(stage));
            let at = back(row[4].as_i64().unwrap_or_default());
            store.insert("deals", properties, at);
        }
        // Each of the first contacts works at the first companies; deals go with them.
        let pairs: Vec<(u64, u64, u64)> = (0..5).map(|i| (101 + i, 113 + i, 118 + i)).collect();
        for (contact, company, deal) in pairs {
            store.associate("contact", contact, "company", company);
            store.associate("deal", deal, "contact", contact);
        }
        store
    }

    /// Adds an object created (and last changed) at `at`; its id.
    pub fn insert(
        &mut self,
        kind: &'static str,
        properties: Map<String, Value>,
        at: DateTime<Utc>,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let object = Object {
            id,
            properties,
            created: at,
            updated: at,
        };
        self.objects.entry(kind).or_default().insert(id, object);
        id
    }

    /// Sets `properties` of an object, changed at `at` (empty text clears one).
    pub fn update(
        &mut self,
        kind: &str,
        id: u64,
        properties: &Map<String, Value>,
        at: DateTime<Utc>,
    ) -> bool {
        let Some(object) = self.objects.get_mut(kind).and_then(|all| all.get_mut(&id)) else {
            return false;
        };
        for (name, value) in properties {
            match value.as_str() {
                Some("") => {
                    object.properties.remove(name);
                }
                _ => {
                    object.properties.insert(name.clone(), value.clone());
                }
            }
        }
        object.updated = at;
        true
    }

    /// Whether an object exists.
    pub fn has(&self, kind: &str, id: u64) -> bool {
        self.objects
            .get(kind)
            .is_some_and(|all| all.contains_key(&id))
    }

    /// Associates two objects (singular types), both ways.
    pub fn associate(&mut self, from: &str, from_id: u64, to: &str, to_id: u64) {
        self.associations
            .insert((from.to_owned(), from_id, to.to_owned(), to_id));
        self.associations
            .insert((to.to_owned(), to_id, from.to_owned(), from_id));
    }

    /// Whether `object` (of `kind`, plural) is associated with `other_type`'s `other`.
    pub fn associated(&self, kind: &str, id: u64, other_type: &str, other: u64) -> bool {
        self.associations
            .contains(&(singular(kind).to_owned(), id, other_type.to_owned(), other))
    }

    /// An object as HubSpot answers it, with `wanted` properties (all when empty)
    /// and the ones every answer carries.
    pub fn json(&self, kind: &str, object: &Object, wanted: &[String]) -> Value {
        let modified = TYPES
            .iter()
            .find(|(name, _)| *name == kind)
            .map_or("hs_lastmodifieddate", |(_, modified)| modified);
        let mut properties = Map::new();
        properties.insert("hs_object_id".into(), json!(object.id.to_string()));
        properties.insert("createdate".into(), json!(iso(object.created)));
        properties.insert((*modified).into(), json!(iso(object.updated)));
        if kind == "notes" {
            properties.insert("hs_createdate".into(), json!(iso(object.created)));
        }
        for (name, value) in &object.properties {
            if wanted.is_empty() || wanted.iter().any(|w| w == name) {
                properties.insert(name.clone(), value.clone());
            }
        }
        json!({
            "id": object.id.to_string(),
            "properties": properties,
            "createdAt": iso(object.created),
            "updatedAt": iso(object.updated),
            "archived": false,
        })
    }
}

/// An amount as HubSpot writes it: no trailing zeros.
pub(super) fn format_amount(amount: f64) -> String {
    if amount.fract() == 0.0 {
        format!("{amount:.0}")
    } else {
        amount.to_string()
    }
}
