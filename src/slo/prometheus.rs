//! The Prometheus-compatible query API as an SLO source: each window's ratio is asked of
//! the engine the team already runs, with the same queries the generated recording rules
//! use; its history back-fills Firewatch's own.

use std::collections::BTreeMap;

use super::spec::{SlothQuery, WINDOW_PLACEHOLDER};
use super::window::{WINDOWS, WindowValue, window_value};
use crate::metrics::prometheus::{PrometheusSource, instant, range};

/// Windows 5m..3d and the period from the engine. Event SLIs divide the error rate by the
/// total rate; raw SLIs are an error ratio already (they carry no event count, so the
/// minimum-traffic guard does not apply to them).
pub async fn windows(
    client: &reqwest::Client,
    src: &PrometheusSource,
    q: &SlothQuery,
    period_days: u32,
    budget: f64,
) -> Result<BTreeMap<String, WindowValue>, String> {
    let period = format!("{period_days}d");
    let mut names: Vec<(String, f64)> = WINDOWS
        .iter()
        .map(|(n, ms)| (n.to_string(), *ms as f64 / 1000.0))
        .collect();
    names.push((period.clone(), period_days as f64 * 86_400.0));
    let tasks = names.iter().map(|(w, secs)| {
        let w = w.clone();
        let secs = *secs;
        async move {
            let fill = |t: &str| t.replace(WINDOW_PLACEHOLDER, &w);
            let value = match q {
                SlothQuery::Events {
                    error_query,
                    total_query,
                } => {
                    let (eq, tq) = (fill(error_query), fill(total_query));
                    let (e, t) = tokio::join!(instant(client, src, &eq), instant(client, src, &tq));
                    match (e?, t?) {
                        (_, None) => window_value(0.0, 0.0, 0, budget),
                        // Rates: scale to events over the window for the traffic guard.
                        (e, Some(t)) => window_value(e.unwrap_or(0.0) * secs, t * secs, 1, budget),
                    }
                }
                SlothQuery::Raw { error_ratio_query } => {
                    match instant(client, src, &fill(error_ratio_query)).await? {
                        None => window_value(0.0, 0.0, 0, budget),
                        Some(r) if r.is_finite() => {
                            let mut v = window_value(r.clamp(0.0, 1.0), 1.0, 1, budget);
                            v.events = None;
                            v
                        }
                        Some(_) => window_value(0.0, 0.0, 0, budget),
                    }
                }
            };
            Ok::<_, String>((w, value))
        }
    });
    let results = futures_util::future::join_all(tasks).await;
    let mut out = BTreeMap::new();
    for r in results {
        let (w, v) = r?;
        let key = if w == period { "period".to_string() } else { w };
        out.insert(key, v);
    }
    Ok(out)
}

/// p50, p90 and p99 from their three queries; None when any has no value (no traffic).
pub async fn percentiles(
    client: &reqwest::Client,
    src: &PrometheusSource,
    queries: &[String],
) -> Result<Option<[f64; 3]>, String> {
    let [a, b, c] = queries else {
        return Err("three quantile queries expected".into());
    };
    let (a, b, c) = tokio::join!(
        instant(client, src, a),
        instant(client, src, b),
        instant(client, src, c)
    );
    Ok(match (a?, b?, c?) {
        (Some(a), Some(b), Some(c)) if a.is_finite() && b.is_finite() && c.is_finite() => {
            Some([a, b, c])
        }
        _ => None,
    })
}

/// A PromQL duration for `ms` ("5m" style is not needed: seconds or milliseconds).
fn promql_duration(ms: i64) -> String {
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Past events of one SLO from the query API, for back-filling Firewatch's own history:
/// (t, bad, total) every `step` ms in (start, end], each point covering the `step` before
/// it. Event SLIs turn the rates over `step` into counts; raw ratios count as one event
/// per evaluation interval (`interval_ms`), as the live evaluation records them. Asks in
/// chunks of at most 10,000 points (Prometheus refuses more than 11,000).
pub async fn past_events(
    client: &reqwest::Client,
    src: &PrometheusSource,
    q: &SlothQuery,
    start: i64,
    end: i64,
    step: i64,
    interval_ms: i64,
) -> Result<Vec<(i64, f64, f64)>, String> {
    let window = promql_duration(step);
    let fill = |t: &str| t.replace(WINDOW_PLACEHOLDER, &window);
    let step_s = step as f64 / 1000.0;
    let mut out = Vec::new();
    let mut from = start + step;
    while from <= end {
        let to = (from + 9_999 * step).min(end);
        match q {
            SlothQuery::Events {
                error_query,
                total_query,
            } => {
                let (eq, tq) = (fill(error_query), fill(total_query));
                let (e, t) = tokio::join!(
                    range(client, src, &eq, from, to, step),
                    range(client, src, &tq, from, to, step)
                );
                let errors: BTreeMap<i64, f64> = e?.into_iter().collect();
                // No events is no data here, as in the live evaluation.
                for (at, total) in t?.into_iter().filter(|(_, t)| *t > 0.0) {
                    let bad = errors.get(&at).copied().unwrap_or(0.0).clamp(0.0, total);
                    out.push((at, bad * step_s, total * step_s));
                }
            }
            SlothQuery::Raw { error_ratio_query } => {
                let weight = step as f64 / interval_ms.max(1) as f64;
                for (at, ratio) in
                    range(client, src, &fill(error_ratio_query), from, to, step).await?
                {
                    out.push((at, ratio.clamp(0.0, 1.0) * weight, weight));
                }
            }
        }
        from = to + step;
    }
    Ok(out)
}

/// One Prometheus-measured SLO now: its windows, and for latency SLIs its percentiles.
pub async fn measure(
    client: &reqwest::Client,
    src: &PrometheusSource,
    job: &super::engine::PromJob,
) -> (
    Result<BTreeMap<String, WindowValue>, String>,
    Option<[f64; 3]>,
) {
    let w = windows(client, src, &job.query, job.period_days, job.budget).await;
    let latency = match (&w, &job.quantiles) {
        (Ok(_), Some(q)) => percentiles(client, src, q).await.ok().flatten(),
        _ => None,
    };
    (w, latency)
}
