//! Message formats and delivery for each channel. Formats are pure functions of the
//! incident and the event, so tests can check the exact JSON.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{Event, NotifyConfig, Receiver};
use crate::config::ReceiverType;
use crate::incidents::{Incident, Severity};

/// The result of one delivery attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Delivered,
    /// Worth retrying; `after` is the receiver's Retry-After when it gave one.
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// Retrying cannot help (e.g. 400 invalid payload, 404 unknown channel).
    Permanent(String),
}

/// What a message is about: an incident, or a test of the receiver.
pub struct Subject<'a> {
    pub incident: Option<&'a Incident>,
    pub event: Event,
    pub public_url: &'a str,
    /// The text of a message without an incident (an on-call handover).
    pub message: Option<&'a str>,
}

impl Subject<'_> {
    pub(super) fn link(&self) -> String {
        match (self.incident, self.event) {
            (Some(i), _) => format!("{}/incidents/{}", self.public_url, i.id),
            (None, Event::Handover) => format!("{}/oncall", self.public_url),
            (None, Event::Report) => format!("{}/reports", self.public_url),
            (None, _) => format!("{}/integrations", self.public_url),
        }
    }

    fn verb(&self) -> &'static str {
        match self.event {
            Event::Triggered => "opened",
            Event::Escalated => "escalated",
            Event::Acknowledged => "acknowledged",
            Event::Resolved => "resolved",
            Event::Reopened => "reopened",
            Event::Reminder => "still unacknowledged",
            Event::Test => "test",
            Event::Handover => "on-call handover",
            Event::PostmortemDue => "post-mortem overdue",
            Event::ActionItemOverdue => "action item overdue",
            Event::Report => "monthly SLO report",
            Event::HealingFailed => "self-healing did not help",
        }
    }

    /// One line: `[P0] #12 HighErrorRate on checkout: opened`; a drill's starts with
    /// `DRILL`.
    pub fn headline(&self) -> String {
        match self.incident {
            Some(i) => {
                let drill = if i.drill { "DRILL " } else { "" };
                match self.message {
                    // A follow-up (post-mortem or action item overdue) says its own words.
                    Some(m) => format!("{drill}[{}] #{} {}: {m}", i.severity, i.id, i.title),
                    None => format!(
                        "{drill}[{}] #{} {}: {}",
                        i.severity,
                        i.id,
                        i.title,
                        self.verb()
                    ),
                }
            }
            None => match (self.event, self.message) {
                (Event::Handover, Some(m)) => m.to_string(),
                _ => "Firewatch test notification: this receiver works".to_string(),
            },
        }
    }
}

pub fn severity_colour(s: Severity) -> &'static str {
    match s {
        Severity::P0 => "#dc2626",
        Severity::P1 => "#ea580c",
        Severity::P2 => "#ca8a04",
        Severity::P3 => "#2563eb",
        Severity::P4 => "#6b7280",
    }
}

pub(super) fn status_word(i: &Incident, event: Event) -> String {
    match event {
        Event::Acknowledged => format!(
            "Acknowledged by {}",
            i.acknowledged_by.as_deref().unwrap_or("someone")
        ),
        Event::Resolved => format!(
            "Resolved by {}",
            i.resolved_by.as_deref().unwrap_or("someone")
        ),
        _ => "Triggered".to_string(),
    }
}

/// Text from alerts and people made safe for Slack: `<!channel>` or `<https://x|y>` in an
/// annotation must show as written, not ping a channel or disguise a link (Slack's own
/// escaping rule: `&`, `<` and `>` only).
pub fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Slack incoming-webhook body: Block Kit blocks, a plain-text fallback in `text`, and the
/// severity colour on an attachment bar. Every text Slack parses is escaped.
pub fn slack_message(s: &Subject) -> Value {
    let link = s.link();
    let headline = slack_escape(&s.headline());
    let Some(i) = s.incident else {
        return json!({
            "text": headline,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": format!(
                "{headline} <{link}|{}>",
                if s.event == Event::Handover { "On-call card" } else { "Open Firewatch" }
            )}}]
        });
    };
    let mut fields = vec![
        json!({"type": "mrkdwn", "text": format!("*Status:*\n{}", slack_escape(&status_word(i, s.event)))}),
        json!({"type": "mrkdwn", "text": format!("*Severity:*\n{}", i.severity)}),
    ];
    if !i.service.is_empty() {
        fields.push(
            json!({"type": "mrkdwn", "text": format!("*Service:*\n{}", slack_escape(&i.service))}),
        );
    }
    if i.alert_count > 0 {
        fields.push(json!({"type": "mrkdwn", "text": format!("*Alerts:*\n{} of {} firing", i.firing_count, i.alert_count)}));
    }
    if let Some(c) = &i.commander {
        fields
            .push(json!({"type": "mrkdwn", "text": format!("*Commander:*\n{}", slack_escape(c))}));
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&slack_escape(&format!("[{}] #{} {}", i.severity, i.id, i.title)), 150), "emoji": true}}),
        json!({"type": "section", "fields": fields}),
    ];
    if !i.description.is_empty() {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&slack_escape(&i.description), 2900)}}));
    }
    let mut buttons = vec![
        json!({"type": "button", "text": {"type": "plain_text", "text": "Open incident"}, "url": link, "style": "primary"}),
    ];
    if s.event != Event::Resolved {
        let label = if s.event == Event::Acknowledged {
            "Resolve"
        } else {
            "Acknowledge / resolve"
        };
        buttons.push(json!({"type": "button", "text": {"type": "plain_text", "text": label}, "url": format!("{link}#actions")}));
    }
    if let Some(r) = &i.runbook_url {
        buttons.push(
            json!({"type": "button", "text": {"type": "plain_text", "text": "Runbook"}, "url": r}),
        );
    }
    blocks.push(json!({"type": "actions", "elements": buttons}));
    json!({
        "text": headline,
        "blocks": blocks,
        "attachments": [{
            "color": severity_colour(i.severity),
            "fallback": headline,
            "blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": format!("<{link}|Incident #{}> in Firewatch", i.id)}]}]
        }]
    })
}

pub fn pagerduty_dedup_key(incident_id: i64) -> String {
    format!("firewatch-incident-{incident_id}")
}

pub fn pagerduty_severity(s: Severity) -> &'static str {
    match s {
        Severity::P0 => "critical",
        Severity::P1 => "error",
        Severity::P2 => "warning",
        _ => "info",
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        text.chars().take(max_chars - 1).collect::<String>() + "…"
    }
}

/// PagerDuty Events API v2 body. Trigger carries the payload; acknowledge and resolve
/// only the routing key, dedup key and action. The dedup key is stable per incident.
pub fn pagerduty_event(routing_key: &str, s: &Subject) -> Value {
    let link = s.link();
    let Some(i) = s.incident else {
        return json!({
            "routing_key": routing_key,
            "event_action": "trigger",
            "dedup_key": "firewatch-test",
            "payload": {"summary": s.headline(), "source": "firewatch", "severity": "info"},
            "client": "Firewatch",
            "client_url": link,
        });
    };
    let dedup_key = pagerduty_dedup_key(i.id);
    match s.event {
        Event::Acknowledged => {
            json!({"routing_key": routing_key, "event_action": "acknowledge", "dedup_key": dedup_key})
        }
        Event::Resolved => {
            json!({"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key})
        }
        _ => {
            let mut details = json!({
                "incident_id": i.id,
                "status": i.status.as_str(),
                "firing_alerts": i.firing_count,
                "alerts": i.alert_count,
            });
            if let Some(g) = &i.group_key {
                details["alertmanager_group_key"] = json!(g);
            }
            if let Some(r) = &i.runbook_url {
                details["runbook_url"] = json!(r);
            }
            let mut links =
                vec![json!({"href": link, "text": format!("Firewatch incident #{}", i.id)})];
            if let Some(r) = &i.runbook_url {
                links.push(json!({"href": r, "text": "Runbook"}));
            }
            json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": dedup_key,
                "payload": {
                    "summary": truncate(&format!("{}[{}] #{} {}", if i.drill { "DRILL " } else { "" }, i.severity, i.id, i.title), 1024),
                    "source": if i.service.is_empty() { "firewatch".to_string() } else { i.service.clone() },
                    "severity": pagerduty_severity(i.severity),
                    "timestamp": crate::time::rfc3339(i.created_at),
                    "component": i.service,
                    "group": i.service,
                    "class": i.title,
                    "custom_details": details,
                },
                "client": "Firewatch",
                "client_url": link,
                "links": links,
            })
        }
    }
}

/// Generic webhook body.
pub fn webhook_body(s: &Subject) -> Value {
    json!({
        "version": "1",
        "event": s.event.as_str(),
        "summary": s.headline(),
        "url": s.link(),
        "incident": s.incident,
    })
}

pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn retry_after(res: &reqwest::Response) -> Option<Duration> {
    let v = res
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Posts `body` to a receiver. What comes back in an error (the answer's first 200
/// characters) has the receiver's secrets redacted: some services echo the request.
async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    extra: Option<(&str, String)>,
    secrets: &[&str],
) -> Delivery {
    let bytes = serde_json::to_vec(body).expect("JSON serializes");
    let mut req = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    if let Some((k, v)) = extra {
        req = req.header(k, v);
    }
    match req.body(bytes).send().await {
        Err(e) => Delivery::Retry {
            error: format!("request failed: {}", crate::net::describe(&e)),
            after: None,
        },
        Ok(res) => {
            let status = res.status();
            let after = retry_after(&res);
            if status.is_success() {
                return Delivery::Delivered;
            }
            // Redacted before it is cut, so the cut cannot leave half a secret behind.
            let mut secrets = secrets.to_vec();
            secrets.push(url);
            let text = crate::net::redact(&crate::net::read_prefix(res, 4096).await, &secrets);
            let text: String = text.chars().take(200).collect();
            if status.is_redirection() {
                return Delivery::Permanent(format!(
                    "HTTP {status}: redirects are not followed; configure the final URL"
                ));
            }
            match status.as_u16() {
                408 | 429 | 500..=599 => Delivery::Retry {
                    error: format!("HTTP {status} {text}").trim().to_string(),
                    after,
                },
                _ => Delivery::Permanent(format!("HTTP {status} {text}").trim().to_string()),
            }
        }
    }
}

/// Sends one message to one receiver.
pub async fn deliver(
    client: &reqwest::Client,
    cfg: &NotifyConfig,
    r: &Receiver,
    s: &Subject<'_>,
) -> Delivery {
    match r.kind {
        ReceiverType::Slack => post_json(client, &r.url, &slack_message(s), None, &[]).await,
        ReceiverType::Pagerduty => {
            let event = pagerduty_event(&r.routing_key, s);
            post_json(client, &r.url, &event, None, &[&r.routing_key]).await
        }
        ReceiverType::Webhook => {
            let body = webhook_body(s);
            let sig = r.secret.as_deref().map(|k| {
                let bytes = serde_json::to_vec(&body).expect("JSON serializes");
                ("X-Firewatch-Signature", sign(k, &bytes))
            });
            let secret = r.secret.as_deref().unwrap_or("");
            post_json(client, &r.url, &body, sig, &[secret]).await
        }
        ReceiverType::Email => super::email::send(cfg, r, s).await,
    }
}
