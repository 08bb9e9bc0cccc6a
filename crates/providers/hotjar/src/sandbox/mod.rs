//! A fake of the Hotjar API.
//!
//! For the sandbox (demo mode, end-to-end tests) and the conformance suite, built on
//! the toolkit's fake scaffolding from the adapter's own description: routes below
//! [`API_VERSION`], the Bearer token read with [`API`]'s auth mode, lists paged as
//! [`PAGING`] walks them, errors in the shape [`API`]'s envelope reads.
//!
//! Served under the sandbox's `/hotjar/` mount, it answers below `/v1/`:
//! - `GET sites/{site_id}/surveys?limit&cursor&with_questions`: the site's surveys,
//!   newest first, `{"results": [...], "next_cursor": "..." | null}`; `questions`
//!   only with `with_questions=true`; 404 for a site not in the organization;
//! - `GET sites/{site_id}/surveys/{survey_id}`: one survey, with its questions;
//! - `GET sites/{site_id}/surveys/{survey_id}/responses?limit&cursor`: its
//!   responses, newest first, paged the same way (`limit` 1 to 100, default 100);
//! - `POST organizations/{organization_id}/user-lookup`: a JSON body with
//!   `data_subject_email` and/or `data_subject_site_id_to_user_id_map` (400 with
//!   neither), `delete_all_hits` a boolean; answered 202 without a body [check].
//!   With `delete_all_hits: true` the data subject's responses are deleted (the
//!   next read no longer lists them); a lookup changes nothing.
//!
//! It accepts the access tokens the sandbox's token authority holds as valid for
//! this provider; the sandbox's token endpoint (`/oauth/hotjar/token`) issues them
//! by the client-credentials grant to the key pair [`SANDBOX_CLIENT_ID`] /
//! [`SANDBOX_CLIENT_SECRET`] this fake's catalog entry publishes. An unknown token
//! is a 401, an expired one a 401 saying so (what makes Junction fetch a new one).
//!
//! Faults render as the fake's error body: a 500, a 429 with `Retry-After` (Hotjar
//! has no separate quota signal: an exhausted quota answers the same), a 401 for an
//! expired token, and a 200 body cut off halfway.
//!
//! The organization is seeded on the first request, backwards from that moment
//! (`data`); deletions change it, behind a mutex.

mod data;

use std::sync::{Mutex, PoisonError};

use junction_core::fake::{CatalogEntry, FakeContext, FakeRequest, FakeResponse, ProviderFake};
use junction_toolkit::fake::{
    Auth, Call, Data, ErrorShape, PageError, Pager, Refusal, Refused, Route, Service, empty, set,
};
use serde_json::{Value, json};

pub use data::{
    ORGANIZATION, SITE_DOCS, SITE_MAIN, SUBJECT_EMAIL, SUBJECT_USER_ID, SURVEYS, response_count,
};

use crate::{
    api::{API, PAGING},
    spec::{API_VERSION, CLIENT_ID_FIELD, CLIENT_SECRET_FIELD, PROVIDER_ID},
};

/// The client id of the key pair the sandbox's token endpoint accepts (the catalog
/// lists it).
pub const SANDBOX_CLIENT_ID: &str = "hotjar-sandbox-client";

/// The client secret of [`SANDBOX_CLIENT_ID`].
pub const SANDBOX_CLIENT_SECRET: &str = "hotjar-sandbox-client-secret";

/// Where the fake writes an error's code and message: where [`API`]'s envelope
/// reads them first. Its faults and unknown paths answer in the words of [`WORDS`].
const ERRORS: ErrorShape =
    ErrorShape::new(Some("/error/code"), "/error/message").catalogue(&WORDS, "");

/// The fake's words, by name (see `junction_toolkit::fake::names`).
static WORDS: Data = Data::new(
    r#"{
 "server_error": [500, "internal_error", "Something went wrong."],
 "rate_limited": {"status": 429, "code": "too_many_requests", "message": "Rate limit exceeded: 3000 requests per minute.", "headers": {"retry-after": "{secs}"}},
 "quota_exhausted": {"status": 429, "code": "too_many_requests", "message": "Rate limit exceeded: 3000 requests per minute.", "headers": {"retry-after": "{secs}"}},
 "not_found": [404, "not_found", "Not found: {method} {path}"]
}"#,
);

/// Lists, paged as the adapter walks them.
const PAGER: Pager = Pager::new(PAGING);

/// The fake's routes, credentials, errors and faults.
const SERVICE: Service<Store> = Service::new(
    API_VERSION,
    &[
        Route::get("sites/{site}/surveys", list_surveys),
        Route::get("sites/{site}/surveys/{survey}", get_survey),
        Route::get("sites/{site}/surveys/{survey}/responses", list_responses),
        Route::post("organizations/{organization}/user-lookup", user_lookup),
    ],
    Auth::new(API.auth, PROVIDER_ID),
    ERRORS,
)
.refuse(refuse);

/// The organization's data as it stands.
#[derive(Debug)]
struct Store {
    surveys: Vec<data::Survey>,
}

/// The Hotjar fake.
#[derive(Debug, Default)]
pub struct HotjarFake {
    store: Mutex<Option<Store>>,
}

impl ProviderFake for HotjarFake {
    fn provider_id(&self) -> &'static str {
        PROVIDER_ID
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        // A deletion is one `retain` per survey: the data stays whole.
        let mut guard = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        let store = guard.get_or_insert_with(|| Store {
            surveys: data::surveys(ctx.now),
        });
        SERVICE.serve(store, request, ctx)
    }

    /// What connects the entry here: the key pair the sandbox's token endpoint
    /// accepts, the organization and both sites.
    fn catalog(&self) -> CatalogEntry {
        CatalogEntry::default()
            .credential(CLIENT_ID_FIELD, SANDBOX_CLIENT_ID)
            .credential(CLIENT_SECRET_FIELD, SANDBOX_CLIENT_SECRET)
            .config("organization_id", ORGANIZATION)
            .config("site_ids", format!("{SITE_MAIN}, {SITE_DOCS}"))
            .fixture("surveys", SURVEYS.len())
            .fixture("survey_responses", response_count())
            .fixture("data_subject_email", SUBJECT_EMAIL)
            .fixture("data_subject_user_id", json!({SITE_MAIN: SUBJECT_USER_ID}))
    }
}

/// A refused token, in the fake's error body.
fn refuse(refusal: &Refusal, _: &FakeRequest) -> FakeResponse {
    match refusal.why {
        Refused::Expired => {
            ERRORS.reply(401, Some("unauthorized"), "The access token has expired.")
        }
        _ => ERRORS.reply(
            401,
            Some("unauthorized"),
            "Invalid or missing access token.",
        ),
    }
}

fn not_found(what: &str) -> FakeResponse {
    ERRORS.reply(404, Some("not_found"), &format!("{what} not found"))
}

/// A 400 naming `param`.
fn invalid(param: &str, problem: &str) -> FakeResponse {
    let message = format!("`{param}` {problem}");
    let mut body = ERRORS.body(400, Some("bad_request"), &message);
    set(&mut body, "/error/param", Value::String(param.to_owned()));
    ERRORS.respond(400, &body)
}

/// Whether the organization has the site.
fn known_site(site: &str) -> bool {
    site == SITE_MAIN || site == SITE_DOCS
}

/// A list's page with `next_cursor: null` on the last one, as Hotjar writes it.
fn page(call: &Call<'_>, items: Vec<Value>) -> FakeResponse {
    match PAGER.page(call.request, items) {
        Ok(page) if page.more => page.reply(),
        Ok(page) => page.with("/next_cursor", Value::Null).reply(),
        Err(PageError::Size { param, .. }) => invalid(param, "must be a number from 1 to 100"),
        Err(PageError::Cursor { param, .. } | PageError::Position { param, .. }) => {
            invalid(param, "is not a cursor of this list")
        }
        Err(PageError::BothDirections) => invalid("cursor", "pages one way at a time"),
    }
}

/// `GET sites/{site}/surveys`.
fn list_surveys(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    let site = call.param("site");
    if !known_site(site) {
        return not_found("Site");
    }
    let with_questions = match call.query("with_questions").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return invalid("with_questions", "must be true or false"),
    };
    let surveys = store
        .surveys
        .iter()
        .filter(|survey| survey.site == site)
        .map(|survey| {
            let mut body = survey.body.clone();
            if !with_questions && let Some(map) = body.as_object_mut() {
                map.remove("questions");
            }
            body
        })
        .collect();
    page(call, surveys)
}

/// The survey `{survey}` of the site `{site}`.
fn survey<'s>(store: &'s mut Store, call: &Call<'_>) -> Option<&'s mut data::Survey> {
    let (site, id) = (call.param("site"), call.param("survey"));
    store
        .surveys
        .iter_mut()
        .find(|survey| survey.site == site && data::text_id(&survey.body) == id)
}

/// `GET sites/{site}/surveys/{survey}`.
fn get_survey(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    match survey(store, call) {
        Some(survey) => FakeResponse::json(200, &survey.body),
        None => not_found("Survey"),
    }
}

/// `GET sites/{site}/surveys/{survey}/responses`.
fn list_responses(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    match survey(store, call) {
        Some(survey) => {
            let responses = survey.responses.clone();
            page(call, responses)
        }
        None => not_found("Survey"),
    }
}

/// `POST organizations/{organization}/user-lookup`.
fn user_lookup(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    if call.param("organization") != ORGANIZATION {
        return not_found("Organization");
    }
    let Ok(Value::Object(body)) = call.json::<Value>() else {
        return invalid("body", "must be a JSON object");
    };
    let email = match body.get("data_subject_email") {
        None | Some(Value::Null) => None,
        Some(Value::String(email)) if email.contains('@') => Some(email.to_lowercase()),
        Some(_) => return invalid("data_subject_email", "must be an email address"),
    };
    let users: Vec<(String, String)> = match body.get("data_subject_site_id_to_user_id_map") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(map)) => {
            let mut users = Vec::new();
            for (site, user) in map {
                let Some(user) = user.as_str() else {
                    return invalid("data_subject_site_id_to_user_id_map", "must map to strings");
                };
                users.push((site.clone(), user.to_owned()));
            }
            users
        }
        Some(_) => return invalid("data_subject_site_id_to_user_id_map", "must be an object"),
    };
    if email.is_none() && users.is_empty() {
        return invalid(
            "data_subject_email",
            "or `data_subject_site_id_to_user_id_map` is required",
        );
    }
    let delete = match body.get("delete_all_hits") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(delete)) => *delete,
        Some(_) => return invalid("delete_all_hits", "must be a boolean"),
    };
    if delete {
        for survey in &mut store.surveys {
            let site = survey.site;
            survey.responses.retain(|response| {
                let by_email = email.as_deref().is_some_and(|email| {
                    response["email"]
                        .as_str()
                        .is_some_and(|e| e.eq_ignore_ascii_case(email))
                });
                let by_user = users.iter().any(|(s, user)| {
                    s == site && response["user_id"].as_str() == Some(user.as_str())
                });
                !(by_email || by_user)
            });
        }
    }
    empty(202)
}
