//! The auth checks: each mode of a description is sent as it describes, and (with a
//! list of the fake to ask) accepted by the fake as sent.

use base64::Engine as _;
use junction_core::{Connection, Context, spec::ProviderSpec};
use junction_toolkit::{
    AuthMode, HttpApi, PageToken, Paging, Placement, Username,
    auth::{KEY_PLACEHOLDER, TOKEN_PLACEHOLDER, select},
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::path_regex};

use crate::{
    FakeServer,
    common::{Failure, FakeList, client, failure},
    paging,
};

/// The path of the probe request, below the API's prefix.
const PROBE_PATH: &str = "conformance/auth";

/// A mode described for failure messages.
fn describe(i: usize, mode: &AuthMode) -> String {
    let place = |placement: &Placement| match placement {
        Placement::Header { name, template } => format!("header `{name}: {template}`"),
        Placement::Query { param } => format!("query parameter `{param}`"),
    };
    let what = match mode {
        AuthMode::ApiKey { field, placement } => {
            format!("API key `{field}` in {}", place(placement))
        }
        AuthMode::Basic { username, password } => {
            let user = match username {
                Username::Field(field) => format!("`{field}`"),
                Username::Fixed(text) => format!("{text:?}"),
            };
            format!(
                "Basic {user}:{}",
                password.map(|p| format!("`{p}`")).unwrap_or_default()
            )
        }
        AuthMode::OAuth2 { placement } => format!("OAuth 2.0 token in {}", place(placement)),
        AuthMode::ClientCredentials { placement } => {
            format!("client-credentials token in {}", place(placement))
        }
    };
    format!("auth: mode {i} ({what})")
}

/// The credentials a connection may hold: each field's value and the access token.
#[derive(Clone)]
struct Values {
    fields: Vec<(&'static str, String)>,
    token: Option<String>,
}

impl Values {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| *field == name)
            .map(|(_, value)| value.as_str())
    }

    /// A connection with `good`'s config and these credentials.
    fn connection(&self, good: &Connection) -> Connection {
        Connection {
            secrets: self
                .fields
                .iter()
                .map(|(name, value)| ((*name).to_owned(), SecretString::from(value.clone())))
                .collect(),
            access_token: self.token.clone().map(SecretString::from),
            token_expires_at: None,
            ..good.clone()
        }
    }
}

/// A value the good connection holds for `field` (secret or config).
fn held(good: &Connection, field: &str) -> Option<String> {
    good.secrets
        .get(field)
        .map(|secret| secret.expose_secret().to_owned())
        .or_else(|| {
            good.config
                .get(field)
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
}

/// The credential `mode` puts into a request for `values`: where, and what.
enum Sent {
    Header(String, String),
    Query(String, String),
}

fn expected(mode: &AuthMode, values: &Values) -> Option<Sent> {
    let placed = |placement: &Placement, placeholder: &str, secret: &str| match placement {
        Placement::Header { name, template } => Sent::Header(
            name.to_ascii_lowercase(),
            template.replace(placeholder, secret),
        ),
        Placement::Query { param } => Sent::Query((*param).to_owned(), secret.to_owned()),
    };
    Some(match mode {
        AuthMode::ApiKey { field, placement } => {
            placed(placement, KEY_PLACEHOLDER, values.field(field)?)
        }
        AuthMode::OAuth2 { placement } | AuthMode::ClientCredentials { placement } => {
            placed(placement, TOKEN_PLACEHOLDER, values.token.as_deref()?)
        }
        AuthMode::Basic { username, password } => {
            let user = match username {
                Username::Fixed(text) => (*text).to_owned(),
                Username::Field(field) => values.field(field)?.to_owned(),
            };
            let password = match password {
                Some(field) => values.field(field)?.to_owned(),
                None => String::new(),
            };
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            Sent::Header("authorization".into(), format!("Basic {encoded}"))
        }
    })
}

/// Where `mode` puts its credential: a header name or a query parameter.
fn place_of(mode: &AuthMode) -> (Option<String>, Option<&'static str>) {
    let of = |placement: &Placement| match placement {
        Placement::Header { name, .. } => (Some(name.to_ascii_lowercase()), None),
        Placement::Query { param } => (None, Some(*param)),
    };
    match mode {
        AuthMode::ApiKey { placement, .. }
        | AuthMode::OAuth2 { placement }
        | AuthMode::ClientCredentials { placement } => of(placement),
        AuthMode::Basic { .. } => (Some("authorization".into()), None),
    }
}

/// The values of `mode`'s own credentials.
fn own(mode: &AuthMode, values: &Values) -> Vec<String> {
    if mode.uses_access_token() {
        return values.token.iter().cloned().collect();
    }
    mode.fields()
        .iter()
        .filter_map(|field| values.field(field).map(str::to_owned))
        .collect()
}

/// Checks the request the server received for mode `i`.
fn inspect(
    api: &HttpApi,
    i: usize,
    values: &Values,
    request: &wiremock::Request,
) -> Result<(), String> {
    let mode = &api.auth[i];
    let headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
    let values_of = |list: &[(String, String)], name: &str| -> Vec<String> {
        list.iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.clone())
            .collect()
    };
    let Some(sent) = expected(mode, values) else {
        return Err("the connection holds no value for the mode's credential".into());
    };
    let (own_header, own_param) = match &sent {
        Sent::Header(name, value) => {
            let got = values_of(&headers, name);
            if got != [value.clone()] {
                return Err(format!(
                    "the request must carry `{name}` once with the described value; it carries \
                     it {} times{}",
                    got.len(),
                    if got.is_empty() {
                        String::new()
                    } else {
                        " with another value".to_owned()
                    }
                ));
            }
            (Some(name.clone()), None)
        }
        Sent::Query(param, value) => {
            let got = values_of(&query, param);
            if got != [value.clone()] {
                return Err(format!(
                    "the query must carry `{param}` once with the key; it carries it {} times",
                    got.len()
                ));
            }
            (None, Some(param.clone()))
        }
    };
    for (name, value) in api.headers {
        if !values_of(&headers, name).iter().any(|got| got == value) {
            return Err(format!("the API's header `{name}: {value}` is missing"));
        }
    }
    let url = request.url.as_str().to_owned();
    let body = String::from_utf8_lossy(&request.body).into_owned();
    // The mode's own secret only where it belongs.
    for secret in own(mode, values) {
        let in_headers = headers
            .iter()
            .any(|(name, value)| Some(name) != own_header.as_ref() && value.contains(&secret));
        let in_query = query
            .iter()
            .any(|(name, value)| Some(name) != own_param.as_ref() && value.contains(&secret));
        let in_path = request.url.path().contains(&secret);
        if in_headers || in_query || in_path || body.contains(&secret) {
            return Err("the mode's credential also appears outside its described place".into());
        }
    }
    // Nothing of the other modes.
    let mine = own(mode, values);
    let others: Vec<String> = values
        .fields
        .iter()
        .map(|(_, value)| value.clone())
        .chain(values.token.clone())
        .filter(|value| !mine.contains(value))
        .collect();
    for value in &others {
        if url.contains(value.as_str())
            || body.contains(value.as_str())
            || headers.iter().any(|(_, got)| got.contains(value.as_str()))
        {
            return Err(
                "the request carries a credential of another mode the connection holds".into(),
            );
        }
    }
    for (j, other) in api.auth.iter().enumerate() {
        if j == i {
            continue;
        }
        let (header, param) = place_of(other);
        if let Some(header) = header
            && Some(&header) != own_header.as_ref()
            && !values_of(&headers, &header).is_empty()
        {
            return Err(format!("the request carries mode {j}'s header `{header}`"));
        }
        if let Some(param) = param
            && Some(param.to_owned()) != own_param
            && !values_of(&query, param).is_empty()
        {
            return Err(format!(
                "the request carries mode {j}'s query parameter `{param}`"
            ));
        }
    }
    Ok(())
}

/// A connection holding as many credentials as can be held while `select` still
/// picks mode `i`: all of them, all but the token, or the mode's own.
fn connection_for(
    api: &HttpApi,
    spec: &ProviderSpec,
    good: &Connection,
    i: usize,
    all: &Values,
) -> Option<(Connection, Values)> {
    let mode = &api.auth[i];
    let without_token = Values {
        token: None,
        ..all.clone()
    };
    let only = Values {
        fields: all
            .fields
            .iter()
            .filter(|(field, _)| mode.fields().contains(field))
            .cloned()
            .collect(),
        token: all.token.clone().filter(|_| mode.uses_access_token()),
    };
    [all.clone(), without_token, only]
        .into_iter()
        .map(|values| (values.connection(good), values))
        .find(|(conn, _)| {
            select(api.auth, spec, conn).is_ok_and(|picked| std::ptr::eq(picked, mode))
        })
}

/// Checks every auth mode of `api` (see the crate docs); the modes inspected and
/// the modes the fake accepted.
pub(crate) async fn modes(
    api: &HttpApi,
    spec: &ProviderSpec,
    good: &Connection,
    server: &FakeServer,
    probe: Option<(&Paging, &FakeList)>,
) -> Result<(usize, usize), Failure> {
    let mock = MockServer::start().await;
    Mock::given(path_regex(format!("/{PROBE_PATH}$")))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .mount(&mock)
        .await;
    let base = url::Url::parse(&format!("{}/", mock.uri()))
        .map_err(|e| failure("auth", format!("the mock server's URL: {e}")))?;
    let ctx = Context::new(reqwest::Client::new()).with_base_url(base);
    let has_token_mode = api.auth.iter().any(AuthMode::uses_access_token);
    let mut names: Vec<&'static str> = Vec::new();
    for name in api.auth.iter().flat_map(AuthMode::fields) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    // Wire values: what the suite's connection holds (host parts may derive from
    // them), else a marker of the field.
    let wire = Values {
        fields: names
            .iter()
            .map(|name| {
                let value =
                    held(good, name).unwrap_or_else(|| format!("conformance-{name}-credential"));
                (*name, value)
            })
            .collect(),
        token: has_token_mode.then(|| {
            good.access_token
                .as_ref()
                .map(|token| token.expose_secret().to_owned())
                .unwrap_or_else(|| "conformance-access-token".to_owned())
        }),
    };
    // Values the fake accepts: the suite's connection's, the fake's catalog, its
    // token table.
    let catalog = server.catalog();
    let real = Values {
        fields: names
            .iter()
            .filter_map(|name| {
                held(good, name)
                    .or_else(|| {
                        catalog
                            .credentials
                            .get(*name)
                            .or_else(|| catalog.config.get(*name))
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                    .map(|value| (*name, value))
            })
            .collect(),
        token: good
            .access_token
            .as_ref()
            .map(|token| token.expose_secret().to_owned())
            .or_else(|| server.valid_token()),
    };
    let mut accepted = 0;
    for (i, mode) in api.auth.iter().enumerate() {
        let check = describe(i, mode);
        let Some((conn, values)) = connection_for(api, spec, good, i, &wire) else {
            return Err(failure(
                check,
                "no connection selects this mode: an earlier mode reads the same credentials, \
                 so the mode is never used",
            ));
        };
        let before = mock.received_requests().await.unwrap_or_default().len();
        let wire_client = client(&ctx, spec, api, &conn).map_err(|e| {
            failure(
                &check,
                format!("the toolkit client cannot be built for a connection in this mode: {e}"),
            )
        })?;
        let request = wire_client
            .request(http::Method::GET, PROBE_PATH)
            .map_err(|e| failure(&check, format!("the request cannot be built: {e}")))?;
        wire_client
            .send(request)
            .await
            .map_err(|e| failure(&check, format!("the probe request failed: {e}")))?;
        let received = mock.received_requests().await.unwrap_or_default();
        let Some(request) = received.get(before) else {
            return Err(failure(&check, "the probe request never arrived"));
        };
        inspect(api, i, &values, request).map_err(|detail| failure(&check, detail))?;
        let Some((paging, list)) = probe else {
            continue;
        };
        let needed = if mode.uses_access_token() {
            real.token.is_some()
        } else {
            mode.fields()
                .iter()
                .all(|field| real.field(field).is_some())
        };
        if !needed {
            continue;
        }
        let only = Values {
            fields: real
                .fields
                .iter()
                .filter(|(field, _)| !mode.uses_access_token() && mode.fields().contains(field))
                .cloned()
                .collect(),
            token: real.token.clone().filter(|_| mode.uses_access_token()),
        };
        let conn = only.connection(good);
        let fake_ctx = server.context();
        let fake_client = client(&fake_ctx, spec, api, &conn).map_err(|e| {
            failure(
                &check,
                format!("the toolkit client cannot be built with the fake's values: {e}"),
            )
        })?;
        let request =
            paging::fake_request(&fake_client, paging, list, &PageToken::First, list.size)
                .map_err(|e| failure(&check, format!("the request cannot be built: {e}")))?;
        if let Err(error) = fake_client.fetch(request).await {
            return Err(failure(
                check,
                format!(
                    "the fake refuses the credential it accepts ({}) sent as the mode describes, \
                     on the first page of `{}`: {error}",
                    if mode.uses_access_token() {
                        "a valid token".to_owned()
                    } else {
                        format!("the value of {:?}", mode.fields())
                    },
                    list.path
                ),
            ));
        }
        accepted += 1;
    }
    Ok((api.auth.len(), accepted))
}
