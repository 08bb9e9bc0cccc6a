//! The weekly KPI report: once a week, on the workspace's weekday at its hour (in its
//! time zone), an email to its recipients with each metric's total for the last whole
//! week against the week before, per integration. Weeks start on the workspace's
//! first day of the week (its KPI calendar: Monday, Sunday or Saturday), as its
//! `/v1/kpis` weeks do.
//!
//! The notice sweep ([`super::sweep`]) looks at every enabled report on each pass. A
//! report is due from its weekday and hour until a day later (a worker that was down
//! at the hour still sends it when it is back the same day; later, that week is
//! skipped). It is recorded once per workspace and ISO week, whatever the number of
//! workers: its notification's dedupe key is `weekly_report:{workspace}:{week}`
//! (`2026-W49`: the ISO week of the last day of the week it covers), unique in the
//! notifications table, so two
//! workers racing record one report and one email.
//!
//! The figures come from [`week_figures`], the one place that turns the KPI series
//! into a week's totals.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc, Weekday};
use junction_core::{
    WorkspaceId,
    spec::{MetricKind, ProviderSpec},
};
use junction_store::{
    StoreError,
    models::{Integration, NotificationKind, WeeklyReportSettings},
    repo::{
        self,
        weekly_report_settings::{NewWeeklyReportSettings, ReportSchedule},
    },
};
use uuid::Uuid;

use super::{
    Draft, ReportLine, WeeklyReportDetails, calendar,
    calendar::Week,
    emails::{self, KpiReportRow, WeeklyKpiReport},
    record,
    settings::{DEFAULT_TIME_ZONE, check_hour, check_time_zone},
};
use crate::{
    App, Error, Result,
    kpis::Calendar,
    recipients::{check_addresses, problem},
};

/// How long after its weekday and hour a report may still go out.
pub const CATCH_UP: TimeDelta = TimeDelta::days(1);
/// The most metrics one report lists.
pub const MAX_METRICS: usize = 50;
/// The hour of a report that names none.
pub const DEFAULT_HOUR: i16 = 8;

/// The report's settings as a client sends them (a PUT: what is left out takes its
/// default).
#[derive(Debug, Clone, Default)]
pub struct WeeklyReportInput {
    /// Default `false`.
    pub enabled: Option<bool>,
    /// 1-50 addresses when enabled.
    pub recipients: Option<Vec<String>>,
    /// `monday` (default) ... `sunday`.
    pub weekday: Option<String>,
    /// 0-23 (default 8).
    pub hour: Option<i64>,
    /// An IANA time zone name (default `UTC`).
    pub time_zone: Option<String>,
    /// Metrics the providers' streams produce; empty (default): every metric of the
    /// workspace's integrations.
    pub metrics: Option<Vec<String>>,
}

/// A workspace's weekly report settings as they apply now.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveWeeklyReport {
    /// Whether the workspace saved settings (if not, the report is off).
    pub configured: bool,
    pub enabled: bool,
    pub recipients: Vec<String>,
    pub weekday: Weekday,
    pub hour: i16,
    pub time_zone: String,
    pub metrics: Vec<String>,
    /// When the next report goes out (enabled reports only).
    pub next_send_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The report as it would go out now.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportPreview {
    pub subject: String,
    pub html: String,
    pub text: String,
    /// The week it covers.
    pub week_start: NaiveDate,
    pub week_end: NaiveDate,
    pub recipients: Vec<String>,
    /// The metrics it reports (the workspace's own when the settings name none).
    pub metrics: Vec<String>,
}

/// The metrics a provider's streams produce.
fn provider_metrics(spec: &ProviderSpec) -> impl Iterator<Item = &str> {
    spec.streams
        .iter()
        .flat_map(|stream| stream.metrics.iter().map(|metric| metric.name))
}

/// The week's figures of `metrics`: for each metric and integration that has data in
/// `week` or the week before, the week's value and the previous week's, aggregated
/// by the metric's kind as `/v1/kpis` totals are ([`crate::aggregate`]: a sum adds the
/// days, a gauge reads the last day, a ratio divides its summed components), and a
/// money metric once per currency (its line names the currency). A reported week
/// without data is 0 for a sum (nothing counted) but no value for a gauge or ratio
/// (there is no level or quotient to show; the email prints "–"), as is a previous
/// week without data.
pub async fn week_figures(
    app: &App,
    workspace_id: WorkspaceId,
    metrics: &[String],
    week: Week,
) -> Result<Vec<ReportLine>> {
    let previous = week.previous();
    let integrations = workspace_integrations(app, workspace_id).await?;
    let mut tx = app.begin(workspace_id).await?;
    let mut lines = Vec::new();
    for metric in metrics {
        for integration in &integrations {
            let Some(spec) = app
                .registry()
                .get(&integration.provider)
                .and_then(|adapter| adapter.spec().metric(metric).copied())
            else {
                continue;
            };
            let id = Some(integration.id);
            let this = app
                .window_totals(tx.conn(), metric, &spec, id, week.start, week.end)
                .await?;
            let before = app
                .window_totals(tx.conn(), metric, &spec, id, previous.start, previous.end)
                .await?;
            let currencies: BTreeSet<Option<String>> = this
                .iter()
                .chain(&before)
                .map(|(currency, _)| currency.clone())
                .collect();
            for currency in currencies {
                let of = |figures: &[(Option<String>, f64)]| {
                    figures
                        .iter()
                        .find(|(c, _)| *c == currency)
                        .map(|(_, value)| *value)
                };
                let (mut value, before) = (of(&this), of(&before));
                if spec.kind == MetricKind::Sum {
                    value = value.or(Some(0.0));
                }
                lines.push(ReportLine {
                    integration: integration.display_name.clone(),
                    metric: match &currency {
                        Some(code) => format!("{metric} ({code})"),
                        None => metric.clone(),
                    },
                    value,
                    previous: before,
                });
            }
        }
    }
    tx.commit().await?;
    lines.sort_by(|a, b| a.integration.cmp(&b.integration));
    Ok(lines)
}

/// Every integration of the workspace, a page at a time.
async fn workspace_integrations(app: &App, workspace_id: WorkspaceId) -> Result<Vec<Integration>> {
    let mut all = Vec::new();
    let mut tx = app.begin(workspace_id).await?;
    loop {
        let after = all
            .last()
            .map(|last: &Integration| (last.created_at, last.id));
        let page =
            repo::integrations::list(tx.conn(), after, &Default::default(), repo::MAX_PAGE).await?;
        let full = page.len() >= repo::MAX_PAGE as usize;
        all.extend(page);
        if !full {
            break;
        }
    }
    tx.commit().await?;
    Ok(all)
}

impl App {
    /// The workspace's weekly report settings as they apply now.
    pub async fn weekly_report(&self, workspace_id: WorkspaceId) -> Result<EffectiveWeeklyReport> {
        let mut tx = self.begin(workspace_id).await?;
        let saved = repo::weekly_report_settings::get(tx.conn()).await?;
        tx.commit().await?;
        Ok(self.effective_report(saved))
    }

    /// Replaces the workspace's weekly report settings (every field checked, all
    /// problems at once; metrics against the providers' streams).
    pub async fn put_weekly_report(
        &self,
        workspace_id: WorkspaceId,
        input: WeeklyReportInput,
    ) -> Result<EffectiveWeeklyReport> {
        let new = input.check(self)?;
        let mut tx = self.begin(workspace_id).await?;
        let saved = repo::weekly_report_settings::put(tx.conn(), workspace_id, &new).await?;
        tx.commit().await?;
        Ok(self.effective_report(Some(saved)))
    }

    /// Renders the report a send today would mail: the last whole week before today
    /// (in the report's time zone) against the week before, with the saved metrics
    /// (or every metric of the workspace's integrations), enabled or not.
    pub async fn preview_weekly_report(&self, workspace_id: WorkspaceId) -> Result<ReportPreview> {
        let settings = self.weekly_report(workspace_id).await?;
        let zone = calendar::time_zone(&settings.time_zone).unwrap_or(chrono_tz::UTC);
        let mut tx = self.begin(workspace_id).await?;
        let workspace = repo::workspaces::get(tx.conn(), workspace_id).await?;
        tx.commit().await?;
        let week = Week::before(
            self.now().with_timezone(&zone).date_naive(),
            Calendar::of(&workspace).week_start,
        );
        let metrics = self.report_metrics(workspace_id, &settings.metrics).await?;
        let lines = week_figures(self, workspace_id, &metrics, week).await?;
        let email = emails::weekly_kpi_report(&report_email(&workspace.name, week, lines))
            .map_err(Error::internal)?;
        Ok(ReportPreview {
            subject: email.subject,
            html: email.html,
            text: email.text,
            week_start: week.start,
            week_end: week.end,
            recipients: settings.recipients,
            metrics,
        })
    }

    /// Records the workspace's report when it is due at `now` (see the module docs):
    /// the new notification's id, or `None` when it is not due or was recorded
    /// before.
    pub async fn send_weekly_report_if_due(
        &self,
        schedule: &ReportSchedule,
        now: DateTime<Utc>,
    ) -> Result<Option<Uuid>> {
        let (Some(zone), Some(weekday)) = (
            calendar::time_zone(&schedule.time_zone),
            calendar::weekday_from_iso(schedule.weekday),
        ) else {
            tracing::warn!(workspace_id = %schedule.workspace_id, "unreadable weekly report schedule; skipped");
            return Ok(None);
        };
        let hour = u32::try_from(schedule.hour).unwrap_or(0);
        let due = calendar::latest_weekly(zone, weekday, hour, now);
        if now - due.at >= CATCH_UP {
            return Ok(None);
        }
        let workspace_id = WorkspaceId(schedule.workspace_id);
        let mut tx = self.begin(workspace_id).await?;
        let workspace = repo::workspaces::get(tx.conn(), workspace_id).await?;
        let week = Week::before(due.day, Calendar::of(&workspace).week_start);
        let dedupe_key = format!("weekly_report:{workspace_id}:{}", week.label());
        let sent = repo::notifications::exists(tx.conn(), &dedupe_key).await?;
        let settings = repo::weekly_report_settings::get(tx.conn()).await?;
        tx.commit().await?;
        // An enabled report with nobody to mail waits until it has recipients.
        let Some(settings) = settings.filter(|s| s.enabled && !s.recipients.is_empty() && !sent)
        else {
            return Ok(None);
        };
        let metrics = self.report_metrics(workspace_id, &settings.metrics).await?;
        let lines = week_figures(self, workspace_id, &metrics, week).await?;
        let details = WeeklyReportDetails {
            week_start: week.start,
            week_end: week.end,
            lines,
        };
        let draft = Draft {
            kind: NotificationKind::WeeklyReport,
            dedupe_key,
            alert_rule_id: None,
            integration_id: None,
            recipients: settings.recipients,
            details: serde_json::to_value(&details)
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
        };
        let mut tx = self.begin(workspace_id).await?;
        let id = record(tx.conn(), workspace_id, &workspace.name, draft).await?;
        tx.commit().await?;
        if let Some(id) = id {
            tracing::info!(%workspace_id, week = %week.label(), notification_id = %id, "weekly report recorded");
        }
        Ok(id)
    }

    /// The metrics a report lists: the saved ones, or every metric the providers of
    /// the workspace's integrations produce.
    async fn report_metrics(
        &self,
        workspace_id: WorkspaceId,
        saved: &[String],
    ) -> Result<Vec<String>> {
        if !saved.is_empty() {
            return Ok(saved.to_vec());
        }
        let integrations = workspace_integrations(self, workspace_id).await?;
        let providers: BTreeSet<&str> = integrations.iter().map(|i| i.provider.as_str()).collect();
        let mut metrics = Vec::new();
        for provider in providers {
            if let Some(adapter) = self.registry().get(provider) {
                for metric in provider_metrics(adapter.spec()) {
                    if !metrics.iter().any(|m| m == metric) {
                        metrics.push(metric.to_owned());
                    }
                }
            }
        }
        Ok(metrics)
    }

    fn effective_report(&self, saved: Option<WeeklyReportSettings>) -> EffectiveWeeklyReport {
        let Some(saved) = saved else {
            return EffectiveWeeklyReport {
                configured: false,
                enabled: false,
                recipients: Vec::new(),
                weekday: Weekday::Mon,
                hour: DEFAULT_HOUR,
                time_zone: DEFAULT_TIME_ZONE.to_owned(),
                metrics: Vec::new(),
                next_send_at: None,
                updated_at: None,
            };
        };
        let weekday = calendar::weekday_from_iso(saved.weekday).unwrap_or(Weekday::Mon);
        let next_send_at = match (saved.enabled, calendar::time_zone(&saved.time_zone)) {
            (true, Some(zone)) => Some(
                calendar::next_weekly(
                    zone,
                    weekday,
                    u32::try_from(saved.hour).unwrap_or(0),
                    self.now(),
                )
                .at,
            ),
            _ => None,
        };
        EffectiveWeeklyReport {
            configured: true,
            enabled: saved.enabled,
            recipients: saved.recipients,
            weekday,
            hour: saved.hour,
            time_zone: saved.time_zone,
            metrics: saved.metrics,
            next_send_at,
            updated_at: Some(saved.updated_at),
        }
    }
}

/// The report email's input.
fn report_email(workspace: &str, week: Week, lines: Vec<ReportLine>) -> WeeklyKpiReport {
    WeeklyKpiReport {
        workspace: workspace.to_owned(),
        week_start: week.start,
        week_end: week.end,
        rows: lines
            .into_iter()
            .map(|line| KpiReportRow {
                integration: line.integration,
                metric: line.metric,
                value: line.value,
                previous: line.previous,
            })
            .collect(),
        dashboard_url: None,
    }
}

impl WeeklyReportInput {
    /// Every field checked, all problems at once.
    fn check(&self, app: &App) -> Result<NewWeeklyReportSettings> {
        let mut errors = Vec::new();
        let enabled = self.enabled.unwrap_or(false);
        // An enabled report may have no recipients yet: it is sent once it has some.
        let recipients = check_addresses(
            "recipients",
            self.recipients.as_deref().unwrap_or_default(),
            0,
            &mut errors,
        );
        let weekday = match self.weekday.as_deref() {
            None => Some(Weekday::Mon),
            Some(name) => {
                let day = calendar::weekday(name);
                if day.is_none() {
                    errors.push(problem(
                        "weekday",
                        &format!("must be one of {}", calendar::WEEKDAYS.join(", ")),
                    ));
                }
                day
            }
        };
        let hour = check_hour("hour", self.hour, DEFAULT_HOUR, &mut errors);
        let time_zone = check_time_zone("time_zone", self.time_zone.as_deref(), &mut errors);
        let metrics = self.check_metrics(app, &mut errors);
        match (recipients, weekday, hour, time_zone, metrics) {
            (Some(recipients), Some(weekday), Some(hour), Some(time_zone), Some(metrics))
                if errors.is_empty() =>
            {
                Ok(NewWeeklyReportSettings {
                    enabled,
                    recipients,
                    weekday: calendar::iso_number(weekday),
                    hour,
                    time_zone,
                    metrics,
                })
            }
            _ => Err(Error::validation(errors)),
        }
    }

    /// Up to [`MAX_METRICS`] metrics, each produced by a stream of a provider of
    /// this build; trimmed, without repeats.
    fn check_metrics(
        &self,
        app: &App,
        errors: &mut Vec<junction_core::spec::FieldError>,
    ) -> Option<Vec<String>> {
        let asked = self.metrics.as_deref().unwrap_or_default();
        if asked.len() > MAX_METRICS {
            errors.push(problem(
                "metrics",
                &format!("must hold at most {MAX_METRICS} metrics"),
            ));
            return None;
        }
        let known: BTreeSet<&str> = app.registry().specs().flat_map(provider_metrics).collect();
        let mut metrics = Vec::new();
        let mut valid = true;
        for (i, metric) in asked.iter().enumerate() {
            let metric = metric.trim();
            if !known.contains(metric) {
                errors.push(problem(
                    &format!("metrics[{i}]"),
                    "is not a metric of any provider (GET /v1/metrics lists them)",
                ));
                valid = false;
            } else if !metrics.iter().any(|m| m == metric) {
                metrics.push(metric.to_owned());
            }
        }
        valid.then_some(metrics)
    }
}
