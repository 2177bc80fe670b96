use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::json;

use crate::auth::login;
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

    let filtered = app
        .client
        .get(app.url("/incidents?status=resolved"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!filtered.contains(&format!("/incidents/{id}\"")));

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
    let csrf = crate::auth::csrf_in(&page.text().await.unwrap());
    let bad = app
        .client
        .post(app.url("/incidents"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("title", ""), ("severity", "P1")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count_rows("incidents"), 0);
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
