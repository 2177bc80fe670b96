//! The charts of one SLO, drawn the same way on its page and in the dashboard's panels:
//! SLI over 24 hours, error budget burn-down over the period, requests and errors per
//! second, error ratio and (for latency SLIs) the p99 latency, all with deployment markers.

use super::charts::{Chart, Point};
use crate::slo::{ChartData, Percentiles, SloStatus};

const DAY: i64 = 86_400_000;
/// 5-minute buckets over the last 24 hours.
const STEP: i64 = 300_000;
const POINTS: i64 = DAY / STEP;

pub struct SloCharts {
    pub sli: String,
    pub budget: String,
    /// Requests (blue) and errors (red) per second.
    pub rates: String,
    pub requests: String,
    /// Share of failed events, against the error budget's share.
    pub errors: String,
    /// p99 latency of a latency SLI; None for other SLIs.
    pub latency: Option<String>,
}

/// `count` buckets of `step` from `from`; buckets without a point are gaps (None).
fn on_axis_every(
    from: i64,
    step: i64,
    count: i64,
    points: impl Iterator<Item = (i64, Option<f64>)>,
) -> Vec<Point> {
    let by_bucket: std::collections::BTreeMap<i64, Option<f64>> = points.collect();
    (0..count)
        .map(|i| {
            let t = from + i * step;
            (t, by_bucket.get(&t).copied().flatten())
        })
        .collect()
}

/// The 5-minute buckets of the last 24 hours.
fn on_axis(from: i64, points: impl Iterator<Item = (i64, Option<f64>)>) -> Vec<Point> {
    on_axis_every(from, STEP, POINTS, points)
}

fn seconds_label(v: f64) -> String {
    if v < 0.01 {
        format!("{:.1} ms", v * 1000.0)
    } else if v < 1.0 {
        format!("{:.0} ms", v * 1000.0)
    } else {
        format!("{v:.2} s")
    }
}

fn plain_label(v: f64) -> String {
    format!("{v:.3}")
}

/// "p50 12 ms · p90 80 ms · p99 240 ms" (plain numbers when the unit is unknown).
pub fn latency_words(p: &Percentiles) -> String {
    let f = if p.unit == "s" {
        seconds_label
    } else {
        plain_label
    };
    format!("p50 {} · p90 {} · p99 {}", f(p.p50), f(p.p90), f(p.p99))
}

/// Draws the charts of `s` from its history. `latency` names the latency SLO whose p99
/// is charted (the SLO itself on its page, the service's latency SLO on the dashboard).
pub fn build(s: &SloStatus, latency: Option<&SloStatus>, data: &ChartData, now: i64) -> SloCharts {
    let from = now - DAY;
    let (recent, period) = (&data.recent, &data.period);
    let markers: Vec<(i64, String)> = data
        .deployments
        .iter()
        .map(|d| {
            (
                d.at,
                format!("{} {} by {}", d.service, d.version, d.created_by),
            )
        })
        .collect();

    let sli_points = on_axis(from, recent.iter().map(|p| (p.at, p.sli)));
    let low = sli_points
        .iter()
        .filter_map(|p| p.1)
        .fold(s.objective, f64::min);
    let y_min = (low - (1.0 - low) * 0.5)
        .clamp(0.0, 1.0)
        .min(s.objective - (1.0 - s.objective));
    let budget = 1.0 - s.objective;
    let sli = Chart {
        title: "SLI over the last 24 hours",
        points: &sli_points,
        from,
        to: now,
        y_min: y_min.max(0.0),
        y_max: 1.0,
        reference: Some((s.objective, format!("objective {}", s.objective))),
        markers: &markers,
        y_label: |v| format!("{:.2}%", v * 100.0),
    }
    .render();

    let per_sec = STEP as f64 / 1000.0;
    let req_points = on_axis(
        from,
        recent.iter().map(|p| (p.at, Some(p.events / per_sec))),
    );
    let err_points = on_axis(
        from,
        recent.iter().map(|p| {
            (
                p.at,
                Some(p.error_ratio.unwrap_or(0.0) * p.events / per_sec),
            )
        }),
    );
    let peak = req_points
        .iter()
        .filter_map(|p| p.1)
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let rate_chart = |title: &'static str| Chart {
        title,
        points: &req_points,
        from,
        to: now,
        y_min: 0.0,
        y_max: peak * 1.1,
        reference: None,
        markers: &markers,
        y_label: |v| format!("{v:.2}/s"),
    };
    let rates = rate_chart("Requests and errors per second over the last 24 hours")
        .render_with(&err_points, "errors per second");
    let requests = rate_chart("Requests per second over the last 24 hours").render();

    let ratio_points = on_axis(from, recent.iter().map(|p| (p.at, p.error_ratio)));
    let worst = ratio_points
        .iter()
        .filter_map(|p| p.1)
        .fold(budget * 2.0, f64::max);
    let errors = Chart {
        title: "Error ratio over the last 24 hours",
        points: &ratio_points,
        from,
        to: now,
        y_min: 0.0,
        y_max: (worst * 1.1).min(1.0),
        reference: Some((budget, format!("error budget {:.3}%", budget * 100.0))),
        markers: &markers,
        y_label: |v| format!("{:.2}%", v * 100.0),
    }
    .render();

    // Budget burn-down: cumulative over the period.
    let (mut bad, mut total) = (0.0, 0.0);
    let mut budget_points = vec![(s.period_start, Some(1.0))];
    for p in period {
        bad += p.error_ratio.unwrap_or(0.0) * p.events;
        total += p.events;
        if total > 0.0 {
            budget_points.push((
                (p.at + DAY / 4).min(now),
                Some(1.0 - (bad / total) / budget),
            ));
        }
    }
    let lowest = budget_points.iter().filter_map(|p| p.1).fold(0.0, f64::min);
    let budget_chart = Chart {
        title: "Error budget left over the period",
        points: &budget_points,
        from: s.period_start,
        to: now,
        y_min: lowest.min(0.0),
        y_max: 1.0,
        reference: Some((0.0, "budget spent".into())),
        markers: &markers,
        y_label: |v| format!("{:.0}%", v * 100.0),
    }
    .render();

    let latency = match (latency, &data.latency) {
        (Some(l), Some(h)) if l.latency.is_some() => {
            let points = on_axis(from, h.iter().map(|p| (p.at, p.p99)));
            let top = points.iter().filter_map(|p| p.1).fold(0.0_f64, f64::max);
            let seconds = l.latency.is_some_and(|p| p.unit == "s");
            Some(
                Chart {
                    title: "p99 latency over the last 24 hours",
                    points: &points,
                    from,
                    to: now,
                    y_min: 0.0,
                    y_max: (top * 1.1).max(1e-6),
                    reference: None,
                    markers: &markers,
                    y_label: if seconds { seconds_label } else { plain_label },
                }
                .render(),
            )
        }
        _ => None,
    };
    SloCharts {
        sli,
        budget: budget_chart,
        rates,
        requests,
        errors,
        latency,
    }
}

/// An SLO's SLI over the 24 hours from `from`, hour by hour from the rollups, as a
/// sparkline.
pub fn sparkline(s: &SloStatus, hourly: &[crate::slo::store::HistoryPoint], from: i64) -> String {
    let hour = 3_600_000;
    // Hours without rows are gaps, not bridged by the line.
    let points = on_axis_every(from, hour, 24, hourly.iter().map(|p| (p.at, p.sli)));
    let low = points
        .iter()
        .filter_map(|p| p.1)
        .fold(s.objective - (1.0 - s.objective), f64::min);
    super::charts::sparkline(
        &format!("{} SLI, last 24 hours by the hour", s.name),
        &points,
        from,
        from + 23 * hour,
        (low.max(0.0), 1.0),
        |v| format!("{:.2}%", v * 100.0),
    )
}
