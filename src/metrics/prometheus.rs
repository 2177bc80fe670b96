//! A client of the Prometheus-compatible query API (Prometheus, Thanos, Mimir,
//! VictoriaMetrics): instant and range queries with retries on network and server errors.

use std::time::Duration;

use serde::Deserialize;

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
        let parsed = match crate::net::read_capped(res, crate::net::MAX_ANSWER_BYTES).await {
            Ok(body) => serde_json::from_slice::<Answer>(&body).map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let answer: Answer = match parsed {
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
