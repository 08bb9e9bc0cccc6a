//! A config field's choices as the provider lists them, described as data
//! ([`Choices`]): the list endpoint, how it pages, where each choice's value, label
//! and details are in its items — so an adapter's `options` (`GET
//! /v1/integrations/{id}/options/{field}`) is a lookup and one call of [`list`].
//!
//! Choices may sit in a list nested in each listed item (GA4's `accountSummaries`
//! lists accounts, each with its `propertySummaries`): [`Choices::nested`] names that
//! inner list, and a [`Detail`] can read the outer item (the account's name). Every
//! page is read: a person chooses from the whole list.

use http::Method;
use junction_core::{AdapterError, FieldOption};
use serde_json::Value;

use crate::{Client, data, paging::Paging};

/// Pages read at most: far beyond any one person's accounts or properties.
pub const MAX_PAGES: usize = 50;

/// How a provider lists the choices of one config field.
#[derive(Debug, Clone, Copy)]
pub struct Choices {
    /// The config field (`property_id`).
    pub field: &'static str,
    /// The list's path under the API root (`accountSummaries`).
    pub path: &'static str,
    /// Query parameters every page sends besides the paging's (`fields=...`).
    pub query: &'static [(&'static str, &'static str)],
    /// How the list pages; its largest page size is asked for.
    pub paging: Paging,
    /// The pointer, in each listed item, of the inner list whose items are the
    /// choices; `None`: the listed items are.
    pub nested: Option<&'static str>,
    /// The pointer of a choice's value (a string or a number).
    pub value: &'static str,
    /// A prefix taken off the value (`properties/` of `properties/123`).
    pub value_prefix: &'static str,
    /// The pointer of what a person knows the choice by; the value when empty.
    pub label: &'static str,
    /// What else describes a choice, joined with ` · ` (an account, a currency).
    pub details: &'static [Detail],
}

/// One part of a choice's description.
#[derive(Debug, Clone, Copy)]
pub struct Detail {
    /// The pointer of the text or number.
    pub at: &'static str,
    /// Read in the outer item of a nested list rather than in the choice.
    pub of_parent: bool,
    /// Names of numeric codes (`1` → `ACTIVE`); a code not in it reads `UNKNOWN`.
    pub names: &'static [(i64, &'static str)],
}

impl Detail {
    /// The choice's own field at `at`.
    pub const fn at(at: &'static str) -> Self {
        Self {
            at,
            of_parent: false,
            names: &[],
        }
    }

    /// The outer item's field at `at` (nested lists).
    pub const fn parent(at: &'static str) -> Self {
        Self {
            of_parent: true,
            ..Self::at(at)
        }
    }

    /// The same detail, a numeric code read by its name.
    pub const fn named(self, names: &'static [(i64, &'static str)]) -> Self {
        Self { names, ..self }
    }

    fn read(&self, choice: &Value, parent: &Value) -> Option<String> {
        let value = if self.of_parent { parent } else { choice }.pointer(self.at)?;
        if self.names.is_empty() {
            return data::text(Some(value));
        }
        let code = value.as_i64()?;
        let name = self.names.iter().find(|(known, _)| *known == code);
        Some(name.map_or("UNKNOWN", |(_, name)| name).to_owned())
    }
}

/// The description of `field` among `all`, if the provider lists its choices.
pub fn find<'c>(all: &'c [Choices], field: &str) -> Option<&'c Choices> {
    all.iter().find(|choices| choices.field == field)
}

/// Every choice `choices` describes, read page by page with `client`. A listed item
/// without a value is malformed (`Unavailable`, naming the pointer).
pub async fn list(
    client: &Client<'_>,
    choices: &Choices,
) -> Result<Vec<FieldOption>, AdapterError> {
    let size = choices.paging.size.max;
    let pages = crate::paging::walk(MAX_PAGES, |token| async move {
        let page = client
            .list_page_with(
                Method::GET,
                choices.path,
                &choices.paging,
                &token,
                size,
                choices.query,
            )
            .await?;
        Ok((page.items, page.next))
    })
    .await?;
    let mut options = Vec::new();
    for item in pages.into_iter().flatten() {
        let inner = match choices.nested {
            Some(pointer) => item.pointer(pointer).and_then(Value::as_array).cloned(),
            None => Some(vec![item.clone()]),
        };
        for choice in inner.unwrap_or_default() {
            options.push(option(choices, &choice, &item)?);
        }
    }
    Ok(options)
}

fn option(choices: &Choices, choice: &Value, parent: &Value) -> Result<FieldOption, AdapterError> {
    let value = data::text(choice.pointer(choices.value)).ok_or_else(|| {
        AdapterError::unavailable(format!(
            "malformed response body: a choice of `{}` has no `{}`",
            choices.field, choices.value
        ))
    })?;
    let value = value
        .strip_prefix(choices.value_prefix)
        .map(str::to_owned)
        .unwrap_or(value);
    let label = data::text(choice.pointer(choices.label)).unwrap_or_else(|| value.clone());
    let details: Vec<String> = choices
        .details
        .iter()
        .filter_map(|detail| detail.read(choice, parent))
        .collect();
    Ok(FieldOption {
        value,
        label,
        description: (!details.is_empty()).then(|| details.join(" · ")),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{CursorAt, More, OnStall, PageSize, Style};

    const STATUSES: [(i64, &str); 2] = [(1, "ACTIVE"), (2, "DISABLED")];

    const PROPERTIES: Choices = Choices {
        field: "property_id",
        path: "accountSummaries",
        query: &[],
        paging: Paging {
            style: Style::Cursor {
                param: "pageToken",
                at: CursorAt::Body("/nextPageToken"),
                more: More::HasCursor,
            },
            items: "/accountSummaries",
            size_param: "pageSize",
            size: PageSize {
                default: 200,
                max: 200,
            },
            on_stall: OnStall::End,
        },
        nested: Some("/propertySummaries"),
        value: "/property",
        value_prefix: "properties/",
        label: "/displayName",
        details: &[
            Detail::parent("/displayName"),
            Detail::at("/status").named(&STATUSES),
        ],
    };

    #[test]
    fn a_choice_reads_its_value_label_and_details() {
        let parent = json!({"displayName": "Acme"});
        let choice = json!({"property": "properties/123", "displayName": "Web", "status": 2});
        assert_eq!(
            option(&PROPERTIES, &choice, &parent).unwrap(),
            FieldOption {
                value: "123".into(),
                label: "Web".into(),
                description: Some("Acme · DISABLED".into()),
            }
        );
        // No label: the value; an unknown code: UNKNOWN; a missing detail: left out.
        let choice = json!({"property": 456, "status": 9});
        let read = option(&PROPERTIES, &choice, &json!({})).unwrap();
        assert_eq!((read.value.as_str(), read.label.as_str()), ("456", "456"));
        assert_eq!(read.description.as_deref(), Some("UNKNOWN"));
        let read = option(&PROPERTIES, &json!({"property": "p"}), &json!({})).unwrap();
        assert_eq!(read.description, None);
        // No value: malformed, naming the pointer.
        let error = option(&PROPERTIES, &json!({"displayName": "x"}), &json!({})).unwrap_err();
        assert!(error.to_string().contains("`/property`"), "{error}");
        assert_eq!(
            find(&[PROPERTIES], "property_id").map(|c| c.path),
            Some("accountSummaries")
        );
        assert!(find(&[PROPERTIES], "dimensions").is_none());
    }
}
