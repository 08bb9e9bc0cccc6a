//! The emails Junction sends about itself: a KPI alert, a sync-failure alert and the
//! weekly KPI report, each rendered as a subject, an HTML body and a plain-text body
//! from typed input.
//!
//! Every value that comes from users or providers (workspace and integration names,
//! metric names, error messages, links) is untrusted: in HTML it is escaped with
//! [`escape_html`] (text and attribute positions alike), in the subject and the
//! plain text it is flattened to one line (no control characters, so a name cannot
//! forge extra lines or headers), and links are only rendered when they are plain
//! `http(s)` URLs (never `javascript:`). [`RenderedEmail::action_input`] turns a
//! rendering into the input of the `send_email` action.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

/// Longest subject, in characters (mail clients cut long subjects anyway).
const MAX_SUBJECT_CHARS: usize = 150;

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub html: String,
    pub text: String,
    /// A Resend tag value naming the kind of email (`kpi_alert`, ...), so delivery
    /// events can be told apart in Resend and in the `emails` stream.
    pub category: &'static str,
}

impl RenderedEmail {
    /// The input of the `send_email` action sending this email to `to` (the sender
    /// is the connection's default unless the caller adds `from`).
    pub fn action_input(&self, to: &[String]) -> Value {
        json!({
            "to": to,
            "subject": self.subject,
            "html": self.html,
            "text": self.text,
            "tags": [{"name": "category", "value": self.category}]
        })
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

/// A sync gave up (dead-lettered) or an integration needs attention.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncFailureAlert {
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
    pub value: f64,
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

/// Renders a KPI alert.
pub fn kpi_alert(alert: &KpiAlert) -> RenderedEmail {
    let date = alert.date.format("%Y-%m-%d").to_string();
    let value = format_number(alert.value);
    let threshold = format_number(alert.threshold);
    let direction = alert.direction.word();
    let subject = subject(&format!(
        "[{}] {} is {direction} {threshold} ({value} on {date})",
        alert.workspace, alert.metric
    ));

    let html_body = format!(
        "<p>Alert rule <strong>{rule}</strong> fired for <strong>{workspace}</strong>.</p>\n\
         <table cellpadding=\"6\" style=\"border-collapse:collapse\">\n\
         {rows}</table>\n{link}",
        rule = escape_html(&alert.rule),
        workspace = escape_html(&alert.workspace),
        rows = [
            ("Integration", alert.integration.as_str()),
            ("Metric", alert.metric.as_str()),
            ("Day", date.as_str()),
            ("Value", value.as_str()),
            ("Threshold", &format!("{direction} {threshold}")),
        ]
        .iter()
        .map(|(label, cell)| table_row(label, cell))
        .collect::<String>(),
        link = html_link(alert.dashboard_url.as_deref(), "Open the dashboard"),
    );
    let text = format!(
        "Alert rule {rule} fired for {workspace}.\n\n\
         Integration: {integration}\nMetric: {metric}\nDay: {date}\nValue: {value}\n\
         Threshold: {direction} {threshold}\n{link}",
        rule = one_line(&alert.rule),
        workspace = one_line(&alert.workspace),
        integration = one_line(&alert.integration),
        metric = one_line(&alert.metric),
        link = text_link(alert.dashboard_url.as_deref()),
    );
    RenderedEmail {
        subject,
        html: page(&format!("KPI alert: {}", alert.metric), &html_body),
        text,
        category: "kpi_alert",
    }
}

/// Renders a sync-failure alert.
pub fn sync_failure_alert(alert: &SyncFailureAlert) -> RenderedEmail {
    let failed_at = alert.failed_at.format("%Y-%m-%d %H:%M UTC").to_string();
    let stream = alert.stream.as_deref().unwrap_or("(all streams)");
    let attempts = alert.attempts.to_string();
    let subject = subject(&format!(
        "[{}] Sync failed: {} ({})",
        alert.workspace, alert.integration, alert.error_code
    ));
    let html_body = format!(
        "<p>A sync of <strong>{integration}</strong> in <strong>{workspace}</strong> \
         failed and will not be retried on its own.</p>\n\
         <table cellpadding=\"6\" style=\"border-collapse:collapse\">\n{rows}</table>\n\
         <p>Fix the cause, then replay the dead letter or reconnect the integration.</p>\n{link}",
        integration = escape_html(&alert.integration),
        workspace = escape_html(&alert.workspace),
        rows = [
            ("Provider", alert.provider.as_str()),
            ("Stream", stream),
            ("Error", alert.error_code.as_str()),
            ("Message", alert.error_message.as_str()),
            ("Failed at", failed_at.as_str()),
            ("Attempts", attempts.as_str()),
        ]
        .iter()
        .map(|(label, cell)| table_row(label, cell))
        .collect::<String>(),
        link = html_link(alert.dashboard_url.as_deref(), "Open the integration"),
    );
    let text = format!(
        "A sync of {integration} in {workspace} failed and will not be retried on its own.\n\n\
         Provider: {provider}\nStream: {stream}\nError: {code}\nMessage: {message}\n\
         Failed at: {failed_at}\nAttempts: {attempts}\n\n\
         Fix the cause, then replay the dead letter or reconnect the integration.\n{link}",
        integration = one_line(&alert.integration),
        workspace = one_line(&alert.workspace),
        provider = one_line(&alert.provider),
        stream = one_line(stream),
        code = one_line(&alert.error_code),
        message = one_line(&alert.error_message),
        link = text_link(alert.dashboard_url.as_deref()),
    );
    RenderedEmail {
        subject,
        html: page("Sync failed", &html_body),
        text,
        category: "sync_failure_alert",
    }
}

/// Renders the weekly KPI report.
pub fn weekly_kpi_report(report: &WeeklyKpiReport) -> RenderedEmail {
    let week = format!(
        "{} – {}",
        report.week_start.format("%Y-%m-%d"),
        report.week_end.format("%Y-%m-%d")
    );
    let subject = subject(&format!("[{}] Weekly KPI report, {week}", report.workspace));
    let table = if report.rows.is_empty() {
        "<p>No KPI data was recorded this week.</p>\n".to_owned()
    } else {
        let header = "<tr><th align=\"left\">Integration</th><th align=\"left\">Metric</th>\
                      <th align=\"right\">This week</th><th align=\"right\">Previous week</th>\
                      <th align=\"right\">Change</th></tr>\n";
        let rows: String = report
            .rows
            .iter()
            .map(|row| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td align=\"right\">{}</td>\
                     <td align=\"right\">{}</td><td align=\"right\">{}</td></tr>\n",
                    escape_html(&row.integration),
                    escape_html(&row.metric),
                    escape_html(&format_number(row.value)),
                    escape_html(
                        &row.previous
                            .map(format_number)
                            .unwrap_or_else(|| "–".into())
                    ),
                    escape_html(&change(row.value, row.previous)),
                )
            })
            .collect();
        format!(
            "<table cellpadding=\"6\" style=\"border-collapse:collapse\">\n{header}{rows}</table>\n"
        )
    };
    let html_body = format!(
        "<p>KPIs of <strong>{workspace}</strong> for the week {week}.</p>\n{table}{link}",
        workspace = escape_html(&report.workspace),
        week = escape_html(&week),
        link = html_link(report.dashboard_url.as_deref(), "Open the dashboard"),
    );
    let lines: String = if report.rows.is_empty() {
        "No KPI data was recorded this week.\n".to_owned()
    } else {
        report
            .rows
            .iter()
            .map(|row| {
                format!(
                    "- {} / {}: {} (previous week {}, {})\n",
                    one_line(&row.integration),
                    one_line(&row.metric),
                    format_number(row.value),
                    row.previous
                        .map(format_number)
                        .unwrap_or_else(|| "–".into()),
                    change(row.value, row.previous),
                )
            })
            .collect()
    };
    let text = format!(
        "KPIs of {workspace} for the week {week}.\n\n{lines}{link}",
        workspace = one_line(&report.workspace),
        link = text_link(report.dashboard_url.as_deref()),
    );
    RenderedEmail {
        subject,
        html: page(&format!("Weekly KPI report, {week}"), &html_body),
        text,
        category: "weekly_kpi_report",
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
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
fn change(value: f64, previous: Option<f64>) -> String {
    match previous {
        Some(previous) if previous != 0.0 && previous.is_finite() && value.is_finite() => {
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

fn html_link(url: Option<&str>, label: &str) -> String {
    safe_url(url)
        .map(|url| {
            format!(
                "<p><a href=\"{}\" style=\"color:#2563eb\">{}</a></p>\n",
                escape_html(&url),
                escape_html(label)
            )
        })
        .unwrap_or_default()
}

fn text_link(url: Option<&str>) -> String {
    safe_url(url)
        .map(|url| format!("\n{url}\n"))
        .unwrap_or_default()
}

fn table_row(label: &str, value: &str) -> String {
    format!(
        "<tr><th align=\"left\" style=\"color:#555\">{}</th><td>{}</td></tr>\n",
        escape_html(label),
        escape_html(&one_line(value))
    )
}

/// The HTML document around a body.
fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body style=\"font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;\
         font-size:14px;color:#111\">\n{body}\
         <p style=\"color:#888;font-size:12px\">Sent by Junction.</p>\n</body></html>\n",
        escape_html(&one_line(title))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    const HOSTILE: &str = "<script>alert('x')</script> & \"quoted\"\r\nBcc: evil@example.com";

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
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

    fn assert_no_raw_markup(rendered: &RenderedEmail) {
        assert!(!rendered.html.contains("<script"), "{}", rendered.html);
        assert!(!rendered.html.contains("'x'"), "{}", rendered.html);
        assert!(!rendered.html.contains("\"quoted\""), "{}", rendered.html);
        assert!(
            rendered.html.contains(
                "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;"
            )
        );
        assert!(
            !rendered.subject.contains(['\r', '\n']),
            "{}",
            rendered.subject
        );
        // User values never start a line of their own in the plain text.
        assert!(!rendered.text.contains("\nBcc:"), "{}", rendered.text);
    }

    #[test]
    fn escape_html_escapes_the_five_characters() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>&amp;</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"
        );
        assert_eq!(escape_html("plain café ✓"), "plain café ✓");
        assert_eq!(escape_html(""), "");
    }

    proptest! {
        #[test]
        fn escaped_text_has_no_markup_characters(text in "(?s).{0,200}") {
            let escaped = escape_html(&text);
            prop_assert!(!escaped.contains(['<', '>', '"', '\'']));
            // Every `&` starts one of the entities written here.
            for (i, _) in escaped.match_indices('&') {
                let rest = &escaped[i..];
                prop_assert!(["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"].iter().any(|e| rest.starts_with(e)));
            }
            // Unescaping gives the text back.
            let back = escaped.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"")
                .replace("&#39;", "'").replace("&amp;", "&");
            prop_assert_eq!(back, text);
        }

        #[test]
        fn subjects_are_one_short_line(text in "(?s).{0,300}") {
            let line = subject(&text);
            prop_assert!(!line.chars().any(char::is_control));
            prop_assert!(line.chars().count() <= MAX_SUBJECT_CHARS);
        }
    }

    #[test]
    fn kpi_alerts_escape_every_value() {
        let rendered = kpi_alert(&alert());
        assert_no_raw_markup(&rendered);
        assert!(rendered.subject.chars().count() <= MAX_SUBJECT_CHARS);
        let plain = kpi_alert(&KpiAlert {
            workspace: "Acme".into(),
            metric: "sessions".into(),
            ..alert()
        });
        assert_eq!(
            plain.subject,
            "[Acme] sessions is above 1,000 (1,234.50 on 2026-03-15)"
        );
        assert!(
            rendered
                .html
                .contains("href=\"https://junction.example/kpis?metric=a&amp;b=%3Cc%3E\""),
            "{}",
            rendered.html
        );
        assert!(rendered.text.contains("Value: 1,234.50\n"));
        assert!(
            rendered
                .text
                .contains("https://junction.example/kpis?metric=a&b=%3Cc%3E")
        );
        assert_eq!(rendered.category, "kpi_alert");
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
            let rendered = kpi_alert(&alert);
            assert!(!rendered.html.contains("<a "), "{url}: {}", rendered.html);
            assert!(!rendered.text.contains("javascript"), "{url}");
        }
    }

    #[test]
    fn sync_failure_alerts_escape_every_value() {
        let rendered = sync_failure_alert(&SyncFailureAlert {
            workspace: HOSTILE.into(),
            integration: HOSTILE.into(),
            provider: HOSTILE.into(),
            stream: Some(HOSTILE.into()),
            error_code: "provider_unauthorized".into(),
            error_message: HOSTILE.into(),
            failed_at: Utc.with_ymd_and_hms(2026, 3, 15, 12, 30, 0).unwrap(),
            attempts: 5,
            dashboard_url: None,
        });
        assert_no_raw_markup(&rendered);
        assert!(
            rendered.subject.starts_with("[<script>"),
            "{}",
            rendered.subject
        );
        assert!(
            rendered
                .text
                .contains("Failed at: 2026-03-15 12:30 UTC\nAttempts: 5\n")
        );
        assert!(!rendered.html.contains("<a "));
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
                    value: 1125.0,
                    previous: Some(1000.0),
                },
                KpiReportRow {
                    integration: "Stripe".into(),
                    metric: "mrr".into(),
                    value: 80.0,
                    previous: Some(100.0),
                },
                KpiReportRow {
                    integration: "GA4".into(),
                    metric: "sessions".into(),
                    value: 5.0,
                    previous: None,
                },
            ],
            dashboard_url: Some("https://junction.example/".into()),
        };
        let rendered = weekly_kpi_report(&report);
        assert_no_raw_markup(&rendered);
        assert!(
            rendered
                .subject
                .ends_with("Weekly KPI report, 2026-03-09 – 2026-03-15")
        );
        assert!(
            rendered
                .text
                .contains("- Stripe / mrr: 80 (previous week 100, -20.0%)\n"),
            "{}",
            rendered.text
        );
        assert!(
            rendered
                .text
                .contains("1,125 (previous week 1,000, +12.5%)")
        );
        assert!(
            rendered
                .text
                .contains("- GA4 / sessions: 5 (previous week –, –)\n")
        );
        let empty = weekly_kpi_report(&WeeklyKpiReport {
            rows: Vec::new(),
            ..report
        });
        assert!(empty.text.contains("No KPI data was recorded this week."));
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
    fn action_input_fits_send_email() {
        let rendered = kpi_alert(&alert());
        let input = rendered.action_input(&["ops@acme.example".into()]);
        let body =
            crate::actions::validate_email(&input, "", Some("j@acme.example"), true).unwrap();
        assert_eq!(body["subject"], json!(rendered.subject));
        assert_eq!(
            body["tags"],
            json!([{"name": "category", "value": "kpi_alert"}])
        );
    }
}
