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
    let app = spawn_app_with(|s| s.server.public_ops = false).await;
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (code, _) = app
        .get_json("/api/v1/openapi.json", &app.viewer_token)
        .await;
    assert_eq!(code, StatusCode::OK);
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

/// Writes raw bytes and reads until the server closes the connection (or 5 s pass).
fn exchange(address: &str, raw: &[u8]) -> (String, bool) {
    let mut s = TcpStream::connect(address.trim_start_matches("http://")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(raw).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&out).to_string(), closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_bodies_are_refused_so_nothing_is_smuggled() {
    let app = spawn_app().await;
    let create = |title: &str| {
        let body = json!({ "title": title, "severity": "P3" }).to_string();
        format!(
            "POST /api/v1/incidents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            app.responder_token,
            body.len()
        )
    };
    // Control: two length-delimited requests pipelined on one connection both count.
    let address = app.address.clone();
    let raw = format!("{}{}", create("first"), create("second"));
    let (answer, _) = tokio::task::spawn_blocking(move || exchange(&address, raw.as_bytes()))
        .await
        .unwrap();
    assert_eq!(answer.matches("HTTP/1.1 201").count(), 2, "{answer}");
    assert_eq!(app.incidents("open").await.len(), 2);

    // A chunked body ending in `0\r\n\n`, which actix-http would read as the start of
    // trailers, swallowing the request after it: refused before the body is read and the
    // connection closed, so neither it nor the request hidden behind it creates anything.
    // A well-formed chunked body is refused the same way (the request after it is a plain
    // pipelined request, which the server may still answer).
    for (end, next) in [("0\r\n\n", "smuggled"), ("0\r\n\r\n", "pipelined")] {
        let body = json!({ "title": "chunked", "severity": "P3" }).to_string();
        let raw = format!(
            "POST /api/v1/incidents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
             {:x}\r\n{body}\r\n{end}{}",
            app.responder_token,
            body.len(),
            create(next)
        );
        let address = app.address.clone();
        let (answer, closed) =
            tokio::task::spawn_blocking(move || exchange(&address, raw.as_bytes()))
                .await
                .unwrap();
        assert!(answer.starts_with("HTTP/1.1 411"), "{end:?}: {answer}");
        assert!(answer.contains("\"code\":\"length_required\""), "{answer}");
        assert!(answer.contains("connection: close"), "{answer}");
        assert!(closed, "{end:?}: the connection stayed open");
    }
    let titles: Vec<String> = app
        .incidents("open")
        .await
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !titles.iter().any(|t| t == "chunked" || t == "smuggled"),
        "{titles:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silences_are_bounded() {
    // The hard bound (a year) holds whatever notify.max_silence allows.
    let app = spawn_app_with(|s| s.notify.max_silence = "366d".into()).await;
    let silence = |duration: &str| json!({ "matchers": { "service": "db" }, "comment": "maintenance", "duration": duration });
    let post = |body: serde_json::Value| {
        let app = &app;
        async move {
            app.post_json("/api/v1/silences", &app.responder_token, &body)
                .await
        }
    };
    // Durations that used to wrap around to "forever" or past the end of time.
    for d in ["9223372036854775807ms", "300000y", "367d"] {
        let (code, body) = post(silence(d)).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{d}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("366d"),
            "{body}"
        );
    }
    let (code, body) = post(json!({
        "matchers": { "service": "db" }, "comment": "far", "ends_at": "2999-01-01T00:00:00Z"
    }))
    .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let many: serde_json::Map<String, serde_json::Value> =
        (0..33).map(|i| (format!("label{i}"), json!("x"))).collect();
    let (code, _) = post(json!({ "matchers": many, "comment": "c", "duration": "1h" })).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    let (code, _) = post(json!({
        "matchers": { "service": "x".repeat(2000) }, "comment": "c", "duration": "1h"
    }))
    .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    let (code, _) = post(silence("366d")).await;
    assert_eq!(code, StatusCode::CREATED, "a year is allowed");

    // At most 1,000 current silences.
    app.state
        .db
        .write(|c| {
            for i in 1..1000 {
                c.execute(
                    "INSERT INTO silences (matchers, comment, created_by, starts_at, ends_at, created_at) \
                     VALUES (?1, 'bulk', 'test', 0, 9999999999999, 0)",
                    &[&format!("{{\"service\":\"s{i}\"}}")],
                )?;
            }
            Ok::<_, firewatch::db::StoreError>(())
        })
        .await
        .unwrap();
    let (code, body) = post(silence("1h")).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_fields_are_bounded() {
    let app = spawn_app().await;
    let mut a = alert("A", "i1", "warning", "firing");
    a["fingerprint"] = json!("f".repeat(200));
    let res = app.post_webhook(&message("g1", vec![a])).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("alerts[0].fingerprint"),
        "{body}"
    );
    let res = app
        .post_webhook(&message(
            &"k".repeat(20_000),
            vec![alert("A", "i1", "warning", "firing")],
        ))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // An overlong link is dropped; the alert is kept.
    let mut a = alert("A", "i1", "warning", "firing");
    a["generatorURL"] = json!(format!(
        "http://prometheus/graph?g0.expr={}",
        "x".repeat(20_000)
    ));
    let id = app.post_webhook_ok(&message("g2", vec![a])).await["incident_id"]
        .as_i64()
        .unwrap();
    let incident = app.incident(id).await;
    assert_eq!(
        incident["alerts"][0]["generator_url"], "",
        "{}",
        incident["alerts"][0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_keep_their_shape_and_head_works() {
    let app = spawn_app().await;
    // HEAD answers like GET, without a body.
    for path in ["/healthz", "/api/v1/openapi.json", "/login"] {
        let res = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert!(res.bytes().await.unwrap().is_empty());
    }
    // An oversized form gets an error page, not plain text.
    let res = app
        .client
        .post(app.url("/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("name={}", "a".repeat(2 * 1024 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{:?}",
        res.headers()
    );
    // The webhook's limit names its own setting.
    let res = app
        .client
        .post(app.url("/api/v1/alerts/alertmanager"))
        .bearer_auth(WEBHOOK_TOKEN)
        .header("Content-Type", "application/json")
        .body(vec![b' '; 33 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("alertmanager.max_body_bytes"),
        "{body}"
    );
    // Unknown API routes and methods answer in the JSON error shape.
    let res = app
        .client
        .delete(app.url("/api/v1/incidents"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

/// New connections from one address beyond `server.max_connection_rate` (bursts of twice
/// as many) are closed as soon as they are accepted; the address gets through again once
/// its rate allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_rate_are_closed_at_once() {
    let app = spawn_app_with(|s| s.server.max_connection_rate = 5).await;
    let address = app.address.trim_start_matches("http://").to_string();
    let health = move |address: String| {
        tokio::task::spawn_blocking(move || {
            let Ok(mut s) = TcpStream::connect(&address) else {
                return false;
            };
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .is_err()
            {
                return false;
            }
            let mut buf = [0u8; 64];
            matches!(s.read(&mut buf), Ok(n) if n > 0 && buf.starts_with(b"HTTP/1.1 200"))
        })
    };
    let mut answered = 0;
    for _ in 0..30 {
        if health(address.clone()).await.unwrap() {
            answered += 1;
        }
    }
    // The burst is 10; the app's own self-scrape and readiness checks come from the same
    // address, and a little refills while the loop runs.
    assert!(
        (7..=12).contains(&answered),
        "a burst of about 10, then closed: {answered} answered"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(health(address.clone()).await.unwrap(), "the rate refills");
}
