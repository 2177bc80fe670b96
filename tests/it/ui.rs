use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::json;

use crate::helpers::*;
use firewatch::auth::Role;

#[tokio::test]
async fn html_in_labels_and_annotations_is_shown_escaped() {
    let app = spawn_app().await;
    app.state
        .accounts
        .add_user("eve", Role::Viewer, "viewer password 3")
        .await
        .unwrap();
    let mut a = alert(
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(2)>",
        "critical",
        "firing",
    );
    a["annotations"]["summary"] = json!("<b>bold</b> & \"quoted\"");
    a["annotations"]["runbook_url"] = json!("javascript:alert(3)");
    let mut msg = message("xss", vec![a]);
    msg["groupLabels"] = json!({"alertname": "<script>alert(1)</script>"});
    let id = app.post_webhook_ok(&msg).await["incident_id"]
        .as_i64()
        .unwrap();
    let inc = app.incident(id).await;
    assert!(
        inc["runbook_url"].is_null(),
        "a javascript: runbook is never kept as a link"
    );

    let cookie = login(&app, "eve", "viewer password 3").await;
    for path in [
        format!("/incidents/{id}"),
        "/incidents".to_string(),
        "/".to_string(),
    ] {
        let res = app
            .client
            .get(app.url(&path))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let html = res.text().await.unwrap();
        assert!(!html.contains("<script>alert"), "{path} has raw script");
        assert!(!html.contains("<img src=x"), "{path} has raw img");
        assert!(
            !html.contains("javascript:alert"),
            "{path} links javascript:"
        );
        assert!(
            html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{path} shows the escaped name"
        );
    }
}

#[tokio::test]
async fn the_pages_render_the_incident_data() {
    let app = spawn_app().await;
    app.state
        .accounts
        .add_user("olga", Role::Responder, "responder password")
        .await
        .unwrap();
    let msg = message(
        "ui-1",
        vec![
            alert("DiskFull", "db-1", "critical", "firing"),
            alert("DiskFull", "db-2", "critical", "firing"),
        ],
    );
    let id = app.post_webhook_ok(&msg).await["incident_id"]
        .as_i64()
        .unwrap();
    let cookie = login(&app, "olga", "responder password").await;

    let list = app
        .client
        .get(app.url("/incidents"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(list.headers()["content-type"], "text/html; charset=utf-8");
    let html = list.text().await.unwrap();
    assert!(html.contains(&format!("/incidents/{id}")));
    assert!(html.contains("HighErrorRate on checkout"));
    assert!(html.contains("2/2 firing"));
    assert!(html.contains("data-autorefresh=\"30\""));

    let filtered = app.page("/incidents?status=resolved", &cookie).await.1;
    assert!(!filtered.contains(&format!("/incidents/{id}\"")));

    // Sorting: the most severe first, and the tabs keep the order.
    let minor = app
        .post_json(
            "/api/v1/incidents",
            &app.responder_token,
            &serde_json::json!({"title": "minor thing", "severity": "P4"}),
        )
        .await
        .1["id"]
        .as_i64()
        .unwrap();
    let newest_first = app.page("/incidents", &cookie).await.1;
    let at = |html: &str, id: i64| html.find(&format!("href=\"/incidents/{id}\"")).unwrap();
    assert!(at(&newest_first, minor) < at(&newest_first, id));
    let by_severity = app.page("/incidents?sort=severity", &cookie).await.1;
    assert!(
        at(&by_severity, id) < at(&by_severity, minor),
        "{by_severity}"
    );
    assert!(by_severity.contains("<option value=\"severity\" selected>"));
    assert!(
        by_severity.contains("href=\"/incidents?status=resolved&#38;sort=severity\""),
        "{by_severity}"
    );

    let detail = app
        .client
        .get(app.url(&format!("/incidents/{id}")))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    let html = detail.text().await.unwrap();
    for needle in [
        "DiskFull",
        "instance</b>=db-1",
        "Acknowledge",
        "Resolve",
        "Timeline",
        "Incident opened by Alertmanager",
    ] {
        assert!(html.contains(needle), "detail page lacks {needle}");
    }

    let home = app
        .client
        .get(app.url("/"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    let html = home.text().await.unwrap();
    assert!(html.contains("Dashboard"));
    assert!(html.contains("MTTA"));

    let bad = app
        .client
        .get(app.url("/incidents?severity=P9"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let missing = app
        .client
        .get(app.url("/incidents/424242"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_responder_declares_an_incident_from_the_form() {
    let app = spawn_app().await;
    app.state
        .accounts
        .add_user("rita", Role::Responder, "responder password")
        .await
        .unwrap();
    let cookie = login(&app, "rita", "responder password").await;
    let page = app
        .client
        .get(app.url("/incidents/new"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    let csrf = csrf_in(&page.text().await.unwrap());
    let bad = app
        .client
        .post(app.url("/incidents"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("title", ""), ("severity", "P1")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count_rows("incidents").await, 0);
    let ok = app
        .client
        .post(app.url("/incidents"))
        .header(COOKIE, &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("title", "Payments degraded"),
            ("severity", "P1"),
            ("service", "payments"),
            ("description", ""),
            ("runbook_url", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let inc = &app.incidents("open").await[0];
    assert_eq!(inc["title"], "Payments degraded");
    assert_eq!(inc["created_by"], "rita");
}

#[tokio::test]
async fn static_assets_are_embedded_and_pages_carry_security_headers() {
    let app = spawn_app().await;
    for (path, ctype) in [
        ("/static/app.css", "text/css"),
        ("/static/app.js", "text/javascript"),
        ("/static/favicon.svg", "image/svg+xml"),
    ] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(ctype),
            "{path}"
        );
    }
    let res = app.client.get(app.url("/login")).send().await.unwrap();
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"));
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let html = res.text().await.unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external assets"
    );
}

/// Pages and the API call the same service methods: a refused action gets the same
/// status in both (the page shows the reason).
#[tokio::test]
async fn pages_answer_refused_actions_with_the_api_status() {
    let app = spawn_app().await;
    app.state
        .accounts
        .add_user("adam", Role::Admin, "admin password 1")
        .await
        .unwrap();
    let cookie = login(&app, "adam", "admin password 1").await;
    let id = app
        .post_webhook_ok(&message("g", vec![alert("A", "i", "critical", "firing")]))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    let csrf = csrf_in(&app.page(&format!("/incidents/{id}"), &cookie).await.1);
    let ack = format!("/incidents/{id}/acknowledge");

    // A conflicting transition: 409 in the API and on the page.
    let api = format!("/api/v1{ack}");
    let (code, _) = app.post_json(&api, &app.admin_token, &json!({})).await;
    assert_eq!(code, StatusCode::OK);
    let (code, body) = app.post_json(&api, &app.admin_token, &json!({})).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    let (code, html, _) = app.form(&ack, &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert!(
        html.contains("is already acknowledged by token:admin-token"),
        "{html}"
    );

    // An invalid value: 422 in both.
    let notes = format!("/incidents/{id}/notes");
    let (code, _) = app
        .post_json(
            &format!("/api/v1{notes}"),
            &app.admin_token,
            &json!({"text": " "}),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    let (code, html, _) = app
        .form(&notes, &cookie, &[("csrf", &csrf), ("text", " ")])
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("text: must not be empty"), "{html}");

    // Expiring a silence that does not exist: 404 in both, nothing claims it expired.
    let (code, _) = app
        .client
        .delete(app.url("/api/v1/silences/99"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, html, location) = app
        .form(
            "/integrations/silences/99/expire",
            &cookie,
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{location:?}");
    assert!(html.contains("no active silence 99"), "{html}");

    // An invalid silence: 422 in both.
    let (code, _) = app
        .post_json(
            "/api/v1/silences",
            &app.admin_token,
            &json!({"matchers": {"service": "x"}, "comment": "", "duration": "1h"}),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    let (code, html, _) = app
        .form(
            "/integrations/silences",
            &cookie,
            &[
                ("csrf", &csrf),
                ("matchers", "service=x"),
                ("duration", "1h"),
                ("comment", ""),
            ],
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Silence not created: comment"), "{html}");

    // Retrying a message that is not a dead letter: 409; an unknown receiver: 404.
    let (code, _) = app
        .post_json(
            "/api/v1/notifications/5/retry",
            &app.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT);
    let (code, _, _) = app
        .form(
            "/integrations/notifications/5/retry",
            &cookie,
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT);
    let (code, _) = app
        .post_json("/api/v1/receivers/nope/test", &app.admin_token, &json!({}))
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, _, _) = app
        .form("/integrations/nope/test", &cookie, &[("csrf", &csrf)])
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);

    // Downloads: an unknown format is a 400 and an unknown artefact a 404 in both.
    for (path, want) in [
        ("prometheus-rules?format=thanos", StatusCode::BAD_REQUEST),
        ("recording-rules", StatusCode::NOT_FOUND),
        (
            "prometheus-rules?format=prometheus-operator",
            StatusCode::OK,
        ),
    ] {
        let (code, _) = app
            .get_json(&format!("/api/v1/generate/{path}"), &app.viewer_token)
            .await;
        assert_eq!(code, want, "API {path}");
        let (code, body) = app
            .page(&format!("/integrations/prometheus/{path}"), &cookie)
            .await;
        assert_eq!(code, want, "page {path}");
        if want == StatusCode::OK {
            assert!(body.contains("kind: PrometheusRule"), "{body}");
        }
    }
}

#[tokio::test]
async fn a_large_incident_page_shows_its_first_alerts_and_links_to_all_of_them() {
    let app = spawn_app().await;
    app.state
        .accounts
        .add_user("val", Role::Viewer, "viewer password 4")
        .await
        .unwrap();
    let cookie = login(&app, "val", "viewer password 4").await;
    let mut id = 0;
    for batch in 0..12 {
        let alerts = (0..10)
            .map(|i| {
                alert(
                    "Storm",
                    &format!("node-{}", batch * 10 + i),
                    "warning",
                    "firing",
                )
            })
            .collect();
        id = app.post_webhook_ok(&message("big", alerts)).await["incident_id"]
            .as_i64()
            .unwrap();
    }
    let (code, html) = app.page(&format!("/incidents/{id}"), &cookie).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(html.matches("class=\"alert is-firing\"").count(), 100);
    assert!(html.contains(&format!("href=\"/incidents/{id}/alerts\">All 120 alerts")));
    let (code, html) = app.page(&format!("/incidents/{id}/alerts"), &cookie).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(html.matches("class=\"alert is-firing\"").count(), 100);
    let marker = "cursor=";
    let next = html[html.find(marker).expect("a next link") + marker.len()..]
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let (_, rest) = app
        .page(
            &format!("/incidents/{id}/alerts?status=all&cursor={next}"),
            &cookie,
        )
        .await;
    assert_eq!(rest.matches("class=\"alert is-firing\"").count(), 20);
    assert!(!rest.contains("cursor="), "the last page has no next link");
    let (code, html) = app
        .page(&format!("/incidents/{id}/timeline?before=3"), &cookie)
        .await;
    assert_eq!(code, StatusCode::OK);
    assert!(html.contains("Incident opened by Alertmanager"), "{html}");
}

/// A successful action says what it did, in a live region the script announces; only
/// the fixed confirmations are shown, whatever the address says.
#[tokio::test]
async fn an_action_confirms_what_it_did_and_the_address_cannot_inject_text() {
    let app = spawn_app().await;
    app.state
        .accounts
        .add_user("rita", Role::Responder, "responder password 1")
        .await
        .unwrap();
    let cookie = login(&app, "rita", "responder password 1").await;
    let id = app
        .post_webhook_ok(&message("g", vec![alert("A", "i", "critical", "firing")]))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    let csrf = csrf_in(&app.page(&format!("/incidents/{id}"), &cookie).await.1);
    let (code, _, location) = app
        .form(
            &format!("/incidents/{id}/resolve"),
            &cookie,
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(code, StatusCode::SEE_OTHER);
    let location = location.unwrap();
    assert_eq!(location, format!("/incidents/{id}?done=resolve"));
    let (code, html) = app.page(&location, &cookie).await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        html.contains(r#"<p class="flash flash-ok" data-announce>Resolved.</p>"#),
        "{html}"
    );
    assert!(html.contains(r#"id="announce" role="status" aria-live="polite""#));
    let (_, html) = app
        .page(
            &format!("/incidents/{id}?done=%3Cscript%3Ealert(1)%3C/script%3E"),
            &cookie,
        )
        .await;
    assert!(!html.contains("data-announce>"), "{html}");
    assert!(!html.contains("alert(1)"), "{html}");
}

/// Silences from the Integrations page: a required comment, a maximum length
/// (notify.max_silence, 14 days by default), a later start, a warning for long ones, and
/// a "silenced" badge on the incidents they cover.
#[tokio::test]
async fn silences_start_later_warn_when_long_and_mark_the_incidents_they_cover() {
    let app = spawn_app().await;
    app.state
        .accounts
        .add_user("rosa", Role::Responder, "responder password 1")
        .await
        .unwrap();
    let cookie = login(&app, "rosa", "responder password 1").await;
    let csrf = csrf_in(&app.page("/integrations", &cookie).await.1);
    let create = |matchers: &'static str,
                  duration: &'static str,
                  starts_in: &'static str,
                  comment: &'static str| {
        let (app, cookie, csrf) = (&app, &cookie, &csrf);
        async move {
            app.form(
                "/integrations/silences",
                cookie,
                &[
                    ("csrf", csrf.as_str()),
                    ("matchers", matchers),
                    ("duration", duration),
                    ("starts_in", starts_in),
                    ("comment", comment),
                ],
            )
            .await
        }
    };
    // Too long, and without a reason: refused with what to change.
    let (code, html, _) = create("service=checkout", "15d", "", "db upgrade").await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("at most 2w (notify.max_silence)"), "{html}");
    let (code, _, _) = create("service=checkout", "1h", "", " ").await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);

    // Long: created with a warning, and flagged in the list.
    let (code, _, location) = create("service=checkout", "3d", "", "freeze week").await;
    assert_eq!(code, StatusCode::SEE_OTHER);
    let (_, html) = app.page(location.as_deref().unwrap(), &cookie).await;
    assert!(html.contains("Careful, it is long: 3d"), "{html}");
    assert!(
        html.contains(r#"<span class="longwarn">long: 3d</span>"#),
        "{html}"
    );
    // Later: scheduled, not active yet.
    let (code, _, location) = create("service=billing", "1h", "2h", "billing migration").await;
    assert_eq!(code, StatusCode::SEE_OTHER);
    let (_, html) = app.page(location.as_deref().unwrap(), &cookie).await;
    assert!(html.contains("notify nobody from "), "{html}");

    // The incidents they cover (active silences only) carry a badge.
    let covered = app
        .post_webhook_ok(&message("c1", vec![alert("A", "i", "critical", "firing")]))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    let mut other = message("c2", vec![alert("B", "i", "critical", "firing")]);
    other["groupLabels"]["service"] = "billing".into();
    other["commonLabels"]["service"] = "billing".into();
    other["alerts"][0]["labels"]["service"] = "billing".into();
    let scheduled = app.post_webhook_ok(&other).await["incident_id"]
        .as_i64()
        .unwrap();
    let (_, list) = app.page("/incidents", &cookie).await;
    let row = |id: i64| {
        let at = list.find(&format!(r#"href="/incidents/{id}""#)).unwrap();
        let end = list[at..].find("</li>").unwrap();
        list[at..at + end].to_string()
    };
    assert!(
        row(covered).contains(">silenced</span>"),
        "{}",
        row(covered)
    );
    assert!(!row(scheduled).contains("silenced"), "{}", row(scheduled));
    let (_, page) = app.page(&format!("/incidents/{covered}"), &cookie).await;
    assert!(page.contains("silenced by #"), "{page}");
}
