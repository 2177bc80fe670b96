//! The monthly SLO report: months seeded with known hourly history and incidents give the
//! numbers computed by hand — across a DST change, with a data gap, with an SLO added
//! mid-month; snapshots, revisions, Markdown, the page and the monthly job.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const SLOS: &str = r#"
[[slo]]
name = "availability"
service = "checkout"
objective = 99.9
period = "30d"
source = "scrape"
[slo.ratio]
errors = 'http_requests_total{job="checkout",code=~"5.."}'
total = 'http_requests_total{job="checkout"}'

[[slo]]
name = "availability"
service = "search"
objective = 99.0
period = "30d"
source = "scrape"
[slo.ratio]
errors = 'http_requests_total{job="search",code=~"5.."}'
total = 'http_requests_total{job="search"}'
"#;

const HOUR: i64 = 3_600_000;

fn ms(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

async fn app() -> TestApp {
    spawn_app_with_slos(
        |s| {
            s.evaluation.interval = "1h".into(); // the test writes the history itself
            s.evaluation.time_zone = "Europe/Berlin".into();
        },
        SLOS,
    )
    .await
}

/// The `[storage]` table of a settings file for `firewatch report` on the app's database
/// (on the PostgreSQL pass, the app's PostgreSQL database).
fn cli_storage(app: &TestApp) -> String {
    let mut storage = format!(
        "[storage]\ndata_dir = {:?}\n",
        app.dir.path().display().to_string()
    );
    if let Some(url) = &app.state.settings.storage_url {
        storage.push_str(&format!("backend = \"postgres\"\nurl = {url:?}\n"));
    }
    storage
}

/// Hourly rollups: (slo, hour, bad, total).
async fn seed(app: &TestApp, rows: &[(&str, i64, f64, f64)]) {
    // A thousand rows a statement (4,000 parameters: within both engines' limits).
    for chunk in rows.chunks(1000) {
        let values = (0..chunk.len())
            .map(|i| {
                let p = 4 * i;
                format!("(?{}, ?{}, ?{}, ?{}, 120)", p + 1, p + 2, p + 3, p + 4)
            })
            .collect::<Vec<_>>()
            .join(", ");
        let params: Vec<DbValue> = chunk
            .iter()
            .flat_map(|(slo, hour, bad, total)| {
                [
                    DbValue::Text(slo.to_string()),
                    DbValue::Int(*hour),
                    DbValue::Real(*bad),
                    DbValue::Real(*total),
                ]
            })
            .collect();
        let inserted = app
            .exec(
                &format!("INSERT INTO slo_hourly (slo, hour, bad, total, samples) VALUES {values}"),
                &params,
            )
            .await;
        assert_eq!(inserted, chunk.len());
    }
}

/// Moves an incident to the given times (they are "now" when it is made through intake).
async fn set_times(
    app: &TestApp,
    id: i64,
    created: i64,
    acked: Option<i64>,
    resolved: Option<i64>,
) {
    let opt = |v: Option<i64>| v.map_or(DbValue::Null, DbValue::Int);
    app.exec(
        "UPDATE incidents SET created_at = ?2, acknowledged_at = ?3, resolved_at = ?4, \
         status = CASE WHEN CAST(?4 AS BIGINT) IS NULL THEN status ELSE 'resolved' END \
         WHERE id = ?1",
        &[
            DbValue::Int(id),
            DbValue::Int(created),
            opt(acked),
            opt(resolved),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_october_report_has_the_numbers_computed_by_hand() {
    let app = app().await;
    // October 2026 in Berlin: 1 Oct 00:00 CEST (30 Sep 22:00 UTC) to 1 Nov 00:00 CET
    // (31 Oct 23:00 UTC): 745 hours, DST ends on the 25th.
    let (from, to) = (ms("2026-09-30T22:00:00Z"), ms("2026-10-31T23:00:00Z"));
    assert_eq!((to - from) / HOUR, 745);
    let mut rows = Vec::new();
    let mut h = from;
    let mut i = 0;
    while h < to {
        // checkout: 1,000 events an hour, 2 bad, and no data for 24 hours (a gap).
        if !(100..124).contains(&i) {
            rows.push(("checkout-availability", h, 2.0, 1000.0));
        }
        // search: added on 16 October 00:00 CEST; 100 events an hour, 0.5 bad.
        if h >= ms("2026-10-15T22:00:00Z") {
            rows.push(("search-availability", h, 0.5, 100.0));
        }
        h += HOUR;
        i += 1;
    }
    // September for the comparison: checkout 1,000 an hour, 0.5 bad (met).
    let mut h = ms("2026-08-31T22:00:00Z");
    while h < from {
        rows.push(("checkout-availability", h, 0.5, 1000.0));
        h += HOUR;
    }
    seed(&app, &rows).await;
    // Incidents: a P0 on checkout acknowledged after 4 min and resolved after 2 h, a P2
    // on search acknowledged after 10 min and still open at the end of the month.
    let a = app
        .post_webhook_ok(&message(
            "r-a",
            vec![{
                let mut a = alert("Errors", "api-1", "critical", "firing");
                a["labels"]["service"] = json!("checkout");
                a
            }],
        ))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    let t0 = ms("2026-10-08T10:00:00Z");
    set_times(&app, a, t0, Some(t0 + 240_000), Some(t0 + 2 * HOUR)).await;
    let mut on_search = message("r-b", vec![alert("Slow", "s-1", "warning", "firing")]);
    on_search["commonLabels"]["service"] = json!("search");
    on_search["groupLabels"]["service"] = json!("search");
    let b = app.post_webhook_ok(&on_search).await["incident_id"]
        .as_i64()
        .unwrap();
    let t1 = ms("2026-10-20T08:00:00Z");
    set_times(&app, b, t1, Some(t1 + 600_000), None).await;
    // A drill in October is left out.
    let mut d = alert("FirewatchDrill", "x", "critical", "firing");
    d["labels"]["firewatch_drill"] = json!("true");
    let drill = app.post_webhook_ok(&message("r-d", vec![d])).await["incident_id"]
        .as_i64()
        .unwrap();
    set_times(&app, drill, t1, Some(t1 + 1000), Some(t1 + 2000)).await;

    let (code, r) = app
        .post_json("/api/v1/reports/2026-10", &app.admin_token, &json!({}))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{r}");
    assert_eq!(r["revision"], 1);
    assert_eq!(r["month_to_date"], false);
    let s = &r["sections"];
    let c = &s["slo_compliance"][0];
    assert_eq!(c["slo"], "checkout-availability");
    // 721 hours with data: 721,000 events, 1,442 bad.
    let sli = c["sli"].as_f64().unwrap();
    assert!((sli - (1.0 - 1442.0 / 721_000.0)).abs() < 1e-12, "{sli}");
    assert_eq!(c["met"], false);
    assert!((c["budget_consumed"].as_f64().unwrap() - 2.0).abs() < 1e-9);
    assert!((c["coverage"].as_f64().unwrap() - 721.0 / 745.0).abs() < 1e-12);
    assert!(c["measured_since"].is_null());
    assert_eq!(c["previous"]["met"], true);
    assert!((c["previous"]["budget_consumed"].as_f64().unwrap() - 0.5).abs() < 1e-9);
    // search was added mid-month: measured from its first data, fully covered since.
    let c = &s["slo_compliance"][1];
    assert_eq!(c["met"], true);
    assert!((c["coverage"].as_f64().unwrap() - 1.0).abs() < 1e-12, "{c}");
    assert!(c["measured_since"].is_string());
    assert!((c["budget_consumed"].as_f64().unwrap() - 0.5).abs() < 1e-9);
    // Incidents: drills left out; MTTA mean of 4 and 10 minutes; MTTR of the one resolved.
    let inc = &s["incidents"];
    assert_eq!(inc["total"], 2);
    assert_eq!(inc["by_severity"]["P0"], 1);
    assert_eq!(inc["by_severity"]["P2"], 1);
    assert_eq!(inc["mtta_s"].as_f64().unwrap(), 420.0);
    assert_eq!(inc["mttr_s"].as_f64().unwrap(), 7200.0);
    // The search incident, open from the 20th to the end, burned 279 hours × 0.5 bad of
    // search's 385 allowed; the checkout one 2 hours × 2 bad of checkout's 721.
    let top = s["top_incidents"].as_array().unwrap();
    assert_eq!(top[0]["id"], b);
    assert!(
        (top[0]["budget_burned"].as_f64().unwrap() - 139.5 / 385.0).abs() < 1e-9,
        "{top:?}"
    );
    assert_eq!(top[1]["id"], a);
    assert_eq!(top[1]["slo"], "checkout-availability");
    assert!(
        (top[1]["budget_burned"].as_f64().unwrap() - 4.0 / 721.0).abs() < 1e-9,
        "{top:?}"
    );
    // Appendix: 31 days, the gap counted; the summary names the missed SLO.
    let d = &s["appendix"]["slos"][0];
    assert_eq!(d["daily"].as_array().unwrap().len(), 31);
    assert_eq!(d["hours_with_data"], 721);
    assert_eq!(d["longest_gap_hours"], 24);
    // The burn-rate windows at the end of October: 1 day of 2 bad in 1,000 an hour.
    let day = d["windows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["window"] == "1d")
        .unwrap();
    assert_eq!(day["events"].as_f64().unwrap(), 24_000.0);
    assert!(
        (day["burn_rate"].as_f64().unwrap() - 2.0).abs() < 1e-9,
        "{day}"
    );
    let summary = s["executive_summary"]["paragraphs"].to_string();
    assert!(
        summary.contains("1 of 2 SLOs met their objective in October 2026"),
        "{summary}"
    );
    assert!(
        s["executive_summary"]["fix_first"]
            .as_str()
            .unwrap()
            .starts_with("checkout-availability")
    );
    assert_eq!(s["trends"].as_array().unwrap().len(), 4);
    assert_eq!(s["trends"][3]["month"], "2026-10");
    assert_eq!(s["trends"][2]["month"], "2026-09");
    for key in [
        "executive_summary",
        "slo_compliance",
        "error_budget",
        "incidents",
        "trends",
        "top_incidents",
        "action_items",
        "appendix",
    ] {
        assert!(!s[key].is_null(), "{key}");
    }

    // Stored: read back the same, Markdown, the page; a new revision keeps the old one.
    let (code, got) = app
        .get_json("/api/v1/reports/2026-10", &app.viewer_token)
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(got["sections"], r["sections"]);
    let md = app
        .client
        .get(app.url("/api/v1/reports/2026-10.md"))
        .bearer_auth(&app.viewer_token)
        .send()
        .await
        .unwrap();
    assert!(
        md.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/markdown")
    );
    let md = md.text().await.unwrap();
    assert_eq!(md.matches("\n## ").count(), 8, "{md}");
    assert!(md.contains("| checkout-availability | 99.900 % | 99.800 % | missed | 200 % |"));
    // Each SLO's SLI by month, with the direction from the month before.
    assert!(
        md.contains("| SLO | 2026-07 | 2026-08 | 2026-09 | 2026-10 |"),
        "{md}"
    );
    assert!(
        md.contains("| checkout-availability | no data | no data | 99.950 % (50 % budget) | 99.800 % ↓ (200 % budget) |"),
        "{md}"
    );
    // The CLI computes the same numbers from the server's database while it runs.
    let storage = cli_storage(&app);
    let cfg = app.dir.path().join("fw.toml");
    std::fs::write(
        &cfg,
        format!("{storage}[evaluation]\ntime_zone = \"Europe/Berlin\"\n{SLOS}"),
    )
    .unwrap();
    let out_file = app.dir.path().join("cli.json");
    let (cfg2, out2) = (cfg.clone(), out_file.clone());
    let cli = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_firewatch"))
            .args([
                "report", "--month", "2026-10", "--format", "json", "--config",
            ])
            .arg(&cfg2)
            .arg("--out")
            .arg(&out2)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let from_cli: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    assert_eq!(
        from_cli["sections"]["slo_compliance"],
        r["sections"]["slo_compliance"]
    );
    assert_eq!(
        from_cli["sections"]["incidents"],
        r["sections"]["incidents"]
    );
    assert_eq!(from_cli["revision"], 0);
    for (format, check) in [("md", "## 8. Appendix"), ("html", "<!doctype html>")] {
        let cfg2 = cfg.clone();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_firewatch"))
                .args([
                    "report", "--month", "2026-10", "--format", format, "--config",
                ])
                .arg(&cfg2)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(check), "{format}: {text}");
        assert!(
            text.contains("not stored (made by firewatch report)"),
            "{format}"
        );
    }
    let cfg2 = cfg.clone();
    let bad = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_firewatch"))
            .args(["report", "--month", "October", "--config"])
            .arg(&cfg2)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--month: `October` is not a month"));

    // The PDF: several A4 pages with every section and the numbers.
    let pdf = app
        .client
        .get(app.url("/api/v1/reports/2026-10.pdf"))
        .bearer_auth(&app.viewer_token)
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let path = app.dir.path().join("report.pdf");
    std::fs::write(&path, pdf.bytes().await.unwrap()).unwrap();
    let (info, text) = crate::oncall::pdf_text(&path);
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pages >= 2, "{info}");
    assert!(info.contains("595 x 842"), "A4: {info}");
    for needle in [
        "SLO report: October 2026",
        "1. Executive summary",
        "8. Appendix",
        "checkout-availability",
        "MISSED",
        "2026-10-31",
        &format!("page {pages} of {pages}"),
    ] {
        assert!(text.contains(needle), "{needle} not in the PDF:\n{text}");
    }
    let (code, r2) = app
        .post_json("/api/v1/reports/2026-10", &app.admin_token, &json!({}))
        .await;
    assert_eq!(code, StatusCode::CREATED);
    assert_eq!(r2["revision"], 2);
    let (_, old) = app
        .get_json("/api/v1/reports/2026-10?revision=1", &app.viewer_token)
        .await;
    assert_eq!(old["revision"], 1);
    assert_eq!(old["revisions"].as_array().unwrap().len(), 2);
    let (_, list) = app.get_json("/api/v1/reports", &app.viewer_token).await;
    assert_eq!(list["items"][0]["month"], "2026-10");
    assert_eq!(list["items"][0]["revision"], 2);
    let cookie = viewer_session(&app, "vera").await;
    let (code, html) = app.page("/reports/2026-10", &cookie).await;
    assert_eq!(code, StatusCode::OK);
    assert!(html.contains("SLO report: October 2026"));
    assert!(html.contains("<svg"), "the budget chart is drawn");
    let (code, _) = app.page("/reports", &cookie).await;
    assert_eq!(code, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn month_to_date_future_and_bad_months_and_the_monthly_job() {
    let app = app().await;
    let now = firewatch::time::now_ms();
    let this = firewatch::reports::Month::containing(
        now,
        &jiff::tz::TimeZone::get("Europe/Berlin").unwrap(),
    )
    .unwrap();
    let (code, r) = app
        .post_json(
            &format!("/api/v1/reports/{}", this.key),
            &app.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{r}");
    assert_eq!(r["month_to_date"], true);
    // No data at all: judged as nothing, said so.
    assert!(r["sections"]["slo_compliance"][0]["sli"].is_null());
    let next = firewatch::reports::Month::containing(this.to, &this.tz).unwrap();
    let (code, body) = app
        .post_json(
            &format!("/api/v1/reports/{}", next.key),
            &app.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (code, body) = app
        .post_json("/api/v1/reports/2026-13", &app.admin_token, &json!({}))
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("YYYY-MM")
    );
    let (code, _) = app
        .post_json("/api/v1/reports/2026-10", &app.responder_token, &json!({}))
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, _) = app
        .get_json("/api/v1/reports/2020-01", &app.viewer_token)
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    // The monthly job reports on the month that ended.
    let (code, job) = app
        .post_json(
            "/api/v1/jobs/monthly_report/run",
            &app.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(job["last_outcome"], "ok", "{job}");
    let prev = this.previous().unwrap().key;
    assert!(
        job["last_detail"].as_str().unwrap().contains(&prev),
        "{job}"
    );
    let (_, list) = app.get_json("/api/v1/reports", &app.viewer_token).await;
    let months: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["month"].as_str().unwrap())
        .collect();
    assert_eq!(months, [this.key.as_str(), prev.as_str()]);
    let _: Value = list;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monthly_job_emails_the_report_with_its_pdf_to_a_real_smtp_server() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    let port = free_port();
    let _smtpd = crate::notify::start_smtpd(port, &maildir);
    let app = spawn_app_with_slos(
        |s| {
            s.evaluation.interval = "1h".into();
            s.smtp = Some(firewatch::config::SmtpSettings {
                host: "127.0.0.1".into(),
                port,
                tls: firewatch::config::SmtpTls::None,
                from: "firewatch@example.com".into(),
                username: None,
                password: None,
                password_file: None,
            });
            s.reports.recipients = vec!["cto@example.com".into(), "sre@example.com".into()];
            s.notify.poll_interval = "50ms".into();
            s.server.public_url = Some("https://firewatch.example.com".into());
        },
        SLOS,
    )
    .await;
    let (code, job) = app
        .post_json(
            "/api/v1/jobs/monthly_report/run",
            &app.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        job["last_detail"]
            .as_str()
            .unwrap()
            .ends_with("queued for 2 recipients"),
        "{job}"
    );
    let mail = crate::notify::wait_mail(&maildir).await;
    let (_, list) = app.get_json("/api/v1/reports", &app.viewer_token).await;
    let month = list["items"][0]["month"].as_str().unwrap().to_string();
    assert!(
        mail.contains(&format!(
            "Subject: Firewatch SLO report {month} (revision 1)"
        )),
        "{mail}"
    );
    assert!(
        mail.contains("To: cto@example.com, sre@example.com"),
        "{mail}"
    );
    assert!(mail.contains("Content-Type: text/plain"));
    assert!(mail.contains("Content-Type: text/html"));
    assert!(mail.contains(&format!("firewatch-slo-report-{month}.pdf")));
    // The attachment is the report's PDF, readable.
    let eml = dir.path().join("mail.eml");
    std::fs::write(&eml, &mail).unwrap();
    let pdf = dir.path().join("attached.pdf");
    let out = std::process::Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import email,sys\n\
             m=email.message_from_binary_file(open(sys.argv[1],'rb'))\n\
             p=[p for p in m.walk() if p.get_content_type()=='application/pdf'][0]\n\
             open(sys.argv[2],'wb').write(p.get_payload(decode=True))",
        ])
        .arg(&eml)
        .arg(&pdf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (info, text) = crate::oncall::pdf_text(&pdf);
    assert!(info.contains("Pages:"), "{info}");
    assert!(text.contains("1. Executive summary"), "{text}");
    // Recorded like any notification: delivered, to the report's own receiver.
    let (_, notes) = app
        .get_json(
            "/api/v1/notifications?receiver=monthly-report",
            &app.viewer_token,
        )
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut notes = notes;
    while notes["items"][0]["status"] != "delivered" {
        assert!(std::time::Instant::now() < deadline, "{notes}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        notes = app
            .get_json(
                "/api/v1/notifications?receiver=monthly-report",
                &app.viewer_token,
            )
            .await
            .1;
    }
    assert_eq!(notes["items"][0]["event"], "report");
}
