//! `firewatch status`: SLOs, open incidents and recent deployments in the terminal.
//! Finishes within 5 s even when the server is down, and says what it could not reach.

use std::time::Duration;

use serde_json::Value;

pub struct Options {
    pub url: String,
    pub token: Option<String>,
    pub color: bool,
    /// Terminal width: long titles are cut to fit.
    pub width: usize,
}

/// Cuts `text` to `max` characters with an ellipsis.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let kept: String = text.chars().take(max.saturating_sub(1)).collect();
        kept + "…"
    }
}

/// "2026-12-01 01:20 UTC (4m ago)" from an RFC 3339 time.
fn when(rfc3339: &str, now: i64) -> String {
    match crate::time::parse_rfc3339(rfc3339) {
        Ok(Some(ms)) => format!(
            "{} ({} ago)",
            crate::time::short(ms),
            crate::time::human_duration(now - ms)
        ),
        _ => rfc3339.to_string(),
    }
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

/// Sends a request to Firewatch's API and reads its JSON answer. Err says what went
/// wrong: unreachable, timed out, or the status with the API's message — in the words
/// `explain(status, message)` gives for statuses the caller can explain (401, 403).
pub(crate) async fn api_call(
    req: reqwest::RequestBuilder,
    url: &str,
    path: &str,
    explain: impl Fn(u16, &str) -> Option<String>,
) -> Result<Value, String> {
    let res = req.send().await.map_err(|e| {
        if e.is_timeout() {
            format!("{url} did not answer in time")
        } else {
            format!("cannot reach {url}: {}", crate::net::describe(&e))
        }
    })?;
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let msg = body["error"]["message"].as_str().unwrap_or("");
        return Err(
            explain(status.as_u16(), msg).unwrap_or_else(|| format!("{path}: HTTP {status} {msg}"))
        );
    }
    Ok(body)
}

async fn get(client: &reqwest::Client, o: &Options, path: &str) -> Result<Value, String> {
    let mut req = client.get(format!("{}{path}", o.url.trim_end_matches('/')));
    if let Some(t) = &o.token {
        req = req.bearer_auth(t);
    }
    api_call(req, &o.url, path, |status, msg| {
        (status == 401)
            .then(|| format!("{path}: unauthorized: pass --token or set FIREWATCH_TOKEN ({msg})"))
    })
    .await
}

pub async fn cli(
    url: String,
    token: Option<String>,
    watch: Option<u64>,
) -> Result<(), (u8, String)> {
    use std::io::IsTerminal;
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    // The terminal's width when the shell exports it, else a common one.
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(100);
    let options = Options {
        url,
        token,
        color,
        width,
    };
    loop {
        let report = report(&options).await;
        if watch.is_some() && color {
            print!("\x1b[2J\x1b[H");
        }
        print!("{}", report.text);
        match watch {
            None if report.code == 0 => return Ok(()),
            None => return Err((report.code, "attention needed (see above)".into())),
            Some(secs) => tokio::time::sleep(Duration::from_secs(secs.max(1))).await,
        }
    }
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
    let (slos, incidents, deploys, oncall) = tokio::join!(
        get(&client, o, "/api/v1/slos"),
        get(&client, o, "/api/v1/incidents?status=open&limit=20"),
        get(&client, o, "/api/v1/deployments?limit=5"),
        get(&client, o, "/api/v1/oncall"),
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
                let why = s["reason"]
                    .as_str()
                    .map(|r| format!("\n            {}", paint(c, "90", &format!("no data: {r}"))))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "  {:<9} {:<32} SLI 1h {:>9}  period {:>9}  budget {:>9}  burn 1h {:>7} 6h {:>7}{p99}{why}\n",
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
    let now = crate::time::now_ms();
    match &incidents {
        // The server's error was said once already (under SLOs).
        Err(_) if unreachable => out.push_str("  -\n"),
        Err(e) => {
            out.push_str(&format!("  {}\n", paint(c, "31", e)));
            unreachable = true;
        }
        Ok(v) => {
            let mut items = v["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                out.push_str(&format!("  {}\n", paint(c, "32", "none")));
            }
            // Most urgent first, then the oldest.
            items.sort_by_key(|i| {
                (
                    i["severity"].as_str().unwrap_or("P9").to_string(),
                    i["created_at"].as_str().unwrap_or("").to_string(),
                )
            });
            let id_width = items
                .iter()
                .map(|i| i["id"].to_string().len())
                .max()
                .unwrap_or(1);
            let service_width = items
                .iter()
                .map(|i| i["service"].as_str().unwrap_or("").chars().count().min(16))
                .max()
                .unwrap_or(0)
                .max("service".len());
            for i in items {
                let sev = i["severity"].as_str().unwrap_or("?");
                if sev == "P0" {
                    code = 2;
                }
                let col = match sev {
                    "P0" | "P1" => "31",
                    "P2" => "33",
                    _ => "90",
                };
                let age = crate::time::parse_rfc3339(i["created_at"].as_str().unwrap_or(""))
                    .ok()
                    .flatten()
                    .map(|ms| crate::time::human_duration(now - ms))
                    .unwrap_or_default();
                let head = format!(
                    "  {} #{:<id_width$} {:<12} {:>7}  {:<service_width$}  ",
                    sev,
                    i["id"],
                    i["status"].as_str().unwrap_or(""),
                    age,
                    cut(i["service"].as_str().unwrap_or(""), 16),
                );
                let room = o.width.saturating_sub(head.chars().count()).max(20);
                out.push_str(&format!(
                    "{}{}\n",
                    head.replacen(sev, &paint(c, col, sev), 1),
                    cut(i["title"].as_str().unwrap_or(""), room)
                ));
            }
        }
    }
    // Who is on call (only when a rotation is configured: the API answers 404 otherwise).
    if let Ok(v) = &oncall {
        let person = |p: &Value| {
            let phone = p["phone"].as_str().unwrap_or("");
            let name = p["name"].as_str().unwrap_or("?");
            if phone.is_empty() {
                name.to_string()
            } else {
                format!("{name} ({phone})")
            }
        };
        let until = v["until"]
            .as_str()
            .and_then(|t| crate::time::parse_rfc3339(t).ok().flatten())
            .map(|t| {
                format!(
                    " until {} (in {})",
                    crate::time::short(t),
                    crate::time::human_duration(t - now)
                )
            })
            .unwrap_or_default();
        let second = match &v["secondary"] {
            Value::Null => String::new(),
            s => format!(", secondary {}", person(s)),
        };
        out.push_str(&paint(c, "1", "\nOn call\n"));
        out.push_str(&format!("  {}{until}{second}\n", person(&v["primary"])));
    }
    out.push_str(&paint(c, "1", "\nRecent deployments\n"));
    match &deploys {
        Err(_) if unreachable => out.push_str("  -\n"),
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
                    when(d["at"].as_str().unwrap_or(""), now),
                    d["service"].as_str().unwrap_or(""),
                    d["version"].as_str().unwrap_or("")
                ));
            }
        }
    }
    out.push_str(&paint(
        c,
        "90",
        &format!(
            "\nupdated {} from {}\n",
            crate::time::short_secs(now),
            o.url
        ),
    ));
    if unreachable && code == 0 {
        code = 1;
    }
    Report { text: out, code }
}
