//! The choices of `property_id`: the GA4 properties the connected Google account
//! can read, from the Admin API's `accountSummaries` (every account the caller has
//! access to, each with its properties), so a user picks a property by name once
//! connected instead of looking its number up in the Admin screens.
//!
//! `GET https://analyticsadmin.googleapis.com/v1beta/accountSummaries` pages with
//! `pageSize` (at most 200) and `pageToken`, the next token at `nextPageToken`
//! (absent on the last page). The read-only Analytics scope the connection holds is
//! enough. Google's error envelope is the Data API's, so the same table classifies
//! its refusals.

use junction_toolkit::{
    BaseUrl, HttpApi,
    choices::{Choices, Detail},
    paging::{CursorAt, More, OnStall, PageSize, Paging, Style},
};

use crate::{google, spec};

/// The Admin API host; the context's base URL replaces it like the Data API's (the
/// sandbox serves both under one mount).
pub const ADMIN_BASE: &str = "https://analyticsadmin.googleapis.com";

/// The Admin API's description: the Data API's auth and error table on its host.
pub const ADMIN_API: HttpApi = HttpApi {
    base: BaseUrl::fixed(ADMIN_BASE).with_prefix("v1beta"),
    ..google::API
};

/// How `accountSummaries` pages.
pub const ACCOUNT_SUMMARIES: Paging = Paging {
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
};

/// `property_id`'s choices: each account's `propertySummaries`, by display name,
/// described by their account.
pub const PROPERTIES: Choices = Choices {
    field: spec::PROPERTY.name,
    path: "accountSummaries",
    query: &[],
    paging: ACCOUNT_SUMMARIES,
    nested: Some("/propertySummaries"),
    value: "/property",
    value_prefix: "properties/",
    label: "/displayName",
    details: &[Detail::parent("/displayName"), Detail::parent("/account")],
};
