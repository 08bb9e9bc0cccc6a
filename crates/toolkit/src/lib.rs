//! junction-toolkit: a provider's HTTP API described as data, and the machinery that
//! runs the description.
//!
//! A provider crate depends on `junction-core` (the adapter contract) and on this
//! crate. It keeps for itself what is truly its own — the mapping of its records into
//! KPI points, its actions, the parsing of its webhook payloads — and describes the
//! rest. The description is plain `const` data, so it is easy to read, diff and
//! check, and the conformance suite can replay its tables.
//!
//! # Describing a provider
//!
//! ```
//! use junction_toolkit::*;
//!
//! /// Where the API lives, how connections authenticate, how its errors read.
//! pub const API: HttpApi = HttpApi {
//!     // `ctx.base_url` replaces the root when set (the sandbox, tests); requests go
//!     // under the prefix, the authenticated proxy targets the root.
//!     base: BaseUrl::fixed("https://api.example.com").with_prefix("v2"),
//!     // Several modes per entry: an access token picks the OAuth mode, else the key.
//!     auth: &[
//!         AuthMode::OAUTH_BEARER,
//!         AuthMode::api_key_header("api_key", "X-Api-Key", "{key}"),
//!     ],
//!     headers: &[("accept", "application/json")],
//!     // The default `check`: a cheap request, the account labelled from its answer.
//!     verification: Some(Verification {
//!         method: "GET",
//!         path: "me",
//!         query: &[],
//!         account: Some("/email"),
//!     }),
//!     errors: ErrorTable {
//!         envelope: Envelope {
//!             code: &["/error/code"],
//!             message: &["/error/message"],
//!             ..Envelope::GENERIC
//!         },
//!         // First match wins; a refusal no rule matches keeps core's generic class.
//!         rules: &[
//!             ErrorRule::code("rate_limited").rate_limited(),
//!             ErrorRule::code("daily_quota").quota_exhausted(Resets::FromHeaders),
//!             ErrorRule::code("bad_param").invalid_field("account_id"),
//!         ],
//!         in_success_body: None,
//!     },
//!     rate_limits: RateLimitSignals::STANDARD,
//! };
//!
//! /// How its lists page.
//! pub const PAGING: Paging = Paging {
//!     style: Style::Cursor {
//!         param: "after",
//!         at: CursorAt::Body("/next_cursor"),
//!         more: More::HasCursor,
//!     },
//!     items: "/data",
//!     size_param: "limit",
//!     size: PageSize { default: 100, max: 500 },
//!     on_stall: OnStall::Fail,
//! };
//!
//! /// A typed setting: the spec's `ConfigField` and the parser, from one definition.
//! pub const LOOKBACK: IntSetting = IntSetting::new("lookback_days", "Lookback days", "…")
//!     .range(1, 365)
//!     .default(30)
//!     .unit("days");
//!
//! assert_eq!(API.validate(), Ok(()));
//! ```
//!
//! # Running it
//!
//! In the adapter, [`Client::new`]`(ctx, spec, &API, conn)` picks the auth mode,
//! reads the credential and resolves the base URL; its `request`, `get`, `json`,
//! `fetch` and `send` call the provider through core's HTTP layer (shared rate
//! limiter, generic classification) with the error table and rate-limit signals
//! applied. The defaults an adapter can take as they are:
//!
//! - `check`: [`Client::check`] (the verification request);
//! - `proxy_target`: [`Client::proxy_target`];
//! - `verify_webhook`: [`webhook::verify`]`(spec, ctx, secret, request, parse)`, which
//!   verifies with the scheme of the spec's `WebhookSpec` before `parse` runs;
//! - `read`: the stream checked with [`data::stream`], a stored cursor through
//!   [`cursor::read`], a page through [`Client::page_request`] (or a body of the
//!   provider's own with [`Paging::query`]) and [`Paging::next`], the page and its
//!   cursor through [`cursor::page`]. Reports by day keep a
//!   [`cursor::WindowCursor`] and plan each request as a [`cursor::WindowRead`]: the
//!   lookback period on a first sync, then from a few days back (providers restate
//!   recent days) through today. A report that comes as a table (named dimension
//!   and metric columns) maps its rows with a [`report::Table`];
//! - `apply_webhook`: re-reads with [`paging::walk`] (bounded), records and points
//!   added with [`data::add_effects`]; events without a provider id get one from
//!   [`webhook::derived_id`].
//!
//! Meta Ads and Google Analytics 4 are written this way: read their `graph.rs` and
//! `google.rs` (the descriptions) and their `lib.rs` (the adapters).
//!
//! # Overriding
//!
//! Every default is a function the adapter calls, never a trait method it
//! inherits, so overriding one is writing something else in its place. Finer hooks:
//! an error rule's [`Class::Custom`] function, [`RateLimitHeaders::Custom`] for
//! exotic rate-limit headers (Meta's JSON usage headers), [`VarSource::Derived`] and
//! [`Client::build`] for hosts derived from a credential or looked up at runtime,
//! [`Client::send_with`] / [`Client::fetch_with`] for one call's refinement of the
//! table (a 404 that means "no such tag" for one action), [`OnStall`] for what a
//! cursor that does not move means.
//!
//! # Modules
//!
//! | module | what it describes or runs |
//! |---|---|
//! | [`auth`] | [`AuthMode`]s (API key in a header or the query, Basic, OAuth 2.0, client credentials), which one a connection uses, the credential in requests and proxy targets |
//! | [`base`] | [`BaseUrl`]: the root with regional or per-account placeholders, the prefix |
//! | [`errors`] | [`ErrorTable`]: the [`Envelope`] and the [`ErrorRule`]s from a provider's code to an `AdapterError`; quota resets |
//! | [`ratelimit`] | [`RateLimitSignals`]: standard, renamed or custom rate-limit headers; JSON usage headers as a table ([`ratelimit::UsageHeader`]) |
//! | [`paging`] | [`Paging`] styles and the walker over [`PageToken`]s |
//! | [`report`] | reports as tables (a day column, breakdown dimensions, metric columns as [`report::Kpi`]s) turned into records and KPI points |
//! | [`settings`] | typed settings: [`IntSetting`] (and the `lookback_days` of windowed reads), [`EnumSetting`], [`StringSetting`], [`ListSetting`], [`DateSetting`] |
//! | [`cursor`] | typed stored cursors, date [`cursor::Window`]s |
//! | [`data`] | a provider's objects read field by field ([`data::Fields`]), numbers written as strings, a day's KPI points, rows to records and points, webhook effects |
//! | [`described`] | a spec's streams and actions kept as JSON data files |
//! | [`choices`] | a config field's choices as the provider lists them ([`choices::Choices`]), for the adapter's `options` |
//! | [`graphql`] | GraphQL over HTTP: the request body, the answer's `data`, a connection's nodes, a union member's type |
//! | [`form`] | bracketed form bodies (`items[0][price]=...`): encoding, and decoding for fakes |
//! | [`input`] | an action's input read field by field, errors naming the field |
//! | [`memo`] | [`TokenMemo`]: what a provider says about a token, looked up once (a data center) |
//! | [`oauth`] | the OAuth 2.0 specs of identity platforms several providers share (Google, Facebook Login) |
//! | [`webhook`] | verification dispatched from the spec's scheme, ids derived from content |
//! | [`client`] | [`Client`], which runs an [`HttpApi`] for one connection |
//! | `fake` | (feature `fake`) scaffolding for a provider's sandbox fake from the same description: routes, auth checks, paging responders, idempotency, fault switches |

pub mod api;
pub mod article;
pub mod auth;
pub mod base;
pub mod choices;
pub mod client;
pub mod cursor;
pub mod data;
pub mod described;
pub mod errors;
#[cfg(feature = "fake")]
pub mod fake;
pub mod form;
pub mod graphql;
pub mod input;
pub mod memo;
pub mod oauth;
pub mod paging;
pub mod ratelimit;
pub mod report;
pub mod settings;
pub mod webhook;

#[cfg(test)]
mod testing;

/// Time zones, for quotas that reset at a zone's midnight ([`Resets::NextMidnight`]).
pub use chrono_tz as tz;

pub use api::{HttpApi, Verification};
pub use auth::{AuthMode, Placement, Username};
pub use base::{BaseUrl, Var, VarSource};
pub use client::{Client, Fetched};
pub use errors::{Class, Code, Envelope, ErrorRule, ErrorTable, FieldName, Refused, Resets, When};
pub use memo::TokenMemo;
pub use paging::{CursorAt, More, OnStall, PageSize, PageToken, Paging, Style};
pub use ratelimit::{RateLimitHeaders, RateLimitSignals};
pub use settings::{DateSetting, EnumSetting, IntSetting, ListSetting, StringSetting};
