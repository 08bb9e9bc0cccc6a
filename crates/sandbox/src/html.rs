//! The few HTML pages the sandbox shows: the consent page, the authorize error page and
//! the index. Every value put into markup goes through [`escape`], because most of it
//! comes straight from the request.

use actix_web::{HttpResponse, http::StatusCode};
use junction_core::{AuthSpec, RefreshBehaviour, TokenClientAuth, spec::ProviderSpec};

/// Escapes text for HTML element content and double- or single-quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;\
padding:0 1rem;color:#1d2430}code{background:#f1f3f6;padding:0 .25rem;border-radius:3px}\
.card{border:1px solid #d5dae1;border-radius:8px;padding:1.25rem 1.5rem}\
button{font-size:1rem;padding:.5rem 1.25rem;margin-right:.5rem;border-radius:6px;\
border:1px solid #8a94a3;cursor:pointer}button.approve{background:#1f6feb;color:#fff;\
border-color:#1f6feb}.note{color:#5b6573;font-size:.9rem}td,th{text-align:left;\
padding:.2rem .6rem .2rem 0;vertical-align:top}";

/// A complete page.
fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>\n",
        escape(title)
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .body(html)
}

/// The consent screen: who asks for what, with Approve and Deny posting the request
/// parameters back to the decision endpoint.
pub(crate) fn consent_page(
    spec: &ProviderSpec,
    scopes: &[String],
    redirect_uri: &str,
    params: &[(String, String)],
) -> HttpResponse {
    let scope_items = if scopes.is_empty() {
        "<li><em>no scopes</em></li>".to_owned()
    } else {
        scopes
            .iter()
            .map(|scope| format!("<li><code>{}</code></li>", escape(scope)))
            .collect()
    };
    let hidden: String = params
        .iter()
        .filter(|(name, _)| name != "decision")
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            )
        })
        .collect();
    let body = format!(
        "<div class=\"card\"><h1>Sign in to {name} (sandbox)</h1>\
         <p><code>{client}</code> wants to access your {name} account with these \
         permissions:</p><ul>{scope_items}</ul>\
         <p class=\"note\">After your decision you go back to <code>{redirect}</code>.</p>\
         <form method=\"post\" action=\"/oauth/{id}/decision\">{hidden}\
         <button class=\"approve\" type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form></div>\
         <p class=\"note\">This is Junction's sandbox: no real {name} account is involved.</p>",
        name = escape(spec.name),
        client = escape(crate::CLIENT_ID),
        redirect = escape(redirect_uri),
        id = escape(spec.id),
    );
    page(
        StatusCode::OK,
        &format!("Sign in to {} (sandbox)", spec.name),
        &body,
    )
}

/// The page for authorize errors that must not redirect (bad client id or redirect
/// URI, RFC 6749 section 4.1.2.1).
pub(crate) fn authorize_error_page(provider_name: &str, message: &str) -> HttpResponse {
    let body = format!(
        "<div class=\"card\"><h1>Authorization error</h1><p>{}</p>\
         <p class=\"note\">{} (sandbox) cannot send you back to the application because \
         the request itself is not valid.</p></div>",
        escape(message),
        escape(provider_name)
    );
    page(StatusCode::BAD_REQUEST, "Authorization error", &body)
}

/// The index: what the sandbox serves and how to use it.
pub(crate) fn index_page(base: &str, specs: &[&ProviderSpec], fake_ids: &[&str]) -> HttpResponse {
    let mut ids: Vec<&str> = specs
        .iter()
        .map(|spec| spec.id)
        .chain(fake_ids.iter().copied())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let rows: String = ids
        .iter()
        .map(|id| {
            let spec = specs.iter().find(|spec| spec.id == *id);
            let name = spec.map_or(*id, |spec| spec.name);
            let api = if fake_ids.contains(id) {
                format!("<code>{}/{}/</code>", escape(base), escape(id))
            } else {
                "<em>no fake API</em>".to_owned()
            };
            let auth = match spec.map(|spec| &spec.auth) {
                Some(AuthSpec::OAuth2(oauth)) => format!(
                    "authorize <code>{base}/oauth/{id}/authorize</code><br>\
                     token <code>{base}/oauth/{id}/token</code><br>\
                     revoke <code>{base}/oauth/{id}/revoke</code><br>\
                     scopes {scopes} (separator <code>{sep}</code>), PKCE {pkce}, \
                     refresh {refresh}, client auth {client_auth}",
                    base = escape(base),
                    id = escape(id),
                    scopes = if oauth.scopes.is_empty() {
                        "<em>none</em>".to_owned()
                    } else {
                        oauth
                            .scopes
                            .iter()
                            .map(|s| format!("<code>{}</code>", escape(s)))
                            .collect::<Vec<_>>()
                            .join(" ")
                    },
                    sep = escape(oauth.scope_separator),
                    pkce = if oauth.pkce { "required" } else { "optional" },
                    refresh = match oauth.refresh {
                        RefreshBehaviour::Rotating => "rotating",
                        RefreshBehaviour::Stable => "stable",
                        RefreshBehaviour::None => "none (tokens do not expire)",
                    },
                    client_auth = match oauth.client_auth {
                        TokenClientAuth::BasicHeader => "HTTP Basic",
                        TokenClientAuth::RequestBody => "form body",
                    },
                ),
                Some(auth) => format!("{} (no OAuth server)", escape(auth.kind_name())),
                None => "<em>no spec</em>".to_owned(),
            };
            format!(
                "<tr><td><strong>{}</strong><br><code>{}</code></td><td>{api}</td><td>{auth}</td></tr>",
                escape(name),
                escape(id)
            )
        })
        .collect();
    let body = format!(
        "<h1>Junction sandbox</h1>\
         <p>Fakes of every provider's API and a fake OAuth 2.0 server, on one port. Point \
         Junction at it with <code>JUNCTION_SANDBOX_URL={base}</code>.</p>\
         <h2>OAuth client</h2><p>client_id <code>{client_id}</code>, client_secret \
         <code>{client_secret}</code>; any http(s) redirect URI. Add \
         <code>decision=approve</code> or <code>decision=deny</code> to an authorize URL \
         to skip the consent page.</p>\
         <h2>Providers</h2><p>The credentials and settings that connect each one are in \
         the catalog, <a href=\"{base}/_sandbox/catalog\"><code>GET /_sandbox/catalog</code></a> \
         (JSON).</p>\
         <table><tr><th>Provider</th><th>API</th><th>Auth</th></tr>{rows}</table>\
         <h2>Control</h2><ul>\
         <li><code>POST /_sandbox/faults</code> <code>{{\"provider\":\"…\",\"fault\":{{\"kind\":\"rate_limited\",\"retry_after_secs\":2}},\"count\":1}}</code> \
         (kinds: rate_limited, quota_exhausted, server_error, expired_token, malformed_body)</li>\
         <li><code>POST /_sandbox/oauth/failures</code> <code>{{\"provider\":\"…\",\"grant_type\":\"refresh_token\",\"error\":\"invalid_grant\",\"count\":1}}</code> \
         (errors: invalid_grant, server_error, temporarily_unavailable, error_in_200, missing_expires_in, comma_scopes)</li>\
         <li><code>POST /_sandbox/tokens/expire</code> <code>{{\"provider\":\"…\"}}</code></li>\
         <li><code>POST /_sandbox/latency</code> <code>{{\"provider\":\"…\",\"millis\":250}}</code> \
         (delays every answer of that fake; 0 clears it)</li>\
         <li><code>POST /_sandbox/reset</code></li>\
         <li><code>GET /_sandbox/state</code></li>\
         <li><code>GET /_sandbox/catalog</code> (every provider entry with what connecting it takes)</li>\
         <li><code>GET /healthz</code></li></ul>",
        base = escape(base),
        client_id = escape(crate::CLIENT_ID),
        client_secret = escape(crate::CLIENT_SECRET),
    );
    page(StatusCode::OK, "Junction sandbox", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_both_quotes() {
        assert_eq!(
            escape(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }
}
