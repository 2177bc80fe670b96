//! SLO evaluation with the built-in scraper against a target whose counters the test
//! controls.

use std::io::Write;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use reqwest::StatusCode;

use crate::helpers::*;

/// A /metrics endpoint with counters the test sets.
#[derive(Clone)]
pub(crate) struct Target {
    url: String,
    state: Arc<Mutex<TargetState>>,
}

#[derive(Clone)]
struct TargetState {
    ok: f64,
    errors: f64,
    /// Serve this instead of metrics (malformed text).
    garbage: Option<String>,
    status: u16,
}

impl Target {
    pub(crate) fn start() -> Self {
        let state = Arc::new(Mutex::new(TargetState {
            ok: 0.0,
            errors: 0.0,
            garbage: None,
            status: 200,
        }));
        let s = state.clone();
        let server = HttpServer::new(move || {
            let s = s.clone();
            App::new().route(
                "/metrics",
                web::get().to(move |req: HttpRequest| {
                    let st = s.lock().unwrap().clone();
                    async move {
                        if st.status != 200 {
                            return HttpResponse::build(actix_web::http::StatusCode::from_u16(st.status).unwrap()).finish();
                        }
                        let body = st.garbage.clone().unwrap_or_else(|| {
                            format!(
                                "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n\
                                 http_requests_total{{code=\"200\",method=\"get\"}} {}\n\
                                 http_requests_total{{code=\"500\",method=\"get\"}} {}\n\
                                 unrelated_metric{{x=\"y\"}} 42\n\
                                 # TYPE http_request_duration_seconds histogram\n\
                                 http_request_duration_seconds_bucket{{le=\"0.1\"}} {}\n\
                                 http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n\
                                 http_request_duration_seconds_sum 1\n\
                                 http_request_duration_seconds_count {}\n",
                                st.ok, st.errors, st.ok, st.ok + st.errors, st.ok + st.errors
                            )
                        });
                        let gzip = req
                            .headers()
                            .get("accept-encoding")
                            .is_some_and(|v| v.to_str().unwrap_or("").contains("gzip"));
                        if gzip {
                            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                            enc.write_all(body.as_bytes()).unwrap();
                            HttpResponse::Ok()
                                .insert_header(("Content-Encoding", "gzip"))
                                .content_type("text/plain; version=0.0.4")
                                .body(enc.finish().unwrap())
                        } else {
                            HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(body)
                        }
                    }
                }),
            )
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Self {
            url: format!("http://127.0.0.1:{port}/metrics"),
            state,
        }
    }

    pub(crate) fn add(&self, ok: f64, errors: f64) {
        let mut s = self.state.lock().unwrap();
        s.ok += ok;
        s.errors += errors;
    }
}

const SLO: &str = r#"
[[slo]]
name = "checkout-availability"
service = "checkout"
objective = 99.9
period = "30d"
source = "scrape"
[slo.ratio]
errors = 'http_requests_total{job="checkout",code=~"5.."}'
total = 'http_requests_total{job="checkout"}'
"#;

pub(crate) async fn app_for(target: &Target) -> TestApp {
    let url = target.url.clone();
    spawn_app_with_slos(
        |s| {
            s.scrapes = vec![firewatch::config::ScrapeSettings {
                job: "checkout".into(),
                url,
                interval: Some("1h".into()),
                timeout: Some("2s".into()),
            }];
            s.evaluation.interval = "1h".into(); // the test drives evaluation itself
            s.evaluation.min_events = 100.0;
        },
        SLO,
    )
    .await
}

pub(crate) async fn evaluate(app: &TestApp) {
    firewatch::scheduler::run_slo_evaluation_once(&app.state)
        .await
        .unwrap();
}

async fn slo(app: &TestApp) -> serde_json::Value {
    let (code, body) = app
        .get_json("/api/v1/slos/checkout-availability", &app.viewer_token)
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    body
}

/// Moves all recorded history `ms` into the past, as if that much time went by.
async fn age_history(app: &TestApp, ms: i64) {
    assert_eq!(
        ms % 3_600_000,
        0,
        "whole hours keep the hourly rollups aligned"
    );
    app.exec("UPDATE slo_samples SET at = at - ?1", &[DbValue::Int(ms)])
        .await;
    app.exec(
        "UPDATE slo_hourly SET hour = hour - ?1",
        &[DbValue::Int(ms)],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_service_has_its_sli_budget_and_burn_rates_computed() {
    let target = Target::start();
    target.add(1000.0, 0.0);
    let app = app_for(&target).await;
    evaluate(&app).await; // baseline
    let s = slo(&app).await;
    assert_eq!(
        s["status"], "no-data",
        "one scrape is a baseline, not a measurement"
    );
    assert!(s["windows"]["5m"]["sli"].is_null());

    target.add(1999.0, 1.0); // 0.05 % errors: half the 0.1 % budget
    evaluate(&app).await;
    let s = slo(&app).await;
    assert_eq!(s["objective"], 0.999);
    assert_eq!(s["status"], "ok");
    for w in ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "period"] {
        let sli = s["windows"][w]["sli"].as_f64().unwrap();
        assert!((sli - 0.9995).abs() < 1e-9, "{w}: {sli}");
        let burn = s["windows"][w]["burn_rate"].as_f64().unwrap();
        assert!((burn - 0.5).abs() < 1e-6, "{w}: {burn}");
    }
    let remaining = s["error_budget"]["remaining"].as_f64().unwrap();
    assert!(
        (remaining - 0.5).abs() < 1e-6,
        "burning at 0.5x leaves half the budget: {remaining}"
    );
    // At 0.5x the budget lasts twice the period from here: remaining 0.5 * 720 h / 0.5.
    let hours = s["error_budget"]["hours_to_exhaustion"].as_f64().unwrap();
    assert!((hours - 720.0).abs() < 1e-6, "{hours}");

    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(
            "firewatch_slo_objective{slo=\"checkout-availability\",service=\"checkout\"} 0.999"
        ),
        "{metrics}"
    );
    assert!(metrics.contains(
        "firewatch_slo_sli{slo=\"checkout-availability\",service=\"checkout\",window=\"1h\"} 0.9995"
    ));
    assert!(metrics.contains(
        "firewatch_slo_burn_rate{slo=\"checkout-availability\",service=\"checkout\",window=\"5m\"}"
    ));
    assert!(metrics.contains("firewatch_slo_error_budget_remaining{"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_traffic_shows_no_data_not_100_percent_and_a_counter_reset_loses_nothing() {
    let target = Target::start();
    target.add(500.0, 5.0);
    let app = app_for(&target).await;
    evaluate(&app).await;
    evaluate(&app).await; // no new requests
    let s = slo(&app).await;
    assert!(
        s["windows"]["5m"]["sli"].is_null(),
        "zero traffic is not 100 %"
    );
    assert_eq!(s["status"], "no-data");
    // The target restarts: counters start again from small values.
    {
        let mut st = target.state.lock().unwrap();
        st.ok = 100.0;
        st.errors = 0.0;
    }
    evaluate(&app).await;
    let s = slo(&app).await;
    assert_eq!(
        s["windows"]["5m"]["events"], 100.0,
        "after a reset the new value is the increase"
    );
    assert_eq!(s["windows"]["5m"]["sli"], 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_burn_opens_an_incident_and_it_resolves_when_the_burn_stops() {
    let target = Target::start();
    target.add(1000.0, 0.0);
    let app = app_for(&target).await;
    evaluate(&app).await;
    target.add(800.0, 200.0); // 20 % errors: 200x the budget
    evaluate(&app).await;
    let s = slo(&app).await;
    assert_eq!(s["status"], "critical");
    assert_eq!(s["alert"], "page");
    let open = app.incidents("open").await;
    assert_eq!(open.len(), 1, "{open:?}");
    // The severity the generated Prometheus rule gives the same alert (native SLOs page
    // with P0), a title naming the SLO, the burn rate and the alert, and the engine (not
    // Alertmanager) as the one who opened it.
    assert_eq!(open[0]["severity"], "P0");
    assert_eq!(open[0]["source"], "slo");
    assert_eq!(open[0]["service"], "checkout");
    assert_eq!(
        open[0]["title"],
        "checkout checkout-availability: budget burning 200× (page)"
    );
    assert_eq!(open[0]["created_by"], "firewatch-slo");
    let id = open[0]["id"].as_i64().unwrap();
    let inc = app.incident(id).await;
    let opened = &inc["timeline"][0];
    assert_eq!(opened["actor"], "firewatch-slo", "{inc}");
    assert!(
        opened["message"]
            .as_str()
            .unwrap()
            .starts_with("Incident opened by Firewatch's SLO engine (burn rate)"),
        "{inc}"
    );
    let cookie = viewer_session(&app, "vic").await;
    let (_, html) = app.page(&format!("/incidents/{id}"), &cookie).await;
    assert!(
        html.contains(
            r#"href="/slos/checkout-checkout-availability">SLO checkout-availability →</a>"#
        ),
        "{html}"
    );
    // Evaluating again while it still burns changes nothing.
    evaluate(&app).await;
    assert_eq!(app.count_rows("incidents").await, 1);

    // The errors stop and four days pass: every alert window is clean again.
    age_history(&app, 4 * 86_400_000).await;
    target.add(1000.0, 0.0);
    evaluate(&app).await;
    let s = slo(&app).await;
    assert_ne!(s["alert"], "page");
    let inc = app.incident(id).await;
    assert_eq!(inc["status"], "resolved", "{inc}");
    assert!(
        inc["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["kind"] == "auto_resolved")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handful_of_requests_never_pages() {
    let target = Target::start();
    let started = firewatch::time::now_ms();
    let app = app_for(&target).await;
    evaluate(&app).await;
    target.add(5.0, 5.0); // 50 % errors, but 10 requests
    evaluate(&app).await;
    let s = slo(&app).await;
    assert!(s["alert"].is_null());
    assert!(app.incidents("open").await.is_empty());
    // Half the requests failed, so the period's budget is overspent on paper; but the
    // period is minutes old: the SLO says so instead of turning critical.
    assert!(
        s["error_budget"]["remaining"].as_f64().unwrap() < 0.0,
        "{s}"
    );
    assert_eq!(s["too_early"], true, "{s}");
    assert_eq!(s["status"], "ok", "{s}");
    assert!(s["coverage"].as_f64().unwrap() < 0.01, "{s}");
    // Measured since the first evaluation, not the start of its hour.
    let since = firewatch::time::parse_rfc3339(s["measured_since"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert!(since >= started, "{s}");
    let cookie = viewer_session(&app, "yana").await;
    for path in ["/slos", "/slos/checkout-checkout-availability"] {
        let (_, html) = app.page(path, &cookie).await;
        assert!(
            html.contains("Too early to judge the period. Measured since "),
            "{path}: {html}"
        );
        assert!(html.contains(" of the period)."), "{path}");
    }
    // Once enough of the period is measured (evaluation.min_coverage, 5 %), the spent
    // budget counts.
    age_history(&app, 3 * 86_400_000).await;
    evaluate(&app).await;
    let s = slo(&app).await;
    assert_eq!(s["too_early"], false, "{s}");
    assert_eq!(s["status"], "critical", "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_or_broken_target_is_reported_and_records_no_data() {
    let target = Target::start();
    target.add(100.0, 0.0);
    let app = app_for(&target).await;
    evaluate(&app).await;
    target.state.lock().unwrap().garbage = Some("http_requests_total{code=\"200\" 12\n".into());
    evaluate(&app).await;
    let (_, targets) = app.get_json("/api/v1/targets", &app.viewer_token).await;
    let t = &targets["items"][0];
    assert_eq!(t["up"], false);
    let err = t["error"].as_str().unwrap();
    assert!(
        err.contains("malformed metrics") && err.contains("line 1"),
        "{err}"
    );
    target.state.lock().unwrap().garbage = None;
    target.state.lock().unwrap().status = 503;
    evaluate(&app).await;
    let (_, targets) = app.get_json("/api/v1/targets", &app.viewer_token).await;
    assert!(
        targets["items"][0]["error"]
            .as_str()
            .unwrap()
            .contains("503")
    );
    assert_eq!(
        app.count_rows("slo_samples").await,
        0,
        "no rows while the target is broken"
    );
    assert_eq!(slo(&app).await["status"], "no-data");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_configuration_firewatch_measures_its_own_api() {
    let app = spawn_app().await;
    evaluate(&app).await;
    for _ in 0..5 {
        app.get_json("/api/v1/incidents", &app.viewer_token).await;
    }
    // A request is counted once its answer is finished, which may be just after the
    // client has it: evaluate until the self-scrape has seen all five (a busy machine
    // may need a few rounds).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let body = loop {
        evaluate(&app).await;
        let (code, body) = app.get_json("/api/v1/slos", &app.viewer_token).await;
        assert_eq!(code, StatusCode::OK);
        let events = body["items"][0]["windows"]["5m"]["events"].as_f64();
        if events.is_some_and(|e| e >= 5.0) || std::time::Instant::now() > deadline {
            break body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let names: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api-availability", "api-latency"]);
    let avail = &body["items"][0];
    assert_eq!(avail["service"], "firewatch");
    assert_eq!(avail["windows"]["5m"]["sli"], 1.0, "{avail}");
    assert!(
        avail["windows"]["5m"]["events"].as_f64().unwrap() >= 5.0,
        "{avail}"
    );
    let latency = &body["items"][1];
    assert!(
        latency["windows"]["5m"]["sli"].as_f64().is_some(),
        "{latency}"
    );
    // The answer has what the OpenAPI document promises.
    let (_, doc) = app
        .get_json("/api/v1/openapi.json", &app.viewer_token)
        .await;
    let schema = &doc["components"]["schemas"]["SloStatus"];
    for item in body["items"].as_array().unwrap() {
        for field in schema["required"].as_array().unwrap() {
            let field = field.as_str().unwrap();
            assert!(item.get(field).is_some(), "{field} missing in {item}");
        }
        for w in ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "period"] {
            for f in doc["components"]["schemas"]["SloWindow"]["required"]
                .as_array()
                .unwrap()
            {
                assert!(item["windows"][w].get(f.as_str().unwrap()).is_some());
            }
        }
    }
    assert!(latency["latency"]["p99"].as_f64().is_some(), "{latency}");

    // The SLO index lists every SLO with its state and keeps "SLOs" current in the
    // navigation, as the SLO page does.
    let cookie = viewer_session(&app, "vera").await;
    let (code, html) = app.page("/slos", &cookie).await;
    assert_eq!(code, StatusCode::OK);
    for id in ["firewatch-api-availability", "firewatch-api-latency"] {
        assert!(html.contains(&format!(r#"href="/slos/{id}""#)), "{html}");
    }
    assert!(html.contains(r#"<a href="/slos" aria-current="page">SLOs</a>"#));
    assert!(html.contains(r#"aria-label="SLOs by state""#));
    let (code, html) = app.page("/slos/firewatch-api-latency", &cookie).await;
    assert_eq!(code, StatusCode::OK);
    assert!(html.contains(r#"<a href="/slos" aria-current="page">SLOs</a>"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_rolls_up_by_the_hour_and_outlives_the_per_interval_rows() {
    let target = Target::start();
    target.add(1000.0, 0.0);
    let app = app_for(&target).await;
    evaluate(&app).await;
    target.add(990.0, 10.0);
    evaluate(&app).await;
    assert_eq!(app.count_rows("slo_samples").await, 1);
    assert_eq!(app.count_rows("slo_hourly").await, 1);
    // Ten days later (per-interval rows are kept 4 days by default) more traffic comes.
    age_history(&app, 10 * 86_400_000).await;
    target.add(2000.0, 0.0);
    evaluate(&app).await;
    assert_eq!(
        app.count_rows("slo_samples").await,
        1,
        "the 10-day-old row is pruned"
    );
    assert_eq!(app.count_rows("slo_hourly").await, 2, "its rollup stays");
    let s = slo(&app).await;
    let period = &s["windows"]["period"];
    assert_eq!(period["events"], 3000.0, "{s}");
    assert!((period["sli"].as_f64().unwrap() - (1.0 - 10.0 / 3000.0)).abs() < 1e-12);
    assert_eq!(s["windows"]["3d"]["events"], 2000.0);
    // Whole-hour steps read the rollups: both hours are there, 10 days apart.
    let now = firewatch::time::now_ms();
    let (code, h) = app
        .get_json(
            &format!(
                "/api/v1/slos/checkout-availability/history?from={}&to={}&step=1h",
                (now - 11 * 86_400_000) / 1000,
                now / 1000 + 1
            ),
            &app.viewer_token,
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{h}");
    let points = h["points"].as_array().unwrap();
    assert_eq!(points.len(), 2, "{h}");
    assert_eq!(points[0]["events"], 1000.0);
    assert_eq!(points[1]["events"], 2000.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_latency_sli_counts_fast_requests_and_reports_percentiles() {
    let target = Target::start();
    let histogram = |n: [f64; 4]| {
        format!(
            "# TYPE http_request_duration_seconds histogram\n\
             http_request_duration_seconds_bucket{{le=\"0.1\"}} {}\n\
             http_request_duration_seconds_bucket{{le=\"0.5\"}} {}\n\
             http_request_duration_seconds_bucket{{le=\"1\"}} {}\n\
             http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n\
             http_request_duration_seconds_sum 12.5\n\
             http_request_duration_seconds_count {}\n",
            n[0], n[1], n[2], n[3], n[3]
        )
    };
    target.state.lock().unwrap().garbage = Some(histogram([10.0, 20.0, 30.0, 40.0]));
    let url = target.url.clone();
    let app = spawn_app_with_slos(
        |s| {
            s.scrapes = vec![firewatch::config::ScrapeSettings {
                job: "checkout".into(),
                url,
                interval: Some("1h".into()),
                timeout: Some("2s".into()),
            }];
            s.evaluation.interval = "1h".into();
        },
        r#"
[[slo]]
name = "checkout-latency"
service = "checkout"
objective = 95
period = "30d"
source = "scrape"
[slo.latency]
histogram = 'http_request_duration_seconds{job="checkout"}'
threshold = 0.5
"#,
    )
    .await;
    evaluate(&app).await; // baseline
    // 100 more requests: 50 under 100 ms, 40 more under 500 ms, 9 under 1 s, 1 slower.
    target.state.lock().unwrap().garbage = Some(histogram([60.0, 110.0, 129.0, 140.0]));
    evaluate(&app).await;
    let (code, s) = app
        .get_json("/api/v1/slos/checkout-latency", &app.viewer_token)
        .await;
    assert_eq!(code, StatusCode::OK, "{s}");
    assert_eq!(s["windows"]["5m"]["events"], 100.0, "{s}");
    assert!(
        (s["windows"]["5m"]["sli"].as_f64().unwrap() - 0.9).abs() < 1e-12,
        "{s}"
    );
    // histogram_quantile: p50 at the top of the first bucket, p90 at 0.5, p99 at 1.
    let l = &s["latency"];
    assert!((l["p50"].as_f64().unwrap() - 0.1).abs() < 1e-9, "{s}");
    assert!((l["p90"].as_f64().unwrap() - 0.5).abs() < 1e-9, "{s}");
    assert!((l["p99"].as_f64().unwrap() - 1.0).abs() < 1e-9, "{s}");
    // The next interval is all fast: percentiles cover the trailing 5 minutes, so both
    // intervals' buckets merge (200 requests: 150 under 0.1 s, 190 under 0.5 s, 199 under 1 s).
    target.state.lock().unwrap().garbage = Some(histogram([160.0, 210.0, 229.0, 240.0]));
    evaluate(&app).await;
    let (_, s2) = app
        .get_json("/api/v1/slos/checkout-latency", &app.viewer_token)
        .await;
    let l2 = &s2["latency"];
    assert!(
        (l2["p50"].as_f64().unwrap() - 0.1 * 100.0 / 150.0).abs() < 1e-9,
        "{s2}"
    );
    assert!(
        (l2["p99"].as_f64().unwrap() - (0.5 + 0.5 * 8.0 / 9.0)).abs() < 1e-9,
        "{s2}"
    );
    let now = firewatch::time::now_ms();
    let (_, h) = app
        .get_json(
            &format!(
                "/api/v1/slos/checkout-latency/history?from={}&to={}&step=5m",
                (now - 3_600_000) / 1000,
                now / 1000 + 1
            ),
            &app.viewer_token,
        )
        .await;
    let p99 = h["points"][0]["p99"].as_f64().unwrap();
    assert!(p99 > 0.9 && p99 <= 1.0, "{h}");
    // The SLO page and the dashboard draw the p99 and say the percentiles in words.
    app.state
        .accounts
        .add_user("vic", firewatch::auth::Role::Viewer, "viewer password 7")
        .await
        .unwrap();
    let cookie = login(&app, "vic", "viewer password 7").await;
    for path in ["/slos/checkout-checkout-latency", "/"] {
        let (_, html) = app.page(path, &cookie).await;
        assert!(
            html.contains("aria-label=\"p99 latency over the last 24 hours: latest "),
            "{path}"
        );
        assert!(
            html.contains("p50 67 ms · p90 400 ms · p99 944 ms"),
            "{path}: {html}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_and_the_built_in_scraper_agree_on_the_sli() {
    let target = Target::start();
    // Steady traffic with 2 % errors.
    let feeder = {
        let t = target.clone();
        tokio::spawn(async move {
            loop {
                t.add(49.0, 1.0);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let host = target
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_string();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: checkout\n    static_configs:\n      - targets: ['{host}']\n"
    );
    let prometheus = Prometheus::start(dir.path(), &config).await;
    let prom_url = prometheus.url.clone();
    let both = format!(
        "{SLO}\n[[slo]]\nname = \"checkout-availability-prom\"\nservice = \"checkout\"\nobjective = 99.9\nperiod = \"30d\"\n\
         source = \"prometheus\"\n[slo.ratio]\nerrors = 'http_requests_total{{job=\"checkout\",code=~\"5..\"}}'\n\
         total = 'http_requests_total{{job=\"checkout\"}}'\n\
         [[slo]]\nname = \"checkout-latency\"\nservice = \"checkout\"\nobjective = 95\nperiod = \"30d\"\n\
         [slo.latency]\nhistogram = 'http_request_duration_seconds{{job=\"checkout\"}}'\nthreshold = 0.1\n\
         [[slo]]\nname = \"checkout-latency-prom\"\nservice = \"checkout\"\nobjective = 95\nperiod = \"30d\"\n\
         [slo.latency]\nhistogram = 'http_request_duration_seconds{{job=\"checkout\"}}'\nthreshold = 0.1\n"
    );
    let make_app = |url: String, purl: String, both: String| {
        spawn_app_resolved(
            |s| {
                s.scrapes = vec![firewatch::config::ScrapeSettings {
                    job: "checkout".into(),
                    url,
                    interval: Some("1h".into()),
                    timeout: Some("2s".into()),
                }];
                s.evaluation.interval = "1h".into();
                s.prometheus = Some(firewatch::config::PrometheusSettings {
                    url: purl,
                    timeout: "5s".into(),
                    retries: 2,
                    backfill: false,
                });
                // `source` is read from the raw [[slo]] tables.
                s.slo_tables = vec![
                    figment::value::Value::from(std::collections::BTreeMap::from([
                        (
                            "name".to_string(),
                            figment::value::Value::from("checkout-availability"),
                        ),
                        ("source".to_string(), figment::value::Value::from("scrape")),
                    ])),
                    figment::value::Value::from(std::collections::BTreeMap::from([
                        (
                            "name".to_string(),
                            figment::value::Value::from("checkout-availability-prom"),
                        ),
                        (
                            "source".to_string(),
                            figment::value::Value::from("prometheus"),
                        ),
                    ])),
                    figment::value::Value::from(std::collections::BTreeMap::from([
                        (
                            "name".to_string(),
                            figment::value::Value::from("checkout-latency-prom"),
                        ),
                        (
                            "source".to_string(),
                            figment::value::Value::from("prometheus"),
                        ),
                    ])),
                ];
            },
            move |r| r.slos = firewatch::slo::native::load_native("test.toml", &both).unwrap(),
        )
    };
    let app = make_app(target.url.clone(), prom_url.clone(), both.clone()).await;
    // Let Prometheus collect a few scrapes while Firewatch scrapes the same target.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let (ours, theirs) = loop {
        evaluate(&app).await;
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
        let (_, body) = app.get_json("/api/v1/slos", &app.viewer_token).await;
        let sli = |name: &str| {
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["name"] == name)
                .and_then(|s| s["windows"]["5m"]["sli"].as_f64())
        };
        if let (Some(a), Some(b)) = (
            sli("checkout-availability"),
            sli("checkout-availability-prom"),
        ) {
            let (_, n) = app
                .get_json("/api/v1/slos/checkout-availability", &app.viewer_token)
                .await;
            if n["windows"]["5m"]["events"].as_f64().unwrap_or(0.0) > 5000.0 {
                break (a, b);
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no SLI from both sources: {body}"
        );
    };
    assert!((ours - 0.98).abs() < 0.005, "scraper SLI {ours}");
    assert!(
        (ours - theirs).abs() < 0.005,
        "scraper {ours} vs Prometheus {theirs}"
    );
    let (_, p) = app
        .get_json("/api/v1/slos/checkout-availability-prom", &app.viewer_token)
        .await;
    assert_eq!(p["source"], "prometheus");
    assert!(p["error"].is_null(), "{p}");

    // Latency SLIs from the same histogram: the same SLI (98 % under 100 ms) and the
    // same percentiles, histogram_quantile's in Prometheus and ours.
    let (_, l) = app
        .get_json("/api/v1/slos/checkout-latency", &app.viewer_token)
        .await;
    let (_, lp) = app
        .get_json("/api/v1/slos/checkout-latency-prom", &app.viewer_token)
        .await;
    let (a, b) = (
        l["windows"]["5m"]["sli"].as_f64().unwrap(),
        lp["windows"]["5m"]["sli"].as_f64().unwrap(),
    );
    assert!(
        (a - 0.98).abs() < 0.005 && (a - b).abs() < 0.005,
        "{a} vs {b}"
    );
    for q in ["p50", "p99"] {
        let (a, b) = (
            l["latency"][q].as_f64().unwrap(),
            lp["latency"][q].as_f64().unwrap(),
        );
        assert!(
            (a - b).abs() <= 0.02 * b,
            "{q}: scraper {a} vs Prometheus {b}"
        );
    }
    assert!((l["latency"]["p99"].as_f64().unwrap() - 0.1).abs() < 1e-9);

    // The Prometheus-measured SLO's history is also kept locally (from the 5m rates).
    let (code, h) = app
        .get_json(
            "/api/v1/slos/checkout-availability-prom/history?step=1m",
            &app.viewer_token,
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{h}");
    let points = h["points"].as_array().unwrap();
    assert!(!points.is_empty(), "{h}");
    let last = points.last().unwrap()["sli"].as_f64().unwrap();
    assert!((last - 0.98).abs() < 0.01, "{h}");

    // A fresh install pointed at the same Prometheus back-fills that history from
    // query_range (3 s steps here; 5 minutes in production). Wait for 15 s of samples in
    // Prometheus (a busy machine makes the loop above quick or scrapes late).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let answer: serde_json::Value = reqwest::get(format!(
            "{prom_url}/api/v1/query?query=count_over_time(up%7Bjob%3D%22checkout%22%7D%5B1m%5D)"
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let samples = answer["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        if samples >= 15.0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{answer}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    feeder.abort();
    let fresh = make_app(target.url.clone(), prom_url.clone(), both.clone()).await;
    let n = firewatch::scheduler::run_prometheus_backfill_once(
        &fresh.state,
        std::time::Duration::from_secs(3),
    )
    .await
    .unwrap();
    assert!(n >= 4, "{n} rows back-filled");
    let sums = fresh
        .query_reals(
            "SELECT SUM(bad), SUM(total), COUNT(*) FROM slo_samples \
             WHERE slo = 'checkout-checkout-availability-prom'",
            &[],
        )
        .await;
    let (bad, events, rows) = (sums[0][0], sums[0][1], sums[0][2] as i64);
    assert!(
        rows >= 2 && (rows as usize) < n,
        "{rows} of {n} rows (the rest: latency)"
    );
    assert!(events > 1000.0, "{events} events");
    assert!((bad / events - 0.02).abs() < 0.005, "{bad} of {events}");
    // Running it again finds the history there and adds nothing.
    let again = firewatch::scheduler::run_prometheus_backfill_once(
        &fresh.state,
        std::time::Duration::from_secs(3),
    )
    .await
    .unwrap();
    assert_eq!(again, 0);
    // The coverage counts the back-filled history: measured since before this install.
    let started = firewatch::time::now_ms();
    firewatch::scheduler::run_slo_evaluation_once(&fresh.state)
        .await
        .unwrap();
    let s = fresh.state.slos.find("checkout-availability-prom").unwrap();
    let since = s.measured_since.expect("measured");
    assert!(
        since < started - 10_000,
        "measured since {since}, started {started}"
    );
    assert!(s.coverage.unwrap() > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_prometheus_is_shown_on_the_slo() {
    let port = free_port(); // nothing listens here
    let app = spawn_app_resolved(
        |s| {
            s.evaluation.interval = "1h".into();
            s.prometheus = Some(firewatch::config::PrometheusSettings {
                url: format!("http://127.0.0.1:{port}"),
                timeout: "1s".into(),
                retries: 0,
                backfill: true, // fails in the background; evaluation goes on
            });
            s.slo_tables = vec![figment::value::Value::from(
                std::collections::BTreeMap::from([
                    (
                        "name".to_string(),
                        figment::value::Value::from("checkout-availability"),
                    ),
                    (
                        "source".to_string(),
                        figment::value::Value::from("prometheus"),
                    ),
                ]),
            )];
        },
        |r| r.slos = firewatch::slo::native::load_native("test.toml", SLO).unwrap(),
    )
    .await;
    evaluate(&app).await;
    let s = slo(&app).await;
    assert_eq!(s["status"], "no-data");
    let err = s["error"].as_str().unwrap();
    assert!(err.starts_with("prometheus: cannot reach"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_stops_deploys_on_a_fast_burn_and_history_shows_the_intervals() {
    let target = Target::start();
    target.add(1000.0, 0.0);
    let app = app_for(&target).await;
    evaluate(&app).await;
    target.add(10_000.0, 1.0);
    evaluate(&app).await;
    let res = app
        .client
        .get(app.url("/api/v1/slos/checkout-availability/gate"))
        .bearer_auth(&app.viewer_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["allowed"], true, "{body}");

    target.add(800.0, 200.0);
    evaluate(&app).await;
    let res = app
        .client
        .get(app.url("/api/v1/slos/checkout-availability/gate"))
        .bearer_auth(&app.viewer_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["allowed"], false);
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .contains("burning its error budget fast"),
        "{body}"
    );

    let (code, h) = app
        .get_json(
            "/api/v1/slos/checkout-availability/history?step=1h",
            &app.viewer_token,
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{h}");
    let points = h["points"].as_array().unwrap();
    assert_eq!(points.len(), 1, "two intervals in the same hour: {h}");
    assert_eq!(points[0]["events"], 11_001.0);
    let (code, _) = app
        .get_json(
            "/api/v1/slos/checkout-availability/history?step=1ms",
            &app.viewer_token,
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let (code, _) = app
        .get_json("/api/v1/slos/nope/gate", &app.viewer_token)
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slo_page_draws_its_charts_with_deployment_markers() {
    let target = Target::start();
    target.add(1000.0, 0.0);
    let app = app_for(&target).await;
    evaluate(&app).await;
    target.add(990.0, 10.0);
    app.post_json(
        "/api/v1/deployments",
        &app.responder_token,
        &serde_json::json!({"service": "checkout", "version": "v<42>"}),
    )
    .await;
    evaluate(&app).await;
    app.state
        .accounts
        .add_user("vic", firewatch::auth::Role::Viewer, "viewer password 7")
        .await
        .unwrap();
    let cookie = login(&app, "vic", "viewer password 7").await;
    let (_, html) = app.page("/", &cookie).await;
    assert!(
        html.contains("/slos/checkout-checkout-availability"),
        "the dashboard links the SLO page"
    );
    // The dashboard's panels for the (only) SLO: SLI, burn-down, request and error rate
    // charts with the deployment marker, and a 24-hour sparkline in the table.
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 4, "{html}");
    assert_eq!(html.matches("<svg class=\"spark\"").count(), 1);
    assert!(html.contains("class=\"marker\""));
    for panel in [
        "SLI, last hour",
        "Latency",
        "Error budget left",
        "Burn rate, 1 hour",
        "Burn rate, 6 hours",
        "Request rate",
        "Error rate",
    ] {
        assert!(html.contains(panel), "dashboard panel {panel}");
    }
    // An unknown ?slo= falls back to the worst SLO instead of failing.
    let (code, other) = app.page("/?slo=nope", &cookie).await;
    assert_eq!(code, StatusCode::OK);
    assert!(other.contains("Panels ·"));
    let (code, html) = app
        .page("/slos/checkout-checkout-availability", &cookie)
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        html.matches("<svg class=\"chart\"").count(),
        4,
        "SLI, budget, rates and error ratio"
    );
    assert!(
        html.contains("dot-bad") || html.contains("line-bad"),
        "errors per second drawn"
    );
    assert!(html.contains("class=\"marker\""), "deployment marker drawn");
    assert!(
        html.contains("checkout v&lt;42&gt;"),
        "marker label escaped"
    );
    assert!(
        html.contains("At this rate the budget runs out") || html.contains("budget is spent"),
        "plain words"
    );
    for w in ["1h", "5m", "6h", "30m", "1d", "2h", "3d"] {
        assert!(html.contains(&format!("{w}: ")), "burn table has {w}");
    }
    assert!(html.contains("14.40x"), "page threshold shown");
    // A young SLO: the charts start where data starts, and the burn-down says it is too
    // early instead of drawing an extrapolation of a few minutes.
    assert!(
        html.contains(">too early to judge the period (")
            && html.contains("SLI over the last 24 hours"),
        "{html}"
    );
    // The range picker: every range draws, the chosen one is marked, a bad one is refused.
    for (range, words) in [
        ("1h", "last hour"),
        ("6h", "last 6 hours"),
        ("24h", "last 24 hours"),
        ("7d", "last 7 days"),
        ("30d", "last 30 days"),
        ("period", "this period"),
    ] {
        let (code, html) = app
            .page(
                &format!("/slos/checkout-checkout-availability?range={range}"),
                &cookie,
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{range}");
        assert!(html.contains(&format!("<h2>SLI, {words}</h2>")), "{range}");
        assert!(
            html.contains(&format!("href=\"?range={range}\" aria-current=\"true\"")),
            "{range}"
        );
        assert!(html.contains("<polyline class=\"line\"") || html.contains("class=\"dot\""));
        assert!(
            html.contains("class=\"marker\""),
            "{range}: the deployment is in range"
        );
    }
    let (code, html) = app
        .page("/slos/checkout-checkout-availability?range=2y", &cookie)
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(html.contains("is not a range (1h, 6h, 24h, 7d, 30d or period)"));
    let (code, _) = app.page("/slos/nope", &cookie).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_slo_name_two_services_share_is_told_apart_by_the_service() {
    let target = Target::start();
    target.add(100.0, 0.0);
    let url = target.url.clone();
    let app = spawn_app_with_slos(
        |s| {
            s.scrapes = vec![firewatch::config::ScrapeSettings {
                job: "shop".into(),
                url,
                interval: Some("1h".into()),
                timeout: Some("2s".into()),
            }];
            s.evaluation.interval = "1h".into();
        },
        r#"
[[slo]]
name = "availability"
service = "checkout"
objective = 99.9
[slo.ratio]
errors = 'http_request_total{code=~"5.."}'
total = 'http_request_total'

[[slo]]
name = "availability"
service = "search"
objective = 99
[slo.ratio]
errors = 'http_request_total{code=~"5.."}'
total = 'http_request_total'
"#,
    )
    .await;
    evaluate(&app).await;
    let (code, body) = app
        .get_json("/api/v1/slos/availability", &app.viewer_token)
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("checkout-availability, search-availability"),
        "{message}"
    );
    let (code, body) = app
        .get_json("/api/v1/slos/search-availability", &app.viewer_token)
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(body["service"], "search");
    assert_eq!(body["objective"], 0.99);
    app.state
        .accounts
        .add_user("ada", firewatch::auth::Role::Viewer, "viewer password 3")
        .await
        .unwrap();
    let cookie = login(&app, "ada", "viewer password 3").await;
    let (code, html) = app.page("/slos/search-availability", &cookie).await;
    assert_eq!(code, StatusCode::OK);
    assert!(html.contains("<title>availability · search"), "{html}");
    let (code, _) = app.page("/slos/availability", &cookie).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let (code, _) = app
        .get_json("/api/v1/slos/availability/gate", &app.viewer_token)
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "not the gate's 409");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sloth_spec_files_are_evaluated_through_the_prometheus_source() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("fw.toml");
    let sloth = reference("slo/slok_sloth__examples_getting-started.yml");
    let dead = free_port();
    std::fs::write(
        &cfg,
        format!(
            "[storage]\ndata_dir = \"{}\"\n[auth]\nanonymous_read = true\n[evaluation]\ninterval = \"200ms\"\n\
             slo_files = [\"{}\"]\n[prometheus]\nurl = \"http://127.0.0.1:{dead}\"\ntimeout = \"1s\"\nretries = 0\n",
            dir.path().join("data").display(),
            sloth.display()
        ),
    )
    .unwrap();
    let server = ServerProcess::start(&cfg, &crate::ops::postgres_env());
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let items = loop {
        let body: serde_json::Value = client
            .get(format!("{}/api/v1/slos", server.address))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = body["items"].as_array().cloned().unwrap_or_default();
        if !items.is_empty() {
            break items;
        }
        assert!(std::time::Instant::now() < deadline, "no SLO evaluated");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(items[0]["service"], "myservice");
    assert_eq!(items[0]["source"], "prometheus");
    assert!(
        items[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("prometheus: "),
        "{:?}",
        items[0]
    );

    // A broken spec file stops the start, naming the file.
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "version: \"prometheus/v9\"\nservice: x\nslos: []\n").unwrap();
    std::fs::write(
        &cfg,
        format!("[evaluation]\nslo_files = [\"{}\"]\n", bad.display()),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_firewatch"))
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .env("FIREWATCH__SERVER__LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.yml"));
}

/// "No data" says why when the selectors explain it: a metric name nobody exports, a
/// latency threshold that is not one of the histogram's buckets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_data_says_why_a_target_is_down_a_selector_matches_nothing_or_a_threshold_is_no_bucket()
{
    let target = Target::start();
    target.add(100.0, 1.0);
    let url = target.url.clone();
    let app = spawn_app_with_slos(
        |s| {
            s.scrapes = vec![
                firewatch::config::ScrapeSettings {
                    job: "checkout".into(),
                    url,
                    interval: Some("1h".into()),
                    timeout: Some("2s".into()),
                },
                firewatch::config::ScrapeSettings {
                    job: "payments".into(),
                    // Nothing listens on port 1.
                    url: "http://127.0.0.1:1/metrics".into(),
                    interval: Some("1h".into()),
                    timeout: Some("2s".into()),
                },
            ];
            s.evaluation.interval = "1h".into();
        },
        r#"
[[slo]]
name = "charge"
service = "payments"
objective = 99.9
[slo.ratio]
errors = 'payment_total{job="payments",result="error"}'
total = 'payment_total{job="payments"}'

[[slo]]
name = "typo"
service = "checkout"
objective = 99.9
[slo.ratio]
errors = 'http_request_total{job="checkout",code=~"5.."}'
total = 'http_request_total{job="checkout"}'

[[slo]]
name = "slow"
service = "checkout"
objective = 99
[slo.latency]
histogram = 'http_request_duration_seconds{job="checkout"}'
threshold = 0.25
"#,
    )
    .await;
    evaluate(&app).await;
    target.add(100.0, 1.0);
    evaluate(&app).await;
    let (_, body) = app.get_json("/api/v1/slos", &app.viewer_token).await;
    let reason = |name: &str| {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| {
                (
                    s["status"].clone(),
                    s["reason"].as_str().unwrap_or("").to_string(),
                )
            })
            .unwrap()
    };
    let (status, why) = reason("typo");
    assert_eq!(status, "no-data");
    assert!(
        why.contains(r#"http_request_total{job="checkout"} matches no series"#),
        "{why}"
    );
    let (status, why) = reason("charge");
    assert_eq!(status, "no-data");
    assert!(
        why.starts_with(
            "the target payments (http://127.0.0.1:1/metrics) is down: could not connect"
        ) && why.ends_with(r#"so payment_total{job="payments"} matches no series"#),
        "{why}"
    );
    let (status, why) = reason("slow");
    assert_eq!(status, "no-data", "{body}");
    assert!(
        why.contains("threshold 0.25 is not a bucket") && why.contains("0.1"),
        "{why}"
    );
    let cookie = viewer_session(&app, "zed").await;
    let (_, html) = app.page("/slos/checkout-typo", &cookie).await;
    assert!(html.contains("No data: the selector "), "{html}");
}
