//! The SLO index (every SLO, worst first) and the page of one SLO: status in words,
//! windows, burn-rate table and charts.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::session::{self, PageUser};
use super::views::{SloView, status_rank};
use super::{WebError, html};
use crate::auth::Role;
use crate::slo::{ChartRange, SloStatus};
use crate::state::AppState;
use crate::time::now_ms;

/// Where the 24-hour sparklines start: 23 whole hours before the current one.
pub fn spark_from(now: i64) -> i64 {
    let hour = 3_600_000;
    now - now.rem_euclid(hour) - 23 * hour
}

/// The SLO table rows (dashboard and index), each with its sparkline.
pub fn table(
    slos: &[SloStatus],
    hourly: &[Vec<crate::slo::store::HistoryPoint>],
    spark_from: i64,
) -> Vec<SloView> {
    slos.iter()
        .zip(hourly)
        .map(|(s, points)| SloView {
            spark: super::slo_charts::sparkline(s, points, spark_from),
            ..SloView::new(s)
        })
        .collect()
}

#[derive(Template)]
#[template(path = "slos.html")]
struct IndexPage {
    user: PageUser,
    nav: &'static str,
    slos: Vec<SloView>,
    /// SLOs per state, worst first: (state, label, count).
    counts: Vec<(&'static str, &'static str, usize)>,
}

/// Every SLO with its state, worst first.
pub async fn index(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    let mut latest = state.slos.statuses();
    latest.sort_by(|a, b| {
        status_rank(&a.status)
            .cmp(&status_rank(&b.status))
            .then_with(|| (&a.service, &a.name).cmp(&(&b.service, &b.name)))
    });
    let now = now_ms();
    let from = spark_from(now);
    let (hourly, _) = state.slos.panels(&latest, None, from, now).await?;
    let counts = [
        ("critical", "critical"),
        ("warning", "warning"),
        ("ok", "ok"),
        ("no-data", "no data"),
    ]
    .into_iter()
    .map(|(k, label)| {
        let n = latest
            .iter()
            .filter(|s| s.status == k || (k == "no-data" && status_rank(&s.status) == 3))
            .count();
        (k, label, n)
    })
    .collect();
    html(&IndexPage {
        user,
        nav: "slos",
        slos: table(&latest, &hourly, from),
        counts,
    })
}

/// One alert pair of the burn-rate table.
pub struct BurnRow {
    pub alert: &'static str,
    pub long: &'static str,
    pub long_burn: String,
    pub short: &'static str,
    pub short_burn: String,
    pub long_over: bool,
    pub short_over: bool,
    pub threshold: String,
}

#[derive(Template)]
#[template(path = "slo.html")]
struct SloPage {
    user: PageUser,
    nav: &'static str,
    s: SloStatus,
    /// The range picker: (key, label, chosen).
    ranges: Vec<(&'static str, &'static str, bool)>,
    objective: String,
    words: String,
    charts: super::slo_charts::SloCharts,
    latency_words: Option<String>,
    burn_rows: Vec<BurnRow>,
    windows: Vec<(String, String, String, String, String)>,
}

#[derive(Deserialize)]
pub struct PageParams {
    range: Option<String>,
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    let range = match params.range.as_deref().filter(|r| !r.is_empty()) {
        None => ChartRange::default(),
        Some(r) => r.parse::<ChartRange>().map_err(WebError::BadRequest)?,
    };
    let s = state.slos.find(&name)?;
    let now = now_ms();
    let data = state.slos.chart_data(&s, Some(&s), range, now).await?;
    let charts = super::slo_charts::build(&s, Some(&s), &data, range);
    let ranges = ChartRange::ALL
        .into_iter()
        .map(|r| (r.key(), r.label(), r == range))
        .collect();
    let (p1, p2, t1, t2) = crate::slo::window::factors(s.period_days);
    let burn = |w: &str| s.windows.get(w).and_then(|x| x.burn_rate);
    let fmt = |b: Option<f64>| {
        b.map(|b| format!("{b:.2}x"))
            .unwrap_or_else(|| "no data".into())
    };
    let row = |alert: &'static str, long: &'static str, short: &'static str, f: f64| BurnRow {
        alert,
        long,
        long_burn: fmt(burn(long)),
        short,
        short_burn: fmt(burn(short)),
        long_over: burn(long).is_some_and(|b| b > f),
        short_over: burn(short).is_some_and(|b| b > f),
        threshold: format!("{f:.2}x"),
    };
    let burn_rows = vec![
        row("page", "1h", "5m", p1),
        row("page", "6h", "30m", p2),
        row("ticket", "1d", "2h", t1),
        row("ticket", "3d", "6h", t2),
    ];
    let pctf = |v: Option<f64>| {
        v.map(|v| format!("{:.4}%", v * 100.0))
            .unwrap_or_else(|| "no data".into())
    };
    let windows = ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "period"]
        .iter()
        .filter_map(|w| s.windows.get(*w).map(|v| (w.to_string(), v)))
        .map(|(w, v)| {
            (
                w,
                pctf(v.sli),
                pctf(v.error_ratio),
                fmt(v.burn_rate),
                v.events
                    .map(|e| format!("{e:.0}"))
                    .unwrap_or_else(|| "–".into()),
            )
        })
        .collect();
    let view = SloView::new(&s);
    html(&SloPage {
        nav: "slos",
        ranges,
        objective: view.objective.clone(),
        words: view.words,
        charts,
        latency_words: s.latency.as_ref().map(super::slo_charts::latency_words),
        burn_rows,
        windows,
        s,
        user,
    })
}
