use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn the_captured_alertmanager_payloads_open_and_update_one_incident() {
    let app = spawn_app().await;
    let text =
        std::fs::read_to_string(reference("incident/alertmanager-0.25-captured.jsonl")).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let first = app.post_webhook_ok(&lines[0]).await;
    assert_eq!(first["created"], true);
    let id = first["incident_id"].as_i64().unwrap();
    let inc = app.incident(id).await;
    assert_eq!(inc["title"], "HighErrorRate on checkout");
    assert_eq!(inc["severity"], "P0");
    assert_eq!(inc["status"], "triggered");
    assert_eq!(inc["alert_count"], 2);
    assert_eq!(
        inc["runbook_url"],
        "http://localhost/runbooks/high-error-rate"
    );

    // The second capture resolves api-2 (with a different startsAt, as the real one has).
    let second = app.post_webhook_ok(&lines[1]).await;
    assert_eq!(second["incident_id"], id);
    assert_eq!(second["alerts_resolved"], 1);
    let inc = app.incident(id).await;
    assert_eq!(inc["firing_count"], 1);
    assert_eq!(inc["status"], "triggered");
    assert_eq!(app.incidents("all").await.len(), 1);
}

#[tokio::test]
async fn the_reference_example_is_accepted_and_keeps_its_resolved_alert_as_context() {
    let app = spawn_app().await;
    let body = reference_json("incident/alertmanager-webhook-example.json");
    let out = app.post_webhook_ok(&body).await;
    let inc = app.incident(out["incident_id"].as_i64().unwrap()).await;
    assert_eq!(inc["alert_count"], 2);
    assert_eq!(inc["firing_count"], 1);
    assert_eq!(inc["severity"], "P0");
    assert_eq!(
        inc["runbook_url"],
        "https://runbooks.example.com/api/high-error-rate"
    );
}

#[tokio::test]
async fn a_resent_notification_duplicates_nothing() {
    let app = spawn_app().await;
    let msg = message(
        "g1",
        vec![
            alert("A", "i1", "warning", "firing"),
            alert("A", "i2", "warning", "firing"),
        ],
    );
    app.post_webhook_ok(&msg).await;
    let rows = (
        app.count_rows("incidents").await,
        app.count_rows("alerts").await,
        app.count_rows("timeline").await,
    );
    for _ in 0..3 {
        let out = app.post_webhook_ok(&msg).await;
        assert_eq!(out["created"], false);
        assert_eq!(out["alerts_fired"], 0);
    }
    assert_eq!(
        rows,
        (
            app.count_rows("incidents").await,
            app.count_rows("alerts").await,
            app.count_rows("timeline").await
        )
    );
    assert_eq!(rows.0, 1);
    assert_eq!(rows.1, 2);
}

#[tokio::test]
async fn when_every_alert_resolves_the_incident_resolves_and_the_timeline_says_so() {
    let app = spawn_app().await;
    let fire = message(
        "g2",
        vec![
            alert("A", "i1", "critical", "firing"),
            alert("A", "i2", "critical", "firing"),
        ],
    );
    let id = app.post_webhook_ok(&fire).await["incident_id"]
        .as_i64()
        .unwrap();
    let half = message(
        "g2",
        vec![
            alert("A", "i1", "critical", "resolved"),
            alert("A", "i2", "critical", "firing"),
        ],
    );
    let out = app.post_webhook_ok(&half).await;
    assert_eq!(out["resolved"], false);
    let all = message(
        "g2",
        vec![
            alert("A", "i1", "critical", "resolved"),
            alert("A", "i2", "critical", "resolved"),
        ],
    );
    let out = app.post_webhook_ok(&all).await;
    assert_eq!(out["resolved"], true);
    let inc = app.incident(id).await;
    assert_eq!(inc["status"], "resolved");
    assert_eq!(inc["resolved_by"], "alertmanager");
    assert!(inc["resolved_at"].is_string());
    let kinds: Vec<&str> = inc["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    // The two resolutions came within a minute with nothing between them: one line.
    assert_eq!(
        kinds,
        ["created", "alert_fired", "alert_resolved", "auto_resolved"]
    );
    let resolved = &inc["timeline"][2];
    assert!(
        resolved["message"]
            .as_str()
            .unwrap()
            .starts_with("2 alerts resolved in 2 notifications"),
        "{resolved}"
    );
    // Re-sending the resolution changes nothing.
    let before = app.count_rows("timeline").await;
    app.post_webhook_ok(&all).await;
    assert_eq!(before, app.count_rows("timeline").await);
    assert_eq!(app.count_rows("incidents").await, 1);
}

#[tokio::test]
async fn a_resolved_group_that_fires_again_opens_a_new_incident_by_default() {
    let app = spawn_app().await;
    let fire = message("g3", vec![alert("A", "i1", "warning", "firing")]);
    let first = app.post_webhook_ok(&fire).await["incident_id"]
        .as_i64()
        .unwrap();
    app.post_webhook_ok(&message(
        "g3",
        vec![alert("A", "i1", "warning", "resolved")],
    ))
    .await;
    let mut again = alert("A", "i1", "warning", "firing");
    again["startsAt"] = json!("2026-11-26T12:00:00Z");
    let out = app.post_webhook_ok(&message("g3", vec![again])).await;
    assert_eq!(out["created"], true);
    assert_ne!(out["incident_id"].as_i64().unwrap(), first);
    assert_eq!(app.incident(first).await["status"], "resolved");
}

#[tokio::test]
async fn within_the_reopen_window_the_resolved_incident_is_reopened() {
    let app = spawn_app_with(|s| s.alertmanager.reopen_window = "1h".into()).await;
    let first = app
        .post_webhook_ok(&message("g4", vec![alert("A", "i1", "warning", "firing")]))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    app.post_webhook_ok(&message(
        "g4",
        vec![alert("A", "i1", "warning", "resolved")],
    ))
    .await;
    let mut again = alert("A", "i1", "warning", "firing");
    again["startsAt"] = json!("2026-11-26T12:00:00Z");
    let out = app.post_webhook_ok(&message("g4", vec![again])).await;
    assert_eq!(out["reopened"], true);
    assert_eq!(out["incident_id"].as_i64().unwrap(), first);
    let inc = app.incident(first).await;
    assert_eq!(inc["status"], "triggered");
    assert!(inc["resolved_at"].is_null());
    assert_eq!(inc["firing_count"], 1);
    assert_eq!(app.count_rows("incidents").await, 1);
}

#[tokio::test]
async fn an_incident_resolved_by_hand_is_not_reopened_by_a_resend_of_its_still_firing_alerts() {
    let app = spawn_app().await;
    let fire = message("g5", vec![alert("A", "i1", "warning", "firing")]);
    let id = app.post_webhook_ok(&fire).await["incident_id"]
        .as_i64()
        .unwrap();
    let (code, _) = app
        .post_json(
            &format!("/api/v1/incidents/{id}/resolve"),
            &app.responder_token,
            &json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    let out = app.post_webhook_ok(&fire).await;
    assert_eq!(out["created"], false);
    assert_eq!(app.count_rows("incidents").await, 1);
    assert_eq!(app.incident(id).await["status"], "resolved");
}

#[tokio::test]
async fn the_incident_takes_the_most_urgent_severity_of_its_alerts() {
    let app = spawn_app().await;
    let id = app
        .post_webhook_ok(&message("g6", vec![alert("A", "i1", "warning", "firing")]))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    assert_eq!(app.incident(id).await["severity"], "P2");
    app.post_webhook_ok(&message(
        "g6",
        vec![
            alert("A", "i1", "warning", "firing"),
            alert("A", "i2", "critical", "firing"),
        ],
    ))
    .await;
    let inc = app.incident(id).await;
    assert_eq!(inc["severity"], "P0");
    assert!(
        inc["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["kind"] == "severity_changed")
    );
}

#[tokio::test]
async fn severity_mapping_is_configurable() {
    let app = spawn_app_with(|s| {
        s.alertmanager
            .severity_map
            .insert("page".into(), firewatch::incidents::Severity::P1);
        s.alertmanager.default_severity = firewatch::incidents::Severity::P4;
    })
    .await;
    let a = app
        .post_webhook_ok(&message("g7", vec![alert("A", "i1", "page", "firing")]))
        .await;
    assert_eq!(
        app.incident(a["incident_id"].as_i64().unwrap()).await["severity"],
        "P1"
    );
    let b = app
        .post_webhook_ok(&message("g8", vec![alert("A", "i1", "whatever", "firing")]))
        .await;
    assert_eq!(
        app.incident(b["incident_id"].as_i64().unwrap()).await["severity"],
        "P4"
    );
}

#[tokio::test]
async fn unknown_fields_from_newer_alertmanagers_are_ignored() {
    let app = spawn_app().await;
    let mut msg = message("g9", vec![alert("A", "i1", "info", "firing")]);
    msg["notification_reason"] = json!("new_alerts");
    msg["routeLabels"] = json!({"team": "payments"});
    msg["alerts"][0]["somethingNew"] = json!(42);
    let out = app.post_webhook_ok(&msg).await;
    assert_eq!(out["created"], true);
}

#[tokio::test]
async fn the_webhook_needs_its_token() {
    let app = spawn_app().await;
    let msg = message("g10", vec![alert("A", "i1", "info", "firing")]);
    let none = app
        .client
        .post(app.url("/api/v1/alerts/alertmanager"))
        .json(&msg)
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let body: Value = none.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let wrong = app
        .client
        .post(app.url("/api/v1/alerts/alertmanager"))
        .bearer_auth("not-the-token-at-all")
        .json(&msg)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // A viewer's API token may not post alerts (a responder's may: `firewatch drill`).
    let api = app
        .client
        .post(app.url("/api/v1/alerts/alertmanager"))
        .bearer_auth(&app.viewer_token)
        .json(&msg)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.count_rows("incidents").await, 0);
}

#[tokio::test]
async fn bad_payloads_get_a_clear_4xx_and_store_nothing() {
    let app = spawn_app_with(|s| s.alertmanager.max_body_bytes = 1_100_000).await;
    let send = |body: Vec<u8>, ctype: &'static str| {
        let req = app
            .client
            .post(app.url("/api/v1/alerts/alertmanager"))
            .bearer_auth(WEBHOOK_TOKEN)
            .header("content-type", ctype)
            .body(body);
        async move { req.send().await.unwrap() }
    };
    let check = |res: reqwest::Response, status: StatusCode, code: &'static str| async move {
        assert_eq!(res.status(), status);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    };
    check(
        send("{not json".into(), "application/json").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    // Not UTF-8: a Latin-1 "é" inside a label value.
    let text = message("g11", vec![alert("A", "i1", "info", "firing")]).to_string();
    let at = text.find("\"i1\"").unwrap() + 2;
    let mut latin1 = text.into_bytes();
    latin1.insert(at, 0xe9);
    let res = send(latin1, "application/json").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("UTF-8"),
        "{body}"
    );
    let valid = message("g11", vec![alert("A", "i1", "info", "firing")]).to_string();
    check(
        send(valid.clone().into(), "text/plain").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let mut missing = message("g11", vec![alert("A", "i1", "info", "firing")]);
    missing.as_object_mut().unwrap().remove("groupKey");
    check(
        send(missing.to_string().into(), "application/json").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    let mut no_labels = message("g11", vec![alert("A", "i1", "info", "firing")]);
    no_labels["alerts"][0]
        .as_object_mut()
        .unwrap()
        .remove("labels");
    check(
        send(no_labels.to_string().into(), "application/json").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    let mut bad_status = message("g11", vec![alert("A", "i1", "info", "firing")]);
    bad_status["alerts"][0]["status"] = json!("exploding");
    check(
        send(bad_status.to_string().into(), "application/json").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    let mut bad_time = message("g11", vec![alert("A", "i1", "info", "firing")]);
    bad_time["alerts"][0]["startsAt"] = json!("yesterday");
    let res = send(bad_time.to_string().into(), "application/json").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("alerts[0].startsAt"));
    let mut bad_version = message("g11", vec![alert("A", "i1", "info", "firing")]);
    bad_version["version"] = json!("3");
    check(
        send(bad_version.to_string().into(), "application/json").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    // Over alertmanager.max_body_bytes (1.1 MB here).
    let mut huge = message("g11", vec![alert("A", "i1", "info", "firing")]);
    huge["alerts"][0]["annotations"]["description"] = json!("x".repeat(1_200_000));
    check(
        send(huge.to_string().into(), "application/json").await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    assert_eq!(app.count_rows("incidents").await, 0);
    assert_eq!(app.count_rows("alerts").await, 0);
}

#[tokio::test]
async fn alerts_in_separate_groups_make_separate_incidents_and_one_group_one_incident() {
    let app = spawn_app().await;
    for g in 0..5 {
        for i in 0..3 {
            app.post_webhook_ok(&message(
                &format!("grp-{g}"),
                vec![alert("A", &format!("i{i}"), "warning", "firing")],
            ))
            .await;
        }
    }
    let open = app.incidents("open").await;
    assert_eq!(open.len(), 5);
    assert!(open.iter().all(|i| i["alert_count"] == 3));
}

#[tokio::test]
async fn a_late_copy_of_an_old_firing_does_not_undo_the_resolution() {
    // Alertmanager in HA: one replica sends "resolved", the lagging one then "firing"
    // with the same start.
    let app = spawn_app().await;
    let firing = message(
        "ha",
        vec![
            alert("A", "i1", "critical", "firing"),
            alert("A", "i2", "critical", "firing"),
        ],
    );
    let id = app.post_webhook_ok(&firing).await["incident_id"]
        .as_i64()
        .unwrap();
    app.post_webhook_ok(&message(
        "ha",
        vec![
            alert("A", "i1", "critical", "resolved"),
            alert("A", "i2", "critical", "firing"),
        ],
    ))
    .await;
    // Late copy while the incident is open: i1 stays resolved.
    let out = app.post_webhook_ok(&firing).await;
    assert_eq!(out["alerts_fired"], 0);
    assert_eq!(app.incident(id).await["firing_count"], 1);
    app.post_webhook_ok(&message(
        "ha",
        vec![
            alert("A", "i1", "critical", "resolved"),
            alert("A", "i2", "critical", "resolved"),
        ],
    ))
    .await;
    assert_eq!(app.incident(id).await["status"], "resolved");
    // Late copy after the incident resolved: no new incident, no reopen.
    let out = app.post_webhook_ok(&firing).await;
    assert_eq!(out["created"], false);
    assert_eq!(app.count_rows("incidents").await, 1);
    assert_eq!(app.incident(id).await["status"], "resolved");
}

#[tokio::test]
async fn a_resolved_alert_never_raises_the_severity() {
    let app = spawn_app().await;
    let id = app
        .post_webhook_ok(&message("sev", vec![alert("A", "i1", "warning", "firing")]))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    app.post_webhook_ok(&message(
        "sev",
        vec![
            alert("A", "i1", "warning", "firing"),
            alert("A", "i2", "critical", "resolved"),
        ],
    ))
    .await;
    let inc = app.incident(id).await;
    assert_eq!(inc["severity"], "P2");
    assert_eq!(inc["alert_count"], 2);
}

/// Counters kept on the incident equal a recount of its alerts, in every table.
async fn assert_counters_match_a_recount(app: &TestApp) {
    let rows = app
        .query_ints(
            "SELECT i.id, i.alert_count, i.firing_count, \
             i.firing_p0, i.firing_p1, i.firing_p2, i.firing_p3, i.firing_p4, \
             (SELECT COUNT(*) FROM alerts a WHERE a.incident_id = i.id), \
             (SELECT COUNT(*) FROM alerts a WHERE a.incident_id = i.id AND a.status = 'firing'), \
             (SELECT COUNT(*) FROM alerts a WHERE a.incident_id = i.id AND a.status = 'firing' AND a.severity = 'P0'), \
             (SELECT COUNT(*) FROM alerts a WHERE a.incident_id = i.id AND a.status = 'firing' AND a.severity = 'P1'), \
             (SELECT COUNT(*) FROM alerts a WHERE a.incident_id = i.id AND a.status = 'firing' AND a.severity = 'P2'), \
             (SELECT COUNT(*) FROM alerts a WHERE a.incident_id = i.id AND a.status = 'firing' AND a.severity = 'P3'), \
             (SELECT COUNT(*) FROM alerts a WHERE a.incident_id = i.id AND a.status = 'firing' AND a.severity = 'P4') \
             FROM incidents i",
            &[],
        )
        .await;
    assert!(!rows.is_empty());
    for r in rows {
        assert_eq!(r.len(), 15);
        assert_eq!(r[1..8], r[8..15], "incident {}: kept vs recounted", r[0]);
    }
}

#[tokio::test]
async fn alert_counters_stay_exact_through_firing_resolving_regrouping_and_reopening() {
    // With a reopen window a group that fires again reopens its incident; without one it
    // opens a new incident, and late resolutions stay on the old one.
    for window in ["1h", "0s"] {
        counters_scenario(window).await;
    }
}

async fn counters_scenario(reopen_window: &'static str) {
    let app = spawn_app_with(|s| s.alertmanager.reopen_window = reopen_window.into()).await;
    let sev = ["critical", "error", "warning", "info"];
    // Alerts join, resolve, fire again with another severity, and are re-sent.
    for round in 0..6 {
        let alerts: Vec<_> = (0..8)
            .map(|i| {
                let status = if (i + round) % 3 == 0 {
                    "resolved"
                } else {
                    "firing"
                };
                let mut a = alert("A", &format!("i{i}"), sev[(i + round) % 4], status);
                a["startsAt"] = json!(format!("2026-11-26T10:0{round}:00Z"));
                a
            })
            .collect();
        app.post_webhook_ok(&message("g1", alerts.clone())).await;
        app.post_webhook_ok(&message("g1", alerts)).await;
        assert_counters_match_a_recount(&app).await;
    }
    // Everything resolves (the incident resolves), then fires again (it is reopened),
    // a second group comes and goes, and a third resolves by hand and fires anew.
    let all = |status: &str| -> Vec<_> {
        (0..8)
            .map(|i| alert("A", &format!("i{i}"), "warning", status))
            .collect()
    };
    app.post_webhook_ok(&message("g1", all("resolved"))).await;
    assert_counters_match_a_recount(&app).await;
    app.post_webhook_ok(&message("g1", all("firing"))).await;
    app.post_webhook_ok(&message("g2", vec![alert("B", "x", "critical", "firing")]))
        .await;
    app.post_webhook_ok(&message(
        "g2",
        vec![alert("B", "x", "critical", "resolved")],
    ))
    .await;
    let id = app
        .post_webhook_ok(&message("g3", vec![alert("C", "y", "error", "firing")]))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    app.post_json(
        &format!("/api/v1/incidents/{id}/resolve"),
        &app.responder_token,
        &json!({}),
    )
    .await;
    let mut again = alert("C", "y", "error", "firing");
    again["startsAt"] = json!("2026-11-26T11:00:00Z");
    app.post_webhook_ok(&message(
        "g3",
        vec![again, alert("C", "z", "critical", "resolved")],
    ))
    .await;
    assert_counters_match_a_recount(&app).await;
    // A group resolved by hand whose known alert resolves late while a new one fires.
    let id = app
        .post_webhook_ok(&message(
            "g4",
            vec![
                alert("D", "u", "critical", "firing"),
                alert("D", "w", "info", "firing"),
            ],
        ))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    app.post_json(
        &format!("/api/v1/incidents/{id}/resolve"),
        &app.responder_token,
        &json!({}),
    )
    .await;
    app.post_webhook_ok(&message(
        "g4",
        vec![
            alert("D", "u", "critical", "resolved"),
            alert("D", "v", "error", "firing"),
        ],
    ))
    .await;
    assert_counters_match_a_recount(&app).await;
}

#[tokio::test]
async fn a_database_from_before_the_alert_counters_gets_them_counted() {
    if sqlite_only("a_database_from_before_the_alert_counters_gets_them_counted") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("firewatch.db");
    {
        // The schema as the previous release left it, with an incident and its alerts.
        let conn = rusqlite::Connection::open(&path).unwrap();
        for file in [
            "0001_core.sql",
            "0002_notifications.sql",
            "0003_deployments.sql",
            "0004_slo.sql",
            "0005_slo_rollups.sql",
        ] {
            let sql = std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("migrations")
                    .join(file),
            )
            .unwrap();
            conn.execute_batch(&sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
        conn.execute_batch(
            "INSERT INTO incidents (id, title, status, severity, source, created_at, updated_at, \
             alert_count, firing_count) VALUES (1, 't', 'triggered', 'P1', 'alertmanager', 0, 0, 3, 2);
             INSERT INTO alerts (incident_id, fingerprint, status, severity, labels, annotations, \
             starts_at, first_seen_at, last_seen_at) VALUES
             (1, 'a', 'firing', 'P1', '{}', '{}', 0, 0, 0),
             (1, 'b', 'firing', 'P3', '{}', '{}', 0, 0, 0),
             (1, 'c', 'resolved', 'P0', '{}', '{}', 0, 0, 0);",
        )
        .unwrap();
    }
    let conn =
        firewatch::db::open_and_migrate(&path, firewatch::config::Synchronous::Normal).unwrap();
    let counts: (i64, i64, i64, i64, i64) = conn
        .query_row(
            "SELECT firing_p0, firing_p1, firing_p2, firing_p3, firing_p4 FROM incidents",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(counts, (0, 1, 0, 1, 0));
}

/// A title the whole group shares (Sloth's burn-rate alerts carry one) names the incident;
/// otherwise it is "<alertname> on <service>".
#[tokio::test]
async fn a_common_title_annotation_names_the_incident() {
    let app = spawn_app().await;
    let mut body = message("t1", vec![alert("A", "i", "critical", "firing")]);
    body["commonAnnotations"]["title"] =
        "(page) checkout availability SLO error budget burn rate is too fast.".into();
    let id = app.post_webhook_ok(&body).await["incident_id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        app.incident(id).await["title"],
        "(page) checkout availability SLO error budget burn rate is too fast."
    );
    let plain = message("t2", vec![alert("B", "i", "critical", "firing")]);
    let id = app.post_webhook_ok(&plain).await["incident_id"]
        .as_i64()
        .unwrap();
    assert_eq!(app.incident(id).await["title"], "HighErrorRate on checkout");
}

/// A storm's alerts keep only what is their own; the shared labels, annotations,
/// summary template and link are stored once per incident, and every alert reads back
/// exactly as it was sent — alerts stored before the sets existed too.
#[tokio::test]
async fn alerts_read_back_exactly_though_what_they_share_is_stored_once() {
    let app = spawn_app().await;
    let storm_alert = |pod: &str, value: u32| {
        json!({
            "status": "firing",
            "labels": {"alertname": "PodCrashLooping", "service": "checkout", "namespace": "prod",
                       "pod": pod, "severity": "critical", "cluster": "eu-1"},
            "annotations": {"summary": format!("PodCrashLooping on checkout ({pod})"),
                            "description": format!("{pod} restarted {value} times"),
                            "runbook_url": "https://runbooks.example.com/crashloop"},
            "startsAt": "2026-11-26T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
            "fingerprint": format!("fp-{pod}"),
        })
    };
    let mut sent = Vec::new();
    let mut id = 0;
    for n in 0..3 {
        let alerts: Vec<Value> = (0..4)
            .map(|i| storm_alert(&format!("checkout-7d9f-{n}{i}"), n * 10 + i))
            .collect();
        sent.extend(alerts.clone());
        id = app.post_webhook_ok(&message("storm", alerts)).await["incident_id"]
            .as_i64()
            .unwrap();
    }
    // An alert alone in its notification, with a link of its own, joins the same incident.
    let mut lone = storm_alert("checkout-lone", 99);
    lone["generatorURL"] = json!("http://prometheus:9090/graph?g0.expr=other");
    app.post_webhook_ok(&message("storm", vec![lone.clone()]))
        .await;
    sent.push(lone);

    let (status, page) = app
        .get_json(
            &format!("/api/v1/incidents/{id}/alerts?limit=100"),
            &app.admin_token,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), sent.len());
    for s in &sent {
        let got = items
            .iter()
            .find(|a| a["fingerprint"] == s["fingerprint"])
            .unwrap_or_else(|| panic!("{} missing", s["fingerprint"]));
        assert_eq!(got["labels"], s["labels"]);
        assert_eq!(got["annotations"], s["annotations"]);
        assert_eq!(got["generator_url"], s["generatorURL"]);
    }

    // Three storm notifications with the same shared part: one set; the lone alert: one.
    assert_eq!(app.count_rows("alert_sets").await, 2);
    // Text columns: read through the app's own database handle (either backend).
    let (labels, annotations, url): (String, String, String) = app
        .state
        .db
        .read(|c| {
            c.query_row(
                "SELECT labels, annotations, generator_url FROM alerts WHERE fingerprint = 'fp-checkout-7d9f-12'",
                &[],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        })
        .await
        .unwrap_or_else(|e: firewatch::db::StoreError| panic!("{e}"));
    assert_eq!(labels, r#"{"pod":"checkout-7d9f-12"}"#);
    // The description differs by the pod (a label) and the count (no label): the set
    // keeps the text around the count, the alert only the count.
    assert_eq!(annotations, r#"{"description":"12"}"#);
    assert_eq!(url, "");

    // A row from before migration 0018 (no set) reads back whole.
    app.exec(
        "UPDATE alerts SET set_id = NULL, labels = '{\"alertname\":\"Old\",\"pod\":\"p\"}', \
         annotations = '{\"summary\":\"old\"}', generator_url = 'http://old' \
         WHERE fingerprint = 'fp-checkout-7d9f-00'",
        &[],
    )
    .await;
    let (_, page) = app
        .get_json(
            &format!("/api/v1/incidents/{id}/alerts?limit=100"),
            &app.admin_token,
        )
        .await;
    let old = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["fingerprint"] == "fp-checkout-7d9f-00")
        .unwrap()
        .clone();
    assert_eq!(old["labels"], json!({"alertname": "Old", "pod": "p"}));
    assert_eq!(old["annotations"], json!({"summary": "old"}));
    assert_eq!(old["generator_url"], "http://old");

    // Retention takes the sets with their incident.
    app.exec("DELETE FROM incidents WHERE id = ?1", &[DbValue::Int(id)])
        .await;
    assert_eq!(app.count_rows("alert_sets").await, 0);
}

/// The messages of an incident's timeline lines of `kind`, oldest first.
async fn lines_of(app: &TestApp, id: i64, kind: &str) -> Vec<String> {
    app.incident(id).await["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == kind)
        .map(|t| t["message"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_storm_writes_one_line_a_minute_not_one_per_notification() {
    let app = spawn_app().await;
    let batch = |from: usize, n: usize| {
        let alerts = (from..from + n)
            .map(|i| alert("PodCrash", &format!("pod-{i}"), "warning", "firing"))
            .collect();
        message("storm", alerts)
    };
    let id = app.post_webhook_ok(&batch(0, 3)).await["incident_id"]
        .as_i64()
        .unwrap();
    for k in 1..40 {
        let out = app.post_webhook_ok(&batch(k * 3, 3)).await;
        assert_eq!(out["alerts_fired"], 3);
    }
    let fired = lines_of(&app, id, "alert_fired").await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert!(
        fired[0].starts_with("120 alerts fired in 40 notifications "),
        "{}",
        fired[0]
    );
    assert!(fired[0].ends_with("(+115 more)"), "{}", fired[0]);
    assert!(
        fired[0].contains("PodCrash {instance=pod-0}"),
        "{}",
        fired[0]
    );
    let inc = app.incident(id).await;
    assert_eq!(inc["firing_count"], 120);
    let line = inc["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "alert_fired")
        .unwrap()
        .clone();
    assert_eq!(line["details"]["alerts"], 120);
    assert_eq!(line["details"]["notifications"], 40);

    // A line older than a minute stops gathering: the next notification starts one.
    app.exec(
        "UPDATE timeline SET at = at - 61000 WHERE incident_id = ?1",
        &[DbValue::Int(id)],
    )
    .await;
    app.post_webhook_ok(&batch(120, 2)).await;
    app.post_webhook_ok(&batch(122, 2)).await;
    let fired = lines_of(&app, id, "alert_fired").await;
    assert_eq!(fired.len(), 2, "{fired:?}");
    assert!(
        fired[1].starts_with("4 alerts fired in 2 notifications within a second")
            || fired[1].starts_with("4 alerts fired in 2 notifications over "),
        "{}",
        fired[1]
    );

    // Anything else on the incident ends the line, so the timeline keeps its order.
    let (code, _) = app
        .post_json(
            &format!("/api/v1/incidents/{id}/acknowledge"),
            &app.responder_token,
            &json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    app.post_webhook_ok(&batch(124, 1)).await;
    let kinds: Vec<String> = app.incident(id).await["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "alert_fired",
            "alert_fired",
            "acknowledged",
            "alert_fired"
        ],
    );
    let fired = lines_of(&app, id, "alert_fired").await;
    assert_eq!(fired[2], "Alert fired: PodCrash {instance=pod-124}");
}

#[tokio::test]
async fn fired_and_resolved_lines_gather_side_by_side() {
    let app = spawn_app().await;
    let a = |i: usize, status: &str| alert("Disk", &format!("node-{i}"), "warning", status);
    let id = app
        .post_webhook_ok(&message("disks", vec![a(0, "firing"), a(1, "firing")]))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    // Each notification resolves one alert and fires a new one.
    for i in 2..6 {
        app.post_webhook_ok(&message(
            "disks",
            vec![a(i - 2, "resolved"), a(i, "firing")],
        ))
        .await;
    }
    let fired = lines_of(&app, id, "alert_fired").await;
    let resolved = lines_of(&app, id, "alert_resolved").await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    assert!(
        fired[0].starts_with("6 alerts fired in 5 notifications"),
        "{}",
        fired[0]
    );
    assert!(
        resolved[0].starts_with("4 alerts resolved in 4 notifications"),
        "{}",
        resolved[0]
    );
    assert!(
        resolved[0].ends_with("Disk {instance=node-0}; Disk {instance=node-1}; Disk {instance=node-2}; Disk {instance=node-3}"),
        "{}",
        resolved[0]
    );
}
