//! Mixpanel's three HTTP APIs as the provider toolkit runs them.
//!
//! Each lives on hosts of the project's data residency (the `region` setting; the
//! hosts are the `servers` entries of Mixpanel's OpenAPI files):
//!
//! | API | US | EU | India |
//! |---|---|---|---|
//! | [`QUERY_API`] (`/api/query/...`) | `mixpanel.com` | `eu.mixpanel.com` | `in.mixpanel.com` |
//! | [`EXPORT_API`] (`/api/2.0/export`) | `data.mixpanel.com` | `data-eu.mixpanel.com` | `data-in.mixpanel.com` |
//! | [`INGESTION_API`] (`/import`) | `api.mixpanel.com` | `api-eu.mixpanel.com` | `api-in.mixpanel.com` |
//!
//! The Query and Export APIs take the service account in `Authorization: Basic`
//! (`username:secret`) with the project in the `project_id` query parameter. The
//! ingestion API takes the project token as the Basic user name (empty password)
//! when the connection has one, else the service account.
//!
//! Errors: the ingestion API answers `{"code", "error", "status"}`, the Query and
//! Export APIs `{"request", "error"}`; both keep the message in `/error`. The table:
//!
//! - 429: `RateLimited`, waiting as `Retry-After` says (Mixpanel asks for
//!   exponential backoff and usually sends none: the worker backs off itself);
//! - 402: `Invalid`: the project's plan does not include the API or report;
//! - 403: `Unauthorized` without a refresh: the service account is not a member of
//!   the project, or lacks the role (imports need Owner or Admin);
//! - 413: `Invalid`: a batch above Mixpanel's size limit (the action never sends one).
//!
//! Anything else keeps core's generic classification: 401 `Unauthorized`, 408 and 5xx
//! `Unavailable`, any other 4xx `Provider` with Mixpanel's message.

use junction_core::{AdapterError, Connection, Context};
use junction_toolkit::{
    AuthMode, BaseUrl, Client, Envelope, ErrorRule, ErrorTable, HttpApi, RateLimitSignals, Var,
    VarSource,
};

use crate::spec::{self, PROJECT_TOKEN, REGION, SECRET_FIELD, USERNAME_FIELD};

const NO_ACCESS: &str = "the service account may not do this in project {project_id}: it must \
     be a member of the project (imports without a project token need the Owner or Admin \
     role); fix it in Mixpanel's Organization Settings → Service Accounts. Mixpanel said: \
     {message}";

const PLAN: &str = "project {project_id}'s Mixpanel plan does not include this API or \
     report. Mixpanel said: {message}";

const TOO_LARGE: &str = "Mixpanel refused a request as too large: {message}";

/// The error table the three APIs share.
const ERRORS: ErrorTable = ErrorTable {
    envelope: Envelope {
        code: &[],
        message: &["/error"],
        ..Envelope::GENERIC
    },
    rules: &[
        ErrorRule::status(429).rate_limited(),
        ErrorRule::status(402).invalid().message(PLAN),
        ErrorRule::status(403)
            .unauthorized(false)
            .message(NO_ACCESS),
        ErrorRule::status(413).invalid().message(TOO_LARGE),
    ],
    in_success_body: None,
};

/// The service account: `Authorization: Basic username:secret`.
const SERVICE_ACCOUNT: AuthMode = AuthMode::basic(USERNAME_FIELD, SECRET_FIELD);

/// The Query API's hosts.
const QUERY_HOSTS: &[Var] = &[Var {
    name: "host",
    source: VarSource::Region {
        field: REGION.name,
        choices: &[
            ("us", "mixpanel.com"),
            ("eu", "eu.mixpanel.com"),
            ("in", "in.mixpanel.com"),
        ],
        default: "us",
    },
}];

/// The raw export's hosts.
const EXPORT_HOSTS: &[Var] = &[Var {
    name: "host",
    source: VarSource::Region {
        field: REGION.name,
        choices: &[
            ("us", "data.mixpanel.com"),
            ("eu", "data-eu.mixpanel.com"),
            ("in", "data-in.mixpanel.com"),
        ],
        default: "us",
    },
}];

/// The ingestion API's hosts.
const INGESTION_HOSTS: &[Var] = &[Var {
    name: "host",
    source: VarSource::Region {
        field: REGION.name,
        choices: &[
            ("us", "api.mixpanel.com"),
            ("eu", "api-eu.mixpanel.com"),
            ("in", "api-in.mixpanel.com"),
        ],
        default: "us",
    },
}];

/// The Query API (`https://mixpanel.com/api/query`): insights, segmentation,
/// funnels, retention; `funnels/list` verifies a connection.
pub const QUERY_API: HttpApi = HttpApi {
    base: BaseUrl::fixed("https://{host}")
        .with_prefix("api/query")
        .with_vars(QUERY_HOSTS),
    auth: &[SERVICE_ACCOUNT],
    headers: &[("accept", "application/json")],
    // The check is the adapter's own (`funnels/list` with the project id).
    verification: None,
    errors: ERRORS,
    rate_limits: RateLimitSignals::STANDARD,
};

/// The raw export (`https://data.mixpanel.com/api/2.0/export`), answering JSONL.
pub const EXPORT_API: HttpApi = HttpApi {
    base: BaseUrl::fixed("https://{host}")
        .with_prefix("api/2.0")
        .with_vars(EXPORT_HOSTS),
    auth: &[SERVICE_ACCOUNT],
    headers: &[("accept", "text/plain")],
    verification: None,
    errors: ERRORS,
    rate_limits: RateLimitSignals::STANDARD,
};

/// The ingestion API (`https://api.mixpanel.com/import`): the project token as the
/// Basic user name when the connection has one, else the service account.
pub const INGESTION_API: HttpApi = HttpApi {
    base: BaseUrl::fixed("https://{host}").with_vars(INGESTION_HOSTS),
    auth: &[
        AuthMode::basic_key_as_username(PROJECT_TOKEN.name),
        SERVICE_ACCOUNT,
    ],
    headers: &[("accept", "application/json")],
    verification: None,
    errors: ERRORS,
    rate_limits: RateLimitSignals::STANDARD,
};

/// The Query API client of a connection.
pub(crate) fn query<'a>(
    ctx: &'a Context,
    conn: &'a Connection,
) -> Result<Client<'a>, AdapterError> {
    Client::new(ctx, spec::spec(), &QUERY_API, conn)
}

/// The raw export's client of a connection.
pub(crate) fn export<'a>(
    ctx: &'a Context,
    conn: &'a Connection,
) -> Result<Client<'a>, AdapterError> {
    Client::new(ctx, spec::spec(), &EXPORT_API, conn)
}

/// The ingestion client of a connection, under the ingestion budget.
pub(crate) fn ingestion<'a>(
    ctx: &'a Context,
    conn: &'a Connection,
) -> Result<Client<'a>, AdapterError> {
    Client::new(ctx, spec::ingestion_spec(), &INGESTION_API, conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_descriptions_are_sound() {
        for api in [&QUERY_API, &EXPORT_API, &INGESTION_API] {
            assert_eq!(api.validate(), Ok(()));
        }
    }
}
