//! What an unauthenticated or misbehaving client can and cannot make the server do:
//! credentials before bodies, body deadlines, bounded sizes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use firewatch::auth::Role;

/// Sends raw request headers announcing a body that never comes, and reads the answer.
fn headers_only(address: &str, head: &str) -> (String, Duration) {
    let addr = address.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    s.write_all(head.as_bytes()).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).unwrap_or(0);
    (
        String::from_utf8_lossy(&buf[..n]).to_string(),
        started.elapsed(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_checked_before_a_body_is_read() {
    let app = spawn_app().await;
    let address = app.address.clone();
    let cases = [
        (
            "POST /api/v1/alerts/alertmanager",
            "Bearer wrong-token-0123456789",
        ),
        ("POST /api/v1/incidents", "Bearer fw_unknown"),
        ("POST /api/v1/incidents", ""),
        ("POST /api/v1/silences", "Basic dXNlcjpwdw=="),
    ];
    for (line, auth) in cases {
        let address = address.clone();
        let auth_line = if auth.is_empty() {
            String::new()
        } else {
            format!("Authorization: {auth}\r\n")
        };
        // 1 MB announced, nothing sent: the answer must come without the body.
        let head = format!(
            "{line} HTTP/1.1\r\nHost: x\r\n{auth_line}Content-Type: application/json\r\n\
             Content-Length: 1000000\r\n\r\n"
        );
        let (answer, took) = tokio::task::spawn_blocking(move || headers_only(&address, &head))
            .await
            .unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 401"),
            "{line} {auth}: {answer}"
        );
        assert!(answer.contains("\"code\":\"unauthorized\""), "{answer}");
        assert!(
            took < Duration::from_secs(5),
            "{line}: answered after {took:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_times_out() {
    let app = spawn_app_with(|s| s.server.body_timeout = "1s".into()).await;
    let address = app.address.clone();
    let head = format!(
        "POST /api/v1/alerts/alertmanager HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \
         {WEBHOOK_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"ver"
    );
    let (answer, took) = tokio::task::spawn_blocking(move || headers_only(&address, &head))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"timeout\""), "{answer}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(8),
        "{took:?}"
    );
}

#[tokio::test]
async fn the_webhook_takes_a_storm_larger_than_the_api_body_limit() {
    let app = spawn_app().await;
    // About 2.4 MB: more than server.max_body_bytes (1 MiB), within the webhook's 32 MiB.
    let alerts: Vec<_> = (0..3000)
        .map(|i| {
            let mut a = alert("Storm", &format!("pod-{i}"), "warning", "firing");
            a["annotations"]["description"] = json!("x".repeat(600));
            a
        })
        .collect();
    let body = message("storm", alerts);
    assert!(body.to_string().len() > 2 * 1024 * 1024);
    let out = app.post_webhook_ok(&body).await;
    assert_eq!(out["alerts_fired"], 3000);
    // The rest of the API keeps its limit.
    let big = json!({"title": "t", "description": "y".repeat(2 * 1024 * 1024)});
    let (code, body) = app
        .post_json("/api/v1/incidents", &app.responder_token, &big)
        .await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_require_a_token_and_firewatch_still_measures_itself() {
    let app = spawn_app_with(|s| s.server.public_metrics = false).await;
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "health checks stay open");
    let (code, _) = app.get_json("/readyz", &app.viewer_token).await;
    assert_eq!(code, StatusCode::OK);
    // The built-in SLOs scrape /metrics with a secret of the process's own.
    firewatch::scheduler::run_slo_evaluation_once(&app.state)
        .await
        .unwrap();
    let (_, targets) = app.get_json("/api/v1/targets", &app.viewer_token).await;
    assert_eq!(targets["items"][0]["up"], true, "{targets}");
}

/// One sign-in attempt through the form: the status and the Retry-After header.
async fn try_login(app: &TestApp, name: &str, password: &str) -> (StatusCode, Option<String>) {
    let page = app.client.get(app.url("/login")).send().await.unwrap();
    let (login_csrf, _) = cookie_value(&page, "fw_login_csrf").unwrap();
    let res = app
        .client
        .post(app.url("/login"))
        .header(
            reqwest::header::COOKIE,
            format!("fw_login_csrf={login_csrf}"),
        )
        .form(&[
            ("csrf", login_csrf.as_str()),
            ("name", name),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    let retry = res
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_string());
    (res.status(), retry)
}

#[tokio::test]
async fn failed_sign_ins_lock_out_with_growing_delays_and_show_on_the_admin_page() {
    let app = spawn_app().await;
    app.state
        .accounts
        .add_user("ada", Role::Admin, "the right password")
        .await
        .unwrap();
    for _ in 0..firewatch::auth::throttle::FREE_FAILURES {
        let (code, _) = try_login(&app, "ada", "a wrong password").await;
        assert_eq!(code, StatusCode::UNAUTHORIZED);
    }
    // Locked out now, even with the right password, and told for how long.
    let (code, retry) = try_login(&app, "ada", "the right password").await;
    assert_eq!(code, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry.as_deref(), Some("1"));
    // The same address trying another name waits as well.
    let (code, _) = try_login(&app, "someone-else", "whatever password").await;
    assert_eq!(code, StatusCode::TOO_MANY_REQUESTS);
    let lockouts = app.state.accounts.lockouts();
    assert!(lockouts.iter().any(|l| l.who == "user ada"), "{lockouts:?}");
    assert!(
        lockouts.iter().any(|l| l.who == "address 127.0.0.1"),
        "{lockouts:?}"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // One more failure doubles the wait.
    let (code, _) = try_login(&app, "ada", "a wrong password").await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, retry) = try_login(&app, "ada", "the right password").await;
    assert_eq!(code, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry.as_deref(), Some("2"));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (code, _) = try_login(&app, "ada", "the right password").await;
    assert_eq!(
        code,
        StatusCode::SEE_OTHER,
        "the lock passes and success clears it"
    );
    let cookie = login(&app, "ada", "the right password").await;
    let (_, html) = app.page("/admin", &cookie).await;
    assert!(html.contains("Sign-in lockouts"), "{html}");
}
