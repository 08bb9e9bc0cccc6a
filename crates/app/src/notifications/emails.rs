//! The emails Junction sends about itself — a KPI alert, a sync-failure alert, the
//! weekly KPI report and the daily digest of notices — and on a workspace's behalf —
//! a payment email to its customer or its own people — rendered from typed input with askama templates
//! (`crates/app/templates/email/`) into a subject, an HTML body and a plain-text
//! body, ready for any email-capable provider ([`junction_core::EmailSender`]).
//!
//! Every value that comes from users or providers (workspace and integration names,
//! metric names, error messages, links) is untrusted: askama escapes it in the HTML;
//! in the subject and the plain text it is flattened to one line (no control
//! characters, so a name cannot forge extra lines or headers); and links are only
//! rendered when they are plain `http(s)` URLs (never `javascript:`).

use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use junction_core::{NoticeAudience, OutgoingEmail, PaymentNotice, PaymentOutcome};

/// Longest subject, in characters (mail clients cut long subjects anyway).
const MAX_SUBJECT_CHARS: usize = 150;

/// A rendered email, not addressed yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub html: String,
    pub text: String,
    /// What kind of email it is (`kpi_alert`, ...), a tag where the provider has tags.
    pub category: &'static str,
}

impl RenderedEmail {
    /// The email to send to `to`.
    pub fn addressed(self, to: Vec<String>) -> OutgoingEmail {
        OutgoingEmail {
            to,
            subject: self.subject,
            html: self.html,
            text: self.text,
            category: self.category.to_owned(),
        }
    }
}

/// Which side of its threshold a KPI crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Above,
    Below,
}

impl Direction {
    fn word(self) -> &'static str {
        match self {
            Direction::Above => "above",
            Direction::Below => "below",
        }
    }
}

/// A KPI crossed an alert rule's threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiAlert {
    pub workspace: String,
    pub rule: String,
    pub integration: String,
    pub metric: String,
    pub date: NaiveDate,
    pub value: f64,
    pub threshold: f64,
    pub direction: Direction,
    /// Where to look at the series in the dashboard.
    pub dashboard_url: Option<String>,
}

/// What an operational notice reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A sync gave up (dead-lettered).
    SyncFailed,
    /// The provider no longer accepts the integration's grant.
    NeedsReauth,
    /// A job of another queue gave up: an action, a provider webhook, or an
    /// outbound webhook delivery to the client app.
    DeadLetter,
}

impl Failure {
    /// The notice's headline, in its subject and digest line.
    pub fn headline(self) -> &'static str {
        match self {
            Failure::SyncFailed => "Sync failed",
            Failure::NeedsReauth => "Needs a reconnect",
            Failure::DeadLetter => "Dead letter",
        }
    }

    /// The template's name for it.
    fn key(self) -> &'static str {
        match self {
            Failure::SyncFailed => "sync_failed",
            Failure::NeedsReauth => "needs_reauth",
            Failure::DeadLetter => "dead_letter",
        }
    }
}

/// A sync gave up (dead-lettered), an integration needs attention, or a job was
/// dead-lettered.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncFailureAlert {
    pub failure: Failure,
    pub workspace: String,
    pub integration: String,
    pub provider: String,
    /// The stream that failed, when one did.
    pub stream: Option<String>,
    /// The stable Junction error code (`provider_unauthorized`, ...).
    pub error_code: String,
    pub error_message: String,
    pub failed_at: DateTime<Utc>,
    pub attempts: u32,
    pub dashboard_url: Option<String>,
}

/// One line of the weekly report: a metric's total for the week and the week before.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiReportRow {
    pub integration: String,
    pub metric: String,
    /// `None`: no data in the week (a gauge or ratio), printed "–".
    pub value: Option<f64>,
    pub previous: Option<f64>,
}

/// The weekly KPI report of a workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct WeeklyKpiReport {
    pub workspace: String,
    /// First and last day of the week reported (inclusive).
    pub week_start: NaiveDate,
    pub week_end: NaiveDate,
    pub rows: Vec<KpiReportRow>,
    pub dashboard_url: Option<String>,
}

/// One notice of a daily digest.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestLine {
    /// What happened (`Sync failed`, `Needs a reconnect`, `Dead letter`).
    pub what: String,
    pub integration: String,
    pub provider: String,
    pub stream: Option<String>,
    pub error_code: String,
    pub error_message: String,
    pub at: DateTime<Utc>,
}

/// The notices of a workspace gathered over a day.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyDigest {
    pub workspace: String,
    /// The local day the digest went out on.
    pub day: NaiveDate,
    pub lines: Vec<DigestLine>,
    pub dashboard_url: Option<String>,
}

/// The HTML and text of one email with a table of labelled values.
#[derive(Template)]
#[template(path = "email/kpi_alert.html")]
struct KpiAlertHtml<'a> {
    title: String,
    rule: &'a str,
    workspace: &'a str,
    rows: Vec<(&'static str, String)>,
    link: Option<String>,
    link_label: &'static str,
}

#[derive(Template)]
#[template(path = "email/kpi_alert.txt", escape = "none")]
struct KpiAlertText {
    rule: String,
    workspace: String,
    rows: Vec<(&'static str, String)>,
    link: Option<String>,
}

#[derive(Template)]
#[template(path = "email/sync_failure.html")]
struct SyncFailureHtml<'a> {
    title: &'static str,
    what: &'static str,
    integration: &'a str,
    workspace: &'a str,
    rows: Vec<(&'static str, String)>,
    link: Option<String>,
    link_label: &'static str,
}

#[derive(Template)]
#[template(path = "email/sync_failure.txt", escape = "none")]
struct SyncFailureText {
    what: &'static str,
    integration: String,
    workspace: String,
    rows: Vec<(&'static str, String)>,
    link: Option<String>,
}

/// A report line with its numbers formatted.
struct ReportLine {
    integration: String,
    metric: String,
    value: String,
    previous: String,
    change: String,
}

#[derive(Template)]
#[template(path = "email/weekly_report.html")]
struct WeeklyReportHtml<'a> {
    title: String,
    workspace: &'a str,
    week: &'a str,
    lines: Vec<ReportLine>,
    link: Option<String>,
    link_label: &'static str,
}

#[derive(Template)]
#[template(path = "email/weekly_report.txt", escape = "none")]
struct WeeklyReportText<'a> {
    workspace: String,
    week: &'a str,
    lines: Vec<ReportLine>,
    link: Option<String>,
}

/// A digest line with its values on one line.
struct DigestRow {
    at: String,
    what: String,
    integration: String,
    stream: String,
    error_code: String,
    message: String,
}

#[derive(Template)]
#[template(path = "email/daily_digest.html")]
struct DailyDigestHtml<'a> {
    title: String,
    workspace: &'a str,
    day: String,
    rows: Vec<DigestRow>,
    link: Option<String>,
    link_label: &'static str,
}

#[derive(Template)]
#[template(path = "email/daily_digest.txt", escape = "none")]
struct DailyDigestText {
    workspace: String,
    day: String,
    rows: Vec<DigestRow>,
    link: Option<String>,
}

#[derive(Template)]
#[template(path = "email/payment.html")]
struct PaymentHtml {
    title: String,
    intro: String,
    rows: Vec<(&'static str, String)>,
    closing: &'static str,
    link: Option<String>,
    link_label: &'static str,
}

#[derive(Template)]
#[template(path = "email/payment.txt", escape = "none")]
struct PaymentText {
    intro: String,
    rows: Vec<(&'static str, String)>,
    closing: &'static str,
    link: Option<String>,
}

/// Rendering failed (a template bug: the inputs are plain values).
#[derive(Debug, thiserror::Error)]
#[error("the {0} email could not be rendered: {1}")]
pub struct RenderError(&'static str, askama::Error);

/// Renders a KPI alert.
pub fn kpi_alert(alert: &KpiAlert) -> Result<RenderedEmail, RenderError> {
    let fail = |e| RenderError("kpi_alert", e);
    let date = alert.date.format("%Y-%m-%d").to_string();
    let value = format_number(alert.value);
    let threshold = format_number(alert.threshold);
    let direction = alert.direction.word();
    let rows = vec![
        ("Integration", one_line(&alert.integration)),
        ("Metric", one_line(&alert.metric)),
        ("Day", date.clone()),
        ("Value", value.clone()),
        ("Threshold", format!("{direction} {threshold}")),
    ];
    let link = safe_url(alert.dashboard_url.as_deref());
    let html = KpiAlertHtml {
        title: one_line(&format!("KPI alert: {}", alert.metric)),
        rule: &alert.rule,
        workspace: &alert.workspace,
        rows: rows.clone(),
        link: link.clone(),
        link_label: "Open the dashboard",
    }
    .render()
    .map_err(fail)?;
    let text = KpiAlertText {
        rule: one_line(&alert.rule),
        workspace: one_line(&alert.workspace),
        rows,
        link,
    }
    .render()
    .map_err(fail)?;
    Ok(RenderedEmail {
        subject: subject(&format!(
            "[{}] {} is {direction} {threshold} ({value} on {date})",
            alert.workspace, alert.metric
        )),
        html,
        text,
        category: "kpi_alert",
    })
}

/// Renders a sync-failure alert.
pub fn sync_failure_alert(alert: &SyncFailureAlert) -> Result<RenderedEmail, RenderError> {
    let fail = |e| RenderError("sync_failure_alert", e);
    let rows = vec![
        ("Provider", one_line(&alert.provider)),
        (
            "Stream",
            one_line(alert.stream.as_deref().unwrap_or("(all streams)")),
        ),
        ("Error", one_line(&alert.error_code)),
        ("Message", one_line(&alert.error_message)),
        (
            "Failed at",
            alert.failed_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
        ("Attempts", alert.attempts.to_string()),
    ];
    let link = safe_url(alert.dashboard_url.as_deref());
    let html = SyncFailureHtml {
        title: alert.failure.headline(),
        what: alert.failure.key(),
        integration: &alert.integration,
        workspace: &alert.workspace,
        rows: rows.clone(),
        link: link.clone(),
        link_label: "Open the integration",
    }
    .render()
    .map_err(fail)?;
    let text = SyncFailureText {
        what: alert.failure.key(),
        integration: one_line(&alert.integration),
        workspace: one_line(&alert.workspace),
        rows,
        link,
    }
    .render()
    .map_err(fail)?;
    Ok(RenderedEmail {
        subject: subject(&format!(
            "[{}] {}: {} ({})",
            alert.workspace,
            alert.failure.headline(),
            alert.integration,
            alert.error_code
        )),
        html,
        text,
        category: "sync_failure_alert",
    })
}

/// Renders a payment email of `workspace` (the business the customer paid): to the
/// customer, a receipt, a failed payment to retry, or a refund; to the business's
/// own people, the same facts with the customer named.
pub fn payment_notice(
    workspace: &str,
    notice: &PaymentNotice,
) -> Result<RenderedEmail, RenderError> {
    let fail = |e| RenderError("payment_notice", e);
    let business = one_line(workspace);
    let money = one_line(&format!("{} {}", notice.amount, notice.currency));
    let customer = notice.customer_name.as_deref().map(one_line);
    let team = notice.audience == NoticeAudience::Team;
    let (title, intro, closing) = match (notice.outcome, team) {
        (PaymentOutcome::Succeeded, false) => (
            format!("Payment received: {money}"),
            match &customer {
                Some(name) => {
                    format!("Thank you, {name}. {business} received your payment of {money}.")
                }
                None => format!("Thank you. {business} received your payment of {money}."),
            },
            "Keep this email for your records.",
        ),
        (PaymentOutcome::Failed, false) => (
            format!("Your payment of {money} did not go through"),
            format!("Your payment of {money} to {business} did not go through."),
            "Nothing was charged. Please try again, or use another payment method.",
        ),
        (PaymentOutcome::Refunded, false) => (
            format!("Refund of {money}"),
            format!("{business} refunded {money} to you."),
            "Refunds usually reach your account within 5 to 10 business days.",
        ),
        (outcome, true) => {
            let what = match outcome {
                PaymentOutcome::Succeeded => "Payment succeeded",
                PaymentOutcome::Failed => "Payment failed",
                PaymentOutcome::Refunded => "Payment refunded",
            };
            let who = customer.clone().unwrap_or_else(|| "a customer".to_owned());
            (
                format!("{what}: {money}"),
                format!("{what}: {money} from {who}."),
                "Reported by the payment provider's webhook.",
            )
        }
    };
    let mut rows = vec![("Amount", money.clone())];
    if let Some(name) = &customer {
        rows.push(("Customer", name.clone()));
    }
    if let Some(description) = &notice.description {
        rows.push(("For", one_line(description)));
    }
    if let Some(reason) = &notice.failure_message {
        rows.push(("Reason", one_line(reason)));
    }
    rows.push(("Reference", one_line(&notice.reference)));
    if let Some(at) = notice.occurred_at {
        rows.push(("Date", at.format("%Y-%m-%d %H:%M UTC").to_string()));
    }
    let link = safe_url(notice.receipt_url.as_deref());
    let html = PaymentHtml {
        title: one_line(&title),
        intro: intro.clone(),
        rows: rows.clone(),
        closing,
        link: link.clone(),
        link_label: "View the receipt",
    }
    .render()
    .map_err(fail)?;
    let text = PaymentText {
        intro,
        rows,
        closing,
        link,
    }
    .render()
    .map_err(fail)?;
    let subject = if team {
        subject(&format!("[{business}] {title}"))
    } else {
        subject(&format!("{title} — {business}"))
    };
    Ok(RenderedEmail {
        subject,
        html,
        text,
        category: match notice.outcome {
            PaymentOutcome::Succeeded => "payment_succeeded",
            PaymentOutcome::Failed => "payment_failed",
            PaymentOutcome::Refunded => "payment_refunded",
        },
    })
}

/// Renders the weekly KPI report.
pub fn weekly_kpi_report(report: &WeeklyKpiReport) -> Result<RenderedEmail, RenderError> {
    let fail = |e| RenderError("weekly_kpi_report", e);
    let week = format!(
        "{} – {}",
        report.week_start.format("%Y-%m-%d"),
        report.week_end.format("%Y-%m-%d")
    );
    let lines = || {
        report
            .rows
            .iter()
            .map(|row| ReportLine {
                integration: one_line(&row.integration),
                metric: one_line(&row.metric),
                value: row.value.map_or_else(|| "–".into(), format_number),
                previous: row.previous.map_or_else(|| "–".into(), format_number),
                change: change(row.value, row.previous),
            })
            .collect::<Vec<_>>()
    };
    let link = safe_url(report.dashboard_url.as_deref());
    let html = WeeklyReportHtml {
        title: format!("Weekly KPI report, {week}"),
        workspace: &report.workspace,
        week: &week,
        lines: lines(),
        link: link.clone(),
        link_label: "Open the dashboard",
    }
    .render()
    .map_err(fail)?;
    let text = WeeklyReportText {
        workspace: one_line(&report.workspace),
        week: &week,
        lines: lines(),
        link,
    }
    .render()
    .map_err(fail)?;
    Ok(RenderedEmail {
        subject: subject(&format!("[{}] Weekly KPI report, {week}", report.workspace)),
        html,
        text,
        category: "weekly_kpi_report",
    })
}

/// Renders the daily digest of notices.
pub fn daily_digest(digest: &DailyDigest) -> Result<RenderedEmail, RenderError> {
    let fail = |e| RenderError("daily_digest", e);
    let day = digest.day.format("%Y-%m-%d").to_string();
    let rows = || {
        digest
            .lines
            .iter()
            .map(|line| DigestRow {
                at: line.at.format("%Y-%m-%d %H:%M UTC").to_string(),
                what: one_line(&line.what),
                integration: one_line(&format!("{} ({})", line.integration, line.provider)),
                stream: one_line(line.stream.as_deref().unwrap_or("(all streams)")),
                error_code: one_line(&line.error_code),
                message: one_line(&line.error_message),
            })
            .collect::<Vec<_>>()
    };
    let link = safe_url(digest.dashboard_url.as_deref());
    let html = DailyDigestHtml {
        title: format!("Daily digest, {day}"),
        workspace: &digest.workspace,
        day: day.clone(),
        rows: rows(),
        link: link.clone(),
        link_label: "Open the dashboard",
    }
    .render()
    .map_err(fail)?;
    let text = DailyDigestText {
        workspace: one_line(&digest.workspace),
        day: day.clone(),
        rows: rows(),
        link,
    }
    .render()
    .map_err(fail)?;
    let count = digest.lines.len();
    let notices = if count == 1 { "notice" } else { "notices" };
    Ok(RenderedEmail {
        subject: subject(&format!(
            "[{}] Daily digest, {day}: {count} {notices}",
            digest.workspace
        )),
        html,
        text,
        category: "daily_digest",
    })
}

/// A number as people read it: integers with thousands separators (`12,345`),
/// others with two decimals (`0.62`, `1,234.50`); `n/a` for NaN and infinities.
pub fn format_number(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".into();
    }
    let integral = (value - value.round()).abs() < 1e-9 && value.abs() < 1e15;
    let text = if integral {
        format!("{:.0}", value.round())
    } else {
        format!("{value:.2}")
    };
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) if rest.chars().any(|c| c != '0' && c != '.') => ("-", rest),
        Some(rest) => ("", rest),
        None => ("", text.as_str()),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (digits, None),
    };
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match fraction {
        Some(fraction) => format!("{sign}{grouped}.{fraction}"),
        None => format!("{sign}{grouped}"),
    }
}

/// The week-over-week change, `+12.5%`, or `–` when there is nothing to compare.
fn change(value: Option<f64>, previous: Option<f64>) -> String {
    match (value, previous) {
        (Some(value), Some(previous))
            if previous != 0.0 && previous.is_finite() && value.is_finite() =>
        {
            let percent = (value - previous) / previous.abs() * 100.0;
            let sign = if percent > 0.0 { "+" } else { "" };
            format!("{sign}{percent:.1}%")
        }
        _ => "–".into(),
    }
}

/// A subject line: one line, trimmed, at most [`MAX_SUBJECT_CHARS`] characters.
fn subject(text: &str) -> String {
    let line = one_line(text);
    if line.chars().count() <= MAX_SUBJECT_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(MAX_SUBJECT_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Untrusted text on one line: control characters (line breaks included) become
/// spaces and runs of whitespace one space.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The link, when it is a plain http(s) URL.
fn safe_url(url: Option<&str>) -> Option<String> {
    let url = url?.trim();
    if url.chars().any(char::is_control) {
        return None;
    }
    let parsed = url::Url::parse(url).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.to_string())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    const HOSTILE: &str = "<script>alert('x')</script> & \"quoted\"\r\nBcc: evil@example.com";

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap_or_default()
    }

    fn alert() -> KpiAlert {
        KpiAlert {
            workspace: HOSTILE.into(),
            rule: HOSTILE.into(),
            integration: HOSTILE.into(),
            metric: HOSTILE.into(),
            date: day(15),
            value: 1234.5,
            threshold: 1000.0,
            direction: Direction::Above,
            dashboard_url: Some("https://junction.example/kpis?metric=a&b=<c>".into()),
        }
    }

    fn rendered(result: Result<RenderedEmail, RenderError>) -> RenderedEmail {
        result.unwrap_or_else(|e| panic!("{e}"))
    }

    fn assert_no_raw_markup(email: &RenderedEmail) {
        for raw in ["<script", "'x'", "\"quoted\""] {
            assert!(!email.html.contains(raw), "{raw} in {}", email.html);
        }
        assert!(
            email
                .html
                .contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;"),
            "{}",
            email.html
        );
        assert!(!email.subject.contains(['\r', '\n']), "{}", email.subject);
        // User values never start a line of their own in the plain text.
        assert!(!email.text.contains("\nBcc:"), "{}", email.text);
    }

    proptest! {
        #[test]
        fn subjects_are_one_short_line(text in "(?s).{0,300}") {
            let line = subject(&text);
            prop_assert!(!line.chars().any(char::is_control));
            prop_assert!(line.chars().count() <= MAX_SUBJECT_CHARS);
        }

        #[test]
        fn no_rule_name_breaks_out_of_the_html(name in "(?s).{0,80}") {
            let email = rendered(kpi_alert(&KpiAlert { rule: name.clone(), ..alert() }));
            let start = email.html.find("<strong>").unwrap_or(0);
            let end = email.html[start..].find("</strong>").unwrap_or(0) + start;
            prop_assert!(!email.html[start + "<strong>".len()..end].contains(['<', '>']));
        }
    }

    #[test]
    fn kpi_alerts_escape_every_value() {
        let email = rendered(kpi_alert(&alert()));
        assert_no_raw_markup(&email);
        assert!(email.subject.chars().count() <= MAX_SUBJECT_CHARS);
        let plain = rendered(kpi_alert(&KpiAlert {
            workspace: "Acme".into(),
            metric: "sessions".into(),
            ..alert()
        }));
        assert_eq!(
            plain.subject,
            "[Acme] sessions is above 1,000 (1,234.50 on 2026-03-15)"
        );
        assert!(
            email
                .html
                .contains("href=\"https://junction.example/kpis?metric=a&#38;b=%3Cc%3E\""),
            "{}",
            email.html
        );
        assert!(email.text.contains("Value: 1,234.50\n"), "{}", email.text);
        assert!(
            email
                .text
                .contains("\nhttps://junction.example/kpis?metric=a&b=%3Cc%3E\n"),
            "{}",
            email.text
        );
        assert_eq!(email.category, "kpi_alert");
    }

    #[test]
    fn only_http_links_are_rendered() {
        for url in [
            "javascript:alert(1)",
            "data:text/html,<b>x</b>",
            "not a url",
            "https://a.example/\nx",
        ] {
            let mut alert = alert();
            alert.dashboard_url = Some(url.into());
            let email = rendered(kpi_alert(&alert));
            assert!(!email.html.contains("<a "), "{url}: {}", email.html);
            assert!(!email.text.contains("javascript"), "{url}");
        }
    }

    #[test]
    fn sync_failure_alerts_escape_every_value() {
        let email = rendered(sync_failure_alert(&SyncFailureAlert {
            failure: Failure::SyncFailed,
            workspace: HOSTILE.into(),
            integration: HOSTILE.into(),
            provider: HOSTILE.into(),
            stream: Some(HOSTILE.into()),
            error_code: "provider_unauthorized".into(),
            error_message: HOSTILE.into(),
            failed_at: Utc
                .with_ymd_and_hms(2026, 3, 15, 12, 30, 0)
                .single()
                .unwrap_or_default(),
            attempts: 5,
            dashboard_url: None,
        }));
        assert_no_raw_markup(&email);
        assert!(email.subject.starts_with("[<script>"), "{}", email.subject);
        assert!(
            email
                .text
                .contains("Failed at: 2026-03-15 12:30 UTC\nAttempts: 5\n"),
            "{}",
            email.text
        );
        assert!(!email.html.contains("<a "));
    }

    #[test]
    fn weekly_reports_escape_every_value_and_compare_weeks() {
        let report = WeeklyKpiReport {
            workspace: HOSTILE.into(),
            week_start: day(9),
            week_end: day(15),
            rows: vec![
                KpiReportRow {
                    integration: HOSTILE.into(),
                    metric: HOSTILE.into(),
                    value: Some(1125.0),
                    previous: Some(1000.0),
                },
                KpiReportRow {
                    integration: "Stripe".into(),
                    metric: "mrr".into(),
                    value: Some(80.0),
                    previous: Some(100.0),
                },
                KpiReportRow {
                    integration: "Meta".into(),
                    metric: "ctr".into(),
                    value: None,
                    previous: Some(1.5),
                },
                KpiReportRow {
                    integration: "GA4".into(),
                    metric: "sessions".into(),
                    value: Some(5.0),
                    previous: None,
                },
            ],
            dashboard_url: Some("https://junction.example/".into()),
        };
        let email = rendered(weekly_kpi_report(&report));
        assert_no_raw_markup(&email);
        assert!(
            email
                .subject
                .ends_with("Weekly KPI report, 2026-03-09 – 2026-03-15")
        );
        assert!(
            email
                .text
                .contains("- Stripe / mrr: 80 (previous week 100, -20.0%)\n"),
            "{}",
            email.text
        );
        assert!(email.text.contains("1,125 (previous week 1,000, +12.5%)"));
        // No data this week is no value, not 0.
        assert!(
            email
                .text
                .contains("- Meta / ctr: – (previous week 1.50, –)\n"),
            "{}",
            email.text
        );
        assert!(
            email
                .text
                .contains("- GA4 / sessions: 5 (previous week –, –)\n")
        );
        let empty = rendered(weekly_kpi_report(&WeeklyKpiReport {
            rows: Vec::new(),
            ..report
        }));
        assert!(empty.text.contains("No KPI data was recorded this week."));
        assert!(empty.html.contains("No KPI data was recorded this week."));
    }

    #[test]
    fn daily_digests_escape_every_value_and_list_each_notice() {
        let line = DigestLine {
            what: "Sync failed".into(),
            integration: HOSTILE.into(),
            provider: "google-analytics".into(),
            stream: None,
            error_code: "provider_unavailable".into(),
            error_message: HOSTILE.into(),
            at: Utc
                .with_ymd_and_hms(2026, 3, 15, 6, 5, 0)
                .single()
                .unwrap_or_default(),
        };
        let email = rendered(daily_digest(&DailyDigest {
            workspace: HOSTILE.into(),
            day: day(16),
            lines: vec![
                line.clone(),
                DigestLine {
                    what: "Needs a reconnect".into(),
                    integration: "Meta".into(),
                    provider: "meta-ads".into(),
                    error_code: "integration_needs_reauth".into(),
                    error_message: "The grant was revoked.".into(),
                    ..line
                },
            ],
            dashboard_url: None,
        }));
        assert_no_raw_markup(&email);
        assert!(
            email
                .subject
                .ends_with("Daily digest, 2026-03-16: 2 notices"),
            "{}",
            email.subject
        );
        assert!(
            email.text.contains(
                "- 2026-03-15 06:05 UTC, Needs a reconnect: Meta (meta-ads), (all streams), \
                 integration_needs_reauth: The grant was revoked.\n"
            ),
            "{}",
            email.text
        );
        assert_eq!(email.category, "daily_digest");
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(999.0), "999");
        assert_eq!(format_number(1000.0), "1,000");
        assert_eq!(format_number(-1234567.0), "-1,234,567");
        assert_eq!(format_number(0.625), "0.62");
        assert_eq!(format_number(1234.5), "1,234.50");
        assert_eq!(format_number(-0.001), "0.00");
        assert_eq!(format_number(f64::NAN), "n/a");
        assert_eq!(format_number(f64::INFINITY), "n/a");
    }

    #[test]
    fn an_addressed_email_keeps_what_was_rendered() {
        let email = rendered(kpi_alert(&alert()));
        let outgoing = email.clone().addressed(vec!["ops@acme.example".into()]);
        assert_eq!(outgoing.to, vec!["ops@acme.example".to_owned()]);
        assert_eq!(
            (outgoing.subject, outgoing.html, outgoing.category),
            (email.subject, email.html, "kpi_alert".to_owned())
        );
    }
}
