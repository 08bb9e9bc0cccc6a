//! KPI charts drawn on the server as inline SVG bars: no script, no chart library,
//! readable with JavaScript off; each chart comes with its figures as a table for
//! screen readers and copying.

use junction_app::kpis::Kpis;

/// Drawing area, in SVG user units (the SVG scales to its container).
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 8.0;

/// One bar.
#[derive(Debug, Clone)]
pub struct Bar {
    pub x: String,
    pub y: String,
    pub width: String,
    pub height: String,
    /// The tooltip: the bucket and its value.
    pub title: String,
}

/// A chart of one series of totals.
#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub view_box: String,
    pub bars: Vec<Bar>,
    /// Horizontal grid lines: their y and label.
    pub ticks: Vec<(String, String)>,
    /// Labels under some bars: their x and text.
    pub labels: Vec<(String, String)>,
    pub baseline: String,
    pub left: String,
    pub right: String,
    /// The figures: bucket and value.
    pub rows: Vec<(String, String)>,
    /// Whether every bucket is empty (the page says so instead of a flat chart).
    pub empty: bool,
}

/// A number for a page: integers as such, others with two decimals.
pub fn figure(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

fn unit(value: f64) -> String {
    format!("{value:.1}")
}

/// One chart per total of the answer (one per currency for money).
pub fn of_totals(metric: &str, kpis: &Kpis) -> Vec<Chart> {
    kpis.totals
        .iter()
        .map(|total| {
            let title = match &total.currency {
                Some(currency) => format!("{metric} ({currency})"),
                None => metric.to_owned(),
            };
            draw(title, &total.points)
        })
        .collect()
}

/// Draws bars for `points` (bucket start, value).
pub fn draw(title: String, points: &[(chrono::NaiveDate, f64)]) -> Chart {
    let max = points.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let min = points.iter().map(|(_, v)| *v).fold(0.0_f64, f64::min);
    let span = if max - min > 0.0 { max - min } else { 1.0 };
    let plot_height = HEIGHT - TOP - BOTTOM;
    let y_of = |value: f64| TOP + (max - value) / span * plot_height;
    let baseline = y_of(0.0);
    let count = points.len().max(1) as f64;
    let slot = (WIDTH - LEFT - 8.0) / count;
    let bar_width = (slot * 0.8).max(1.0);
    let label_every = (points.len() / 8).max(1);
    let mut bars = Vec::with_capacity(points.len());
    let mut labels = Vec::new();
    for (index, (date, value)) in points.iter().enumerate() {
        let x = LEFT + index as f64 * slot + (slot - bar_width) / 2.0;
        let top = y_of(value.max(0.0));
        let bottom = y_of(value.min(0.0));
        bars.push(Bar {
            x: unit(x),
            y: unit(top),
            width: unit(bar_width),
            height: unit((bottom - top).max(0.5)),
            title: format!("{date}: {}", figure(*value)),
        });
        if index % label_every == 0 {
            labels.push((unit(x + bar_width / 2.0), date.format("%m-%d").to_string()));
        }
    }
    let ticks = [max, min + span / 2.0, min]
        .into_iter()
        .map(|value| (unit(y_of(value)), figure(value)))
        .collect();
    Chart {
        title,
        view_box: format!("0 0 {WIDTH} {HEIGHT}"),
        bars,
        ticks,
        labels,
        baseline: unit(baseline),
        left: unit(LEFT),
        right: unit(WIDTH - 4.0),
        rows: points
            .iter()
            .map(|(date, value)| (date.to_string(), figure(*value)))
            .collect(),
        empty: points.iter().all(|(_, v)| *v == 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_stand_on_the_baseline_and_scale_to_the_largest() {
        let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 12, d).unwrap_or_default();
        let chart = draw("x".into(), &[(day(1), 10.0), (day(2), 5.0), (day(3), 0.0)]);
        assert_eq!(chart.bars.len(), 3);
        assert_eq!(chart.bars[0].y, unit(TOP));
        let full: f64 = chart.bars[0].height.parse().unwrap_or_default();
        let half: f64 = chart.bars[1].height.parse().unwrap_or_default();
        assert!((full / 2.0 - half).abs() < 0.2, "{full} {half}");
        assert!(!chart.empty);
        assert_eq!(chart.rows[1], ("2026-12-02".to_owned(), "5".to_owned()));
        assert!(draw("y".into(), &[(day(1), 0.0)]).empty);
    }
}
