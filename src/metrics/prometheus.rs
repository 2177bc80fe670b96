//! The Prometheus-compatible query API as an SLO source (Prometheus, Thanos, Mimir,
//! VictoriaMetrics): each window's ratio is asked of the engine the team already runs,
//! with the same queries the generated recording rules use.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::slo::engine::{WINDOWS, WindowValue, window_value};
use crate::slo::spec::{SlothQuery, WINDOW_PLACEHOLDER};

#[derive(Debug, Clone)]
pub struct PrometheusSource {
    pub url: String,
    pub timeout: Duration,
    pub retries: u32,
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

/// One API call with retries on network and server errors; the answer's `data`.
async fn call(
    client: &reqwest::Client,
    src: &PrometheusSource,
    path: &str,
    form: &[(&str, String)],
) -> Result<Data, String> {
    let url = format!("{}{path}", src.url.trim_end_matches('/'));
    let query = form
        .iter()
        .find(|(k, _)| *k == "query")
        .map_or("", |(_, v)| v.as_str());
    let mut last = String::new();
    for attempt in 0..=src.retries {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        }
        let res = client
            .post(&url)
            .timeout(src.timeout)
            .form(form)
            .send()
            .await;
        let res = match res {
            Ok(r) => r,
            Err(e) => {
                last = if e.is_timeout() {
                    format!("timed out after {:?}", src.timeout)
                } else {
                    format!("cannot reach {}: {}", src.url, crate::net::describe(&e))
                };
                continue;
            }
        };
        let status = res.status();
        let answer: Answer = match res.json().await {
            Ok(a) => a,
            Err(e) => {
                last = format!("HTTP {status}: not a Prometheus API answer ({e})");
                if status.is_server_error() {
                    continue;
                }
                return Err(last);
            }
        };
        if answer.status != "success" {
            let msg = format!(
                "HTTP {status}: {}",
                answer.error.unwrap_or_else(|| "query failed".into())
            );
            // 4xx: the query is wrong, retrying cannot help.
            if status.is_client_error() {
                return Err(format!("{msg} (query: {query})"));
            }
            last = msg;
            continue;
        }
        return answer.data.ok_or_else(|| "the answer has no data".into());
    }
    Err(last)
}

/// One instant query; `None` when the result is empty (no series: no data).
pub async fn instant(
    client: &reqwest::Client,
    src: &PrometheusSource,
    query: &str,
) -> Result<Option<f64>, String> {
    let data = call(
        client,
        src,
        "/api/v1/query",
        &[("query", query.to_string())],
    )
    .await?;
    match data.result_type.as_str() {
        "vector" => {
            let first = data.result.as_array().and_then(|a| a.first()).cloned();
            match first {
                None => Ok(None),
                Some(sample) => parse_value(&sample["value"]).map(Some),
            }
        }
        "scalar" => parse_value(&data.result).map(Some),
        other => Err(format!("unexpected result type {other} for {query}")),
    }
}

/// A range query (`/api/v1/query_range`) of a single-series expression: (ms, value)
/// points from `start` to `end` (ms) every `step` (ms). Empty when there is no series.
pub async fn range(
    client: &reqwest::Client,
    src: &PrometheusSource,
    query: &str,
    start: i64,
    end: i64,
    step: i64,
) -> Result<Vec<(i64, f64)>, String> {
    let secs = |ms: i64| format!("{:.3}", ms as f64 / 1000.0);
    let form = [
        ("query", query.to_string()),
        ("start", secs(start)),
        ("end", secs(end)),
        ("step", secs(step)),
    ];
    let data = call(client, src, "/api/v1/query_range", &form).await?;
    if data.result_type != "matrix" {
        return Err(format!(
            "unexpected result type {} for {query}",
            data.result_type
        ));
    }
    let Some(series) = data.result.as_array().and_then(|a| a.first()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for v in series["values"]
        .as_array()
        .map_or(&[][..], |v| v.as_slice())
    {
        let at = v
            .get(0)
            .and_then(|t| t.as_f64())
            .ok_or("malformed sample time")?;
        let value = parse_value(v)?;
        if value.is_finite() {
            out.push(((at * 1000.0).round() as i64, value));
        }
    }
    Ok(out)
}

fn parse_value(v: &serde_json::Value) -> Result<f64, String> {
    v.get(1)
        .and_then(|s| s.as_str())
        .ok_or_else(|| "malformed sample".to_string())?
        .parse::<f64>()
        .map_err(|e| format!("malformed sample value: {e}"))
}

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
