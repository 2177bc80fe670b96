use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_manual_incident_goes_through_its_whole_lifecycle() {
    let app = spawn_app().await;
    let t = &app.responder_token;
    let (code, inc) = app
        .post_json(
            "/api/v1/incidents",
            t,
            &json!({"title": "Checkout is slow", "severity": "P1", "service": "checkout",
                    "description": "p99 above 2s", "runbook_url": "https://runbooks.example.com/slow"}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{inc}");
    let id = inc["id"].as_i64().unwrap();
    assert_eq!(inc["status"], "triggered");
    assert_eq!(inc["severity"], "P1");
    assert_eq!(inc["source"], "manual");
    assert_eq!(inc["created_by"], "token:responder-token");

    let (code, inc) = app
        .post_json(
            &format!("/api/v1/incidents/{id}/acknowledge"),
            t,
            &json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(inc["status"], "acknowledged");
    assert!(inc["acknowledged_at"].is_string());

    let (code, body) = app
        .post_json(
            &format!("/api/v1/incidents/{id}/acknowledge"),
            t,
            &json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "conflict");

    let (code, note) = app
        .post_json(
            &format!("/api/v1/incidents/{id}/notes"),
            t,
            &json!({"text": "rolled back v42"}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    assert_eq!(note["kind"], "note");

    let (code, inc) = app
        .post_json(
            &format!("/api/v1/incidents/{id}/assign"),
            t,
            &json!({"assignee": "alice", "commander": "bob"}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(inc["assignee"], "alice");
    assert_eq!(inc["commander"], "bob");

    let (code, inc) = app
        .post_json(
            &format!("/api/v1/incidents/{id}/resolve"),
            t,
            &json!({"note": "fixed by rollback"}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(inc["status"], "resolved");

    let (code, inc) = app
        .post_json(
            &format!("/api/v1/incidents/{id}/reopen"),
            t,
            &json!({"reason": "came back"}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(inc["status"], "triggered");
    assert!(inc["acknowledged_at"].is_null());

    let detail = app.incident(id).await;
    let timeline: Vec<(String, String)> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let kinds: Vec<&str> = timeline.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "created",
            "acknowledged",
            "note",
            "assigned",
            "resolved",
            "reopened"
        ]
    );
    assert!(timeline.iter().all(|t| t.1 == "token:responder-token"));
    assert!(
        detail["timeline"][4]["message"]
            .as_str()
            .unwrap()
            .contains("fixed by rollback")
    );
}

#[tokio::test]
async fn actions_on_an_empty_body_work_and_bad_bodies_are_refused() {
    let app = spawn_app().await;
    let (_, inc) = app
        .post_json(
            "/api/v1/incidents",
            &app.responder_token,
            &json!({"title": "x"}),
        )
        .await;
    let id = inc["id"].as_i64().unwrap();
    let res = app
        .client
        .post(app.url(&format!("/api/v1/incidents/{id}/resolve")))
        .bearer_auth(&app.responder_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .client
        .post(app.url(&format!("/api/v1/incidents/{id}/reopen")))
        .bearer_auth(&app.responder_token)
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn invalid_input_is_refused_with_the_field_named() {
    let app = spawn_app().await;
    let t = &app.responder_token;
    let cases = [
        (json!({"title": ""}), "title"),
        (json!({"title": "ok", "severity": "P9"}), "severity"),
        (
            json!({"title": "ok", "runbook_url": "javascript:alert(1)"}),
            "runbook_url",
        ),
        (json!({"title": "x".repeat(301)}), "title"),
    ];
    for (body, field) in cases {
        let (code, err) = app.post_json("/api/v1/incidents", t, &body).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(field),
            "{err}"
        );
    }
    let (code, _) = app
        .post_json("/api/v1/incidents", t, &json!({"titel": "typo"}))
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let (code, _) = app
        .post_json("/api/v1/incidents/1/notes", t, &json!({"text": "  "}))
        .await;
    assert!(code == StatusCode::UNPROCESSABLE_ENTITY || code == StatusCode::NOT_FOUND);
    assert_eq!(app.count_rows("incidents").await, 0);
}

#[tokio::test]
async fn unknown_ids_and_routes_are_404_with_a_json_body() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/incidents/999",
        "/api/v1/incidents/abc",
        "/api/v1/nothing-here",
    ] {
        let (code, body) = app.get_json(path, &app.viewer_token).await;
        assert_eq!(code, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    let (code, body) = app
        .post_json(
            "/api/v1/incidents/999/acknowledge",
            &app.responder_token,
            &json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["message"], "incident 999 not found");
}

#[tokio::test]
async fn listing_filters_by_status_and_severity_and_pages_with_a_cursor() {
    let app = spawn_app().await;
    let t = &app.responder_token;
    let mut ids = Vec::new();
    for i in 0..7 {
        let sev = if i % 2 == 0 { "P0" } else { "P2" };
        let (_, inc) = app
            .post_json(
                "/api/v1/incidents",
                t,
                &json!({"title": format!("inc {i}"), "severity": sev}),
            )
            .await;
        ids.push(inc["id"].as_i64().unwrap());
    }
    app.post_json(
        &format!("/api/v1/incidents/{}/acknowledge", ids[0]),
        t,
        &json!({}),
    )
    .await;
    app.post_json(
        &format!("/api/v1/incidents/{}/resolve", ids[1]),
        t,
        &json!({}),
    )
    .await;

    assert_eq!(app.incidents("open").await.len(), 6);
    assert_eq!(app.incidents("acknowledged").await.len(), 1);
    assert_eq!(app.incidents("resolved").await.len(), 1);
    assert_eq!(app.incidents("triggered").await.len(), 5);
    assert_eq!(app.incidents("all").await.len(), 7);
    let (_, p0) = app
        .get_json("/api/v1/incidents?status=all&severity=P0", t)
        .await;
    assert_eq!(p0["items"].as_array().unwrap().len(), 4);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/incidents?status=all&limit=3&cursor={c}"),
            None => "/api/v1/incidents?status=all&limit=3".to_string(),
        };
        let (code, page) = app.get_json(&path, t).await;
        assert_eq!(code, StatusCode::OK);
        for item in page["items"].as_array().unwrap() {
            seen.push(item["id"].as_i64().unwrap());
            for key in [
                "id",
                "title",
                "status",
                "severity",
                "created_at",
                "acknowledged_at",
                "resolved_at",
                "alert_count",
            ] {
                assert!(item.get(key).is_some(), "missing {key}");
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, each once");

    // Every order pages through all incidents once, in that order.
    let walk = |sort: &'static str| {
        let app = &app;
        async move {
            let mut seen: Vec<(String, i64)> = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut path = format!("/api/v1/incidents?status=all&limit=2&sort={sort}");
                if let Some(c) = &cursor {
                    path.push_str(&format!("&cursor={c}"));
                }
                let (code, page) = app.get_json(&path, t).await;
                assert_eq!(code, StatusCode::OK, "{path}: {page}");
                for item in page["items"].as_array().unwrap() {
                    seen.push((
                        item["severity"].as_str().unwrap().to_string(),
                        item["id"].as_i64().unwrap(),
                    ));
                }
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_string()),
                    None => break seen,
                }
            }
        }
    };
    let newest: Vec<i64> = walk("newest").await.into_iter().map(|s| s.1).collect();
    assert_eq!(newest, ids);
    let oldest: Vec<i64> = walk("oldest").await.into_iter().map(|s| s.1).collect();
    assert_eq!(oldest, ids.iter().rev().copied().collect::<Vec<_>>());
    let by_severity = walk("severity").await;
    let mut expected = by_severity.clone();
    expected.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    assert_eq!(
        by_severity, expected,
        "most severe first, newest first within"
    );
    assert_eq!(by_severity.len(), 7);
    assert_eq!(by_severity[0].0, "P0");

    for bad in [
        "status=bogus",
        "severity=P7",
        "limit=0",
        "limit=501",
        "cursor=zz",
        "sort=age",
        "sort=severity&cursor=12",
        "cursor=P1.12",
        "colour=red",
    ] {
        let (code, body) = app.get_json(&format!("/api/v1/incidents?{bad}"), t).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}

#[tokio::test]
async fn roles_limit_what_tokens_may_do() {
    let app = spawn_app().await;
    let (code, body) = app
        .post_json(
            "/api/v1/incidents",
            &app.viewer_token,
            &json!({"title": "nope"}),
        )
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "forbidden");
    let (code, _) = app.get_json("/api/v1/tokens", &app.responder_token).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, _) = app
        .get_json("/api/v1/incidents", "fw_not_a_real_token")
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let res = app
        .client
        .get(app.url("/api/v1/incidents"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn admins_create_and_revoke_tokens_and_revoked_tokens_stop_working() {
    let app = spawn_app().await;
    let (code, created) = app
        .post_json(
            "/api/v1/tokens",
            &app.admin_token,
            &json!({"name": "deploy-bot", "role": "responder"}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let secret = created["token"].as_str().unwrap().to_string();
    let id = created["id"].as_i64().unwrap();
    let (code, me) = app.get_json("/api/v1/me", &secret).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(me["name"], "deploy-bot");
    assert_eq!(me["role"], "responder");
    // Only a hash is stored.
    let stored = app
        .query_ints(
            "SELECT COUNT(*) FROM api_tokens WHERE token_hash = ?1 OR prefix = ?1",
            &[DbValue::Text(secret.clone())],
        )
        .await[0][0];
    assert_eq!(stored, 0);
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/tokens/{id}")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (code, _) = app.get_json("/api/v1/me", &secret).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (_, list) = app.get_json("/api/v1/tokens", &app.admin_token).await;
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("token").is_none())
    );
}

#[tokio::test]
async fn anonymous_read_lets_anyone_read_but_not_write() {
    let app = spawn_app_with(|s| s.auth.anonymous_read = true).await;
    let res = app
        .client
        .get(app.url("/api/v1/incidents"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .client
        .post(app.url("/api/v1/incidents"))
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let page = app.client.get(app.url("/incidents")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_openapi_description_covers_every_api_route() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc: serde_json::Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/alerts/alertmanager",
        "/api/v1/incidents",
        "/api/v1/incidents/{id}",
        "/api/v1/incidents/{id}/alerts",
        "/api/v1/incidents/{id}/timeline",
        "/api/v1/incidents/{id}/acknowledge",
        "/api/v1/incidents/{id}/resolve",
        "/api/v1/incidents/{id}/reopen",
        "/api/v1/incidents/{id}/notes",
        "/api/v1/incidents/{id}/assign",
        "/api/v1/tokens",
        "/api/v1/tokens/{id}",
        "/api/v1/notifications",
        "/api/v1/notifications/{id}/retry",
        "/api/v1/receivers",
        "/api/v1/receivers/{name}/test",
        "/api/v1/silences",
        "/api/v1/silences/{id}",
        "/api/v1/deployments",
        "/api/v1/slos",
        "/api/v1/slos/{name}",
        "/api/v1/slos/{name}/history",
        "/api/v1/slos/{name}/gate",
        "/api/v1/targets",
        "/api/v1/generate/{artefact}",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains_key(p), "OpenAPI lacks {p}");
    }
}

#[tokio::test]
async fn deployments_are_recorded_and_named_on_incidents_that_open_soon_after() {
    let app = spawn_app().await;
    let t = &app.responder_token;
    let (code, d) = app
        .post_json(
            "/api/v1/deployments",
            t,
            &json!({"service": "checkout", "version": "v42", "description": "new payment flow"}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{d}");
    assert_eq!(d["created_by"], "token:responder-token");
    let (code, _) = app
        .post_json(
            "/api/v1/deployments",
            t,
            &json!({"service": "search", "version": "v7", "at": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    for bad in [
        json!({"service": "", "version": "v1"}),
        json!({"service": "a", "version": "v1", "at": "soon"}),
        json!({"service": "a", "version": "v1", "at": "2999-01-01T00:00:00Z"}),
    ] {
        let (code, _) = app.post_json("/api/v1/deployments", t, &bad).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let (code, _) = app
        .post_json(
            "/api/v1/deployments",
            &app.viewer_token,
            &json!({"service": "a", "version": "1"}),
        )
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN);

    let (_, list) = app
        .get_json("/api/v1/deployments?service=checkout", &app.viewer_token)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (_, all) = app.get_json("/api/v1/deployments", &app.viewer_token).await;
    assert_eq!(all["items"][0]["version"], "v42", "newest first");

    // An alert on checkout now: the timeline names the deployment; search's old one is not.
    let id = app
        .post_webhook_ok(&message(
            "dep",
            vec![alert("A", "i1", "critical", "firing")],
        ))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    let timeline = app.incident(id).await["timeline"].to_string();
    assert!(
        timeline.contains("Recent change: checkout v42 was deployed"),
        "{timeline}"
    );
    assert!(timeline.contains("new payment flow"));
    // The incident page says it first, above everything else.
    let cookie = viewer_session(&app, "dora").await;
    let (_, html) = app.page(&format!("/incidents/{id}"), &cookie).await;
    let changed = html.find("What changed:").expect("a what-changed note");
    assert!(
        changed < html.find("<h2>Alerts</h2>").unwrap(),
        "at the top"
    );
    assert!(
        html.contains("checkout <code>v42</code> was deployed"),
        "{html}"
    );
    let (_, manual) = app
        .post_json(
            "/api/v1/incidents",
            t,
            &json!({"title": "search broken", "service": "search"}),
        )
        .await;
    let timeline = app.incident(manual["id"].as_i64().unwrap()).await["timeline"].to_string();
    assert!(
        !timeline.contains("Recent change"),
        "a deployment from 2020 is not recent"
    );

    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("firewatch_deployments_total{service=\"checkout\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_large_incident_is_answered_in_pages_of_alerts_and_timeline() {
    let app = spawn_app().await;
    // 260 alerts in one group, sent 10 at a time, then 130 resolve; each notification a
    // minute after the one before (the timeline is moved back a minute), so each has its
    // own timeline line (39 of them) instead of gathering into the one before it.
    let a_minute_passes = || app.exec("UPDATE timeline SET at = at - 61000", &[]);
    let mut id = 0;
    for batch in 0..26 {
        let alerts = (0..10)
            .map(|i| {
                alert(
                    "Storm",
                    &format!("i{}", batch * 10 + i),
                    "warning",
                    "firing",
                )
            })
            .collect();
        id = app.post_webhook_ok(&message("storm", alerts)).await["incident_id"]
            .as_i64()
            .unwrap();
        a_minute_passes().await;
    }
    for batch in 0..13 {
        let alerts = (0..10)
            .map(|i| {
                alert(
                    "Storm",
                    &format!("i{}", batch * 20 + i),
                    "warning",
                    "resolved",
                )
            })
            .collect();
        app.post_webhook_ok(&message("storm", alerts)).await;
        a_minute_passes().await;
    }
    let inc = app.incident(id).await;
    assert_eq!(inc["alert_count"], 260);
    assert_eq!(inc["firing_count"], 130);
    let first = inc["alerts"].as_array().unwrap();
    assert_eq!(first.len(), 100, "the incident carries the first page only");
    assert!(
        first.iter().all(|a| a["status"] == "firing"),
        "firing first"
    );
    let mut cursor = inc["alerts_next_cursor"].as_str().unwrap().to_string();
    let mut seen: Vec<i64> = first.iter().map(|a| a["id"].as_i64().unwrap()).collect();
    loop {
        let (code, page) = app
            .get_json(
                &format!("/api/v1/incidents/{id}/alerts?limit=70&cursor={cursor}"),
                &app.viewer_token,
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{page}");
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (260, 260), "every alert once");
    let (_, resolved) = app
        .get_json(
            &format!("/api/v1/incidents/{id}/alerts?status=resolved&limit=1000"),
            &app.viewer_token,
        )
        .await;
    let resolved = resolved["items"].as_array().unwrap();
    assert_eq!(resolved.len(), 130);
    assert!(resolved.iter().all(|a| a["status"] == "resolved"));
    for bad in ["cursor=nope", "status=maybe", "limit=0"] {
        let (code, body) = app
            .get_json(
                &format!("/api/v1/incidents/{id}/alerts?{bad}"),
                &app.viewer_token,
            )
            .await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }

    // The timeline: the latest entries, and the older ones page by page.
    let timeline = inc["timeline"].as_array().unwrap();
    assert_eq!(inc["timeline_older_cursor"], serde_json::Value::Null);
    let all = timeline.len();
    assert!(all > 39, "{all} lines");
    let (_, latest) = app
        .get_json(
            &format!("/api/v1/incidents/{id}/timeline?limit=10"),
            &app.viewer_token,
        )
        .await;
    let items = latest["items"].as_array().unwrap();
    assert_eq!(items.len(), 10);
    assert_eq!(items.last().unwrap()["id"], timeline.last().unwrap()["id"]);
    let before = latest["older_cursor"].as_str().unwrap();
    let (_, older) = app
        .get_json(
            &format!("/api/v1/incidents/{id}/timeline?limit=1000&before={before}"),
            &app.viewer_token,
        )
        .await;
    assert_eq!(older["items"].as_array().unwrap().len(), all - 10);
    assert_eq!(older["older_cursor"], serde_json::Value::Null);
    let (code, _) = app
        .get_json("/api/v1/incidents/999/alerts", &app.viewer_token)
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

/// Title and severity can be changed (API and page); each change is on the timeline, a
/// more urgent severity escalates to the receivers it routes to, and bad values are
/// refused with the field named.
#[tokio::test]
async fn title_and_severity_are_edited_with_the_change_on_the_timeline() {
    let app = spawn_app().await;
    let id = app
        .post_webhook_ok(&message("e1", vec![alert("A", "i", "warning", "firing")]))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    let patch = |body: serde_json::Value| {
        let app = &app;
        async move {
            let res = app
                .client
                .patch(app.url(&format!("/api/v1/incidents/{id}")))
                .bearer_auth(&app.responder_token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (res.status(), res.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (code, inc) =
        patch(json!({"title": "Checkout 5xx after deploy 42", "severity": "P1"})).await;
    assert_eq!(code, StatusCode::OK, "{inc}");
    assert_eq!(inc["title"], "Checkout 5xx after deploy 42");
    assert_eq!(inc["severity"], "P1");
    let detail = app.incident(id).await;
    let lines: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["message"].as_str().unwrap())
        .collect();
    assert!(
        lines.iter().any(|l| l.starts_with(
            "Title changed from \"HighErrorRate on checkout\" to \"Checkout 5xx after deploy 42\""
        )),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"Severity changed from P2 to P1"),
        "{lines:?}"
    );
    for (bad, field) in [
        (json!({"severity": "P9"}), "severity"),
        (json!({"title": " "}), "title"),
        (json!({}), "title"),
    ] {
        let (code, body) = patch(bad.clone()).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{body}"
        );
    }
    let res = app
        .client
        .patch(app.url(&format!("/api/v1/incidents/{id}")))
        .bearer_auth(&app.viewer_token)
        .json(&json!({"severity": "P0"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Notes are safe Markdown on the page (links clickable, raw HTML as text), and the
    // timeline shows seconds.
    let (code, _) = app
        .post_json(
            &format!("/api/v1/incidents/{id}/notes"),
            &app.responder_token,
            &json!({"text": "Rolled back, see [the deploy](https://ci.example.com/42) <script>x()</script>"}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    app.state
        .accounts
        .add_user(
            "nina",
            firewatch::auth::Role::Responder,
            "responder password 1",
        )
        .await
        .unwrap();
    let cookie = login(&app, "nina", "responder password 1").await;
    let (_, html) = app.page(&format!("/incidents/{id}"), &cookie).await;
    assert!(
        html.contains(r#"<a href="https://ci.example.com/42">the deploy</a>"#),
        "{html}"
    );
    assert!(html.contains("&lt;script&gt;x()&lt;/script&gt;") && !html.contains("<script>x()"));
    let seconds = regex_lite_seconds(&html);
    assert!(seconds, "timeline times carry seconds: {html}");
    // The page's edit form does the same.
    let csrf = csrf_in(&html);
    let (code, _, location) = app
        .form(
            &format!("/incidents/{id}/edit"),
            &cookie,
            &[
                ("csrf", &csrf),
                ("title", "Checkout down"),
                ("severity", "P0"),
            ],
        )
        .await;
    assert_eq!(code, StatusCode::SEE_OTHER);
    assert_eq!(location.unwrap(), format!("/incidents/{id}?done=edit"));
    let inc = app.incident(id).await;
    assert_eq!(
        (inc["title"].as_str(), inc["severity"].as_str()),
        (Some("Checkout down"), Some("P0"))
    );
}

/// Whether a timeline time like `2026-12-01 01:20:07 UTC` appears.
fn regex_lite_seconds(html: &str) -> bool {
    html.split("<time").skip(1).any(|t| {
        let text = t.split('>').nth(1).unwrap_or("");
        let text = text.split('<').next().unwrap_or("");
        text.len() == "2026-12-01 01:20:07 UTC".len() && text.matches(':').count() == 2
    })
}
