//! `firewatch status`: SLOs, open incidents and recent deployments in the terminal.
//! Finishes within 5 s even when the server is down, and says what it could not reach.

use std::time::Duration;

use serde_json::Value;

pub struct Options {
    pub url: String,
    pub token: Option<String>,
    pub color: bool,
}

/// Exit codes: 0 all fine, 1 the server could not be reached, 2 something is critical.
pub struct Report {
    pub text: String,
    pub code: u8,
}

fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn pct(v: &Value) -> String {
    v.as_f64()
        .map(|f| format!("{:.3}%", f * 100.0))
        .unwrap_or_else(|| "no data".into())
}

async fn get(client: &reqwest::Client, o: &Options, path: &str) -> Result<Value, String> {
    let mut req = client.get(format!("{}{path}", o.url.trim_end_matches('/')));
    if let Some(t) = &o.token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.map_err(|e| {
        if e.is_timeout() {
            format!("{} did not answer in time", o.url)
        } else {
            format!("cannot reach {}: {}", o.url, crate::net::describe(&e))
        }
    })?;
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let msg = body["error"]["message"].as_str().unwrap_or("").to_string();
        return Err(match status.as_u16() {
            401 => format!("{path}: unauthorized: pass --token or set FIREWATCH_TOKEN ({msg})"),
            _ => format!("{path}: HTTP {status} {msg}"),
        });
    }
    Ok(body)
}

pub async fn report(o: &Options) -> Report {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(4))
        .connect_timeout(Duration::from_secs(2))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return Report {
                text: format!("cannot build an HTTP client: {e}\n"),
                code: 1,
            };
        }
    };
    let (slos, incidents, deploys) = tokio::join!(
        get(&client, o, "/api/v1/slos"),
        get(&client, o, "/api/v1/incidents?status=open&limit=20"),
        get(&client, o, "/api/v1/deployments?limit=5"),
    );
    let c = o.color;
    let mut out = String::new();
    let mut code = 0u8;
    let mut unreachable = false;

    out.push_str(&paint(c, "1", "SLOs\n"));
    match &slos {
        Err(e) => {
            out.push_str(&format!("  {}\n", paint(c, "31", e)));
            unreachable = true;
        }
        Ok(v) => {
            let items = v["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                out.push_str("  none evaluated yet\n");
            }
            for s in items {
                let status = s["status"].as_str().unwrap_or("?");
                let col = match status {
                    "ok" => "32",
                    "warning" => "33",
                    "critical" => "31",
                    _ => "90",
                };
                if status == "critical" {
                    code = 2;
                }
                let burn = |w: &str| {
                    s["windows"][w]["burn_rate"]
                        .as_f64()
                        .map(|b| format!("{b:.2}x"))
                        .unwrap_or_else(|| "-".into())
                };
                // Latency SLIs: the p99 over the last 5 minutes.
                let p99 = match (s["latency"]["p99"].as_f64(), s["latency"]["unit"].as_str()) {
                    (Some(v), Some("s")) => format!("  p99 {:.0} ms", v * 1000.0),
                    (Some(v), _) => format!("  p99 {v:.3}"),
                    _ => String::new(),
                };
                out.push_str(&format!(
                    "  {:<9} {:<32} SLI 1h {:>9}  period {:>9}  budget {:>9}  burn 1h {:>7} 6h {:>7}{p99}\n",
                    paint(c, col, &format!("{status:<9}")),
                    format!("{}/{}", s["service"].as_str().unwrap_or(""), s["name"].as_str().unwrap_or("")),
                    pct(&s["windows"]["1h"]["sli"]),
                    pct(&s["windows"]["period"]["sli"]),
                    pct(&s["error_budget"]["remaining"]),
                    burn("1h"),
                    burn("6h"),
                ));
            }
        }
    }
    out.push_str(&paint(c, "1", "\nOpen incidents\n"));
    match &incidents {
        Err(e) => {
            out.push_str(&format!("  {}\n", paint(c, "31", e)));
            unreachable = true;
        }
        Ok(v) => {
            let items = v["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                out.push_str(&format!("  {}\n", paint(c, "32", "none")));
            }
            for i in items {
                let sev = i["severity"].as_str().unwrap_or("?");
                if sev == "P0" {
                    code = 2;
                }
                let col = match sev {
                    "P0" => "31",
                    "P1" => "31",
                    "P2" => "33",
                    _ => "90",
                };
                out.push_str(&format!(
                    "  {} #{:<5} {:<13} {}\n",
                    paint(c, col, sev),
                    i["id"],
                    i["status"].as_str().unwrap_or(""),
                    i["title"].as_str().unwrap_or("")
                ));
            }
        }
    }
    out.push_str(&paint(c, "1", "\nRecent deployments\n"));
    match &deploys {
        Err(e) => {
            out.push_str(&format!("  {}\n", paint(c, "31", e)));
            unreachable = true;
        }
        Ok(v) => {
            let items = v["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                out.push_str("  none recorded\n");
            }
            for d in items {
                out.push_str(&format!(
                    "  {}  {} {}\n",
                    d["at"].as_str().unwrap_or(""),
                    d["service"].as_str().unwrap_or(""),
                    d["version"].as_str().unwrap_or("")
                ));
            }
        }
    }
    if unreachable && code == 0 {
        code = 1;
    }
    Report { text: out, code }
}
