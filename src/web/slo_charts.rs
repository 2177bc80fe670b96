//! The charts of one SLO, drawn the same way on its page and in the dashboard's panels:
//! SLI over 24 hours, error budget burn-down over the period, requests and errors per
//! second, error ratio and (for latency SLIs) the p99 latency, all with deployment markers.

use crate::slo::{Axis, ChartData, ChartRange, Percentiles, SloStatus};
use crate::svg_charts::{Chart, Point, Unit};

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
    /// "last 24 hours", "this period": what the range charts show.
    pub range_words: &'static str,
}

/// The buckets of `axis`; buckets without a point are gaps (None).
fn on_axis(axis: &Axis, points: impl Iterator<Item = (i64, Option<f64>)>) -> Vec<Point> {
    let by_bucket: std::collections::BTreeMap<i64, Option<f64>> = points.collect();
    let count = (axis.to - axis.from + axis.step - 1) / axis.step.max(1);
    (0..count.max(1))
        .map(|i| {
            let t = axis.from + i * axis.step;
            (t, by_bucket.get(&t).copied().flatten())
        })
        .collect()
}

fn plain_label(v: f64) -> String {
    format!("{v:.3}")
}

/// "p50 12 ms · p90 80 ms · p99 240 ms" (plain numbers when the unit is unknown).
pub fn latency_words(p: &Percentiles) -> String {
    let f = if p.unit == "s" {
        crate::svg_charts::seconds
    } else {
        plain_label
    };
    format!("p50 {} · p90 {} · p99 {}", f(p.p50), f(p.p90), f(p.p99))
}

/// Draws the charts of `s` from its history over `range` (the budget burn-down always
/// over the period). `latency` names the latency SLO whose p99 is charted (the SLO
/// itself on its page, the service's latency SLO on the dashboard).
pub fn build(
    s: &SloStatus,
    latency: Option<&SloStatus>,
    data: &ChartData,
    range: ChartRange,
) -> SloCharts {
    let words = range.words();
    let (axis, recent, period) = (&data.axis, &data.recent, &data.period);
    let markers: Vec<(i64, String)> = data
        .deployments
        .iter()
        .map(|d| {
            (
                d.at,
                format!("deployed {} {} by {}", d.service, d.version, d.created_by),
            )
        })
        .collect();
    let frame = |title: &'static str| format!("{title} over the {words}");

    let sli_points = on_axis(axis, recent.iter().map(|p| (p.at, p.sli)));
    let low = sli_points
        .iter()
        .filter_map(|p| p.1)
        .fold(s.objective - (1.0 - s.objective), f64::min);
    let budget = 1.0 - s.objective;
    let objective = [(s.objective, format!("objective {}%", s.objective * 100.0))];
    let title = frame("SLI");
    let sli = Chart {
        title: &title,
        points: &sli_points,
        from: axis.from,
        to: axis.to,
        y_min: low.max(0.0),
        y_max: 1.0,
        references: &objective,
        markers: &markers,
        unit: Unit::Percent,
        withheld: None,
    }
    .render();

    // Events per second of the time each bucket measured: a partial last bucket, the
    // first minutes of a young SLO and a bucket with a missed scrape do not read as a
    // drop in traffic.
    let per_sec = |p: &crate::slo::store::HistoryPoint, events: f64| {
        let seconds = p.intervals.max(1) as f64 * data.interval as f64 / 1000.0;
        events / seconds
    };
    let req_points = on_axis(
        axis,
        recent.iter().map(|p| (p.at, Some(per_sec(p, p.events)))),
    );
    let err_points = on_axis(
        axis,
        recent.iter().map(|p| {
            (
                p.at,
                Some(per_sec(p, p.error_ratio.unwrap_or(0.0) * p.events)),
            )
        }),
    );
    // No traffic at all: a 0..1/s frame rather than ticks too fine to print.
    let peak = req_points
        .iter()
        .filter_map(|p| p.1)
        .fold(0.0_f64, f64::max);
    let peak = if peak > 1e-6 { peak } else { 1.0 };
    let rates_title = frame("Requests and errors per second");
    let requests_title = frame("Requests per second");
    let rate_chart = |title| Chart {
        title,
        points: &req_points,
        from: axis.from,
        to: axis.to,
        y_min: 0.0,
        y_max: peak,
        references: &[],
        markers: &markers,
        unit: Unit::PerSecond,
        withheld: None,
    };
    let rates = rate_chart(&rates_title).render_with(&err_points, "errors per second");
    let requests = rate_chart(&requests_title).render();

    let ratio_points = on_axis(axis, recent.iter().map(|p| (p.at, p.error_ratio)));
    let worst = ratio_points
        .iter()
        .filter_map(|p| p.1)
        .fold(budget * 2.0, f64::max);
    let budget_line = [(budget, format!("error budget {}%", budget * 100.0))];
    let errors_title = frame("Error ratio");
    let errors = Chart {
        title: &errors_title,
        points: &ratio_points,
        from: axis.from,
        to: axis.to,
        y_min: 0.0,
        y_max: worst.min(1.0),
        references: &budget_line,
        markers: &markers,
        unit: Unit::Percent,
        withheld: None,
    }
    .render();

    // Budget burn-down over the period, from where data starts: what would be left if
    // the error ratio so far held for the whole period (as the status computes it), at
    // the end of each bucket.
    let (mut bad, mut total) = (0.0, 0.0);
    let mut budget_points = Vec::new();
    for p in period {
        bad += p.error_ratio.unwrap_or(0.0) * p.events;
        total += p.events;
        if total > 0.0 {
            budget_points.push((
                (p.at + data.period_axis.step).min(data.period_axis.to),
                Some(1.0 - (bad / total) / budget),
            ));
        }
    }
    let lowest = budget_points.iter().filter_map(|p| p.1).fold(0.0, f64::min);
    let too_early = s.too_early.then(|| {
        format!(
            "too early to judge the period ({} measured)",
            super::views::coverage_pct(s.coverage.unwrap_or(0.0))
        )
    });
    let spent = [(0.0, "budget spent".to_string())];
    let budget_chart = Chart {
        title: "Error budget left over the period",
        points: &budget_points,
        from: data.period_axis.from,
        to: data.period_axis.to,
        y_min: lowest,
        y_max: 1.0,
        references: &spent,
        markers: &markers,
        unit: Unit::Percent,
        withheld: too_early.as_deref(),
    }
    .render();

    let latency = match (latency, &data.latency) {
        (Some(l), Some(h)) if l.latency.is_some() => {
            let points = on_axis(axis, h.iter().map(|(at, p99)| (*at, Some(*p99))));
            let threshold: Vec<(f64, String)> = l
                .latency_threshold
                .map(|t| {
                    let shown = if l.latency.is_some_and(|p| p.unit == "s") {
                        crate::svg_charts::seconds(t)
                    } else {
                        plain_label(t)
                    };
                    (t, format!("threshold {shown}"))
                })
                .into_iter()
                .collect();
            let top = points
                .iter()
                .filter_map(|p| p.1)
                .chain(threshold.iter().map(|t| t.0))
                .fold(0.0_f64, f64::max);
            let seconds = l.latency.is_some_and(|p| p.unit == "s");
            let title = frame("p99 latency");
            Some(
                Chart {
                    title: &title,
                    points: &points,
                    from: axis.from,
                    to: axis.to,
                    y_min: 0.0,
                    y_max: top.max(1e-6),
                    references: &threshold,
                    markers: &markers,
                    unit: if seconds { Unit::Seconds } else { Unit::Plain },
                    withheld: None,
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
        range_words: words,
    }
}

/// An SLO's SLI over the 24 hours from `from`, hour by hour from the rollups, as a
/// sparkline.
pub fn sparkline(s: &SloStatus, hourly: &[crate::slo::store::HistoryPoint], from: i64) -> String {
    let hour = 3_600_000;
    // Hours without rows are gaps, not bridged by the line.
    let axis = Axis {
        from,
        to: from + 24 * hour,
        step: hour,
    };
    let points = on_axis(&axis, hourly.iter().map(|p| (p.at, p.sli)));
    let low = points
        .iter()
        .filter_map(|p| p.1)
        .fold(s.objective - (1.0 - s.objective), f64::min);
    crate::svg_charts::sparkline(
        &format!("{} SLI, last 24 hours by the hour", s.name),
        &points,
        from,
        from + 23 * hour,
        (low.max(0.0), 1.0),
        Unit::Percent,
    )
}
