//! Schemas of the OpenAPI document that the derive cannot infer from a field's Rust
//! type: the values of the models' text enums. A status is a `String` in a view but
//! one of its model's values on the wire; each list here is read from the model's own
//! `ALL`, so the document cannot drift from what the API sends and accepts. And the
//! limits the application layer enforces, from its own constants. Fields name these
//! functions with `#[schema(schema_with = ...)]` or `#[param(schema_with = ...)]`;
//! as utoipa then takes the schema as it is, a field's description lives here.

use junction_app::models::{
    ActionMode, ActionStatus, AlertCondition, AuthKind, DeliveryStatus, Health, IntegrationStatus,
    LogLevel, NoticeDelivery, NotificationKind, NotificationStatus, Operation, OutboundEventType,
    Queue, WebhookStatus,
};
use utoipa::openapi::{
    ArrayBuilder, ObjectBuilder, Type,
    schema::{Array, Object, SchemaType},
};

/// A string that is one of `values`.
pub fn one_of(values: impl IntoIterator<Item = &'static str>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .build()
}

macro_rules! text_enums {
    ($($(#[$doc:meta])* $name:ident => $model:ty;)+) => {
        $(
            $(#[$doc])*
            pub fn $name() -> Object {
                one_of(<$model>::ALL.iter().map(|value| value.as_str()))
            }
        )+
    };
}

text_enums! {
    /// Where an integration stands.
    integration_status => IntegrationStatus;
    /// How an integration authenticates.
    auth_kind => AuthKind;
    /// The last health check's verdict.
    health => Health;
    /// Where a stored webhook event stands.
    webhook_status => WebhookStatus;
    /// A job queue.
    queue => Queue;
    /// The level of an integration log entry.
    log_level => LogLevel;
    /// The operation an integration log entry is about.
    operation => Operation;
    /// What an alert rule compares.
    alert_condition => AlertCondition;
    /// What a notification reports.
    notification_kind => NotificationKind;
    /// How a notification's delivery went.
    notification_status => NotificationStatus;
    /// How an action ran.
    action_mode => ActionMode;
    /// Where an action run stands.
    action_status => ActionStatus;
    /// The type of an event sent to webhook endpoints.
    outbound_event_type => OutboundEventType;
    /// Where the delivery of an event to one endpoint stands.
    delivery_status => DeliveryStatus;
    /// How operational notices go out.
    notice_delivery => NoticeDelivery;
}

/// What Rust's `char::is_whitespace` (Unicode `White_Space`) takes, as a character
/// class body: the API trims and blank-checks with it, so the patterns must too.
const WHITESPACE: &str = r"\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// What `char::is_control` takes (`Cc`), as a character class body.
const CONTROL: &str = r"\u0000-\u001F\u007F-\u009F";

/// `object` with a description.
fn described(mut object: Object, description: &str) -> Object {
    object.description = Some(description.to_owned());
    object
}

/// `object`, or JSON `null` (what serde reads as a field left out).
pub fn or_null(mut object: Object) -> Object {
    let types: Vec<Type> = match &object.schema_type {
        SchemaType::Type(t) => vec![t.clone(), Type::Null],
        SchemaType::Array(types) => types.iter().cloned().chain([Type::Null]).collect(),
        SchemaType::AnyValue => return object,
    };
    object.schema_type = SchemaType::from_iter(types);
    if let Some(values) = object.enum_values.as_mut() {
        values.push(serde_json::Value::Null);
    }
    object
}

fn integer_in(range: &std::ops::RangeInclusive<i64>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(*range.start()))
        .maximum(Some(*range.end()))
        .build()
}

/// Text with a character that is not whitespace (the API refuses blank text), and
/// no NUL (which it refuses anywhere).
fn not_blank(max_chars: Option<usize>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(max_chars)
        .pattern(Some(format!(r"^[^\x00]*[^{WHITESPACE}\x00][^\x00]*$")))
        .build()
}

/// One line of text that is not blank.
fn one_line(max_chars: usize) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(max_chars))
        .pattern(Some(format!(
            "^[^{CONTROL}]*[^{WHITESPACE}{CONTROL}][^{CONTROL}]*$"
        )))
        .build()
}

/// The sync intervals the API takes, in seconds.
fn schedule_range() -> Object {
    let range = junction_app::integrations::SCHEDULE_SECONDS;
    integer_in(&(i64::from(*range.start())..=i64::from(*range.end())))
}

/// An integration's sync interval, in seconds.
pub fn schedule_seconds() -> Object {
    described(
        or_null(schedule_range()),
        "Sync interval in seconds, 5 minutes to 30 days, for every stream of the \
         integration (unset: each stream keeps the provider's default schedule for it).",
    )
}

/// A stream's new sync interval, in seconds.
pub fn stream_schedule_seconds() -> Object {
    described(
        or_null(schedule_range()),
        "How often the stream syncs, in seconds: 5 minutes to 30 days, counted from its \
         last sync (unset: unchanged).",
    )
}

/// The streams a sync reads.
pub fn stream_names() -> Array {
    let mut array = ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String).build())
        .min_items(Some(1))
        .description(Some(
            "Sync these streams, enabled or not (unset: every enabled stream).",
        ))
        .build();
    array.schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
    array
}

/// A new display name of an integration.
pub fn display_name() -> Object {
    described(
        or_null(not_blank(Some(
            junction_app::integrations::MAX_DISPLAY_NAME_CHARS,
        ))),
        "1-200 characters, not all spaces.",
    )
}

/// The display name of a new integration.
pub fn new_display_name() -> Object {
    described(
        or_null(not_blank(Some(
            junction_app::integrations::MAX_DISPLAY_NAME_CHARS,
        ))),
        "A label of 1-200 characters, not all spaces (unset: the provider's name).",
    )
}

/// The metric an alert rule watches.
pub fn metric() -> Object {
    described(
        not_blank(None),
        "A metric one of the integration's provider's streams produces \
         (`GET /v1/metrics`).",
    )
}

/// An ISO 4217 currency code, or null.
pub fn currency() -> Object {
    described(
        or_null(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[A-Za-z]{3}$"))
                .build(),
        ),
        "Three letters (`USD`); stored upper case.",
    )
}

/// An alert rule's name.
pub fn alert_name() -> Object {
    described(
        one_line(junction_app::alerts::MAX_NAME_CHARS),
        "1-200 characters on one line, shown in the email (stored without surrounding spaces).",
    )
}

/// An alert rule's new name.
pub fn alert_name_or_null() -> Object {
    or_null(alert_name())
}

/// What an alert rule compares.
pub fn condition() -> Object {
    described(
        alert_condition(),
        "`above` / `below` compare the metric's sum over the window with the threshold; \
         `change_pct_above` / `change_pct_below` compare its change in percent against \
         the window before (a 20 % drop is `-20`).",
    )
}

/// An alert rule's new condition.
pub fn condition_or_null() -> Object {
    or_null(condition())
}

/// The days an alert rule's window spans.
pub fn window_days() -> Object {
    let range = junction_app::alerts::WINDOW_DAYS;
    described(
        or_null(integer_in(
            &(i64::from(*range.start())..=i64::from(*range.end())),
        )),
        "Days summed, ending today (UTC): 1-366 (unset: 1).",
    )
}

/// A plain email address (surrounding spaces and case do not matter).
pub fn address() -> Object {
    let forbidden = format!(r#"<>,;"()\[\]\\{WHITESPACE}{CONTROL}"#);
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(junction_app::recipients::MAX_ADDRESS_CHARS))
        .pattern(Some(format!(
            "^[{WHITESPACE}]*[^{forbidden}]+@[^@.{forbidden}]+(\\.[^@.{forbidden}]+)+[{WHITESPACE}]*$"
        )))
        .build()
}

/// An alert rule's recipients: plain email addresses (surrounding spaces and case
/// do not matter; they are stored trimmed and lower-cased).
pub fn recipients() -> Array {
    ArrayBuilder::new()
        .items(address())
        .min_items(Some(1))
        .max_items(Some(junction_app::alerts::MAX_RECIPIENTS))
        .description(Some(
            "1-50 email addresses (stored trimmed, lower-cased, without repeats).",
        ))
        .build()
}

/// Recipients that may be none (notification settings, a weekly report that is off),
/// or `null` (none).
pub fn optional_recipients() -> Array {
    let mut array = recipients();
    array.min_items = None;
    array.schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
    array.description =
        Some("0-50 email addresses (stored trimmed, lower-cased, without repeats).".to_owned());
    array
}

/// An hour of the day, or `null` (its default).
pub fn hour_or_null() -> Object {
    described(
        or_null(integer_in(&(0..=23))),
        "An hour of the day, 0-23, in `time_zone` (unset: 8).",
    )
}

/// An IANA time zone name, or `null` (UTC).
pub fn time_zone_or_null() -> Object {
    described(
        or_null(one_of(junction_app::kpis::time_zone_names())),
        "An IANA time zone name such as `Europe/Berlin`.",
    )
}

/// How operational notices go out, or `null` (immediately).
pub fn notice_delivery_or_null() -> Object {
    described(
        or_null(notice_delivery()),
        "`immediate` (each notice is mailed as it happens; unset) or `daily_digest` (one \
         email a day at `digest_hour` gathers them).",
    )
}

/// A weekday of the weekly report, or `null` (Monday).
pub fn weekday_or_null() -> Object {
    described(
        or_null(one_of(junction_app::notifications::calendar::WEEKDAYS)),
        "The day the report goes out (unset: `monday`).",
    )
}

/// A weekday, as the API names it.
pub fn weekday() -> Object {
    one_of(junction_app::notifications::calendar::WEEKDAYS)
}

/// The metrics of a weekly report, or `null` (every metric of the workspace's
/// integrations).
pub fn report_metrics() -> Array {
    let mut array = ArrayBuilder::new()
        .items(one_of(metric_names()))
        .max_items(Some(junction_app::notifications::report::MAX_METRICS))
        .description(Some(
            "Metrics the providers' streams produce (`GET /v1/metrics`); empty or \
             unset: every metric of the workspace's integrations.",
        ))
        .build();
    array.schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
    array
}

/// The name of every metric a built-in provider declares, once each.
fn metric_names() -> Vec<&'static str> {
    let registry = junction_registry::Registry::builtin();
    let names: std::collections::BTreeSet<&'static str> = registry
        .specs()
        .flat_map(|spec| spec.metrics().map(|metric| metric.name))
        .collect();
    names.into_iter().collect()
}

/// The reason an address is suppressed, or `null` (`manual`).
pub fn suppression_reason_or_null() -> Object {
    described(
        or_null(one_line(
            junction_app::notifications::suppressions::MAX_REASON_CHARS,
        )),
        "Why it must not be mailed, one line of 1-200 characters (unset: `manual`).",
    )
}

/// An alert rule's new recipients.
pub fn recipients_or_null() -> Array {
    let mut array = recipients();
    array.schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
    array
}

/// How many dead letters one bulk replay takes.
pub fn bulk_replay_limit() -> Object {
    described(
        or_null(integer_in(
            &(1..=junction_app::dead_letters::MAX_BULK_REPLAY),
        )),
        "At most this many (1-500; unset: 100).",
    )
}

/// A queue to filter dead letters by, or `null`.
pub fn queue_or_null() -> Object {
    or_null(queue())
}

/// A webhook endpoint's URL: the application's own rule, as one pattern.
pub fn endpoint_url() -> Object {
    described(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(junction_app::outbound::network::MAX_URL_LEN))
            .pattern(Some(junction_app::outbound::network::public_url_pattern()))
            .build(),
        "`http://` or `https://`, a host name (not an IP address, not `localhost`), an \
         optional port, path and query; no credentials, fragment, spaces or control \
         characters. Deliveries connect only to the public addresses the name resolves \
         to. (An installation that allows private networks takes any http(s) URL without \
         credentials or fragment.)",
    )
}

/// A webhook endpoint's new URL.
pub fn endpoint_url_or_null() -> Object {
    or_null(endpoint_url())
}

/// A webhook endpoint's description.
pub fn endpoint_description() -> Object {
    described(
        or_null(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(
                    junction_app::outbound::endpoints::MAX_DESCRIPTION_CHARS,
                ))
                .pattern(Some("^[^\\x00]*$"))
                .build(),
        ),
        "Up to 1000 characters, for people.",
    )
}

/// A webhook endpoint's event-type filter.
pub fn endpoint_event_types() -> Array {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(outbound_event_type())
        .description(Some(
            "The event types the endpoint receives (GET /v1/event-types); empty or unset: \
             every type.",
        ))
        .build()
}

/// The base64 (standard alphabet, canonical padding) of 24 to 64 bytes after
/// `whsec_`: exactly what a supplied signing secret may be.
const SIGNING_SECRET: &str = concat!(
    "^whsec_(?:",
    "(?:[A-Za-z0-9+/]{4}){8,20}(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?",
    "|(?:[A-Za-z0-9+/]{4}){21}(?:[A-Za-z0-9+/][AQgw]==)?",
    ")$"
);

/// A signing secret a client supplies.
pub fn signing_secret_or_null() -> Object {
    described(
        or_null(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(SIGNING_SECRET))
                .build(),
        ),
        "`whsec_` and the base64 of 24 to 64 random bytes (unset: Junction makes one of 32).",
    )
}

/// The providers a connect session may connect, or `null` (every one).
pub fn connect_providers() -> Array {
    let registry = junction_registry::Registry::builtin();
    let ids: Vec<&'static str> = registry.ids().collect();
    let mut array = ArrayBuilder::new()
        .items(one_of(ids.iter().copied()))
        .max_items(Some(ids.len()))
        .description(Some(
            "Provider ids (`GET /v1/providers`), each once; unset or empty: every provider.",
        ))
        .build();
    array.schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
    array
}

/// The client's own id of an end user.
pub fn end_user_id() -> Object {
    described(
        one_line(junction_app::connect_sessions::MAX_END_USER_ID_CHARS),
        "1-255 characters on one line, not all spaces.",
    )
}

/// An end user's name, or `null`.
pub fn end_user_name_or_null() -> Object {
    described(
        or_null(one_line(
            junction_app::connect_sessions::MAX_END_USER_NAME_CHARS,
        )),
        "1-200 characters on one line, not all spaces.",
    )
}

/// An email address, or `null`.
pub fn address_or_null() -> Object {
    described(
        or_null(address()),
        "A plain email address (stored lower-cased).",
    )
}

/// A connect session's tags: a small string map.
pub fn connect_tags() -> Object {
    use junction_app::connect_sessions::{MAX_TAG_VALUE_CHARS, MAX_TAGS, TAG_KEY_PATTERN};
    let value = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(MAX_TAG_VALUE_CHARS))
        .pattern(Some(format!("^[^{CONTROL}]*$")));
    let key = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(TAG_KEY_PATTERN))
        .build();
    described(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(value))
            .property_names(Some(key))
            .max_properties(Some(MAX_TAGS))
            .build(),
        "At most 20 tags: keys of 1-64 letters, digits, `_`, `.` or `-`; values of at most \
         200 characters on one line.",
    )
}

/// A connect session's return URL (the application's own rule, as one pattern).
pub fn return_url() -> Object {
    described(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(junction_app::connect_sessions::MAX_RETURN_URL_CHARS))
            .pattern(Some(junction_app::connect_sessions::return_url_pattern()))
            .build(),
        "`http://` or `https://`, a host name (`localhost` included) or an IPv4 address, \
         an optional port, path and query; no fragment, spaces or control characters. It \
         must match the workspace's `connect_return_urls` (a listed origin admits its every \
         path, a listed URL its own path) or be on this installation's own origin.",
    )
}

/// The workspace's allow-list of connect-session return URLs, or `null` (unchanged).
pub fn return_urls_or_null() -> Array {
    let mut array = ArrayBuilder::new()
        .items(return_url())
        .max_items(Some(junction_app::connect_sessions::MAX_RETURN_URLS))
        .description(Some(
            "Where connect sessions may send end users back: origins \
             (`https://app.example.com`, any path) or URLs (that path, any query); at most \
             20. Replaces the whole list (unset: unchanged).",
        ))
        .build();
    array.schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
    array
}

/// How long a connect session lives, in seconds, or `null` (30 minutes).
pub fn connect_expires_in() -> Object {
    use junction_app::connect_sessions::{MAX_EXPIRES_IN_SECONDS, MIN_EXPIRES_IN_SECONDS};
    described(
        or_null(integer_in(
            &(MIN_EXPIRES_IN_SECONDS..=MAX_EXPIRES_IN_SECONDS),
        )),
        "Seconds until the session expires: 60-1800 (unset: 1800, 30 minutes).",
    )
}

/// A config field whose choices a built-in provider lists.
pub fn option_field() -> Object {
    let registry = junction_registry::Registry::builtin();
    let names: std::collections::BTreeSet<&'static str> = registry
        .specs()
        .flat_map(|spec| spec.config.iter().filter(|f| f.options).map(|f| f.name))
        .collect();
    one_of(names)
}

/// A URL every platform takes (the rule of return URLs).
pub fn web_url() -> Object {
    described(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(junction_app::connect_sessions::MAX_RETURN_URL_CHARS))
            .pattern(Some(junction_app::connect_sessions::return_url_pattern()))
            .build(),
        "`http://` or `https://`, a host name or an IPv4 address, an optional port, path \
         and query; no fragment, spaces or control characters; at most 2048 characters.",
    )
}

/// [`web_url`], or `null` (none, or unchanged).
pub fn web_url_or_null() -> Object {
    or_null(web_url())
}

/// An article's title.
pub fn article_title() -> Object {
    described(
        one_line(junction_app::cross_posts::MAX_TITLE_CHARS),
        "One line of 1-250 characters, not all spaces.",
    )
}

/// [`article_title`], or `null` (unchanged).
pub fn article_title_or_null() -> Object {
    or_null(article_title())
}

/// An article's Markdown body.
pub fn article_body() -> Object {
    described(
        not_blank(Some(junction_app::cross_posts::MAX_BODY_CHARS)),
        "Markdown, 1-400000 characters, not all spaces.",
    )
}

/// [`article_body`], or `null` (unchanged).
pub fn article_body_or_null() -> Object {
    or_null(article_body())
}

/// An article's tags.
pub fn article_tags() -> Array {
    ArrayBuilder::new()
        .items(one_line(junction_app::cross_posts::MAX_TAG_CHARS))
        .max_items(Some(junction_app::cross_posts::MAX_TAGS))
        .unique_items(true)
        .description(Some(
            "At most 10 distinct tags, each one line of 1-50 characters; every platform \
             takes its first few.",
        ))
        .build()
}

/// [`article_tags`], or `null` (unchanged).
pub fn article_tags_or_null() -> Array {
    let mut array = article_tags();
    array.schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
    array
}

/// An article's description, or `null` (none, or unchanged).
pub fn article_description_or_null() -> Object {
    described(
        or_null(one_line(junction_app::cross_posts::MAX_DESCRIPTION_CHARS)),
        "One line of 1-500 characters, where the platform shows one.",
    )
}

/// An article's series, or `null` (none, or unchanged).
pub fn article_series_or_null() -> Object {
    described(
        or_null(one_line(junction_app::cross_posts::MAX_SERIES_CHARS)),
        "One line of 1-100 characters, where the platform has series (Dev.to).",
    )
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::STANDARD};
    use regex::Regex;
    use secrecy::SecretString;

    use super::*;

    /// The secret pattern takes exactly the secrets the application accepts.
    #[test]
    fn the_signing_secret_pattern_is_the_applications_check() {
        let pattern = Regex::new(SIGNING_SECRET).unwrap();
        let check = |text: &str| {
            junction_app::outbound::endpoints::check_secret(&SecretString::from(text.to_owned()))
                .is_ok()
        };
        for len in 0..=70usize {
            let key: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = format!("whsec_{}", STANDARD.encode(&key));
            assert_eq!(pattern.is_match(&text), check(&text), "{len} bytes");
            assert_eq!(check(&text), (24..=64).contains(&len), "{len} bytes");
        }
        for odd in [
            "whsec_",
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB==",
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=",
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA AAAA",
            "sk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            assert_eq!(pattern.is_match(odd), check(odd), "{odd}");
        }
    }
}
