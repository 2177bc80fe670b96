//! Replicas sharing one PostgreSQL database (the suite's PostgreSQL pass): one incident
//! for a notification posted to two replicas at once, an outbox message delivered once
//! while both deliver, the leader replaced after kill -9, and no acknowledged alert lost
//! when a replica is killed under load.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::durability::load;
use crate::helpers::*;
use crate::notify::{Recorder, receivers};

/// Whether this run has a PostgreSQL server; says so when it has not.
fn postgres_pass(test: &str) -> bool {
    if !on_postgres() {
        eprintln!("{test}: replicas need the PostgreSQL pass; skipped on SQLite");
    }
    on_postgres()
}

/// A second replica on `first`'s database.
async fn replica_of(
    first: &TestApp,
    customize: impl FnOnce(&mut firewatch::config::Settings),
) -> TestApp {
    let url = first.state.settings.storage_url.clone();
    spawn_app_with(move |s| {
        customize(s);
        s.storage.url = url;
    })
    .await
}

/// Rows of a one-column text query, straight from PostgreSQL.
fn pg_strings(url: &str, sql: &str) -> Vec<String> {
    let (url, sql) = (url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.query(&sql, &[])
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect()
    })
    .join()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_posted_to_two_replicas_at_once_opens_one_incident() {
    if !postgres_pass("a_notification_posted_to_two_replicas_at_once_opens_one_incident") {
        return;
    }
    let a = spawn_app().await;
    let b = replica_of(&a, |_| {}).await;
    // A group sent once, to one replica: what every group should look like.
    a.post_webhook_ok(&message(
        "once",
        vec![alert("Dup", "i0", "critical", "firing")],
    ))
    .await;
    for g in 0..20 {
        // Alertmanager in HA: each instance sends the same notification.
        let m = message(
            &format!("twice-{g}"),
            vec![alert("Dup", &format!("i{g}"), "critical", "firing")],
        );
        let (ra, rb) = tokio::join!(a.post_webhook(&m), b.post_webhook(&m));
        assert_eq!(ra.status(), StatusCode::OK);
        assert_eq!(rb.status(), StatusCode::OK);
    }
    let incidents = a.incidents("all").await;
    assert_eq!(incidents.len(), 21, "one incident per group");
    let per_incident = a
        .query_ints(
            "SELECT incident_id, COUNT(*) FROM timeline GROUP BY incident_id ORDER BY incident_id",
            &[],
        )
        .await;
    let once = per_incident[0][1];
    for row in &per_incident {
        assert_eq!(
            row[1], once,
            "incident {}: timeline like a single send",
            row[0]
        );
    }
    for i in &incidents {
        assert_eq!(i["alert_count"], 1, "{i}");
    }
    // Both replicas answer from the same data.
    assert_eq!(b.incidents("all").await.len(), 21);
    // Both are members; one leads, and the admin page says which.
    let (code, cluster) = b.get_json("/api/v1/cluster", &b.viewer_token).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(cluster["backend"], "postgres");
    let members = cluster["members"].as_array().unwrap();
    assert_eq!(members.len(), 2, "{cluster}");
    assert_eq!(
        members.iter().filter(|m| m["leader"] == true).count(),
        1,
        "{cluster}"
    );
    let leader = members.iter().find(|m| m["leader"] == true).unwrap()["instance"]
        .as_str()
        .unwrap()
        .to_string();
    let cookie = session_as(&b, "root", firewatch::auth::Role::Admin, "admin password 1").await;
    let (code, page) = b.page("/admin", &cookie).await;
    assert_eq!(code, StatusCode::OK);
    assert!(page.contains("Storage and replicas"), "{page}");
    assert!(page.contains(&format!("<td>{leader}</td>")), "{page}");
    assert!(page.contains("<strong>leader</strong>"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbox_message_is_delivered_once_while_both_replicas_deliver() {
    if !postgres_pass("an_outbox_message_is_delivered_once_while_both_replicas_deliver") {
        return;
    }
    let rec = Recorder::start(202);
    let a = spawn_app_with(|s| receivers(s, &rec)).await;
    let b = replica_of(&a, |s| receivers(s, &rec)).await;
    let mut ids = HashSet::new();
    for n in 0..10 {
        let app = if n % 2 == 0 { &a } else { &b };
        let m = message(
            &format!("page-{n}"),
            vec![alert(
                "HighErrorRate",
                &format!("api-{n}"),
                "critical",
                "firing",
            )],
        );
        let id = app.post_webhook_ok(&m).await["incident_id"]
            .as_i64()
            .unwrap();
        ids.insert(format!("firewatch-incident-{id}"));
    }
    rec.wait_for("/pagerduty", 10).await;
    // Both workers poll every 50 ms: give a duplicate every chance to show.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pages = rec.seen("/pagerduty");
    let keys: Vec<String> = pages
        .iter()
        .map(|p| p.body["dedup_key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys.len(), 10, "each message sent once: {keys:?}");
    assert_eq!(keys.into_iter().collect::<HashSet<_>>(), ids);
}

/// A settings file for a replica process on the database `url`.
fn replica_config(dir: &std::path::Path, url: &str, takeover: &str) -> std::path::PathBuf {
    let cfg = dir.join("fw.toml");
    std::fs::write(
        &cfg,
        format!(
            "[storage]\nbackend = \"postgres\"\nurl = {url:?}\ndata_dir = {:?}\n\
             [cluster]\ntakeover = {takeover:?}\n\
             [jobs]\nretention = \"* * * * * *\"\n\
             [alertmanager]\nwebhook_token = \"{WEBHOOK_TOKEN}\"\n",
            dir.join("data").display().to_string()
        ),
    )
    .unwrap();
    cfg
}

/// A viewer token made with the CLI on the replicas' database.
fn viewer_token(cfg: &std::path::Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_firewatch"))
        .args([
            "token", "create", "observer", "--role", "viewer", "--config",
        ])
        .arg(cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string()
}

async fn get(client: &reqwest::Client, address: &str, path: &str, token: &str) -> Option<Value> {
    let res = client
        .get(format!("{address}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .ok()?;
    res.json().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_killed_with_sigkill_is_replaced_within_the_bound_and_jobs_go_on() {
    if !postgres_pass("the_leader_killed_with_sigkill_is_replaced_within_the_bound_and_jobs_go_on")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_postgres_database();
    let takeover = Duration::from_secs(3);
    let cfg = replica_config(dir.path(), &url, "3s");
    let token = viewer_token(&cfg);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut replicas = [
        ServerProcess::start(&cfg, &[("FIREWATCH__CLUSTER__INSTANCE", "one".into())]),
        ServerProcess::start(&cfg, &[("FIREWATCH__CLUSTER__INSTANCE", "two".into())]),
    ];
    // Exactly one leads, and both see both.
    let deadline = Instant::now() + Duration::from_secs(20);
    let leader = loop {
        let mut leaders = Vec::new();
        let mut members = 0;
        for (i, r) in replicas.iter().enumerate() {
            if let Some(c) = get(&client, &r.address, "/api/v1/cluster", &token).await {
                assert_eq!(c["backend"], "postgres", "{c}");
                if c["leader"] == true {
                    leaders.push(i);
                }
                members = c["members"].as_array().map_or(0, Vec::len);
            }
        }
        if leaders.len() == 1 && members == 2 {
            break leaders[0];
        }
        assert!(leaders.len() <= 1, "two leaders at once");
        assert!(
            Instant::now() < deadline,
            "no single leader with both members"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let survivor = 1 - leader;
    let last_retention = |jobs: &Value| {
        jobs["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["name"] == "retention")
            .map(|j| j["last_run"].clone())
            .unwrap_or(Value::Null)
    };
    replicas[leader].kill9();
    let killed = Instant::now();
    let address = replicas[survivor].address.clone();
    loop {
        let c = get(&client, &address, "/api/v1/cluster", &token)
            .await
            .unwrap();
        if c["leader"] == true {
            break;
        }
        assert!(
            killed.elapsed() < takeover * 2,
            "no takeover {:?} after kill -9: {c}",
            killed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = killed.elapsed();
    eprintln!("takeover after kill -9 of the leader: {took:?} (bound {takeover:?})");
    // The jobs (retention, every second) run on the new leader.
    let before = last_retention(
        &get(&client, &address, "/api/v1/jobs", &token)
            .await
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let now = last_retention(
            &get(&client, &address, "/api/v1/jobs", &token)
                .await
                .unwrap(),
        );
        if !now.is_null() && now != before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "retention stopped after the takeover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_under_intake_loses_no_acknowledged_alert() {
    if !postgres_pass("a_replica_killed_under_intake_loses_no_acknowledged_alert") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_postgres_database();
    let cfg = replica_config(dir.path(), &url, "15s");
    let mut first = ServerProcess::start(&cfg, &[]);
    let second = ServerProcess::start(&cfg, &[]);
    let to_first = tokio::spawn(load(first.address.clone(), 8, Duration::from_secs(6)));
    let to_second = tokio::spawn(load(second.address.clone(), 8, Duration::from_secs(3)));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    first.kill9();
    let mut accepted = to_first.await.unwrap();
    accepted.extend(to_second.await.unwrap());
    assert!(
        accepted.len() > 50,
        "the load ran ({} accepted)",
        accepted.len()
    );
    let stored: HashSet<String> = pg_strings(&url, "SELECT group_key FROM incidents")
        .into_iter()
        .collect();
    let lost: Vec<_> = accepted.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged notifications lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    let alerts = pg_strings(&url, "SELECT COUNT(*)::text FROM alerts")[0]
        .parse::<usize>()
        .unwrap();
    assert!(alerts >= accepted.len() * 5);
    drop(second);
}

/// The answers a team would compare after moving: incidents, their alerts and timelines,
/// silences, deployments, post-mortems.
async fn answers(app: &TestApp) -> Vec<(String, Value)> {
    let mut paths = vec![
        "/api/v1/incidents?status=all&limit=200".to_string(),
        "/api/v1/silences".into(),
        "/api/v1/deployments".into(),
        "/api/v1/postmortems".into(),
        "/api/v1/action-items".into(),
    ];
    for i in app.incidents("all").await {
        let id = i["id"].as_i64().unwrap();
        paths.push(format!("/api/v1/incidents/{id}"));
        paths.push(format!("/api/v1/incidents/{id}/alerts"));
        paths.push(format!("/api/v1/incidents/{id}/alerts?status=resolved"));
        paths.push(format!("/api/v1/incidents/{id}/timeline"));
    }
    let mut out = Vec::new();
    for p in paths {
        let (code, body) = app.get_json(&p, &app.admin_token).await;
        assert_eq!(code, StatusCode::OK, "{p}: {body}");
        out.push((p, body));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_migrate_moves_a_sqlite_installation_to_postgres_with_the_same_answers() {
    if !postgres_pass(
        "storage_migrate_moves_a_sqlite_installation_to_postgres_with_the_same_answers",
    ) {
        return;
    }
    let sqlite = spawn_app_with(|s| {
        s.storage.backend = firewatch::config::Backend::Sqlite;
        s.storage.url = None;
    })
    .await;
    // History: storms in two groups, one alert resolved, an acknowledgement, a note, a
    // silence, a deployment, a post-mortem draft.
    let alerts = (0..30)
        .map(|i| alert("CPUHigh", &format!("node-{i}"), "warning", "firing"))
        .collect();
    let first = sqlite.post_webhook_ok(&message("cpu", alerts)).await["incident_id"]
        .as_i64()
        .unwrap();
    sqlite
        .post_webhook_ok(&message(
            "cpu",
            vec![alert("CPUHigh", "node-3", "warning", "resolved")],
        ))
        .await;
    sqlite
        .post_webhook_ok(&message(
            "db",
            vec![alert("DBDown", "db-1", "critical", "firing")],
        ))
        .await;
    let t = sqlite.responder_token.clone();
    let (code, _) = sqlite
        .post_json(
            &format!("/api/v1/incidents/{first}/acknowledge"),
            &t,
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    let (code, _) = sqlite
        .post_json(
            &format!("/api/v1/incidents/{first}/notes"),
            &t,
            &serde_json::json!({"text": "scaling the pool — «ü»"}),
        )
        .await;
    assert!(code.is_success(), "{code}");
    let (code, _) = sqlite
        .post_json(
            "/api/v1/silences",
            &t,
            &serde_json::json!({"matchers": {"service": "batch"}, "comment": "maintenance", "duration": "2h"}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let (code, _) = sqlite
        .post_json(
            "/api/v1/deployments",
            &t,
            &serde_json::json!({"service": "checkout", "version": "v1.2.3"}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let (code, _) = sqlite
        .post_json(
            &format!("/api/v1/incidents/{first}/postmortem"),
            &t,
            &serde_json::json!({}),
        )
        .await;
    assert!(code.is_success(), "{code}");
    let before = answers(&sqlite).await;
    let counts_before = sqlite
        .query_ints(
            "SELECT (SELECT COUNT(*) FROM incidents), (SELECT COUNT(*) FROM alerts), \
             (SELECT COUNT(*) FROM timeline), (SELECT COUNT(*) FROM alert_sets)",
            &[],
        )
        .await;
    sqlite.state.db.close().await;

    let url = fresh_postgres_database();
    let cfg = sqlite.dir.path().join("fw.toml");
    std::fs::write(
        &cfg,
        format!(
            "[storage]\ndata_dir = {:?}\n",
            sqlite.dir.path().display().to_string()
        ),
    )
    .unwrap();
    let migrate = |to: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_firewatch"))
            .args(["storage", "migrate", "--to", to, "--config"])
            .arg(&cfg)
            .output()
            .unwrap()
    };
    let out = migrate(&url);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("every count matches"), "{stdout}");
    assert!(
        stderr.contains("alerts") && stderr.contains(" 31 rows"),
        "{stderr}"
    );
    // A second run finds data there and writes nothing.
    let again = migrate(&url);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already has data"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let pg = spawn_app_with(move |s| s.storage.url = Some(url)).await;
    assert_eq!(pg.state.db.dialect(), firewatch::db::Dialect::Postgres);
    let after = answers(&pg).await;
    assert_eq!(before.len(), after.len());
    for ((path, a), (_, b)) in before.iter().zip(&after) {
        assert_eq!(a, b, "{path} differs after the move");
    }
    let counts_after = pg
        .query_ints(
            "SELECT (SELECT COUNT(*) FROM incidents), (SELECT COUNT(*) FROM alerts), \
             (SELECT COUNT(*) FROM timeline), (SELECT COUNT(*) FROM alert_sets)",
            &[],
        )
        .await;
    assert_eq!(counts_before, counts_after);
    // Ids go on after the copied ones.
    let next = pg
        .post_webhook_ok(&message(
            "new",
            vec![alert("New", "x", "warning", "firing")],
        ))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    assert_eq!(next, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database_and_a_replica_reconnects_when_it_returns() {
    if !postgres_pass("readiness_follows_the_database_and_a_replica_reconnects_when_it_returns") {
        return;
    }
    // A server of its own, to stop and start again.
    let pg = crate::healing::Postgres::start();
    let url = pg.dsn("postgres", "firewatch");
    let app = spawn_app_with(move |s| s.storage.url = Some(url)).await;
    let ready = |app: &TestApp| {
        let (client, url) = (app.client.clone(), app.url("/readyz"));
        async move {
            let r = client.get(url).send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(ready(&app).await.0, StatusCode::OK);
    app.post_webhook_ok(&message(
        "before",
        vec![alert("A", "x", "warning", "firing")],
    ))
    .await;

    pg.stop();
    let (code, body) = ready(&app).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not ready", "{body}");
    // The webhook says "try again" (Alertmanager retries), it does not lose the alert.
    let res = app
        .post_webhook(&message(
            "during",
            vec![alert("B", "y", "warning", "firing")],
        ))
        .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("retry-after"));

    pg.start_again();
    let deadline = Instant::now() + Duration::from_secs(30);
    while ready(&app).await.0 != StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "not ready again after the database returned"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.post_webhook_ok(&message(
        "during",
        vec![alert("B", "y", "warning", "firing")],
    ))
    .await;
    assert_eq!(app.incidents("all").await.len(), 2);
}
