//! Notifications: local HTTP servers stand in for Slack, PagerDuty and webhooks and check
//! the exact requests; a real SMTP server (Debian's python3-aiosmtpd) receives email.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[derive(Clone, Debug)]
pub struct Seen {
    pub at: Instant,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

/// Scripted answers: (status, Retry-After seconds).
type Script = Arc<Mutex<VecDeque<(u16, Option<u64>)>>>;

/// A stand-in for an outside HTTP service: records requests, answers from a script
/// (status, Retry-After) and then with the default status.
#[derive(Clone)]
pub struct Recorder {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Script,
    default: Arc<Mutex<u16>>,
}

impl Recorder {
    pub fn start(default_status: u16) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Script = Arc::new(Mutex::new(VecDeque::new()));
        let default = Arc::new(Mutex::new(default_status));
        let (s, sc, d) = (seen.clone(), script.clone(), default.clone());
        let server = HttpServer::new(move || {
            let (s, sc, d) = (s.clone(), sc.clone(), d.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (s, sc, d) = (s.clone(), sc.clone(), d.clone());
                async move {
                    s.lock().unwrap().push(Seen {
                        at: Instant::now(),
                        path: req.path().to_string(),
                        headers: req
                            .headers()
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                            .collect(),
                        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                    });
                    let (status, retry) = sc
                        .lock()
                        .unwrap()
                        .pop_front()
                        .unwrap_or((*d.lock().unwrap(), None));
                    let mut res =
                        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
                    if let Some(r) = retry {
                        res.insert_header(("Retry-After", r.to_string()));
                    }
                    res.body(if status < 300 {
                        "ok"
                    } else {
                        "invalid_payload"
                    })
                }
            }))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Self {
            url: format!("http://127.0.0.1:{port}"),
            seen,
            script,
            default,
        }
    }

    pub fn then(&self, status: u16, retry_after: Option<u64>) -> &Self {
        self.script.lock().unwrap().push_back((status, retry_after));
        self
    }

    pub fn set_default(&self, status: u16) {
        *self.default.lock().unwrap() = status;
    }

    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }

    pub async fn wait_for(&self, path: &str, n: usize) -> Vec<Seen> {
        self.wait_for_within(path, n, Duration::from_secs(20)).await
    }

    pub async fn wait_for_within(&self, path: &str, n: usize, limit: Duration) -> Vec<Seen> {
        let deadline = Instant::now() + limit;
        loop {
            let seen = self.seen(path);
            if seen.len() >= n {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "{path}: got {} of {n} requests",
                seen.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

pub const ROUTING_KEY: &str = "R0UTINGKEY0123456789abcdef012345";

pub(crate) fn receivers(s: &mut firewatch::config::Settings, rec: &Recorder) {
    use firewatch::config::{ReceiverSettings, ReceiverType};
    let r = |name: &str, kind| ReceiverSettings {
        name: name.into(),
        kind,
        webhook_url: None,
        webhook_url_file: None,
        routing_key: None,
        routing_key_file: None,
        url: None,
        to: vec![],
        secret: None,
        secret_file: None,
    };
    let mut pager = r("pager", ReceiverType::Pagerduty);
    pager.routing_key = Some(ROUTING_KEY.into());
    pager.url = Some(format!("{}/pagerduty", rec.url));
    let mut incidents = r("incidents", ReceiverType::Slack);
    incidents.webhook_url = Some(format!("{}/slack/incidents", rec.url));
    let mut alerts = r("alerts", ReceiverType::Slack);
    alerts.webhook_url = Some(format!("{}/slack/alerts", rec.url));
    let mut hook = r("hook", ReceiverType::Webhook);
    hook.webhook_url = Some(format!("{}/hook", rec.url));
    hook.secret = Some("hmac-secret".into());
    s.receivers = vec![pager, incidents, alerts, hook];
    s.notify.base_backoff = "50ms".into();
    s.notify.max_backoff = "200ms".into();
    s.notify.poll_interval = "50ms".into();
    s.notify.max_attempts = 5;
    s.server.public_url = Some("https://firewatch.example.com".into());
}

async fn notifications(app: &TestApp, incident: i64) -> Vec<Value> {
    let (code, body) = app
        .get_json(
            &format!("/api/v1/notifications?incident={incident}"),
            &app.viewer_token,
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    body["items"].as_array().unwrap().clone()
}

async fn wait_settled(app: &TestApp, incident: i64) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let items = notifications(app, incident).await;
        if !items.is_empty() && items.iter().all(|n| n["status"] != "pending") {
            return items;
        }
        assert!(
            Instant::now() < deadline,
            "notifications still pending: {items:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_p0_incident_pages_pagerduty_and_posts_to_slack_through_its_lifecycle() {
    let rec = Recorder::start(202);
    let app = spawn_app_with(|s| receivers(s, &rec)).await;
    let mut a = alert("HighErrorRate", "api-1", "critical", "firing");
    a["annotations"]["runbook_url"] = json!("https://runbooks.example.com/high-error-rate");
    let id = app.post_webhook_ok(&message("n1", vec![a])).await["incident_id"]
        .as_i64()
        .unwrap();

    let pd = rec.wait_for("/pagerduty", 1).await;
    let trigger = &pd[0].body;
    assert_eq!(trigger["routing_key"], ROUTING_KEY);
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["dedup_key"], format!("firewatch-incident-{id}"));
    assert_eq!(
        trigger["payload"]["summary"],
        format!("[P0] #{id} HighErrorRate on checkout")
    );
    assert_eq!(trigger["payload"]["source"], "checkout");
    assert_eq!(trigger["payload"]["severity"], "critical");
    assert_eq!(
        trigger["client_url"],
        format!("https://firewatch.example.com/incidents/{id}")
    );
    assert_eq!(
        trigger["payload"]["custom_details"]["runbook_url"],
        "https://runbooks.example.com/high-error-rate"
    );

    let slack = rec.wait_for("/slack/incidents", 1).await;
    let msg = &slack[0].body;
    assert_eq!(
        msg["text"],
        format!("[P0] #{id} HighErrorRate on checkout: opened")
    );
    assert_eq!(msg["blocks"][0]["type"], "header");
    assert_eq!(msg["attachments"][0]["color"], "#dc2626");
    let buttons = msg["blocks"].as_array().unwrap().last().unwrap()["elements"]
        .as_array()
        .unwrap()
        .clone();
    let urls: Vec<&str> = buttons.iter().map(|b| b["url"].as_str().unwrap()).collect();
    assert!(urls.contains(&format!("https://firewatch.example.com/incidents/{id}").as_str()));
    assert!(urls.contains(&"https://runbooks.example.com/high-error-rate"));
    assert!(
        rec.seen("/slack/alerts").is_empty(),
        "P0 does not go to #alerts"
    );

    let hook = rec.wait_for("/hook", 1).await;
    let sig = hook[0]
        .headers
        .iter()
        .find(|(k, _)| k == "x-firewatch-signature")
        .unwrap()
        .1
        .clone();
    let body = serde_json::to_vec(&hook[0].body).unwrap();
    assert_eq!(sig, firewatch::notify::channels::sign("hmac-secret", &body));
    assert_eq!(hook[0].body["event"], "triggered");

    app.post_json(
        &format!("/api/v1/incidents/{id}/acknowledge"),
        &app.responder_token,
        &json!({}),
    )
    .await;
    let pd = rec.wait_for("/pagerduty", 2).await;
    assert_eq!(
        pd[1].body,
        json!({"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": format!("firewatch-incident-{id}")})
    );
    app.post_webhook_ok(&message(
        "n1",
        vec![alert("HighErrorRate", "api-1", "critical", "resolved")],
    ))
    .await;
    let pd = rec.wait_for("/pagerduty", 3).await;
    assert_eq!(pd[2].body["event_action"], "resolve");

    let items = wait_settled(&app, id).await;
    assert!(
        items
            .iter()
            .all(|n| n["status"] == "delivered" && n["attempts"] == 1),
        "{items:?}"
    );
    let events: Vec<(&str, &str)> = items
        .iter()
        .filter(|n| n["receiver"] == "pager")
        .map(|n| (n["channel"].as_str().unwrap(), n["event"].as_str().unwrap()))
        .collect();
    assert_eq!(
        events,
        [
            ("pagerduty", "resolved"),
            ("pagerduty", "acknowledged"),
            ("pagerduty", "triggered")
        ]
    );
    let timeline = app.incident(id).await["timeline"].clone();
    assert!(
        timeline
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["message"] == "Notified pager (pagerduty): triggered")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_sends_p1_to_incidents_p2_to_alerts_and_p3_nowhere() {
    let rec = Recorder::start(200);
    let app = spawn_app_with(|s| receivers(s, &rec)).await;
    app.post_webhook_ok(&message("r1", vec![alert("A", "i", "error", "firing")]))
        .await;
    app.post_webhook_ok(&message("r2", vec![alert("B", "i", "warning", "firing")]))
        .await;
    let p3 = app
        .post_webhook_ok(&message("r3", vec![alert("C", "i", "info", "firing")]))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    rec.wait_for("/slack/incidents", 1).await;
    rec.wait_for("/slack/alerts", 1).await;
    app.drain_notifications().await;
    assert!(rec.seen("/pagerduty").is_empty());
    assert_eq!(rec.seen("/slack/incidents").len(), 1);
    assert_eq!(rec.seen("/slack/alerts").len(), 1);
    assert!(notifications(&app, p3).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_answering_500_gets_the_message_once_it_recovers() {
    let rec = Recorder::start(202);
    rec.then(500, None).then(503, None).then(500, None);
    let app = spawn_app_with(|s| {
        receivers(s, &rec);
        s.receivers.retain(|r| r.name == "pager");
    })
    .await;
    let id = app
        .post_webhook_ok(&message("f1", vec![alert("A", "i", "critical", "firing")]))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    let pd = rec.wait_for("/pagerduty", 4).await;
    assert!(pd.iter().all(|s| s.body["event_action"] == "trigger"));
    let items = wait_settled(&app, id).await;
    assert_eq!(items[0]["status"], "delivered");
    assert_eq!(items[0]["attempts"], 4);
    // One timeline line tells the message's story, rewritten at every attempt.
    let incident = app.incident(id).await;
    let lines: Vec<&str> = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "notified" || e["kind"] == "notification_failed")
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0]
            .starts_with("Notified pager (pagerduty): triggered, at attempt 4 (before: HTTP 500"),
        "{lines:?}"
    );
    let metrics = app.metrics_text().await;
    assert!(
        metrics
            .contains("firewatch_notifications_total{channel=\"pagerduty\",outcome=\"retry\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "firewatch_notifications_total{channel=\"pagerduty\",outcome=\"delivered\"} 1"
        )
    );
    assert!(metrics.contains("firewatch_notifications_queue_depth 0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_is_waited_out() {
    let rec = Recorder::start(200);
    rec.then(429, Some(1));
    let app = spawn_app_with(|s| {
        receivers(s, &rec);
        s.receivers.retain(|r| r.name == "incidents");
    })
    .await;
    app.post_webhook_ok(&message("t1", vec![alert("A", "i", "error", "firing")]))
        .await;
    let seen = rec.wait_for("/slack/incidents", 2).await;
    let waited = seen[1].at - seen[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "retried after {waited:?}, Retry-After said 1s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_becomes_a_dead_letter_that_retry_now_resends() {
    let rec = Recorder::start(200);
    rec.then(400, None);
    let app = spawn_app_with(|s| {
        receivers(s, &rec);
        s.receivers.retain(|r| r.name == "incidents");
    })
    .await;
    let id = app
        .post_webhook_ok(&message("d1", vec![alert("A", "i", "error", "firing")]))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    let items = wait_settled(&app, id).await;
    assert_eq!(items[0]["status"], "failed");
    assert_eq!(items[0]["attempts"], 1, "a 400 is not retried");
    assert!(items[0]["last_error"].as_str().unwrap().contains("400"));
    app.drain_notifications().await;
    assert_eq!(rec.seen("/slack/incidents").len(), 1);
    let nid = items[0]["id"].as_i64().unwrap();
    let (code, _) = app
        .post_json(
            &format!("/api/v1/notifications/{nid}/retry"),
            &app.responder_token,
            &json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::ACCEPTED);
    rec.wait_for("/slack/incidents", 2).await;
    let items = wait_settled(&app, id).await;
    assert_eq!(items[0]["status"], "delivered");
    let (code, _) = app
        .post_json(
            &format!("/api/v1/notifications/{nid}/retry"),
            &app.responder_token,
            &json!({}),
        )
        .await;
    assert_eq!(
        code,
        StatusCode::CONFLICT,
        "only dead letters can be retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_storm_becomes_one_message_per_incident_and_channel() {
    let rec = Recorder::start(200);
    let app = spawn_app_with(|s| {
        receivers(s, &rec);
        s.receivers.retain(|r| r.name == "incidents");
    })
    .await;
    // 10,000 alerts across 50 services, sent as Alertmanager would: 100 alerts a message.
    for round in 0..4 {
        for svc in 0..50 {
            let alerts = (0..50)
                .map(|i| alert("Storm", &format!("{svc}-{round}-{i}"), "error", "firing"))
                .collect();
            app.post_webhook_ok(&message(&format!("storm-{svc}"), alerts))
                .await;
        }
    }
    rec.wait_for("/slack/incidents", 50).await;
    app.drain_notifications().await;
    assert_eq!(rec.seen("/slack/incidents").len(), 50);
    assert_eq!(app.count_rows("alerts").await, 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_are_listed_with_secrets_masked_and_can_be_tested() {
    let rec = Recorder::start(200);
    let app = spawn_app_with(|s| receivers(s, &rec)).await;
    let (code, body) = app.get_json("/api/v1/receivers", &app.viewer_token).await;
    assert_eq!(code, StatusCode::OK);
    let text = body.to_string();
    assert!(
        !text.contains(ROUTING_KEY) && !text.contains("/slack/incidents"),
        "{text}"
    );
    let (code, _) = app
        .post_json(
            "/api/v1/receivers/incidents/test",
            &app.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::ACCEPTED);
    let seen = rec.wait_for("/slack/incidents", 1).await;
    assert!(
        seen[0].body["text"]
            .as_str()
            .unwrap()
            .contains("test notification")
    );
    let (code, _) = app
        .post_json("/api/v1/receivers/nope/test", &app.admin_token, &json!({}))
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_retry_still_delivers_exactly_once_per_event() {
    if sqlite_only("a_restart_mid_retry_still_delivers_exactly_once_per_event") {
        return;
    }
    let rec = Recorder::start(500);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("fw.toml");
    std::fs::write(
        &cfg,
        format!(
            "[storage]\ndata_dir = \"{}\"\n[alertmanager]\nwebhook_token = \"{WEBHOOK_TOKEN}\"\n\
             [notify]\nbase_backoff = \"100ms\"\nmax_backoff = \"200ms\"\npoll_interval = \"50ms\"\nmax_attempts = 1000\ntimeout = \"1s\"\n\
             [[receiver]]\nname = \"pager\"\ntype = \"pagerduty\"\nrouting_key = \"{ROUTING_KEY}\"\nurl = \"{}/pagerduty\"\n",
            dir.path().join("data").display(),
            rec.url
        ),
    )
    .unwrap();
    let mut server = ServerProcess::start(&cfg, &[]);
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{}/api/v1/alerts/alertmanager", server.address))
        .bearer_auth(WEBHOOK_TOKEN)
        .json(&message(
            "restart",
            vec![alert("A", "i", "critical", "firing")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    rec.wait_for("/pagerduty", 2).await; // failing and retrying
    server.kill9();
    rec.set_default(202);
    let before = rec.seen("/pagerduty").len();
    let _server = ServerProcess::start(&cfg, &[]);
    // Killed between claiming the message and recording the attempt, the message waits
    // out its claim (the timeout plus 30 s) before the restarted server sends it again.
    let seen = rec
        .wait_for_within("/pagerduty", before + 1, Duration::from_secs(50))
        .await;
    // Once nothing is pending in the restarted server's outbox, no send can follow.
    let db = rusqlite::Connection::open(dir.path().join("data/firewatch.db")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pending: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM notifications WHERE status = 'pending'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        if pending == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "still pending");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = rec.seen("/pagerduty");
    assert_eq!(
        after.len(),
        seen.len(),
        "delivered once, then no more sends"
    );
    assert!(
        after
            .iter()
            .all(|s| s.body["dedup_key"] == "firewatch-incident-1")
    );
}

pub(crate) struct Smtpd(std::process::Child);
impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn start_smtpd(port: u16, maildir: &std::path::Path) -> Smtpd {
    let child = std::process::Command::new("/usr/bin/python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(maildir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3-aiosmtpd is installed (scripts/test.sh installs it)");
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "aiosmtpd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Smtpd(child)
}

pub(crate) async fn wait_mail(maildir: &std::path::Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(entries) = std::fs::read_dir(maildir.join("new"))
            && let Some(e) = entries.flatten().next()
        {
            return std::fs::read_to_string(e.path()).unwrap();
        }
        assert!(Instant::now() < deadline, "no email arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_reaches_a_real_smtp_server_and_is_retried_while_it_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    let port = free_port();
    let app = spawn_app_with(|s| {
        s.smtp = Some(firewatch::config::SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            tls: firewatch::config::SmtpTls::None,
            from: "firewatch@example.com".into(),
            username: None,
            password: None,
            password_file: None,
        });
        s.receivers = vec![firewatch::config::ReceiverSettings {
            name: "oncall-mail".into(),
            kind: firewatch::config::ReceiverType::Email,
            webhook_url: None,
            webhook_url_file: None,
            routing_key: None,
            routing_key_file: None,
            url: None,
            to: vec!["oncall@example.com".into()],
            secret: None,
            secret_file: None,
        }];
        s.notify.base_backoff = "100ms".into();
        s.notify.max_backoff = "300ms".into();
        s.notify.poll_interval = "50ms".into();
        s.notify.max_attempts = 100;
        s.server.public_url = Some("https://firewatch.example.com".into());
    })
    .await;
    // The SMTP server is down at first: the message waits and is retried.
    let id = app
        .post_webhook_ok(&message(
            "mail",
            vec![alert("DiskFull", "db-1", "critical", "firing")],
        ))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let items = notifications(&app, id).await;
        if items
            .first()
            .is_some_and(|n| n["attempts"].as_i64().unwrap() >= 2)
        {
            assert_eq!(items[0]["status"], "pending");
            break;
        }
        assert!(Instant::now() < deadline, "no retries: {items:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _smtpd = start_smtpd(port, &maildir);
    let mail = wait_mail(&maildir).await;
    assert!(mail.contains("To: oncall@example.com"), "{mail}");
    assert!(mail.contains("From: firewatch@example.com"));
    assert!(
        mail.contains(&format!(
            "Subject: [P0] #{id} HighErrorRate on checkout: opened"
        )),
        "{mail}"
    );
    assert!(mail.contains("text/plain") && mail.contains("text/html"));
    assert!(mail.contains(&format!("https://firewatch.example.com/incidents/{id}")));
    let items = wait_settled(&app, id).await;
    assert_eq!(items[0]["status"], "delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_holds_back_matching_incidents_until_it_is_expired() {
    let rec = Recorder::start(200);
    let app = spawn_app_with(|s| receivers(s, &rec)).await;
    let (code, silence) = app
        .post_json(
            "/api/v1/silences",
            &app.responder_token,
            &json!({"matchers": {"service": "checkout"}, "comment": "DB upgrade CHG-1", "duration": "1h"}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{silence}");
    let id = app
        .post_webhook_ok(&message("s1", vec![alert("A", "i", "error", "firing")]))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    app.drain_notifications().await;
    assert!(rec.seen("/slack/incidents").is_empty());
    assert!(notifications(&app, id).await.is_empty());
    let timeline = app.incident(id).await["timeline"].to_string();
    assert!(
        timeline.contains("silenced by silence #1 (DB upgrade CHG-1)"),
        "{timeline}"
    );
    for bad in [
        json!({"matchers": {}, "comment": "x", "duration": "1h"}),
        json!({"matchers": {"service": "a"}, "comment": "", "duration": "1h"}),
        json!({"matchers": {"severity": "P9"}, "comment": "x", "duration": "1h"}),
        json!({"matchers": {"service": "a"}, "comment": "x", "duration": "soon"}),
    ] {
        let (code, body) = app
            .post_json("/api/v1/silences", &app.responder_token, &bad)
            .await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
    let res = app
        .client
        .delete(app.url("/api/v1/silences/1"))
        .bearer_auth(&app.responder_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    app.post_webhook_ok(&message("s2", vec![alert("B", "i", "error", "firing")]))
        .await;
    rec.wait_for("/slack/incidents", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_p0_holds_back_p2_messages_for_the_same_service() {
    let rec = Recorder::start(202);
    let app = spawn_app_with(|s| receivers(s, &rec)).await;
    app.post_webhook_ok(&message(
        "p0",
        vec![alert("Down", "i", "critical", "firing")],
    ))
    .await;
    let p2 = app
        .post_webhook_ok(&message(
            "p2",
            vec![alert("Slow", "i", "warning", "firing")],
        ))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    rec.wait_for("/pagerduty", 1).await;
    app.drain_notifications().await;
    assert!(
        rec.seen("/slack/alerts").is_empty(),
        "the P2 symptom is inhibited"
    );
    let timeline = app.incident(p2).await["timeline"].to_string();
    assert!(
        timeline.contains("inhibited: P0 incident #1 is open for service checkout"),
        "{timeline}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_p0_is_reminded_until_someone_acknowledges() {
    let rec = Recorder::start(202);
    let app = spawn_app_with(|s| {
        receivers(s, &rec);
        s.notify.reminder_interval = "300ms".into();
    })
    .await;
    let id = app
        .post_webhook_ok(&message(
            "rem",
            vec![alert("Down", "i", "critical", "firing")],
        ))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    let seen = rec.wait_for("/slack/incidents", 3).await;
    assert!(
        seen[1].body["text"]
            .as_str()
            .unwrap()
            .ends_with("still unacknowledged"),
        "{:?}",
        seen[1].body
    );
    assert_eq!(
        rec.seen("/pagerduty").len(),
        1,
        "PagerDuty escalates by itself: no reminders there"
    );
    app.post_json(
        &format!("/api/v1/incidents/{id}/acknowledge"),
        &app.responder_token,
        &json!({}),
    )
    .await;
    app.drain_notifications().await;
    let after_ack = rec.seen("/slack/incidents").len();
    // A whole reminder interval later, the reminder job finds nothing to remind of.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let queued = firewatch::scheduler::run_reminders_once(&app.state)
        .await
        .unwrap();
    assert_eq!(queued, 0, "no reminder for an acknowledged incident");
    app.drain_notifications().await;
    assert_eq!(
        rec.seen("/slack/incidents").len(),
        after_ack,
        "no reminders once acknowledged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_match_labels_of_the_alert_group() {
    let rec = Recorder::start(200);
    let app = spawn_app_with(|s| {
        receivers(s, &rec);
        s.routes = vec![firewatch::config::RouteSettings {
            matchers: [("team".to_string(), "db".to_string())].into(),
            receivers: vec!["alerts".into()],
            continue_matching: false,
        }];
    })
    .await;
    let mut msg = message("team", vec![alert("A", "i", "info", "firing")]);
    msg["commonLabels"]["team"] = json!("db");
    app.post_webhook_ok(&msg).await;
    rec.wait_for("/slack/alerts", 1).await;
    app.post_webhook_ok(&message(
        "other",
        vec![alert("B", "i", "critical", "firing")],
    ))
    .await;
    app.drain_notifications().await;
    assert_eq!(
        rec.seen("/slack/alerts").len(),
        1,
        "only the team=db incident matches"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_is_not_retried_after_a_later_message_to_the_same_receiver() {
    let rec = Recorder::start(202);
    rec.then(400, None);
    let app = spawn_app_with(|s| {
        receivers(s, &rec);
        s.receivers.retain(|r| r.name == "pager");
    })
    .await;
    let id = app
        .post_webhook_ok(&message("dl", vec![alert("A", "i", "critical", "firing")]))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    let items = wait_settled(&app, id).await;
    assert_eq!(items[0]["status"], "failed");
    let dead = items[0]["id"].as_i64().unwrap();
    // The incident is acknowledged while the trigger is a dead letter: no ack is sent
    // (PagerDuty never heard of it) -- so resolve by alert and check ordering protection.
    app.post_webhook_ok(&message(
        "dl",
        vec![alert("A", "i", "critical", "resolved")],
    ))
    .await;
    wait_settled(&app, id).await;
    let (code, body) = app
        .post_json(
            &format!("/api/v1/notifications/{dead}/retry"),
            &app.responder_token,
            &json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("out of order")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_from_alerts_reaches_slack_escaped() {
    let rec = Recorder::start(202);
    let app = spawn_app_with(|s| receivers(s, &rec)).await;
    let mut msg = message("mk", vec![alert("Evil", "i", "critical", "firing")]);
    msg["groupLabels"]["alertname"] = json!("<!channel> & <https://evil.example|docs>");
    msg["commonAnnotations"] = json!({"summary": "ping <!here> and <@U123>"});
    msg["commonLabels"]["service"] = json!("<svc>");
    app.post_webhook_ok(&msg).await;
    let slack = rec.wait_for("/slack/incidents", 1).await;
    let body = slack[0].body.to_string();
    for raw in ["<!channel>", "<!here>", "<@U123>", "<https://evil", "<svc>"] {
        assert!(!body.contains(raw), "{raw} reached Slack unescaped: {body}");
    }
    let text = slack[0].body["text"].as_str().unwrap();
    assert!(
        text.contains("&lt;!channel&gt; &amp; &lt;https://evil.example|docs&gt;"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_cannot_redirect_deliveries_or_echo_secrets_into_errors() {
    // PagerDuty's stand-in answers 400 echoing the whole request (routing key included);
    // Slack's redirects elsewhere.
    let redirected = Arc::new(Mutex::new(0usize));
    let hits = redirected.clone();
    let server = HttpServer::new(move || {
        let hits = hits.clone();
        App::new()
            .route(
                "/pagerduty",
                web::post().to(|body: web::Json<Value>| async move {
                    HttpResponse::BadRequest().body(format!(
                        "unknown key {} in {}",
                        body["routing_key"].as_str().unwrap_or(""),
                        body.0
                    ))
                }),
            )
            .route(
                "/services/T0000/B0000/SLACKSECRET0123",
                web::post().to(|| async {
                    HttpResponse::Found()
                        .insert_header(("Location", "/elsewhere"))
                        .finish()
                }),
            )
            .default_service(web::to(move || {
                *hits.lock().unwrap() += 1;
                async { HttpResponse::Ok().body("ok") }
            }))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let base = format!("http://127.0.0.1:{}", server.addrs()[0].port());
    tokio::spawn(server.run());
    let rec = Recorder::start(200);
    let app = spawn_app_with(|s| {
        receivers(s, &rec);
        s.receivers
            .retain(|r| r.name == "pager" || r.name == "incidents");
        s.receivers[0].url = Some(format!("{base}/pagerduty"));
        s.receivers[1].webhook_url = Some(format!("{base}/services/T0000/B0000/SLACKSECRET0123"));
    })
    .await;
    let id = app
        .post_webhook_ok(&message("r1", vec![alert("A", "i", "critical", "firing")]))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    let items = wait_settled(&app, id).await;
    assert_eq!(items.len(), 2, "{items:?}");
    for n in &items {
        assert_eq!(n["status"], "failed", "{n}");
        let error = n["last_error"].as_str().unwrap();
        assert!(!error.contains(ROUTING_KEY), "{error}");
        assert!(!error.contains("SLACKSECRET0123"), "{error}");
        match n["receiver"].as_str().unwrap() {
            "pager" => assert!(
                error.starts_with("HTTP 400") && error.contains("[redacted]"),
                "{error}"
            ),
            _ => assert!(error.contains("redirects are not followed"), "{error}"),
        }
    }
    assert_eq!(*redirected.lock().unwrap(), 0, "the redirect was followed");
}

/// A receiver that keeps failing is shown where people look, not only on Integrations:
/// a banner on the dashboard and on every incident page, with the receiver and error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_deliveries_show_a_banner_on_the_dashboard_and_incident_pages() {
    let rec = Recorder::start(500);
    let app = spawn_app_with(|s| {
        receivers(s, &rec);
        s.receivers.retain(|r| r.name == "pager");
        s.notify.max_attempts = 2;
    })
    .await;
    let cookie = viewer_session(&app, "olga").await;
    let (_, html) = app.page("/", &cookie).await;
    assert!(
        !html.contains("Notifications are failing"),
        "no banner while all is well"
    );
    let id = app
        .post_webhook_ok(&message("b1", vec![alert("A", "i", "critical", "firing")]))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    let items = wait_settled(&app, id).await;
    assert_eq!(items[0]["status"], "failed");
    for path in ["/".to_string(), format!("/incidents/{id}")] {
        let (code, html) = app.page(&path, &cookie).await;
        assert_eq!(code, StatusCode::OK);
        assert!(
            html.contains("Notifications are failing.")
                && html.contains("1 message could not be delivered in the last 24 hours")
                && html.contains("Latest: pager: HTTP 500"),
            "{path}: {html}"
        );
    }
}
