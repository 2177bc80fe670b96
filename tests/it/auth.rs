use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};

use crate::helpers::*;
use firewatch::auth::Role;

#[tokio::test]
async fn pages_send_visitors_to_the_login_page() {
    let app = spawn_app().await;
    for path in ["/", "/incidents", "/incidents/1", "/admin"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(
            res.headers()[LOCATION]
                .to_str()
                .unwrap()
                .starts_with("/login?next=")
        );
    }
}

#[tokio::test]
async fn a_user_logs_in_acts_with_csrf_protection_and_logs_out() {
    let app = spawn_app().await;
    app.state
        .accounts
        .add_user("alice", Role::Responder, "correct horse battery")
        .await
        .unwrap();
    let (_, inc) = app
        .post_json(
            "/api/v1/incidents",
            &app.responder_token,
            &serde_json::json!({"title": "db down", "severity": "P0"}),
        )
        .await;
    let id = inc["id"].as_i64().unwrap();

    let cookie = login(&app, "alice", "correct horse battery").await;
    let page = app
        .client
        .get(app.url(&format!("/incidents/{id}")))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = csrf_in(&page.text().await.unwrap());

    // Without the CSRF token the action is refused and nothing changes.
    let forged = app
        .client
        .post(app.url(&format!("/incidents/{id}/acknowledge")))
        .header(COOKIE, &cookie)
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.incident(id).await["status"], "triggered");

    let ok = app
        .client
        .post(app.url(&format!("/incidents/{id}/acknowledge")))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let inc = app.incident(id).await;
    assert_eq!(inc["status"], "acknowledged");
    assert_eq!(inc["acknowledged_by"], "alice");

    let note = app
        .client
        .post(app.url(&format!("/incidents/{id}/notes")))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("text", "looking at the primary")])
        .send()
        .await
        .unwrap();
    assert_eq!(note.status(), StatusCode::SEE_OTHER);
    assert!(
        app.incident(id).await["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["message"] == "looking at the primary")
    );

    let out = app
        .client
        .post(app.url("/logout"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = app
        .client
        .get(app.url("/incidents"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.status(),
        StatusCode::SEE_OTHER,
        "the session is gone server-side"
    );
}

#[tokio::test]
async fn a_wrong_password_is_refused_without_saying_which_part_was_wrong() {
    let app = spawn_app().await;
    app.state
        .accounts
        .add_user("bob", Role::Viewer, "another good password")
        .await
        .unwrap();
    let page = app.client.get(app.url("/login")).send().await.unwrap();
    let (login_csrf, _) = cookie_value(&page, "fw_login_csrf").unwrap();
    for (name, pw) in [
        ("bob", "wrong password!"),
        ("nobody", "another good password"),
    ] {
        let res = app
            .client
            .post(app.url("/login"))
            .header(COOKIE, format!("fw_login_csrf={login_csrf}"))
            .form(&[
                ("csrf", login_csrf.as_str()),
                ("name", name),
                ("password", pw),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert!(cookie_value(&res, "fw_session").is_none());
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("Wrong name or password.")
        );
    }
}

#[tokio::test]
async fn a_viewer_can_read_but_not_act_and_only_admins_see_admin() {
    let app = spawn_app().await;
    app.state
        .accounts
        .add_user("val", Role::Viewer, "viewer password 1")
        .await
        .unwrap();
    let (_, inc) = app
        .post_json(
            "/api/v1/incidents",
            &app.responder_token,
            &serde_json::json!({"title": "x"}),
        )
        .await;
    let id = inc["id"].as_i64().unwrap();
    let cookie = login(&app, "val", "viewer password 1").await;
    let page = app
        .client
        .get(app.url(&format!("/incidents/{id}")))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("/acknowledge"),
        "viewers get no action buttons"
    );
    let csrf = csrf_in(&html);
    let res = app
        .client
        .post(app.url(&format!("/incidents/{id}/acknowledge")))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let admin = app
        .client
        .get(app.url("/admin"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_admin_creates_a_token_in_the_ui_and_it_works_on_the_api() {
    let app = spawn_app().await;
    app.state
        .accounts
        .add_user("root", Role::Admin, "admin password 1")
        .await
        .unwrap();
    let cookie = login(&app, "root", "admin password 1").await;
    let page = app
        .client
        .get(app.url("/admin"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(WEBHOOK_TOKEN),
        "admins can read the webhook token"
    );
    let csrf = csrf_in(&html);
    let res = app
        .client
        .post(app.url("/admin/tokens"))
        .header(COOKIE, &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "grafana"),
            ("role", "viewer"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let start = html.find("data-copy>").unwrap() + "data-copy>".len();
    let token = html[start..].split('<').next().unwrap();
    assert!(token.starts_with("fw_"));
    let (code, me) = app.get_json("/api/v1/me", token).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(me["name"], "grafana");
}

#[tokio::test]
async fn cookies_are_secure_when_the_public_url_is_https() {
    let app =
        spawn_app_with(|s| s.server.public_url = Some("https://firewatch.example.com".into()))
            .await;
    app.state
        .accounts
        .add_user("sam", Role::Viewer, "viewer password 2")
        .await
        .unwrap();
    let page = app.client.get(app.url("/login")).send().await.unwrap();
    let (_, raw) = cookie_value(&page, "fw_login_csrf").unwrap();
    assert!(raw.contains("Secure"), "{raw}");
}

/// Admins manage users on the admin page: add (confirmed), disable (sessions end at
/// once), reset a password (shown once, old sessions end), remove; the last active admin
/// can be neither disabled nor removed.
#[tokio::test]
async fn admins_disable_reset_and_remove_users_but_never_the_last_admin() {
    let app = spawn_app().await;
    app.state
        .accounts
        .add_user("root", Role::Admin, "admin password 1")
        .await
        .unwrap();
    let cookie = login(&app, "root", "admin password 1").await;
    let csrf = csrf_in(&app.page("/admin", &cookie).await.1);
    let (code, html, _) = app
        .form(
            "/admin/users",
            &cookie,
            &[
                ("csrf", &csrf),
                ("name", "ann"),
                ("role", "responder"),
                ("password", "ann password 1"),
            ],
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        html.contains("Added user ann with role responder."),
        "{html}"
    );
    let ann = login(&app, "ann", "ann password 1").await;
    assert_eq!(app.page("/incidents", &ann).await.0, StatusCode::OK);

    let (code, html, _) = app
        .form("/admin/users/ann/disable", &cookie, &[("csrf", &csrf)])
        .await;
    assert_eq!(code, StatusCode::OK);
    assert!(html.contains("Disabled ann"), "{html}");
    let (code, _) = app.page("/incidents", &ann).await;
    assert_ne!(
        code,
        StatusCode::OK,
        "a disabled user's session ends at once"
    );
    app.form("/admin/users/ann/enable", &cookie, &[("csrf", &csrf)])
        .await;

    let (code, html, _) = app
        .form(
            "/admin/users/ann/reset-password",
            &cookie,
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    let start = html.find("data-copy>").unwrap() + "data-copy>".len();
    let password = html[start..].split('<').next().unwrap().to_string();
    assert_eq!(password.len(), 24);
    let fresh = login(&app, "ann", &password).await;
    assert_eq!(app.page("/incidents", &fresh).await.0, StatusCode::OK);

    // The last active admin stays: 409 with the reason, as the API's status for it.
    for action in ["disable", "remove"] {
        let (code, html, _) = app
            .form(
                &format!("/admin/users/root/{action}"),
                &cookie,
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(code, StatusCode::CONFLICT, "{action}");
        assert!(html.contains("last active admin"), "{html}");
    }
    let (code, html, _) = app
        .form("/admin/users/ann/remove", &cookie, &[("csrf", &csrf)])
        .await;
    assert_eq!(code, StatusCode::OK);
    assert!(html.contains("Removed ann."), "{html}");
    let users: Vec<String> = app
        .state
        .accounts
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(users, ["root"]);
    let (code, _, _) = app
        .form("/admin/users/nobody/disable", &cookie, &[("csrf", &csrf)])
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}
