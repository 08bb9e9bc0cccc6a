//! The static description of the Mailchimp Marketing provider: its two entries
//! (`mailchimp` with API-key auth, `mailchimp-oauth` with OAuth 2.0), which share the
//! `audiences` and `members` streams (data: `streams.json`), the contact actions
//! and the request budget.

use std::{sync::LazyLock, time::Duration};

use junction_core::spec::{
    ActionSpec, AuthSpec, Category, ConfigField, OAuth2Spec, ProviderSpec, RateBudget,
    RecipientField, RefreshBehaviour, TokenClientAuth,
};
use junction_toolkit::described;
use serde_json::{Value, json};

/// The provider id (also the sandbox mount point of the fake).
pub const PROVIDER_ID: &str = "mailchimp";

/// The id of the OAuth 2.0 entry (also the sandbox mount point of its fake).
pub const OAUTH_PROVIDER_ID: &str = "mailchimp-oauth";

/// Where Mailchimp's OAuth 2.0 authorization starts.
pub const OAUTH_AUTHORIZE_URL: &str = "https://login.mailchimp.com/oauth2/authorize";

/// Mailchimp's OAuth 2.0 token endpoint.
pub const OAUTH_TOKEN_URL: &str = "https://login.mailchimp.com/oauth2/token";

/// The host of the OAuth metadata endpoint; with a base-URL override (sandbox, tests)
/// the override takes its place.
pub const METADATA_BASE: &str = "https://login.mailchimp.com";

/// The metadata path below [`METADATA_BASE`] (or the override): it names the data
/// center of an access token.
pub const METADATA_PATH: &str = "oauth2/metadata";

/// The API host of a data center; `{dc}` is the API key's suffix (`us21`).
pub const API_HOST_TEMPLATE: &str = "https://{dc}.api.mailchimp.com";

/// The API version prefix of every path (`/3.0/lists`); the fake serves it too.
pub const API_PREFIX: &str = "3.0";

/// The credential field holding the API key.
pub const API_KEY_FIELD: &str = "api_key";

/// An API key: 32 hex digits, a dash, the data center (`us21`).
pub const API_KEY_PATTERN: &str = "[0-9a-f]{32}-[a-z]{2,10}[0-9]{1,4}";

/// Stream of audiences (Mailchimp's API calls them lists) with their stats.
pub const AUDIENCES: &str = "audiences";

/// Stream of the members of every audience.
pub const MEMBERS: &str = "members";

/// Action: create or update one contact (and tag it).
pub const UPSERT_CONTACT: &str = "upsert_contact";

/// Action: create or update many contacts through one batch operation.
pub const BULK_SYNC_CONTACTS: &str = "bulk_sync_contacts";

/// Action: report on a batch operation (one that outlasted `bulk_sync_contacts`).
pub const GET_BATCH: &str = "get_batch";

/// KPIs of the `audiences` stream (declared in `streams.json`): each audience's
/// counts as of the sync day, named as in its `stats`.
pub const AUDIENCE_KPIS: [&str; 3] = ["member_count", "unsubscribe_count", "cleaned_count"];

/// KPI of the `members` stream: members who opted in on a day.
pub const NEW_MEMBERS: &str = "new_members";

/// The KPI dimension naming the audience.
pub const AUDIENCE_DIMENSION: &str = "audience_id";

/// Member statuses a contact can be given (`archived` is set by deleting).
pub const MEMBER_STATUSES: [&str; 5] = [
    "subscribed",
    "unsubscribed",
    "cleaned",
    "pending",
    "transactional",
];

/// Most contacts one `bulk_sync_contacts` call takes. Mailchimp does not cap a batch,
/// but the action's input travels through Junction's queue as one JSON document.
pub const MAX_BULK_CONTACTS: usize = 5_000;

/// Most tags one contact can be given per call.
pub const MAX_TAGS: usize = 100;

/// The API-key entry's spec.
pub(crate) static SPEC: LazyLock<ProviderSpec> = LazyLock::new(|| {
    let key = ConfigField::secret(
        API_KEY_FIELD,
        "API key",
        "A Mailchimp Marketing API key: in Mailchimp open Profile → Extras → API keys → \
         Create A Key. It ends in your data center, e.g. `-us21`.",
    );
    let fields = vec![key.with_pattern(API_KEY_PATTERN)];
    build(PROVIDER_ID, "Mailchimp", AuthSpec::ApiKey { fields })
});

/// The OAuth 2.0 entry's spec. Mailchimp's OAuth has no scopes (a token can do what
/// the user can), no PKCE, and access tokens that never expire and come without a
/// refresh token; the client authenticates in the token request's body.
pub(crate) static OAUTH_SPEC: LazyLock<ProviderSpec> = LazyLock::new(|| {
    let auth = AuthSpec::OAuth2(OAuth2Spec {
        authorize_url: OAUTH_AUTHORIZE_URL,
        token_url: OAUTH_TOKEN_URL,
        // Mailchimp has no revocation endpoint: the user removes the app under
        // Profile → Extras → Connected sites.
        revoke_url: None,
        scopes: Vec::new(),
        scope_separator: " ",
        pkce: false,
        extra_authorize_params: Vec::new(),
        refresh: RefreshBehaviour::None,
        client_auth: TokenClientAuth::RequestBody,
        long_lived_exchange: None,
    });
    build(OAUTH_PROVIDER_ID, "Mailchimp (OAuth)", auth)
});

fn build(id: &'static str, name: &'static str, auth: AuthSpec) -> ProviderSpec {
    ProviderSpec {
        id,
        name,
        category: Category::Email,
        auth,
        config: Vec::new(),
        streams: described::streams(include_str!("streams.json"), PROVIDER_ID),
        actions: vec![
            ActionSpec {
                name: UPSERT_CONTACT,
                description: "Creates or updates one contact in an audience (PUT on its \
                              subscriber hash) with merge fields, then applies its tags.",
                input_schema: upsert_schema(),
                long_running: false,
                email_recipients: confirmation_recipients("email_address"),
                provider_recipients: None,
            },
            ActionSpec {
                name: BULK_SYNC_CONTACTS,
                description: "Creates or updates up to 5,000 contacts through one batch \
                              operation, waits for it to finish and reports each contact \
                              that failed.",
                input_schema: bulk_schema(),
                long_running: true,
                email_recipients: confirmation_recipients("contacts[].email_address"),
                provider_recipients: None,
            },
            ActionSpec {
                name: GET_BATCH,
                description: "Reports a batch operation's progress and, once it finished, \
                              each contact that failed.",
                input_schema: json!({
                    "type": "object",
                    "required": ["batch_id"],
                    "properties": {
                        "batch_id": {"type": "string", "pattern": "^[A-Za-z0-9]{1,64}$"}
                    },
                    "additionalProperties": false
                }),
                long_running: false,
                email_recipients: Vec::new(),
                provider_recipients: None,
            },
        ],
        webhook: None,
        // Mailchimp documents no request rate, only "10 simultaneous connections" per
        // user and a 429 beyond it. The budget keeps the concurrency and a generous
        // rate (600 a minute) that still spreads a large tenant's sync over time.
        rate_limit: RateBudget {
            requests: 600,
            per: Duration::from_secs(60),
            concurrency: Some(10),
        },
        docs_url: "https://mailchimp.com/developer/marketing/api/",
    }
}

/// The address Mailchimp mails a double opt-in confirmation to: a contact given the
/// status `pending` (or created with `status_if_new: pending`), at `path` (the
/// input's `email_address`, or each contact's in `contacts[]`). Screened against the
/// suppression list only then; a suppressed one refuses the action, as the contact
/// cannot be written without its address.
fn confirmation_recipients(path: &'static str) -> Vec<RecipientField> {
    vec![
        RecipientField::new(path, true).when("status", "pending"),
        RecipientField::new(path, true).when("status_if_new", "pending"),
    ]
}

/// The properties one contact has, in both actions.
fn contact_properties() -> Value {
    json!({
        "email_address": {"type": "string", "format": "email", "maxLength": 254},
        "status_if_new": {
            "type": "string",
            "enum": MEMBER_STATUSES,
            "default": "subscribed",
            "description": "The status a new contact gets; an existing one keeps its own."
        },
        "status": {
            "type": "string",
            "enum": MEMBER_STATUSES,
            "description": "Sets the status of new and existing contacts alike."
        },
        "merge_fields": {
            "type": "object",
            "description": "Merge field values by tag (FNAME, LNAME, ...); ADDRESS fields are objects.",
            "additionalProperties": {"type": ["string", "number", "object"]}
        },
        "tags": {
            "type": "array",
            "maxItems": MAX_TAGS,
            "items": {"type": "string", "minLength": 1, "maxLength": 100}
        }
    })
}

fn audience_id_schema() -> Value {
    json!({"type": "string", "pattern": "^[A-Za-z0-9]{1,64}$", "description": "The audience (list) id."})
}

fn upsert_schema() -> Value {
    let mut properties = contact_properties();
    if let Some(map) = properties.as_object_mut() {
        map.insert("audience_id".into(), audience_id_schema());
    }
    json!({
        "type": "object",
        "required": ["audience_id", "email_address"],
        "properties": properties,
        "additionalProperties": false
    })
}

fn bulk_schema() -> Value {
    json!({
        "type": "object",
        "required": ["audience_id", "contacts"],
        "properties": {
            "audience_id": audience_id_schema(),
            "status_if_new": {
                "type": "string",
                "enum": MEMBER_STATUSES,
                "default": "subscribed",
                "description": "The default status_if_new of the contacts."
            },
            "contacts": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BULK_CONTACTS,
                "items": {
                    "type": "object",
                    "required": ["email_address"],
                    "properties": contact_properties(),
                    "additionalProperties": false
                }
            }
        },
        "additionalProperties": false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn api_keys_must_name_their_data_center() {
        let good = values(json!({"api_key": "0123456789abcdef0123456789abcdef-us21"}));
        assert_eq!(SPEC.validate_fields(&good), Ok(()));
        for bad in [
            "0123456789abcdef0123456789abcdef",
            "0123456789abcdef0123456789abcdef-",
            "0123456789abcdef0123456789abcdef-us21.evil.example/",
            "0123456789ABCDEF0123456789ABCDEF-us21",
        ] {
            let errors = SPEC
                .validate_fields(&values(json!({ "api_key": bad })))
                .unwrap_err();
            assert_eq!(errors[0].field, "api_key");
            assert!(!errors[0].to_string().contains(bad));
        }
    }

    #[test]
    fn the_oauth_entry_differs_only_in_auth() {
        let (key, oauth) = (&*SPEC, &*OAUTH_SPEC);
        assert_eq!(oauth.id, OAUTH_PROVIDER_ID);
        assert_eq!(oauth.name, "Mailchimp (OAuth)");
        let AuthSpec::OAuth2(auth) = &oauth.auth else {
            panic!("not OAuth 2.0: {:?}", oauth.auth);
        };
        assert_eq!(auth.authorize_url, OAUTH_AUTHORIZE_URL);
        assert_eq!(auth.token_url, OAUTH_TOKEN_URL);
        assert!(auth.scopes.is_empty());
        assert_eq!(auth.refresh, RefreshBehaviour::None);
        assert_eq!(auth.client_auth, TokenClientAuth::RequestBody);
        assert!(auth.long_lived_exchange.is_none());
        assert_eq!(
            serde_json::to_value(&key.streams).unwrap(),
            serde_json::to_value(&oauth.streams).unwrap()
        );
        assert_eq!(
            serde_json::to_value(&key.actions).unwrap(),
            serde_json::to_value(&oauth.actions).unwrap()
        );
        // Nothing to fill in besides the authorization itself.
        assert_eq!(oauth.validate_fields(&serde_json::Map::new()), Ok(()));
    }

    #[test]
    fn metrics_and_actions_are_declared() {
        let spec = &*SPEC;
        let audience_kpis = spec.stream(AUDIENCES).unwrap().metrics.iter();
        assert!(audience_kpis.map(|m| m.name).eq(AUDIENCE_KPIS));
        assert_eq!(spec.stream(MEMBERS).unwrap().metrics[0].name, NEW_MEMBERS);
        assert!(spec.action(BULK_SYNC_CONTACTS).unwrap().long_running);
        assert!(!spec.action(UPSERT_CONTACT).unwrap().long_running);
        for action in &spec.actions {
            assert_eq!(action.input_schema["type"], "object");
            assert_eq!(action.input_schema["additionalProperties"], false);
        }
    }
}
