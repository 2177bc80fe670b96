use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use firewatch::auth::Role;

const DB_DOWN: &str = "---
title: Database down
severity: P0
alerts: [PostgresDown]
services: [billing]
owner: Data team
---
# Database down

## Check
```sh
kubectl -n {{namespace}} get pods -l app={{service}}
psql -h {{instance}} -c 'select 1'
```
";

fn names(body: &serde_json::Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_teams_runbooks_are_read_matched_filled_and_reread_when_files_change() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().to_path_buf();
    std::fs::write(folder.join("db-down.md"), DB_DOWN).unwrap();
    // Overrides the built-in runbook of the same name.
    std::fs::write(
        folder.join("firewatch-down.md"),
        "---\nalerts: [FirewatchDown]\n---\n# Our own FirewatchDown\nCall the platform team.\n",
    )
    .unwrap();
    std::fs::write(folder.join("Bad_Name.md"), "# x\n").unwrap();
    let app = spawn_app_with(|s| s.runbooks.dir = Some(folder.clone())).await;

    let (code, body) = app.get_json("/api/v1/runbooks", &app.viewer_token).await;
    assert_eq!(code, StatusCode::OK);
    let db = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "db-down")
        .unwrap()
        .clone();
    assert_eq!(
        db,
        json!({"name": "db-down", "title": "Database down", "severity": "P0",
               "alerts": ["PostgresDown"], "services": ["billing"], "owner": "Data team",
               "source": "file"})
    );
    let own = &body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "firewatch-down")
        .unwrap();
    assert_eq!(own["source"], "file");
    assert_eq!(own["title"], "Our own FirewatchDown");
    assert!(
        names(&body).contains(&"slo-burn-rate-page".to_string()),
        "built-ins stay"
    );
    assert_eq!(body["broken"].as_array().unwrap().len(), 1, "{body}");
    assert!(
        body["broken"][0]["error"]
            .as_str()
            .unwrap()
            .contains("lowercase letters, digits and dashes")
    );
    let (code, one) = app
        .get_json("/api/v1/runbooks/db-down", &app.viewer_token)
        .await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        one["markdown"]
            .as_str()
            .unwrap()
            .starts_with("# Database down")
    );

    // An incident of a PostgresDown alert lists the runbook; its labels fill the commands,
    // escaped.
    let mut a = alert("PostgresDown", "<b>db-1</b>:5432", "critical", "firing");
    a["labels"]["namespace"] = json!("payments\"><script>alert(1)</script>");
    let id = app.post_webhook_ok(&message("rb-1", vec![a])).await["incident_id"]
        .as_i64()
        .unwrap();
    app.state
        .accounts
        .add_user("rita", Role::Responder, "responder password")
        .await
        .unwrap();
    let cookie = login(&app, "rita", "responder password").await;
    let (_, detail) = app.page(&format!("/incidents/{id}"), &cookie).await;
    assert!(
        detail.contains(&format!(
            "href=\"/runbooks/db-down?incident={id}\">Database down</a>"
        )),
        "{detail}"
    );
    let (code, page) = app
        .page(&format!("/runbooks/db-down?incident={id}"), &cookie)
        .await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        page.contains(
            "kubectl -n payments&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt; get pods -l app=checkout"
        ),
        "{page}"
    );
    assert!(page.contains("psql -h &lt;b&gt;db-1&lt;/b&gt;:5432"));
    assert!(!page.contains("<script>alert(1)"));
    // Opening it is on the timeline, once however often it is reloaded.
    app.page(&format!("/runbooks/db-down?incident={id}"), &cookie)
        .await;
    let inc = app.incident(id).await;
    let opened: Vec<&serde_json::Value> = inc["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "runbook")
        .collect();
    assert_eq!(opened.len(), 1, "{inc}");
    assert_eq!(opened[0]["actor"], "rita");
    assert_eq!(opened[0]["message"], "Opened runbook db-down");
    let (code, _) = app.page("/runbooks/db-down?incident=999", &cookie).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, _) = app.page("/runbooks/db-down?incident=x", &cookie).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);

    // Files change while the server runs: a new one appears, an edit breaks one (its last
    // good version stays in service and the page says why), a deleted one goes.
    std::fs::write(
        folder.join("kafka-lag.md"),
        "---\nalerts: [KafkaConsumerLag]\n---\n# Kafka consumer lag\n",
    )
    .unwrap();
    std::fs::write(
        folder.join("db-down.md"),
        "---\nseverity: P7\n---\n# broken\n",
    )
    .unwrap();
    std::fs::remove_file(folder.join("firewatch-down.md")).unwrap();
    assert!(
        firewatch::scheduler::run_runbooks_reload_once(&app.state)
            .await
            .unwrap()
    );
    assert!(
        !firewatch::scheduler::run_runbooks_reload_once(&app.state)
            .await
            .unwrap(),
        "nothing changed"
    );
    let (_, body) = app.get_json("/api/v1/runbooks", &app.viewer_token).await;
    let now = names(&body);
    assert!(now.contains(&"kafka-lag".to_string()));
    assert!(
        now.contains(&"db-down".to_string()),
        "last good version kept"
    );
    let builtin = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "firewatch-down")
        .unwrap();
    assert_eq!(builtin["source"], "builtin", "the built-in is back");
    let broken = body["broken"].as_array().unwrap();
    let db_broken = broken
        .iter()
        .find(|b| b["file"].as_str().unwrap().ends_with("db-down.md"))
        .unwrap();
    let error = db_broken["error"].as_str().unwrap();
    assert!(
        error.starts_with("front matter, line 2: severity: unknown variant `P7`")
            && error.ends_with("(the last good version is still served)"),
        "{error}"
    );
    let (_, list) = app.page("/runbooks", &cookie).await;
    assert!(list.contains("2 runbook files could not be read"), "{list}");
    assert!(list.contains("unknown variant `P7`"));
}
