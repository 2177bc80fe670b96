use std::process::Command;

use crate::helpers::*;
use reqwest::StatusCode;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_firewatch")
}

/// A database of its own for a test's CLI runs on the PostgreSQL pass; `None` on the
/// SQLite pass, where the data directory holds it.
fn cli_database() -> Option<String> {
    on_postgres().then(fresh_postgres_database)
}

/// Env for a `firewatch serve` process: on the PostgreSQL pass a database of its own
/// (nothing on the SQLite pass, where its data directory holds one).
pub(crate) fn postgres_env() -> Vec<(&'static str, String)> {
    cli_database()
        .map(|url| {
            vec![
                ("FIREWATCH__STORAGE__BACKEND", "postgres".to_string()),
                ("FIREWATCH__STORAGE__URL", url),
            ]
        })
        .unwrap_or_default()
}

/// Points a CLI run at `data_dir` and, on the PostgreSQL pass, at the database `url`.
fn cli_storage<'c>(
    cmd: &'c mut Command,
    data_dir: &std::path::Path,
    url: &Option<String>,
) -> &'c mut Command {
    cmd.env("FIREWATCH__STORAGE__DATA_DIR", data_dir);
    if let Some(url) = url {
        cmd.env("FIREWATCH__STORAGE__BACKEND", "postgres")
            .env("FIREWATCH__STORAGE__URL", url);
    }
    cmd
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    let h = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(h.status(), StatusCode::OK);
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn metrics_count_alerts_incidents_and_requests_by_route() {
    let app = spawn_app().await;
    app.post_webhook_ok(&message(
        "m1",
        vec![
            alert("A", "i1", "critical", "firing"),
            alert("A", "i2", "critical", "firing"),
        ],
    ))
    .await;
    app.post_webhook_ok(&message(
        "m1",
        vec![alert("A", "i1", "critical", "resolved")],
    ))
    .await;
    app.get_json("/api/v1/incidents/1", &app.viewer_token).await;
    let text = app.metrics_text().await;
    assert!(
        text.contains("firewatch_alerts_received_total{status=\"firing\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("firewatch_alerts_received_total{status=\"resolved\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("firewatch_incidents{status=\"triggered\",severity=\"P0\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("firewatch_incidents{status=\"resolved\",severity=\"P2\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("firewatch_webhook_requests_total{outcome=\"accepted\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("firewatch_http_requests_total{method=\"GET\",route=\"/api/v1/incidents/{id}\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("firewatch_http_request_duration_seconds_bucket{"),
        "{text}"
    );
    // The threads intake runs on, with the CPU they took (Linux: read from /proc, for
    // the whole process: the other tests' servers count too). The SQLite writer and
    // checkpoint thread are there when SQLite is the store.
    if cfg!(target_os = "linux") {
        let value = |series: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
                .map(|v| v.parse::<f64>().unwrap())
        };
        let kinds: &[&str] = if on_postgres() {
            &["http_worker"]
        } else {
            &["db_writer", "db_checkpoint", "http_worker"]
        };
        for kind in kinds {
            let cpu = value(&format!(
                "firewatch_thread_cpu_seconds_total{{threads=\"{kind}\"}}"
            ));
            let wait = value(&format!(
                "firewatch_thread_cpu_wait_seconds_total{{threads=\"{kind}\"}}"
            ));
            assert!(cpu.is_some_and(|v| v > 0.0), "{kind}: {text}");
            assert!(wait.is_some_and(|v| v >= 0.0), "{kind}: {text}");
        }
    }
}

#[tokio::test]
async fn retention_deletes_only_old_resolved_incidents() {
    let app = spawn_app_with(|s| s.retention.resolved_incidents = "1d".into()).await;
    for g in ["r1", "r2", "r3"] {
        app.post_webhook_ok(&message(g, vec![alert("A", "i1", "warning", "firing")]))
            .await;
    }
    app.post_webhook_ok(&message(
        "r1",
        vec![alert("A", "i1", "warning", "resolved")],
    ))
    .await;
    app.post_webhook_ok(&message(
        "r2",
        vec![alert("A", "i1", "warning", "resolved")],
    ))
    .await;
    // Age incident r1's resolution past the retention period.
    app.exec(
        "UPDATE incidents SET resolved_at = resolved_at - 2 * 86400000 WHERE group_key = 'r1'",
        &[],
    )
    .await;
    let deleted = firewatch::scheduler::run_retention_once(&app.state)
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    let left: Vec<String> = app
        .incidents("all")
        .await
        .iter()
        .map(|i| i["group_key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left, ["r3", "r2"]);
    assert_eq!(
        app.count_rows("alerts").await,
        2,
        "alerts of the deleted incident went with it"
    );
}

#[tokio::test]
async fn retention_also_prunes_the_history_of_slos_no_longer_configured() {
    let app = spawn_app().await; // Firewatch's own two SLOs are configured
    let now = firewatch::time::now_ms();
    let day = 86_400_000;
    for (slo, age) in [
        ("gone-slo", 10 * day),
        ("gone-slo", day),
        ("firewatch-api-availability", 10 * day),
    ] {
        app.exec(
            "INSERT INTO slo_samples (slo, at, bad, total) VALUES (?1, ?2, 0, 10)",
            &[DbValue::Text(slo.into()), DbValue::Int(now - age)],
        )
        .await;
    }
    app.exec(
        "INSERT INTO slo_hourly (slo, hour, bad, total, samples) VALUES ('gone-slo', ?1, 0, 10, 1)",
        &[DbValue::Int(
            now - 500 * day - (now - 500 * day) % 3_600_000,
        )],
    )
    .await;
    firewatch::scheduler::run_retention_once(&app.state)
        .await
        .unwrap();
    // Each row's SLO as a number: 1 and 2 for the two SLOs above, 0 for any other.
    let rows = app
        .query_ints(
            "SELECT CASE slo WHEN 'firewatch-api-availability' THEN 1 \
             WHEN 'gone-slo' THEN 2 ELSE 0 END, at FROM slo_samples ORDER BY slo, at",
            &[],
        )
        .await;
    assert_eq!(
        rows,
        [vec![1, now - 10 * day], vec![2, now - day]],
        "the unconfigured SLO loses rows past the 4-day retention; configured SLOs are \
         pruned by the evaluation instead"
    );
    assert_eq!(
        app.count_rows("slo_hourly").await,
        0,
        "rollups past 400 days go too"
    );
}

#[tokio::test]
async fn backup_copies_the_live_database_consistently() {
    if sqlite_only("backup_copies_the_live_database_consistently") {
        return;
    }
    let app = spawn_app().await;
    for g in 0..20 {
        app.post_webhook_ok(&message(
            &format!("b{g}"),
            vec![alert("A", "i1", "info", "firing")],
        ))
        .await;
    }
    let dest = app.dir.path().join("backup.db");
    let out = Command::new(bin())
        .args(["backup", dest.to_str().unwrap()])
        .env("FIREWATCH__STORAGE__DATA_DIR", app.dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conn = rusqlite::Connection::open(&dest).unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM incidents", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 20);
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    assert_eq!(
        mode(&dest),
        0o600,
        "the backup is as private as the database"
    );
    // Never overwrites.
    let again = Command::new(bin())
        .args(["backup", dest.to_str().unwrap()])
        .env("FIREWATCH__STORAGE__DATA_DIR", app.dir.path())
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn a_database_from_a_newer_firewatch_is_refused_with_a_clear_message() {
    if sqlite_only("a_database_from_a_newer_firewatch_is_refused_with_a_clear_message") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("firewatch.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let err = match firewatch::db::open_and_migrate(&path, firewatch::config::Synchronous::Normal) {
        Ok(_) => panic!("a newer database must be refused"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("schema version 999"), "{err}");
    assert!(err.contains("newer firewatch"), "{err}");
}

#[test]
fn migrations_apply_once_and_record_the_schema_version() {
    if sqlite_only("migrations_apply_once_and_record_the_schema_version") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("firewatch.db");
    for _ in 0..2 {
        let conn =
            firewatch::db::open_and_migrate(&path, firewatch::config::Synchronous::Normal).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, firewatch::db::schema_version());
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
}

#[test]
fn the_cli_creates_tokens_printing_the_token_alone_on_the_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = cli_database();
    let out = cli_storage(&mut Command::new(bin()), dir.path(), &url)
        .args(["token", "create", "ci", "--role", "responder", "--init"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last = stdout.lines().last().unwrap();
    assert!(last.starts_with("fw_") && last.len() == 67, "{stdout}");
    let bad = cli_storage(&mut Command::new(bin()), dir.path(), &url)
        .args(["token", "create", "ci", "--role", "boss"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("boss"));
}

#[test]
fn the_cli_adds_users_from_stdin_and_refuses_weak_passwords() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let url = cli_database();
    let run = |pw: &str| {
        let mut child = cli_storage(&mut Command::new(bin()), dir.path(), &url)
            .args([
                "user",
                "add",
                "admin",
                "--role",
                "admin",
                "--password-stdin",
                "--init",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(pw.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let weak = run("short\n");
    assert_eq!(weak.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password"));
    let ok = run("a long enough password\n");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let dup = run("a long enough password\n");
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
}

#[test]
fn a_bad_config_file_is_reported_with_its_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("firewatch.toml");
    std::fs::write(&cfg, "[server]\nlisten = 8080\n").unwrap();
    let out = Command::new(bin())
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("listen") && err.contains("firewatch.toml"),
        "{err}"
    );
    std::fs::write(&cfg, "[server]\nlisen = \"0.0.0.0:1\"\n").unwrap();
    let out = Command::new(bin())
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lisen"));
    let missing = Command::new(bin())
        .args(["serve", "--config", "/nonexistent/fw.toml"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/fw.toml"));
}

#[tokio::test]
async fn settings_come_from_the_file_then_env_then_secret_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("fw.toml");
    let secret = dir.path().join("token");
    std::fs::write(&secret, "from-a-secret-file-123456\n").unwrap();
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:1\"\n[storage]\ndata_dir = \"{}\"\n[alertmanager]\nwebhook_token_file = \"{}\"\n[auth]\nanonymous_read = true\n",
            dir.path().join("data").display(),
            secret.display()
        ),
    )
    .unwrap();
    // The env variable overrides the file's listen address (and on the PostgreSQL pass
    // its storage).
    let server = ServerProcess::start(&cfg, &postgres_env());
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{}/api/v1/alerts/alertmanager", server.address))
        .bearer_auth("from-a-secret-file-123456")
        .json(&message("cfg", vec![alert("A", "i1", "info", "firing")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // anonymous_read from the file.
    let res = client
        .get(format!("{}/api/v1/incidents", server.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let out = Command::new(bin())
        .args([
            "healthcheck",
            "--url",
            &format!("{}/healthz", server.address),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[tokio::test]
async fn a_fresh_install_generates_and_keeps_its_webhook_token() {
    let dir = tempfile::tempdir().unwrap();
    // On the PostgreSQL pass the CLI and the server share a database of their own.
    let url = cli_database();
    let print = || {
        let out = cli_storage(&mut Command::new(bin()), dir.path(), &url)
            .args(["webhook-token", "--init"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let first = print();
    assert!(first.starts_with("fw_"));
    assert_eq!(first, print(), "the generated token is stable");
    let app = spawn_app_with(|s| {
        s.storage.data_dir = dir.path().to_path_buf();
        s.alertmanager.webhook_token = None;
        if let Some(url) = url.clone() {
            s.storage.url = Some(url);
        }
    })
    .await;
    let res = app
        .client
        .post(app.url("/api/v1/alerts/alertmanager"))
        .bearer_auth(&first)
        .json(&message("gen", vec![alert("A", "i1", "info", "firing")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[test]
fn healthcheck_fails_when_nothing_answers() {
    let out = Command::new(bin())
        .args(["healthcheck", "--url", "http://127.0.0.1:1/healthz"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn the_example_config_is_valid_and_matches_the_defaults() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let example =
        firewatch::config::Settings::load(Some(&path)).expect("config.example.toml loads");
    let defaults = firewatch::config::Settings::default().resolve().unwrap();
    assert_eq!(format!("{:?}", example.raw), format!("{:?}", defaults.raw));
}

#[tokio::test]
async fn incident_counts_stay_exact_through_every_change() {
    let app = spawn_app_with(|s| s.retention.resolved_incidents = "1d".into()).await;
    for g in 0..6 {
        let sev = ["critical", "warning"][g % 2];
        app.post_webhook_ok(&message(
            &format!("c{g}"),
            vec![alert("A", "i1", sev, "firing")],
        ))
        .await;
    }
    app.post_webhook_ok(&message("c0", vec![alert("A", "i2", "critical", "firing")]))
        .await;
    app.post_json(
        "/api/v1/incidents/2/acknowledge",
        &app.responder_token,
        &serde_json::json!({}),
    )
    .await;
    app.post_webhook_ok(&message("c1", vec![alert("A", "i9", "critical", "firing")]))
        .await; // P2 -> P0
    app.post_webhook_ok(&message(
        "c3",
        vec![alert("A", "i1", "warning", "resolved")],
    ))
    .await;
    app.exec(
        "UPDATE incidents SET resolved_at = 0 WHERE group_key = 'c3'",
        &[],
    )
    .await;
    firewatch::scheduler::run_retention_once(&app.state)
        .await
        .unwrap();
    // Counted in the database for every (status, severity), by their positions in
    // STATUSES and SEVERITIES (any other value would be -1 and match nothing kept).
    const STATUSES: [&str; 3] = ["acknowledged", "resolved", "triggered"];
    const SEVERITIES: [&str; 5] = ["P0", "P1", "P2", "P3", "P4"];
    let position = |column: &str, values: &[&str]| {
        let whens: String = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!(" WHEN '{v}' THEN {i}"))
            .collect();
        format!("CASE {column}{whens} ELSE -1 END")
    };
    let name = |values: &[&str], i: i64| {
        usize::try_from(i)
            .ok()
            .and_then(|i| values.get(i))
            .map_or_else(|| format!("unknown #{i}"), |v| v.to_string())
    };
    let mut counted = app
        .query_ints(
            &format!(
                "SELECT {}, {}, COUNT(*) FROM incidents GROUP BY status, severity",
                position("status", &STATUSES),
                position("severity", &SEVERITIES)
            ),
            &[],
        )
        .await
        .into_iter()
        .map(|r| (name(&STATUSES, r[0]), name(&SEVERITIES, r[1]), r[2]))
        .collect::<Vec<_>>();
    let mut kept = app
        .state
        .incidents
        .counts()
        .await
        .unwrap()
        .into_iter()
        .map(|(s, v, n)| (s.to_string(), v.to_string(), n))
        .collect::<Vec<_>>();
    counted.sort();
    kept.sort();
    assert_eq!(counted, kept);
    assert_eq!(kept.iter().map(|k| k.2).sum::<i64>(), 5);

    // The dashboard's response numbers (kept per hour of creation by triggers) equal a
    // count over the incidents, through resolving, reopening and resolving again.
    for (id, action) in [
        (5, "resolve"),
        (5, "reopen"),
        (6, "resolve"),
        (5, "acknowledge"),
    ] {
        let (code, body) = app
            .post_json(
                &format!("/api/v1/incidents/{id}/{action}"),
                &app.responder_token,
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{action} {id}: {body}");
    }
    let now = firewatch::time::now_ms();
    for since in [0, now - 30 * 86_400_000, now - 5_400_000, now + 3_600_000] {
        // The mean times as the averages' integer parts, none without a time (AVG's
        // cast rounds differently on the two backends: sum and count instead).
        let row = app
            .query_ints(
                "SELECT COUNT(*), COUNT(acknowledged_at), COUNT(resolved_at), \
                 CAST(COALESCE(SUM(acknowledged_at - created_at), 0) AS BIGINT), \
                 COUNT(acknowledged_at - created_at), \
                 CAST(COALESCE(SUM(resolved_at - created_at), 0) AS BIGINT), \
                 COUNT(resolved_at - created_at) \
                 FROM incidents WHERE created_at >= ?1",
                &[DbValue::Int(since)],
            )
            .await
            .remove(0);
        let mean = |sum: i64, n: i64| (n > 0).then(|| sum / n);
        let direct = (
            row[0],
            row[1],
            row[2],
            mean(row[3], row[4]),
            mean(row[5], row[6]),
        );
        let kept = app.state.incidents.response_stats(since).await.unwrap();
        assert_eq!(
            direct,
            (
                kept.created,
                kept.acknowledged,
                kept.resolved,
                kept.mtta_ms,
                kept.mttr_ms
            ),
            "since {since}"
        );
    }
}

#[tokio::test]
async fn the_generated_artefacts_are_downloadable_from_the_api_and_the_ui() {
    let app = spawn_app().await;
    for (kind, needle) in [
        ("prometheus-rules", "slo:sli_error:ratio_rate5m"),
        ("alertmanager-config", "/api/v1/alerts/alertmanager"),
        ("grafana-dashboard", "\"refresh\": \"30s\""),
    ] {
        let res = app
            .client
            .get(app.url(&format!("/api/v1/generate/{kind}")))
            .bearer_auth(&app.viewer_token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{kind}");
        assert!(
            res.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment")
        );
        let body = res.text().await.unwrap();
        assert!(body.contains(needle), "{kind} lacks {needle}");
    }
    let op = app
        .client
        .get(app.url("/api/v1/generate/prometheus-rules?format=prometheus-operator"))
        .bearer_auth(&app.viewer_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(op.contains("kind: PrometheusRule"));
    let (code, _) = app
        .get_json("/api/v1/generate/nonsense", &app.viewer_token)
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);

    app.state
        .accounts
        .add_user("val", firewatch::auth::Role::Viewer, "viewer password 9")
        .await
        .unwrap();
    let cookie = login(&app, "val", "viewer password 9").await;
    let page = app
        .client
        .get(app.url("/integrations/prometheus"))
        .header(reqwest::header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Download firewatch-slo-rules.yaml"), "{html}");
    let file = app
        .client
        .get(app.url("/integrations/prometheus/grafana-dashboard"))
        .header(reqwest::header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    let dash: serde_json::Value = serde_json::from_str(&file.text().await.unwrap()).unwrap();
    assert_eq!(dash["panels"].as_array().unwrap().len(), 13);
}

#[test]
fn slo_tables_in_the_settings_file_are_validated_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("fw.toml");
    std::fs::write(
        &cfg,
        "[[slo]]\nname = \"checkout-availability\"\nservice = \"checkout\"\nobjective = 140\nperiod = \"30d\"\n\
         [slo.ratio]\nerrors = 'http_requests_total{code=~\"5..\"}'\ntotal = 'http_requests_total'\n",
    )
    .unwrap();
    let mut child = Command::new(bin())
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .env("FIREWATCH__SERVER__LISTEN", "127.0.0.1:0")
        .env("FIREWATCH__STORAGE__DATA_DIR", dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("firewatch started with an invalid SLO");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(2));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        err.contains("fw.toml")
            && err.contains("checkout-availability")
            && err.contains("objective"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_slos_incidents_and_deployments_and_fails_when_something_is_critical() {
    let app = spawn_app().await;
    firewatch::scheduler::run_slo_evaluation_once(&app.state)
        .await
        .unwrap();
    for _ in 0..5 {
        app.get_json("/api/v1/incidents", &app.viewer_token).await;
    }
    // Twice, as in slo::with_no_configuration_…: the first scrape of the app's own
    // /metrics can come before it serves, and then the next one is only the baseline.
    for _ in 0..2 {
        firewatch::scheduler::run_slo_evaluation_once(&app.state)
            .await
            .unwrap();
    }
    let run = |token: &str| {
        Command::new(bin())
            .args(["status", "--url", &app.address, "--token", token])
            .output()
            .unwrap()
    };
    let ok = run(&app.viewer_token);
    let text = String::from_utf8_lossy(&ok.stdout).to_string();
    assert!(
        ok.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        text.contains("SLOs") && text.contains("firewatch/api-availability"),
        "{text}"
    );
    let latency_line = text
        .lines()
        .find(|l| l.contains("firewatch/api-latency"))
        .unwrap_or_default();
    assert!(
        latency_line.contains(" ms") && latency_line.contains("p99 "),
        "{text}"
    );
    assert!(
        !text.contains('\x1b'),
        "no colours when stdout is not a terminal"
    );
    app.post_webhook_ok(&message(
        "st",
        vec![alert("DiskFull", "db-1", "critical", "firing")],
    ))
    .await;
    let mut long = message("st2", vec![alert("Slow", "web-1", "warning", "firing")]);
    long["commonAnnotations"]["title"] =
        "Checkout answers slowly for customers in every region since the last deploy".into();
    app.post_webhook_ok(&long).await;
    let bad = run(&app.viewer_token);
    assert_eq!(bad.status.code(), Some(2));
    let text = String::from_utf8_lossy(&bad.stdout).to_string();
    assert!(text.contains("HighErrorRate on checkout"), "{text}");
    // Most urgent first, with age and service columns, and an "updated" line.
    let p0 = text.find("  P0 #").expect("the P0 line");
    let p2 = text.find("  P2 #").expect("the P2 line");
    assert!(p0 < p2, "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("  P0 #") && l.contains("checkout")),
        "{text}"
    );
    assert!(text.contains("\nupdated "), "{text}");
    // Long titles are cut to the terminal's width.
    let narrow = Command::new(bin())
        .args([
            "status",
            "--url",
            &app.address,
            "--token",
            &app.viewer_token,
        ])
        .env("COLUMNS", "60")
        .output()
        .unwrap();
    let narrow = String::from_utf8_lossy(&narrow.stdout).to_string();
    let line = narrow
        .lines()
        .find(|l| l.starts_with("  P2 #"))
        .expect("the P2 line");
    assert!(
        line.ends_with('…') && line.chars().count() <= 60,
        "{line:?}"
    );
    let unauth = run("fw_wrong");
    assert_eq!(unauth.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unauth.stdout).contains("unauthorized"));
}

#[test]
fn status_says_what_it_cannot_reach_within_five_seconds() {
    let started = std::time::Instant::now();
    let out = Command::new(bin())
        .args(["status", "--url", "http://127.0.0.1:1"])
        .output()
        .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches("cannot reach http://127.0.0.1:1").count(),
        1,
        "said once: {text}"
    );
}

#[tokio::test]
async fn invented_http_methods_do_not_become_metric_labels() {
    let app = spawn_app().await;
    for i in 0..50 {
        let method = reqwest::Method::from_bytes(format!("FW{i}X").as_bytes()).unwrap();
        let res = app
            .client
            .request(method, app.url("/api/v1/incidents"))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{}", res.status());
    }
    let text = app.metrics_text().await;
    assert!(!text.contains("FW1X"), "an invented method became a label");
    let other = text
        .lines()
        .filter(|l| {
            l.starts_with("firewatch_http_requests_total") && l.contains("method=\"OTHER\"")
        })
        .count();
    assert_eq!(other, 1, "one series for every other method:\n{text}");
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn the_data_folder_and_database_are_private_to_their_owner() {
    if sqlite_only("the_data_folder_and_database_are_private_to_their_owner") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("var/firewatch");
    let app = spawn_app_with({
        let data = data.clone();
        move |s| s.storage.data_dir = data
    })
    .await;
    app.post_webhook_ok(&message("p", vec![alert("A", "i1", "info", "firing")]))
        .await;
    assert_eq!(mode(&data), 0o700);
    for file in ["firewatch.db", "firewatch.db-wal", "firewatch.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    drop(app);

    // A database an operator left readable by everyone is tightened at the next start.
    let db = data.join("firewatch.db");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _app = spawn_app_with(move |s| s.storage.data_dir = data).await;
    assert_eq!(mode(&db), 0o600);
}

/// A subcommand run away from the server's folder must not start a second, empty
/// database and print credentials the server would reject: it finds the settings the way
/// the server does (FIREWATCH_CONFIG here), names the database it uses, and refuses to
/// create one without --init.
#[test]
fn the_cli_finds_the_servers_settings_and_never_creates_a_database_by_accident() {
    if sqlite_only("the_cli_finds_the_servers_settings_and_never_creates_a_database_by_accident") {
        return;
    }
    let server_dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let data = server_dir.path().join("data");
    let config = server_dir.path().join("firewatch.toml");
    std::fs::write(
        &config,
        format!("[storage]\ndata_dir = {:?}\n", data.to_str().unwrap()),
    )
    .unwrap();
    let run = |args: &[&str], env_config: bool| {
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .current_dir(elsewhere.path())
            .env_remove("FIREWATCH__STORAGE__DATA_DIR")
            .env_remove("FIREWATCH_CONFIG");
        if env_config {
            cmd.env("FIREWATCH_CONFIG", &config);
        }
        cmd.output().unwrap()
    };
    // From another folder, without the server's settings: refused, nothing created.
    let out = run(&["token", "create", "ci", "--role", "viewer"], false);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no database at") && err.contains("--init"),
        "{err}"
    );
    assert!(
        !elsewhere.path().join("data").exists(),
        "no database was created"
    );
    // With FIREWATCH_CONFIG it finds the server's folder, but still will not create it.
    let out = run(&["webhook-token"], true);
    assert_eq!(out.status.code(), Some(2));
    assert!(!data.exists());
    let out = run(&["webhook-token", "--init"], true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("database {}", data.join("firewatch.db").display()))
            && err.contains(config.to_str().unwrap()),
        "{err}"
    );
    let first = String::from_utf8(out.stdout).unwrap();
    // Now it exists: the same token from anywhere with the same settings, no --init.
    let again = run(&["webhook-token"], true);
    assert!(again.status.success());
    assert_eq!(String::from_utf8(again.stdout).unwrap(), first);
    // A named settings file that does not exist is an error, not the defaults.
    let out = Command::new(bin())
        .args(["token", "list"])
        .current_dir(elsewhere.path())
        .env("FIREWATCH_CONFIG", elsewhere.path().join("nope.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.toml"));
}

/// Users from the command line: list with their state, disable, enable, reset a password
/// (printed once), remove; the last active admin stays.
#[test]
fn the_cli_lists_disables_resets_and_removes_users() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let url = cli_database();
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = cli_storage(&mut Command::new(bin()), dir.path(), &url)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let pw = Some("a long enough password\n");
    let add = |name: &str, role: &str| {
        run(
            &[
                "user",
                "add",
                name,
                "--role",
                role,
                "--password-stdin",
                "--init",
            ],
            pw,
        )
    };
    assert_eq!(add("root", "admin").0, Some(0));
    let (code, out, _) = add("ann", "viewer");
    assert_eq!(code, Some(0));
    assert!(out.contains("added user ann with role viewer"), "{out}");

    let (code, _, err) = run(&["user", "disable", "root"], None);
    assert_eq!(code, Some(2));
    assert!(err.contains("last active admin"), "{err}");
    assert_eq!(run(&["user", "disable", "ann"], None).0, Some(0));
    let (_, list, _) = run(&["user", "list"], None);
    assert!(
        list.lines()
            .any(|l| l.starts_with("ann\tviewer\t") && l.ends_with("\tdisabled")),
        "{list}"
    );
    assert_eq!(run(&["user", "enable", "ann"], None).0, Some(0));
    let (code, out, _) = run(&["user", "reset-password", "ann"], None);
    assert_eq!(code, Some(0));
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("a generated password is printed");
    assert_eq!(password.len(), 24);
    assert_eq!(run(&["user", "remove", "ann"], None).0, Some(0));
    let (_, list, _) = run(&["user", "list"], None);
    assert!(!list.contains("ann"), "{list}");
    let (code, _, err) = run(&["user", "remove", "nobody"], None);
    assert_eq!(code, Some(2));
    assert!(err.contains("user nobody not found"), "{err}");
}
