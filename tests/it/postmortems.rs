use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::slo::{Target, app_for, evaluate};
use firewatch::auth::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postmortem_drafts_itself_from_the_incident_and_goes_through_review() {
    // SLO history: 1,000 requests of which 100 failed.
    let target = Target::start();
    target.add(1000.0, 0.0);
    let app = app_for(&target).await;
    evaluate(&app).await;
    target.add(900.0, 100.0);
    evaluate(&app).await;

    // An incident through the real intake path, acknowledged and resolved.
    let msg = message(
        "pm-1",
        vec![
            alert("HighErrorRate", "api-1", "critical", "firing"),
            alert("HighErrorRate", "api-2", "critical", "firing"),
        ],
    );
    let id = app.post_webhook_ok(&msg).await["incident_id"]
        .as_i64()
        .unwrap();
    let t = &app.responder_token;
    app.post_json(
        &format!("/api/v1/incidents/{id}/acknowledge"),
        t,
        &json!({}),
    )
    .await;
    app.post_json(&format!("/api/v1/incidents/{id}/resolve"), t, &json!({}))
        .await;
    let inc = app.incident(id).await;
    assert!(inc["postmortem_id"].is_null(), "{inc}");

    let (code, pm) = app
        .post_json(&format!("/api/v1/incidents/{id}/postmortem"), t, &json!({}))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{pm}");
    let pid = pm["id"].as_i64().unwrap();
    assert_eq!(pm["incident_id"], id);
    assert_eq!(pm["status"], "draft");
    let keys: Vec<&String> = pm["sections"].as_object().unwrap().keys().collect();
    assert_eq!(
        keys.len(),
        14,
        "every section, empty until written: {keys:?}"
    );
    for k in [
        "summary",
        "five_whys",
        "went_well",
        "lucky",
        "messaging",
        "lessons",
    ] {
        assert!(pm["sections"][k].is_string(), "{k}");
    }
    // The timeline names each alert of the incident.
    let timeline = pm["sections"]["timeline"].as_str().unwrap();
    for needle in [
        "alert HighErrorRate on api-1 started firing",
        "alert HighErrorRate on api-2 started firing",
        "Acknowledged",
    ] {
        assert!(timeline.contains(needle), "{needle} in {timeline}");
    }
    // Durations from the incident's own times.
    let created = firewatch::time::parse_rfc3339(inc["created_at"].as_str().unwrap())
        .unwrap()
        .unwrap();
    let started = firewatch::time::parse_rfc3339("2026-11-26T10:00:00Z")
        .unwrap()
        .unwrap();
    assert_eq!(
        pm["metrics"]["time_to_detect_s"].as_i64().unwrap(),
        (created - started) / 1000
    );
    assert!(pm["metrics"]["time_to_acknowledge_s"].as_i64().unwrap() >= 0);
    assert!(pm["metrics"]["time_to_resolve_s"].as_i64().unwrap() >= 0);
    // SLO impact: the window's events in the store, and the share of the period's budget.
    let impact = &pm["slo_impact"][0];
    assert_eq!(impact["slo"], "checkout-checkout-availability", "{pm}");
    let sums = app
        .query_reals(
            "SELECT SUM(bad), SUM(total) FROM slo_samples WHERE slo = 'checkout-checkout-availability' AND at >= ?1",
            &[DbValue::Int(started)],
        )
        .await;
    let (bad, total) = (sums[0][0], sums[0][1]);
    assert_eq!(impact["bad_events"].as_f64().unwrap(), bad);
    assert_eq!(bad, 100.0);
    assert!((impact["error_ratio"].as_f64().unwrap() - bad / total).abs() < 1e-9);
    assert!(
        (impact["budget_consumed"].as_f64().unwrap() - bad / (0.001 * total)).abs() < 1e-6,
        "{impact}"
    );
    assert!(
        pm["sections"]["impact"]
            .as_str()
            .unwrap()
            .contains("100 bad events of 1000")
    );

    // One per incident; unknown incidents are 404.
    let (code, _) = app
        .post_json(&format!("/api/v1/incidents/{id}/postmortem"), t, &json!({}))
        .await;
    assert_eq!(code, StatusCode::CONFLICT);
    let (code, _) = app
        .post_json("/api/v1/incidents/99999/postmortem", t, &json!({}))
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(app.incident(id).await["postmortem_id"], pid);

    // Editing, and what is refused.
    let patch = |body: serde_json::Value| {
        let app = &app;
        async move {
            let res = app
                .client
                .patch(app.url(&format!("/api/v1/postmortems/{pid}")))
                .bearer_auth(&app.responder_token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let code = res.status();
            (code, res.json::<serde_json::Value>().await.unwrap())
        }
    };
    let hostile = "<script>alert(1)</script>\n\nSee [the graph](javascript:alert(2)).";
    let (code, body) =
        patch(json!({"sections": {"root_causes": "A cache stampede.", "summary": hostile}})).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["sections"]["root_causes"], "A cache stampede.");
    let (code, body) = patch(json!({"sections": {"colour": "red"}})).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sections.colour"),
        "{body}"
    );
    let (code, body) = patch(json!({"status": "done"})).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`done` is not a status")
    );
    assert_eq!(
        patch(json!({"status": "in_review"})).await.0,
        StatusCode::OK
    );
    let (_, body) = patch(json!({"status": "published"})).await;
    assert_eq!(body["status"], "published");
    assert!(body["published_at"].is_string());
    let (code, _) = patch(json!({"sections": {"lessons": "too late"}})).await;
    assert_eq!(code, StatusCode::CONFLICT, "published is read-only");
    let (_, list) = app
        .get_json("/api/v1/postmortems?status=published", &app.viewer_token)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // Every change is on the incident's timeline.
    let inc = app.incident(id).await;
    let lines: Vec<String> = inc["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "postmortem")
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        lines,
        [
            "Started the post-mortem",
            "Edited the post-mortem (summary, root_causes)",
            "Moved the post-mortem to in review",
            "Moved the post-mortem to published"
        ]
    );

    // Markdown export: one heading per section.
    let res = app
        .client
        .get(app.url(&format!("/api/v1/postmortems/{pid}/markdown")))
        .bearer_auth(&app.viewer_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["content-type"],
        "text/markdown; charset=utf-8"
    );
    let md = res.text().await.unwrap();
    assert_eq!(md.matches("\n## ").count(), 14, "{md}");
    assert!(md.contains("## Root causes and contributing factors\n\nA cache stampede."));

    // The page renders hostile Markdown harmless, and viewers only read.
    app.state
        .accounts
        .add_user("pia", Role::Viewer, "viewer password 6")
        .await
        .unwrap();
    let cookie = login(&app, "pia", "viewer password 6").await;
    let (code, page) = app.page(&format!("/postmortems/{pid}"), &cookie).await;
    assert_eq!(code, StatusCode::OK);
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains("href=\"javascript:"), "{page}");
    assert!(!page.contains("javascript:"), "{page}");
    assert!(page.contains(">the graph</a>"), "the link text stays");
    assert!(!page.contains("<textarea"), "viewers get no editor");
    let (_, detail) = app.page(&format!("/incidents/{id}"), &cookie).await;
    assert!(detail.contains(&format!("href=\"/postmortems/{pid}\"")));
}

#[tokio::test]
async fn action_items_are_tracked_filtered_exported_and_overdue_after_their_day() {
    let app = spawn_app_with(|s| s.evaluation.time_zone = "Pacific/Kiritimati".into()).await;
    let t = &app.responder_token;
    let id = app
        .post_webhook_ok(&message(
            "ai-1",
            vec![alert("DiskFull", "db-1", "critical", "firing")],
        ))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    let (_, pm) = app
        .post_json(&format!("/api/v1/incidents/{id}/postmortem"), t, &json!({}))
        .await;
    let pid = pm["id"].as_i64().unwrap();
    // "Today" in UTC+14, where the day starts first: yesterday there is overdue today.
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::get("Pacific/Kiritimati").unwrap())
        .date();
    let yesterday = today.yesterday().unwrap().to_string();
    let add = |body: serde_json::Value| {
        let app = &app;
        async move {
            app.post_json(&format!("/api/v1/postmortems/{pid}/action-items"), t, &body)
                .await
        }
    };
    let (code, late) = add(json!({"title": "Alert on disk at 80 %", "owner": "olga",
        "kind": "prevent", "priority": "high", "due": yesterday,
        "url": "https://tracker.example.com/OPS-1"}))
    .await;
    assert_eq!(code, StatusCode::CREATED, "{late}");
    assert_eq!(late["overdue"], true, "{late}");
    assert_eq!(late["status"], "open");
    let (_, due_today) = add(json!({"title": "Runbook for a full disk", "owner": "ben",
        "kind": "process", "due": today.to_string()}))
    .await;
    assert_eq!(due_today["overdue"], false, "due today is not overdue yet");
    assert_eq!(due_today["priority"], "medium");
    for (body, field) in [
        (json!({"title": "x", "owner": "a"}), "due: is required"),
        (
            json!({"title": "x", "owner": "a", "due": "soon"}),
            "due: `soon` is not a date",
        ),
        (
            json!({"title": "x", "owner": "a", "due": "2026-12-01", "kind": "fix"}),
            "kind: `fix`",
        ),
        (
            json!({"title": "x", "owner": "a", "due": "2026-12-01", "url": "javascript:x"}),
            "url:",
        ),
    ] {
        let (code, err) = add(body).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert!(
            err["error"]["message"].as_str().unwrap().starts_with(field),
            "{err}"
        );
    }

    let list = |q: &'static str| {
        let app = &app;
        async move {
            let (_, body) = app
                .get_json(&format!("/api/v1/action-items{q}"), &app.viewer_token)
                .await;
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["title"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list("").await,
        ["Alert on disk at 80 %", "Runbook for a full disk"]
    );
    assert_eq!(list("?overdue=true").await, ["Alert on disk at 80 %"]);
    assert_eq!(list("?owner=ben").await, ["Runbook for a full disk"]);
    assert_eq!(list("?service=checkout").await.len(), 2);
    assert!(list("?service=search").await.is_empty());
    let (code, _) = app
        .get_json("/api/v1/action-items?status=finished", &app.viewer_token)
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);

    // Done is not overdue any more, and closing it is on the incident's timeline.
    let res = app
        .client
        .patch(app.url(&format!("/api/v1/action-items/{}", late["id"])))
        .bearer_auth(t)
        .json(&json!({"status": "done"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let done: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        (done["status"].as_str(), done["overdue"].as_bool()),
        (Some("done"), Some(false))
    );
    assert!(list("?overdue=true").await.is_empty());
    let inc = app.incident(id).await;
    let lines: Vec<&str> = inc["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "postmortem")
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        lines.contains(&"Action item \"Alert on disk at 80 %\" is now done"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Added action item: Runbook for a full disk (ben, due "))
    );

    // The post-mortem carries its items; the CSV has a header row and one row per item.
    let (_, pm) = app
        .get_json(&format!("/api/v1/postmortems/{pid}"), &app.viewer_token)
        .await;
    assert_eq!(pm["action_items"].as_array().unwrap().len(), 2);
    let res = app
        .client
        .get(app.url("/api/v1/action-items?format=csv"))
        .bearer_auth(&app.viewer_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = res.text().await.unwrap();
    let rows: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(rows[0].starts_with("id,postmortem_id,incident_id,service,title,owner"));
    assert!(
        rows.iter()
            .any(|r| r.contains(",Alert on disk at 80 %,olga,prevent,high,"))
    );

    // The tracker page highlights what is overdue.
    app.state
        .accounts
        .add_user("ola", Role::Responder, "responder password 2")
        .await
        .unwrap();
    let cookie = login(&app, "ola", "responder password 2").await;
    let (code, page) = app.page("/action-items", &cookie).await;
    assert_eq!(code, StatusCode::OK);
    assert!(page.contains("Runbook for a full disk") && page.contains("Alert on disk at 80 %"));
    let (_, page) = app.page(&format!("/postmortems/{pid}"), &cookie).await;
    assert!(page.contains("id=\"action-items\"") && page.contains("Runbook for a full disk"));
    // The page's exports work with the session (not only with an API token).
    let (code, csv) = app.page("/action-items.csv?overdue=true", &cookie).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        csv.trim_end().split("\r\n").count(),
        1,
        "only the header: nothing overdue"
    );
    let (code, md) = app
        .page(&format!("/postmortems/{pid}/markdown"), &cookie)
        .await;
    assert_eq!(code, StatusCode::OK);
    assert!(md.starts_with("# Post-mortem: "));
}

#[tokio::test]
async fn overdue_postmortems_and_action_items_are_reminded_once_a_day_and_counted() {
    let rec = crate::notify::Recorder::start(200);
    let app = spawn_app_with(|s| crate::notify::receivers(s, &rec)).await;
    let t = &app.responder_token;
    let id = app
        .post_webhook_ok(&message(
            "due-1",
            vec![alert("DiskFull", "db-1", "critical", "firing")],
        ))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    app.post_json(&format!("/api/v1/incidents/{id}/resolve"), t, &json!({}))
        .await;
    let inc = app.incident(id).await;
    assert!(
        ["P0", "P1"].contains(&inc["severity"].as_str().unwrap()),
        "{inc}"
    );
    let now = firewatch::time::now_ms();
    let remind = || firewatch::scheduler::run_postmortem_reminders_once(&app.state, now);
    // Resolved just now: due in 5 days, not overdue, nobody reminded.
    assert_eq!(remind().await.unwrap(), 0);
    // Resolved six days ago: overdue.
    app.exec(
        "UPDATE incidents SET resolved_at = ?1 WHERE id = ?2",
        &[DbValue::Int(now - 6 * 86_400_000), DbValue::Int(id)],
    )
    .await;
    let first = remind().await.unwrap();
    assert!(first >= 1, "the incident's receivers are reminded");
    assert_eq!(remind().await.unwrap(), 0, "at most once a day");
    let text = slack_text(&rec, |t| t.contains(": the post-mortem was due ")).await;
    assert!(
        text.contains(&format!("#{id} "))
            && text.contains(": the post-mortem was due ")
            && text.ends_with(" and is not started"),
        "{text}"
    );

    // An action item past its due date is reminded too, and both are counted.
    let (_, pm) = app
        .post_json(&format!("/api/v1/incidents/{id}/postmortem"), t, &json!({}))
        .await;
    let pid = pm["id"].as_i64().unwrap();
    app.post_json(
        &format!("/api/v1/postmortems/{pid}/action-items"),
        t,
        &json!({"title": "Grow the volume", "owner": "olga", "due": "2026-01-05"}),
    )
    .await;
    assert!(
        remind().await.unwrap() >= 2,
        "the draft's new stage and the item"
    );
    slack_text(&rec, |t| {
        t.ends_with(": action item \"Grow the volume\" (olga) was due 2026-01-05")
    })
    .await;
    slack_text(&rec, |t| t.ends_with(" and is draft")).await;
    assert!(
        rec.seen("/pagerduty")
            .iter()
            .all(|s| !s.body.to_string().contains("was due")),
        "reminders are not pages"
    );

    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&app.viewer_token)
        .send()
        .await
        .unwrap();
    let metrics = res.text().await.unwrap();
    for line in [
        "firewatch_action_items{status=\"open\"} 1",
        "firewatch_action_items{status=\"done\"} 0",
        "firewatch_action_items_overdue 1",
        "firewatch_postmortems_overdue 1",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }

    // The dashboard lists the overdue post-mortem and the overdue item.
    app.state
        .accounts
        .add_user("uma", Role::Viewer, "viewer password 8")
        .await
        .unwrap();
    let cookie = login(&app, "uma", "viewer password 8").await;
    let (_, home) = app.page("/", &cookie).await;
    assert!(home.contains("id=\"followups\""), "{home}");
    assert!(home.contains(&format!("href=\"/postmortems/{pid}\">Post-mortem: ")));
    assert!(home.contains("1 overdue action item<"));
}

/// Waits for a Slack message to #incidents whose text satisfies `want`; returns it.
async fn slack_text(rec: &crate::notify::Recorder, want: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let texts: Vec<String> = rec
            .seen("/slack/incidents")
            .iter()
            .map(|s| s.body["text"].as_str().unwrap_or("").to_string())
            .collect();
        if let Some(t) = texts.iter().find(|t| want(t)) {
            return t.clone();
        }
        assert!(std::time::Instant::now() < deadline, "{texts:?}");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}
