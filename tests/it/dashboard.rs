//! The generated Grafana dashboard and rules against what exists: every query of every
//! panel and annotation runs through a real Prometheus (Debian's package) that scrapes a
//! test service and Firewatch and evaluates the generated rules, and must return data for
//! the selected service only; every metric a rule or panel names must be exported by
//! Firewatch, the test service or a generated recording rule.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

use crate::helpers::*;

/// Requests of two services (`shop`, `search`) with 10 % errors and half of them slower
/// than 100 ms, and a probe of `shop`: enough for every SLI kind and for burn-rate pages.
fn exposition(n: f64) -> String {
    let mut out = String::from(
        "# TYPE http_requests_total counter\n# TYPE http_request_duration_seconds histogram\n\
         # TYPE probe_success gauge\nprobe_success{service=\"shop\"} 1\n",
    );
    for service in ["shop", "search"] {
        out.push_str(&format!(
            "http_requests_total{{service=\"{service}\",code=\"200\"}} {ok}\n\
             http_requests_total{{service=\"{service}\",code=\"500\"}} {bad}\n\
             http_request_duration_seconds_bucket{{service=\"{service}\",le=\"0.1\"}} {fast}\n\
             http_request_duration_seconds_bucket{{service=\"{service}\",le=\"+Inf\"}} {all}\n\
             http_request_duration_seconds_sum{{service=\"{service}\"}} {sum}\n\
             http_request_duration_seconds_count{{service=\"{service}\"}} {all}\n",
            ok = 9.0 * n,
            bad = n,
            fast = 5.0 * n,
            all = 10.0 * n,
            sum = 2.0 * n,
        ));
    }
    out
}

/// Metric names in the exposition text: its samples and its declared families (a family
/// declared without samples yet, such as deliveries of a channel never used, exists).
fn exposed(text: &str) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if let (Some("#"), Some("TYPE"), Some(name), Some(kind)) =
            (words.next(), words.next(), words.next(), words.next())
        {
            let suffixes: &[&str] = match kind {
                "counter" => &["_total"],
                "histogram" => &["_bucket", "_sum", "_count"],
                _ => &[""],
            };
            for s in suffixes {
                names.insert(format!("{}{s}", name.trim_end_matches("_total")));
            }
        }
    }
    names
}

fn start_target() -> String {
    let n = Arc::new(Mutex::new(0.0_f64));
    let server = HttpServer::new(move || {
        let n = n.clone();
        App::new().route(
            "/metrics",
            web::get().to(move || {
                let n = n.clone();
                async move {
                    let mut v = n.lock().unwrap();
                    *v += 100.0;
                    HttpResponse::Ok()
                        .content_type("text/plain; version=0.0.4")
                        .body(exposition(*v))
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    format!("127.0.0.1:{port}")
}

const SLOS: &str = r#"
[[slo]]
name = "shop-availability"
service = "shop"
objective = 99.9
[slo.ratio]
errors = 'http_requests_total{service="shop",code=~"5.."}'
total = 'http_requests_total{service="shop"}'

[[slo]]
name = "shop-latency"
service = "shop"
objective = 99
[slo.latency]
histogram = 'http_request_duration_seconds{service="shop"}'
threshold = 0.1

[[slo]]
name = "shop-probe"
service = "shop"
objective = 99.5
[slo.probe]
metric = 'probe_success{service="shop"}'

[[slo]]
name = "search-latency"
service = "search"
objective = 99
[slo.latency]
histogram = 'http_request_duration_seconds{service="search"}'
threshold = 0.1
"#;

/// A Sloth file: the events SLI of another input format.
const SLOTH: &str = r#"version: "prometheus/v1"
service: "search"
slos:
  - name: "search-availability"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{service="search",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{service="search"}[{{.window}}]))
    alerting:
      name: SearchAvailability
      page_alert:
        labels:
          severity: P0
      ticket_alert:
        labels:
          severity: P2
"#;

fn generate(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_firewatch"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "firewatch {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Operators, modifiers and aggregations (which may be followed by `by (...)` rather
/// than by their parenthesis).
const KEYWORDS: [&str; 25] = [
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "inf",
    "nan",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
];

/// The metric names a PromQL expression selects: identifiers outside strings, label
/// matchers, ranges and grouping lists that are neither functions nor keywords.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let skip_to = |mut i: usize, open: char, close: char| {
        let mut depth = 0;
        while i < chars.len() {
            if chars[i] == '"' {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
            } else if chars[i] == open {
                depth += 1;
            } else if chars[i] == close {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            i += 1;
        }
        i
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '{' {
            i = skip_to(i, '{', '}');
        } else if c == '[' {
            i = skip_to(i, '[', ']');
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            let call = j < chars.len() && chars[j] == '(';
            let grouping = [
                "by",
                "without",
                "on",
                "ignoring",
                "group_left",
                "group_right",
            ];
            if call && grouping.contains(&word.as_str()) {
                i = skip_to(j, '(', ')');
            } else if !call && !KEYWORDS.contains(&word.to_ascii_lowercase().as_str()) {
                names.insert(word);
            }
        } else if c.is_ascii_digit() || c == '.' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn metric_names_skip_functions_labels_ranges_and_grouping() {
    let names = metric_names(
        r#"sum by (le) (rate(a_bucket{x="y{z}"}[5m])) / on(sloth_id) group_left b:c:d{e=~"$f"} and ALERTS > 0.5e3"#,
    );
    assert_eq!(
        names,
        BTreeSet::from(["a_bucket".into(), "b:c:d".into(), "ALERTS".into()])
    );
    assert!(metric_names("vector(1) - 1").is_empty());
}

/// Every PromQL expression of the dashboard: (where, expression).
fn dashboard_queries(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in doc["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            out.push((
                format!("panel {:?} {}", p["title"], t["refId"]),
                t["expr"].as_str().unwrap().to_string(),
            ));
        }
    }
    for a in doc["annotations"]["list"].as_array().unwrap() {
        if let Some(expr) = a["expr"].as_str() {
            out.push((format!("annotation {:?}", a["name"]), expr.to_string()));
        }
    }
    out
}

/// Grafana's variables as Grafana would interpolate them for `service`.
fn interpolate(expr: &str, service: &str, now_ms: i64) -> String {
    expr.replace("$service", service)
        .replace("$slo", ".*")
        .replace("$__rate_interval", "1m")
        .replace("$__range", "1h")
        .replace("$__from", &(now_ms - 3_600_000).to_string())
}

async fn query(client: &reqwest::Client, prom: &str, expr: &str) -> Vec<Value> {
    let body: Value = client
        .get(format!("{prom}/api/v1/query"))
        .query(&[("query", expr)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "success", "{expr}: {body}");
    body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_and_rule_refers_to_metrics_that_exist_for_the_chosen_service() {
    let app = spawn_app().await;
    let now = firewatch::time::now_ms();
    for (service, version, ago) in [
        ("shop", "1.4.1", 600_000),
        ("shop", "1.4.2", 120_000),
        ("search", "7.0.0", 60_000),
    ] {
        let at = firewatch::time::rfc3339(now - ago);
        let (status, body) = app
            .post_json(
                "/api/v1/deployments",
                &app.responder_token,
                &json!({"service": service, "version": version, "at": at}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    // An older deployment recorded late does not displace the latest version.
    let at = firewatch::time::rfc3339(now - 3_000_000);
    let (status, _) = app
        .post_json(
            "/api/v1/deployments",
            &app.responder_token,
            &json!({"service": "shop", "version": "1.3.9", "at": at}),
        )
        .await;
    assert_eq!(status, 201);
    let metrics = app.metrics_text().await;
    let deploy_lines: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("firewatch_last_deployment_timestamp_seconds{"))
        .collect();
    assert_eq!(
        deploy_lines.len(),
        2,
        "one series per service: {deploy_lines:?}"
    );
    assert!(
        deploy_lines
            .iter()
            .any(|l| l.contains(r#"service="shop""#) && l.contains(r#"version="1.4.2""#)),
        "{deploy_lines:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("slos.toml"), SLOS).unwrap();
    std::fs::write(dir.path().join("search.yaml"), SLOTH).unwrap();
    let rules = generate(
        dir.path(),
        &[
            "generate",
            "prometheus-rules",
            "--config",
            "slos.toml",
            "--input",
            "search.yaml",
            "--self-monitoring",
        ],
    );
    std::fs::write(dir.path().join("rules.yaml"), &rules).unwrap();
    let check = std::process::Command::new("/usr/bin/promtool")
        .args(["check", "rules"])
        .arg(dir.path().join("rules.yaml"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let dashboard_text = generate(dir.path(), &["generate", "grafana-dashboard"]);
    let dashboard: Value = serde_json::from_str(&dashboard_text).unwrap();

    let target = start_target();
    let firewatch_host = app.address.trim_start_matches("http://").to_string();
    let prometheus = Prometheus::start(
        dir.path(),
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yaml]\n\
             scrape_configs:\n  - job_name: app\n    static_configs: [{{targets: ['{target}']}}]\n\
             \x20 - job_name: firewatch\n    static_configs: [{{targets: ['{firewatch_host}']}}]\n"
        ),
    )
    .await;
    let prom = prometheus.url.clone();
    let client = reqwest::Client::new();

    // What exists: Firewatch's own metrics, the service's, the recording rules' and
    // Prometheus's own series.
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&rules).unwrap();
    let mut records = BTreeSet::new();
    let mut rule_exprs = Vec::new();
    for g in doc["groups"].as_sequence().unwrap() {
        for r in g["rules"].as_sequence().unwrap() {
            let name = r["record"]
                .as_str()
                .or(r["alert"].as_str())
                .unwrap()
                .to_string();
            if r["record"].is_string() {
                records.insert(name.clone());
            }
            rule_exprs.push((
                format!("rule {name}"),
                r["expr"].as_str().unwrap().to_string(),
            ));
        }
    }
    let mut known: BTreeSet<String> = exposed(&app.metrics_text().await);
    known.extend(exposed(&exposition(1.0)));
    known.extend(records.iter().cloned());
    known.extend(["up".to_string(), "ALERTS".to_string()]);
    let queries = dashboard_queries(&dashboard);
    assert!(queries.len() >= 17, "{queries:?}");
    let mut unknown = Vec::new();
    for (what, expr) in queries.iter().chain(&rule_exprs) {
        for name in metric_names(&interpolate(expr, "shop", now)) {
            if !known.contains(&name) {
                unknown.push(format!("{what}: {name}"));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "metrics nothing exports:\n{}",
        unknown.join("\n")
    );

    // Every query returns data for the chosen service, and only for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let mut missing: Vec<String>;
    loop {
        missing = Vec::new();
        for service in ["shop", "search"] {
            for (what, expr) in &queries {
                let expr = interpolate(expr, service, firewatch::time::now_ms());
                let result = query(&client, &prom, &expr).await;
                if result.is_empty() {
                    missing.push(format!("{service}: {what}: {expr}"));
                }
                // Only Firewatch-wide panels may answer without naming the service.
                let firewatch_wide = what.contains("Open incidents by severity");
                for series in &result {
                    let m = &series["metric"];
                    let named = m["sloth_service"].as_str().or(m["service"].as_str());
                    if !firewatch_wide || named.is_some() {
                        assert_eq!(named, Some(service), "{what} for {service}: {series}");
                    }
                }
            }
        }
        // Every recording rule yields series for every SLO it covers.
        let mut by_record: BTreeMap<String, usize> = BTreeMap::new();
        for record in &records {
            by_record.insert(record.clone(), query(&client, &prom, record).await.len());
        }
        missing.extend(
            by_record
                .iter()
                .filter(|(_, n)| **n == 0)
                .map(|(r, _)| format!("recording rule {r} has no series")),
        );
        if missing.is_empty() || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    }
    assert!(missing.is_empty(), "no data:\n{}", missing.join("\n"));

    // The deployment annotation and table carry the version, at the deployment's time.
    let annotation = dashboard["annotations"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "Deployments")
        .unwrap();
    let marks = query(
        &client,
        &prom,
        &interpolate(annotation["expr"].as_str().unwrap(), "shop", now),
    )
    .await;
    assert_eq!(marks.len(), 1, "{marks:?}");
    assert_eq!(marks[0]["metric"]["version"], "1.4.2");
    let at_ms: f64 = marks[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!((at_ms - (now - 120_000) as f64).abs() < 1_000.0, "{at_ms}");

    // The rules evaluate without errors.
    let body: Value = client
        .get(format!("{prom}/api/v1/rules"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for g in body["data"]["groups"].as_array().unwrap() {
        for r in g["rules"].as_array().unwrap() {
            assert_eq!(r["health"], "ok", "{r}");
        }
    }
}
