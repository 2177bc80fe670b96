//! `firewatch report`: a month's report from the data directory (the server may be
//! running or stopped), written as HTML, Markdown, PDF or JSON. Nothing is stored; the
//! page and the API store revisions. A progress bar appears when it takes more than a
//! moment and standard error is a terminal.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Reports, render};

/// A standalone HTML document around the report's body (its own small stylesheet).
fn document(r: &super::Report, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>SLO report {}</title><style>{}</style></head><body>{body}</body></html>\n",
        r.label
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;"),
        STYLE
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;color:#111827;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}\
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border-bottom:1px solid #d1d5db;padding:.3rem .5rem;text-align:left}\
.muted{color:#4b5563}.small{font-size:.85rem}.outcome-ok{color:#15803d;font-weight:700}.outcome-failed{color:#b91c1c;font-weight:700}\
svg{width:100%;height:auto;max-width:760px}svg .line{fill:none;stroke:#1d4ed8;stroke-width:2}svg .grid{stroke:#e5e7eb}\
svg .ref{stroke:#b45309;stroke-dasharray:4 3}svg text{font-size:11px;fill:#4b5563}.sr{position:absolute;left:-9999px}";

/// The command: the report of `month` over `db` with the settings' SLOs, rendered as
/// `format`; Err((exit code, message)).
pub async fn report(
    s: &crate::config::Resolved,
    configured: &[crate::slo::spec::SloSpec],
    db: crate::db::Db,
    month: Option<String>,
    format: &str,
) -> Result<Vec<u8>, (u8, String)> {
    let tz = crate::config::time_zone(&s.raw.evaluation.time_zone)
        .map_err(|e| (2, format!("evaluation.time_zone: {e}")))?;
    let reports = Reports::new(super::ReportsSetup {
        db,
        slos: crate::generate::measured_slos(s, configured)
            .iter()
            .map(Into::into)
            .collect(),
        tz,
        tz_name: s.raw.evaluation.time_zone.clone(),
        public_url: s.public_url(),
    });
    run(&reports, month, format, crate::time::now_ms()).await
}

/// Computes and renders; Err((exit code, message)).
pub async fn run(
    reports: &Reports,
    month: Option<String>,
    format: &str,
    now: i64,
) -> Result<Vec<u8>, (u8, String)> {
    let m = match month {
        Some(k) => reports.month(&k),
        None => reports.last_month(now),
    }
    .map_err(|e| (2, format!("--month: {e}")))?;
    let started = Instant::now();
    let bar =
        ProgressBar::with_draw_target(Some(reports.steps() as u64), ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let shown = Mutex::new(false);
    let progress = |step: &str| {
        bar.inc(1);
        bar.set_message(format!("reading {step}"));
        let mut shown = shown.lock().unwrap_or_else(|e| e.into_inner());
        if !*shown
            && started.elapsed() > Duration::from_millis(300)
            && std::io::stderr().is_terminal()
        {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            *shown = true;
        }
    };
    let report = reports
        .compute_with(&m, "firewatch report", now, &progress)
        .await
        .map_err(|e| (1, e.to_string()))?;
    bar.finish_and_clear();
    let local = |ms: i64| crate::time::in_zone(ms, &m.tz, "%Y-%m-%d %H:%M %Z");
    Ok(match format {
        "md" => render::markdown(&report, &reports.public_url(), &local).into_bytes(),
        "pdf" => super::pdf::render(&report, &local).map_err(|e| (1, e))?,
        "json" => serde_json::to_vec_pretty(&report).map_err(|e| (1, e.to_string()))?,
        _ => document(&report, &render::html(&report, &local).map_err(|e| (1, e))?).into_bytes(),
    })
}
