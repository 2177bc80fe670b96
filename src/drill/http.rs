//! The drill's side of the conversation: API calls, the Alertmanager notification it
//! sends, and waiting for the outbox to deliver.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Options, Outcome};

pub(super) const OPENING: &[&str] = &["triggered"];
pub(super) const CLOSING: &[&str] = &["acknowledged", "resolved"];

pub(super) struct Run<'a> {
    pub(super) o: &'a Options,
    pub(super) client: reqwest::Client,
    pub(super) started: Instant,
    pub(super) step_started: Instant,
    pub(super) say: &'a mut dyn FnMut(&str),
    pub(super) out: Outcome,
}

pub(super) type StepResult = Result<String, String>;

impl Run<'_> {
    pub(super) fn base(&self) -> &str {
        self.o.url.trim_end_matches('/')
    }

    pub(super) fn begin(&mut self) {
        self.step_started = Instant::now();
    }

    /// Prints one step: `  ok    0.04 s  +0.31 s  name: detail`.
    pub(super) fn report(&mut self, name: &str, result: &StepResult) {
        let took = self.step_started.elapsed().as_secs_f64();
        let at = self.started.elapsed().as_secs_f64();
        let (mark, detail) = match result {
            Ok(d) => {
                self.out.passed += 1;
                (paint(self.o.color, "32", "ok  "), d)
            }
            Err(e) => {
                self.out.failed += 1;
                (paint(self.o.color, "31", "FAIL"), e)
            }
        };
        (self.say)(&format!(
            "  {mark}  {took:>6.2} s  (at {at:>6.2} s)  {name}: {detail}\n"
        ));
    }

    pub(super) fn skip(&mut self, name: &str, why: &str) {
        self.out.failed += 1;
        let mark = paint(self.o.color, "33", "skip");
        (self.say)(&format!(
            "  {mark}                          {name}: {why}\n"
        ));
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base()))
            .bearer_auth(&self.o.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        crate::status::api_call(req, &self.o.url, path, |status, msg| match status {
            401 => Some(format!(
                "{path}: unauthorized ({msg}); pass a responder's API token"
            )),
            403 => Some(format!(
                "{path}: forbidden ({msg}); the token needs the responder role"
            )),
            _ => None,
        })
        .await
    }

    pub(super) async fn get(&self, path: &str) -> Answer {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub(super) async fn post(&self, path: &str, body: Option<Value>) -> Answer {
        self.call(reqwest::Method::POST, path, body).await
    }
}

type Answer = Result<Value, String>;

/// Where Alertmanager posts (the drill is a client of the server, like Alertmanager).
pub(super) const WEBHOOK: &str = "/api/v1/alerts/alertmanager";

pub(super) fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// The drill's Alertmanager notification: one alert, a group of its own.
pub fn notification(o: &Options, drill_id: &str, who: &str, firing: bool, now: &str) -> Value {
    let labels = json!({
        "alertname": "FirewatchDrill",
        "service": o.service,
        "severity": "P0",
        "firewatch_drill": if o.page { "page" } else { "true" },
        "drill_id": drill_id,
    });
    let annotations = json!({
        "title": format!("Drill: simulated P0 on {}", o.service),
        "summary": format!(
            "A drill started by {who} with `firewatch drill`: nothing is broken. \
             Acknowledge and resolve it as you would a real P0."
        ),
    });
    let status = if firing { "firing" } else { "resolved" };
    json!({
        "version": "4",
        "groupKey": format!("{{}}/{{firewatch_drill=~\".+\"}}:{{drill_id=\"{drill_id}\"}}"),
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "firewatch-drill",
        "groupLabels": {"drill_id": drill_id},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "",
        "alerts": [{
            "status": status,
            "labels": labels,
            "annotations": annotations,
            "startsAt": now,
            "endsAt": if firing { "0001-01-01T00:00:00Z".to_string() } else { crate::time::rfc3339(crate::time::now_ms()) },
            "generatorURL": "",
            "fingerprint": crate::auth::sha256_hex(drill_id)[..16].to_string(),
        }],
    })
}

/// Notifications of `incident` whose event is one of `events`: (delivered, pending,
/// failed with their errors).
async fn messages(run: &Run<'_>, incident: i64, events: &[&str]) -> Result<Messages, String> {
    let v = run
        .get(&format!(
            "/api/v1/notifications?incident={incident}&limit=1000"
        ))
        .await?;
    let mut m = Messages::default();
    for n in v["items"].as_array().into_iter().flatten() {
        if !events.contains(&n["event"].as_str().unwrap_or("")) {
            continue;
        }
        let who = format!(
            "{} ({})",
            n["receiver"].as_str().unwrap_or("?"),
            n["channel"].as_str().unwrap_or("?")
        );
        match n["status"].as_str() {
            Some("delivered") => m.delivered.push(who),
            Some("failed") => m.failed.push(format!(
                "{who}: {}",
                n["last_error"].as_str().unwrap_or("failed")
            )),
            _ => m.pending.push(match n["last_error"].as_str() {
                Some(e) => format!("{who}: retrying after {e}"),
                None => {
                    m.unattempted += 1;
                    who
                }
            }),
        }
    }
    m.delivered.sort();
    m.delivered.dedup();
    Ok(m)
}

#[derive(Default)]
struct Messages {
    delivered: Vec<String>,
    pending: Vec<String>,
    failed: Vec<String>,
    /// Pending messages not tried yet.
    unattempted: usize,
}

/// Waits until the messages of `events` are all delivered (or one failed, or time is up).
pub(super) async fn wait_delivered(run: &Run<'_>, incident: i64, events: &[&str]) -> StepResult {
    let deadline = Instant::now() + run.o.wait;
    loop {
        let m = messages(run, incident, events).await?;
        // Every receiver that fails is named: wait for those not tried yet.
        if !m.failed.is_empty() && (m.unattempted == 0 || Instant::now() >= deadline) {
            return Err(format!("delivery failed: {}", m.failed.join("; ")));
        }
        if m.pending.is_empty() && !m.delivered.is_empty() {
            return Ok(format!("delivered to {}", m.delivered.join(", ")));
        }
        // Messages are queued with the change that causes them: none now means none.
        if m.delivered.is_empty() && m.pending.is_empty() {
            return Err(format!(
                "no receiver was sent a message; is a [[receiver]] routed for a P0 on \
                 service {}? (README \"Notifications\")",
                run.o.service
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "not delivered within {} s: {}",
                run.o.wait.as_secs(),
                m.pending.join("; ")
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Timeline lines of `kind` on the incident (why messages were held, PagerDuty left out).
pub(super) async fn timeline_lines(run: &Run<'_>, incident: i64, kind: &str) -> Vec<String> {
    let Ok(v) = run
        .get(&format!("/api/v1/incidents/{incident}/timeline"))
        .await
    else {
        return Vec::new();
    };
    v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == kind)
        .filter_map(|e| e["message"].as_str().map(str::to_string))
        .collect()
}
