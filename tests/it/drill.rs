//! `firewatch drill` against a running server: the binary is run as a user would, local
//! stand-ins for Slack, PagerDuty and a webhook check what reaches them.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::notify::{Recorder, receivers};

struct Drill {
    code: i32,
    stdout: String,
}

/// Runs the binary off the runtime, so the in-process server keeps serving.
async fn drill(app: &TestApp, token: &str, extra: &[&str]) -> Drill {
    let mut args: Vec<String> = vec![
        "drill".into(),
        "--url".into(),
        app.address.clone(),
        "--token".into(),
        token.into(),
        "--wait".into(),
        "15".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_firewatch"))
            .args(&args)
            .env_remove("FIREWATCH_TOKEN")
            .env_remove("FIREWATCH_URL")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    Drill {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

fn step_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| l.starts_with("  ok") || l.starts_with("  FAIL") || l.starts_with("  skip"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_runs_a_p0_end_to_end_without_paging() {
    let rec = Recorder::start(200);
    let app = spawn_app_with(|s| receivers(s, &rec)).await;
    let d = drill(&app, &app.responder_token, &["--service", "checkout"]).await;
    assert_eq!(d.code, 0, "{}", d.stdout);
    let steps = step_lines(&d.stdout);
    let names = [
        "credentials",
        "alert",
        "incident",
        "notifications",
        "acknowledge",
        "resolve",
        "follow-up notifications",
        "post-mortem",
    ];
    assert_eq!(steps.len(), names.len(), "{}", d.stdout);
    for (line, name) in steps.iter().zip(names) {
        assert!(line.starts_with("  ok"), "{line}");
        assert!(
            line.contains(&format!(" {name}: ")),
            "{line} should be {name}"
        );
        // Each step says how long it took and when it ended.
        assert!(line.contains(" s  (at "), "{line}");
    }
    assert!(
        d.stdout.contains("Drill passed: 8 of 8 steps"),
        "{}",
        d.stdout
    );
    assert!(
        d.stdout.contains("PagerDuty not paged (pager)"),
        "{}",
        d.stdout
    );

    // The incident is a drill, resolved, with its post-mortem draft.
    let incidents = app.incidents("all").await;
    assert_eq!(incidents.len(), 1);
    let id = incidents[0]["id"].as_i64().unwrap();
    let inc = app.incident(id).await;
    assert_eq!(inc["drill"], true);
    assert_eq!(inc["severity"], "P0");
    assert_eq!(inc["status"], "resolved");
    assert_eq!(inc["service"], "checkout");
    assert!(inc["postmortem_id"].as_i64().is_some());
    let (code, pm) = app
        .get_json(
            &format!("/api/v1/postmortems/{}", inc["postmortem_id"]),
            &app.viewer_token,
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert!(pm["title"].as_str().unwrap().starts_with("Drill: "), "{pm}");

    // Every routed receiver heard of it, marked as a drill; PagerDuty did not.
    let slack = rec.wait_for("/slack/incidents", 3).await;
    let texts: Vec<&str> = slack
        .iter()
        .map(|s| s.body["text"].as_str().unwrap())
        .collect();
    assert!(
        texts.iter().all(|t| t.starts_with("DRILL [P0] #")),
        "{texts:?}"
    );
    assert!(texts[0].ends_with(": opened"), "{texts:?}");
    let hook = rec.wait_for("/hook", 3).await;
    assert!(hook.iter().all(|h| h.body["incident"]["drill"] == true));
    assert!(
        hook.iter()
            .all(|h| h.body["summary"].as_str().unwrap().starts_with("DRILL "))
    );
    assert!(rec.seen("/pagerduty").is_empty(), "a drill must not page");
    // P2 receivers are not involved in a P0.
    assert!(rec.seen("/slack/alerts").is_empty());

    // The page shows the badge; MTTA/MTTR and post-mortem policy leave it out.
    let stats = app.state.incidents.response_stats(0).await.unwrap();
    assert_eq!(stats.created, 0, "{stats:?}");
    assert_eq!(stats.mtta_ms, None);
    let due = app
        .state
        .postmortems
        .due(firewatch::time::now_ms())
        .await
        .unwrap();
    assert!(due.is_empty());
    let cookie = viewer_session(&app, "dora").await;
    let (code, html) = app.page(&format!("/incidents/{id}"), &cookie).await;
    assert_eq!(code, StatusCode::OK);
    assert!(html.contains("class=\"drill\""), "no drill badge");
    let (_, list) = app.page("/incidents?status=all", &cookie).await;
    assert!(list.contains("class=\"drill\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_with_page_pages_pagerduty_marked_as_a_drill() {
    let rec = Recorder::start(202);
    let app = spawn_app_with(|s| receivers(s, &rec)).await;
    let d = drill(&app, &app.responder_token, &["--page"]).await;
    assert_eq!(d.code, 0, "{}", d.stdout);
    assert!(d.stdout.contains("pager (pagerduty)"), "{}", d.stdout);
    let pd = rec.wait_for("/pagerduty", 3).await;
    let actions: Vec<&str> = pd
        .iter()
        .map(|p| p.body["event_action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["trigger", "acknowledge", "resolve"]);
    let summary = pd[0].body["payload"]["summary"].as_str().unwrap();
    assert!(summary.starts_with("DRILL [P0] #"), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_fails_and_says_where_when_a_receiver_or_the_token_is_wrong() {
    // Slack answers 404 (a deleted channel): a permanent failure.
    let rec = Recorder::start(404);
    let app = spawn_app_with(|s| receivers(s, &rec)).await;
    let d = drill(&app, &app.responder_token, &[]).await;
    assert_eq!(d.code, 1, "{}", d.stdout);
    let failed: Vec<&str> = step_lines(&d.stdout)
        .into_iter()
        .filter(|l| l.starts_with("  FAIL"))
        .collect();
    assert!(
        failed[0].contains("notifications: delivery failed: ")
            && failed[0].contains("incidents (slack)"),
        "{}",
        d.stdout
    );
    // The drill still cleans up: the incident ends resolved.
    assert!(d.stdout.contains("  ok"), "{}", d.stdout);
    let id = app.incidents("all").await[0]["id"].as_i64().unwrap();
    assert_eq!(app.incident(id).await["status"], "resolved");
    assert!(d.stdout.contains("Drill failed: "), "{}", d.stdout);

    // A viewer's token cannot run a drill: the first step says why, nothing is sent.
    let d = drill(&app, &app.viewer_token, &[]).await;
    assert_eq!(d.code, 1);
    let steps = step_lines(&d.stdout);
    assert_eq!(steps.len(), 1, "{}", d.stdout);
    assert!(steps[0].contains("credentials: the token is a viewer one"));
    assert_eq!(app.incidents("all").await.len(), 1);

    // An unreachable server fails the first step too, quickly.
    let port = free_port();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_firewatch"))
            .args([
                "drill",
                "--url",
                &format!("http://127.0.0.1:{port}"),
                "--token",
                "x",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL") && text.contains("cannot reach"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_takes_a_responders_token_but_not_a_viewers() {
    let app = spawn_app().await;
    let body = message("tokens", vec![alert("A", "i", "critical", "firing")]);
    let post = |token: String| {
        let (client, url, body) = (
            app.client.clone(),
            app.url("/api/v1/alerts/alertmanager"),
            body.clone(),
        );
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(post(app.viewer_token.clone()).await.status(), 401);
    assert_eq!(post("nonsense".into()).await.status(), 401);
    let res = post(app.responder_token.clone()).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["created"], true);
    // A real alert is not a drill.
    let inc = app.incident(v["incident_id"].as_i64().unwrap()).await;
    assert_eq!(inc["drill"], false);
    // Drill alerts are P0 whatever their severity label, and may not page unless asked.
    let mut d = alert("FirewatchDrill", "i", "info", "firing");
    d["labels"]["firewatch_drill"] = json!("true");
    let v = app.post_webhook_ok(&message("drill", vec![d])).await;
    let inc = app.incident(v["incident_id"].as_i64().unwrap()).await;
    assert_eq!(
        (inc["drill"].clone(), inc["severity"].clone()),
        (json!(true), json!("P0"))
    );
}
