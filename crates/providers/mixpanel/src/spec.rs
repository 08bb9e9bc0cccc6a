//! The provider's static description: how a connection authenticates (a service
//! account, the project it reads, the project token imports may use), the data
//! residency of the project, which reports a sync reads, its streams and action,
//! and the request budgets Junction shares across connections.

use std::{sync::OnceLock, time::Duration};

use junction_core::spec::{AuthSpec, Category, ConfigField, ProviderSpec, RateBudget};
use junction_toolkit::{EnumSetting, IntSetting, ListSetting, StringSetting, described};

/// The provider id: the registry's key and the sandbox's mount point (`/mixpanel/`).
pub const PROVIDER_ID: &str = "mixpanel";

/// The limiter key of Mixpanel's ingestion API, metered apart from its queries (see
/// [`ingestion_spec`]).
pub const INGESTION_BUDGET: &str = "mixpanel-ingestion";

/// The streams (described in `streams.json`).
pub const INSIGHTS: &str = "insights";
pub const SEGMENTATION: &str = "segmentation";
pub const FUNNELS: &str = "funnels";
pub const RETENTION: &str = "retention";
pub const EVENTS: &str = "events";

/// The KPIs (declared in `streams.json`).
pub const INSIGHTS_VALUE: &str = "insights_value";
pub const EVENT_COUNT: &str = "event_count";
pub const FUNNEL_ENTERED: &str = "funnel_entered";
pub const FUNNEL_COMPLETED: &str = "funnel_completed";
pub const FUNNEL_STEP_USERS: &str = "funnel_step_users";
pub const RETENTION_COHORT_USERS: &str = "retention_cohort_users";
pub const RETENTION_ELIGIBLE_USERS: &str = "retention_eligible_users";
pub const RETAINED_USERS: &str = "retained_users";

/// The action (described in `actions.json`).
pub const IMPORT_EVENTS: &str = "import_events";

/// The service account's user name (not secret) and secret: HTTP Basic.
pub const USERNAME_FIELD: &str = "username";
pub const SECRET_FIELD: &str = "secret";

/// The project the Query and Export APIs read and imports go to.
pub const PROJECT_ID: StringSetting = StringSetting::new(
    "project_id",
    "Project ID",
    "The numeric id of the Mixpanel project (Project Settings → Overview). The service \
     account must be a member of it.",
)
.pattern("[0-9]{1,20}")
.mismatch("must be the numeric project id (Project Settings → Overview)");

/// The project token: how imports authenticate when given (see `actions.json`).
pub const PROJECT_TOKEN: StringSetting = StringSetting::new(
    "project_token",
    "Project token",
    "The project's token (Project Settings → Overview → Access Keys). When set, \
     imports authenticate with it, so the service account needs only read access; \
     without it, imports use the service account, which must then be an Owner or Admin.",
)
.pattern("[A-Za-z0-9]{8,64}")
.mismatch("must be the project token: letters and digits (Project Settings → Access Keys)")
.optional()
.secret();

/// Where the project's data lives: its hosts are the region's.
pub const REGION: EnumSetting = EnumSetting {
    name: "region",
    label: "Data residency",
    help: "Where the project's data lives: us (mixpanel.com), eu (EU Data Residency) or \
           in (India Data Residency). A project answers only on its own region's hosts.",
    choices: &["us", "eu", "in"],
    default: Some("us"),
};

/// The saved Insights reports the `insights` stream reads, by bookmark id.
pub const BOOKMARK_IDS: ListSetting = ListSetting::new(
    "bookmark_ids",
    "Insights reports",
    "Comma-separated bookmark ids of saved Insights reports (the number after \
     `report-` in a report's URL). Each is read as Mixpanel computes it.",
)
.pattern("[0-9]{1,20}( *, *[0-9]{1,20})*")
.mismatch("must be bookmark ids (numbers) separated by commas")
.at_most(20, "reports");

/// The events the `segmentation` stream counts per day.
pub const EVENT_NAMES: ListSetting = ListSetting::new(
    "events",
    "Events to count",
    "Comma-separated event names whose daily counts become KPIs (at most 20; names \
     with commas cannot be listed).",
)
.pattern("[^,\\n]{1,255}( *, *[^,\\n]{1,255})*")
.mismatch("must be event names separated by commas")
.at_most(20, "events");

/// The saved funnels the `funnels` stream reads.
pub const FUNNEL_IDS: ListSetting = ListSetting::new(
    "funnel_ids",
    "Funnels",
    "Comma-separated ids of saved funnels (the check confirms each exists).",
)
.pattern("[0-9]{1,20}( *, *[0-9]{1,20})*")
.mismatch("must be funnel ids (numbers) separated by commas")
.at_most(20, "funnels");

/// The event that starts a retention cohort; unset: recurring retention.
pub const RETENTION_BORN_EVENT: StringSetting = StringSetting::new(
    "retention_born_event",
    "Retention: first event",
    "The event that puts a user in a cohort (first-time, \"birth\" retention). Unset: \
     recurring retention of users who did anything.",
)
.pattern("[^\\n]{1,255}")
.optional();

/// The event that counts as coming back; unset: any event.
pub const RETENTION_EVENT: StringSetting = StringSetting::new(
    "retention_event",
    "Retention: returning event",
    "The event that counts as coming back. Unset: any event.",
)
.pattern("[^\\n]{1,255}")
.optional();

/// How many days after its first one a cohort is followed.
pub const RETENTION_DAYS: IntSetting = IntSetting::new(
    "retention_days",
    "Retention days",
    "How many days after joining each cohort is followed (default 7, at most 90).",
)
.range(1, 90)
.default(7)
.unit("days");

/// The events the raw export reads; empty: every event.
pub const EXPORT_EVENTS: ListSetting = ListSetting::new(
    "export_events",
    "Events to export",
    "Comma-separated event names the `events` stream exports. Empty: every event.",
)
.pattern("[^,\\n]{1,255}( *, *[^,\\n]{1,255})*")
.mismatch("must be event names separated by commas")
.at_most(100, "events");

/// How far back a first sync reads.
pub const LOOKBACK: IntSetting = IntSetting::lookback_days(
    30,
    365,
    "How many days back the first sync reads (default 30, at most 365). Each day of \
     the raw export is one request of Mixpanel's 60 an hour.",
);

/// Mixpanel's Query API and raw export each allow a project 60 queries an hour (the
/// export also 3 a second and 100 at once; the Query API 5 at once). Both limits are
/// per project while this budget is shared by every connection, which makes it
/// conservative — the tightest documented limit of one project.
const QUERIES_PER_HOUR: u32 = 60;

/// The Query API's most concurrent queries.
const CONCURRENT_QUERIES: u32 = 5;

/// Imports: Mixpanel takes 2 GB of uncompressed JSON a minute per project (about
/// 1,000 full 2 MB batches); this budget keeps well inside it.
const IMPORTS_PER_MINUTE: u32 = 300;

/// Concurrent imports.
const CONCURRENT_IMPORTS: u32 = 10;

/// The provider's spec, built once.
pub fn spec() -> &'static ProviderSpec {
    static SPEC: OnceLock<ProviderSpec> = OnceLock::new();
    SPEC.get_or_init(build)
}

/// The spec the ingestion client runs under: Mixpanel's own, but with the budget of
/// the ingestion API (keyed [`INGESTION_BUDGET`]), which Mixpanel meters apart from
/// its queries — an import must not wait behind the Query API's 60 an hour.
pub fn ingestion_spec() -> &'static ProviderSpec {
    static SPEC: OnceLock<ProviderSpec> = OnceLock::new();
    SPEC.get_or_init(|| ProviderSpec {
        id: INGESTION_BUDGET,
        rate_limit: RateBudget {
            requests: IMPORTS_PER_MINUTE,
            per: Duration::from_secs(60),
            concurrency: Some(CONCURRENT_IMPORTS),
        },
        ..build()
    })
}

fn build() -> ProviderSpec {
    ProviderSpec {
        id: PROVIDER_ID,
        name: "Mixpanel",
        category: Category::ProductAnalytics,
        auth: AuthSpec::Basic {
            username: ConfigField::string(
                USERNAME_FIELD,
                "Service account user name",
                "The user name of a Mixpanel service account (Organization Settings → \
                 Service Accounts) that is a member of the project.",
            ),
            password: ConfigField::secret(
                SECRET_FIELD,
                "Service account secret",
                "That service account's secret, shown once when it was created.",
            ),
        },
        config: vec![
            PROJECT_ID.field(),
            REGION.field(),
            PROJECT_TOKEN.field(),
            BOOKMARK_IDS.field(),
            EVENT_NAMES.field(),
            FUNNEL_IDS.field(),
            RETENTION_BORN_EVENT.field(),
            RETENTION_EVENT.field(),
            RETENTION_DAYS.field(),
            EXPORT_EVENTS.field(),
            LOOKBACK.field(),
        ],
        // The streams are data (`streams.json`, the shape GET /v1/providers/{id}
        // serves), with each metric's kind and unit; the action likewise.
        streams: described::streams(include_str!("streams.json"), PROVIDER_ID),
        actions: described::actions(include_str!("actions.json"), PROVIDER_ID),
        webhook: None,
        rate_limit: RateBudget {
            requests: QUERIES_PER_HOUR,
            per: Duration::from_secs(60 * 60),
            concurrency: Some(CONCURRENT_QUERIES),
        },
        docs_url: "https://developer.mixpanel.com/reference/overview",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_reads_its_data_files_and_its_metrics_are_sound() {
        let spec = spec();
        let streams: Vec<_> = spec.streams.iter().map(|s| s.name).collect();
        assert_eq!(
            streams,
            [INSIGHTS, SEGMENTATION, FUNNELS, RETENTION, EVENTS]
        );
        assert_eq!(spec.actions.len(), 1);
        assert_eq!(spec.actions[0].name, IMPORT_EVENTS);
        assert_eq!(spec.metric_problems(), Vec::<String>::new());
        let ingestion = ingestion_spec();
        assert_eq!(ingestion.id, INGESTION_BUDGET);
        assert_eq!(ingestion.streams.len(), spec.streams.len());
    }
}
