//! Notifications: routing incident events to receivers (Slack, PagerDuty, email,
//! webhooks) through a durable outbox.
//!
//! An incident change and the outbox rows it causes are written in one transaction
//! (`enqueue` runs inside the writer's job). The worker (`worker::run_once`) delivers due
//! rows with retries; every attempt lands on the incident's timeline.

pub mod channels;
pub mod outbox;
pub mod silences;
pub mod worker;

use std::collections::BTreeMap;
use std::time::Duration;

use rusqlite::Connection;

use crate::config::{ReceiverType, Settings, SmtpSettings, SmtpTls, parse_duration, read_secret};
use crate::incidents::Severity;

/// What happened to an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Triggered,
    Escalated,
    Acknowledged,
    Resolved,
    Reopened,
    /// A P0 still unacknowledged after `notify.reminder_interval`.
    Reminder,
    Test,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Triggered => "triggered",
            Event::Escalated => "escalated",
            Event::Acknowledged => "acknowledged",
            Event::Resolved => "resolved",
            Event::Reopened => "reopened",
            Event::Reminder => "reminder",
            Event::Test => "test",
        }
    }
    pub fn parse(s: &str) -> Event {
        match s {
            "escalated" => Event::Escalated,
            "acknowledged" => Event::Acknowledged,
            "resolved" => Event::Resolved,
            "reopened" => Event::Reopened,
            "reminder" => Event::Reminder,
            "test" => Event::Test,
            _ => Event::Triggered,
        }
    }
}

/// A receiver with its secrets resolved. Debug output never shows secrets.
#[derive(Clone)]
pub struct Receiver {
    pub name: String,
    pub kind: ReceiverType,
    pub url: String,
    pub routing_key: String,
    pub to: Vec<String>,
    pub secret: Option<String>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("target", &self.masked_target())
            .finish()
    }
}

impl Receiver {
    pub fn channel(&self) -> &'static str {
        match self.kind {
            ReceiverType::Slack => "slack",
            ReceiverType::Pagerduty => "pagerduty",
            ReceiverType::Email => "email",
            ReceiverType::Webhook => "webhook",
        }
    }

    /// Where it sends, with secrets masked: for the UI and logs.
    pub fn masked_target(&self) -> String {
        match self.kind {
            ReceiverType::Email => self.to.join(", "),
            ReceiverType::Pagerduty => format!(
                "{} (routing key …{})",
                mask_url(&self.url),
                self.routing_key
                    .chars()
                    .rev()
                    .take(4)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<String>()
            ),
            _ => mask_url(&self.url),
        }
    }
}

/// Keeps scheme and host, hides the path (Slack webhook URLs are secrets).
pub fn mask_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            // Only scheme, host and port: paths, queries and user:password@ can all be secret.
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = authority.rsplit('@').next().unwrap_or("");
            if rest.len() > authority.len() + 1 || authority.contains('@') || rest.contains('?') {
                format!("{scheme}://{host}/…")
            } else {
                format!("{scheme}://{host}")
            }
        }
        None => "…".into(),
    }
}

#[derive(Debug, Clone)]
pub struct Route {
    pub matchers: BTreeMap<String, String>,
    pub receivers: Vec<String>,
    pub continue_matching: bool,
}

#[derive(Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub from: String,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Smtp({}:{} {:?})", self.host, self.port, self.tls)
    }
}

/// Validated notification settings.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub receivers: Vec<Receiver>,
    pub routes: Vec<Route>,
    pub smtp: Option<Smtp>,
    pub poll_interval: Duration,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    pub max_attempts: u32,
    pub timeout: Duration,
    /// Remind about unacknowledged P0 incidents this often; zero disables reminders.
    pub reminder_interval: Duration,
    /// An open P0 incident for a service holds back P2-P4 messages for that service.
    pub inhibit: bool,
    /// Base URL for links back to Firewatch.
    pub public_url: String,
}

const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

fn secret(
    field: &str,
    value: &Option<String>,
    file: &Option<std::path::PathBuf>,
) -> Result<Option<String>, (String, String)> {
    match (value, file) {
        (Some(_), Some(_)) => Err((
            field.into(),
            format!("set {field} or {field}_file, not both"),
        )),
        (Some(v), None) => Ok(Some(v.trim().to_string())),
        (None, Some(f)) => read_secret(f)
            .map(Some)
            .map_err(|m| (format!("{field}_file"), m)),
        (None, None) => Ok(None),
    }
}

impl NotifyConfig {
    pub fn from_settings(s: &Settings) -> Result<Self, (String, String)> {
        let dur = |field: &str, v: &str| parse_duration(v).map_err(|m| (field.to_string(), m));
        let mut receivers = Vec::new();
        for (i, r) in s.receivers.iter().enumerate() {
            let at = |f: &str| format!("receiver[{i}] ({}).{f}", r.name);
            if r.name.trim().is_empty() || receivers.iter().any(|x: &Receiver| x.name == r.name) {
                return Err((at("name"), "must be present and unique".into()));
            }
            let url = secret("webhook_url", &r.webhook_url, &r.webhook_url_file)
                .map_err(|(f, m)| (at(&f), m))?;
            let routing_key = secret("routing_key", &r.routing_key, &r.routing_key_file)
                .map_err(|(f, m)| (at(&f), m))?;
            let hmac = secret("secret", &r.secret, &r.secret_file).map_err(|(f, m)| (at(&f), m))?;
            let need_url = |u: Option<String>, f: &str| match u {
                Some(u) if u.starts_with("http://") || u.starts_with("https://") => Ok(u),
                _ => Err((at(f), "an http(s) URL is required".to_string())),
            };
            let (url, routing_key) = match r.kind {
                ReceiverType::Slack | ReceiverType::Webhook => {
                    (need_url(url, "webhook_url")?, String::new())
                }
                ReceiverType::Pagerduty => {
                    let key = routing_key
                        .filter(|k| !k.is_empty())
                        .ok_or_else(|| (at("routing_key"), "is required".to_string()))?;
                    (
                        need_url(
                            Some(r.url.clone().unwrap_or_else(|| PAGERDUTY_URL.into())),
                            "url",
                        )?,
                        key,
                    )
                }
                ReceiverType::Email => {
                    if r.to.is_empty() || r.to.iter().any(|t| !t.contains('@')) {
                        return Err((at("to"), "list one or more email addresses".into()));
                    }
                    if s.smtp.is_none() {
                        return Err((at("type"), "email receivers need an [smtp] section".into()));
                    }
                    (String::new(), String::new())
                }
            };
            receivers.push(Receiver {
                name: r.name.clone(),
                kind: r.kind,
                url,
                routing_key,
                to: r.to.clone(),
                secret: hmac,
            });
        }
        let routes: Vec<Route> = if s.routes.is_empty() {
            default_routes(&receivers)
        } else {
            s.routes
                .iter()
                .map(|r| Route {
                    matchers: r.matchers.clone(),
                    receivers: r.receivers.clone(),
                    continue_matching: r.continue_matching,
                })
                .collect()
        };
        for (i, r) in routes.iter().enumerate() {
            for name in &r.receivers {
                if !receivers.iter().any(|x| x.name == *name) {
                    return Err((
                        format!("route[{i}].receivers"),
                        format!("no receiver named `{name}`"),
                    ));
                }
            }
            if let Some(sev) = r.matchers.get("severity")
                && sev.parse::<Severity>().is_err()
            {
                return Err((
                    format!("route[{i}].match.severity"),
                    format!("`{sev}` is not P0..P4"),
                ));
            }
        }
        let smtp = match &s.smtp {
            None => None,
            Some(SmtpSettings {
                host,
                port,
                tls,
                from,
                username,
                password,
                password_file,
            }) => Some(Smtp {
                host: host.clone(),
                port: *port,
                tls: *tls,
                from: from.clone(),
                username: username.clone(),
                password: secret("smtp.password", password, password_file)?,
            }),
        };
        let public_url = match &s.server.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{}", s.server.listen.replace("0.0.0.0", "localhost")),
        };
        Ok(Self {
            receivers,
            routes,
            smtp,
            poll_interval: dur("notify.poll_interval", &s.notify.poll_interval)?,
            base_backoff: dur("notify.base_backoff", &s.notify.base_backoff)?,
            max_backoff: dur("notify.max_backoff", &s.notify.max_backoff)?,
            max_attempts: s.notify.max_attempts.max(1),
            timeout: dur("notify.timeout", &s.notify.timeout)?,
            reminder_interval: dur("notify.reminder_interval", &s.notify.reminder_interval)?,
            inhibit: s.notify.inhibit,
            public_url,
        })
    }

    pub fn receiver(&self, name: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.name == name)
    }

    /// Receivers for an incident: routes in order, the first match wins unless it says
    /// `continue`.
    pub fn route(
        &self,
        severity: Severity,
        service: &str,
        labels: &BTreeMap<String, String>,
    ) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.routes {
            if matchers_hold(&r.matchers, severity, service, labels) {
                for name in &r.receivers {
                    if !out.contains(name) {
                        out.push(name.clone());
                    }
                }
                if !r.continue_matching {
                    break;
                }
            }
        }
        out
    }
}

/// Without `[[route]]`s: P0 -> every PagerDuty receiver, the Slack receiver named
/// "incidents" and every email receiver; P1 -> Slack "incidents"; P2 -> Slack "alerts";
/// P3/P4 -> the UI only. Webhook receivers get everything from P0 to P2.
fn default_routes(receivers: &[Receiver]) -> Vec<Route> {
    let names = |f: &dyn Fn(&Receiver) -> bool| -> Vec<String> {
        receivers
            .iter()
            .filter(|r| f(r))
            .map(|r| r.name.clone())
            .collect()
    };
    let slack = |n: &'static str| move |r: &Receiver| r.kind == ReceiverType::Slack && r.name == n;
    let webhook = |r: &Receiver| r.kind == ReceiverType::Webhook;
    let mut p0 = names(&|r| r.kind == ReceiverType::Pagerduty);
    p0.extend(names(&slack("incidents")));
    p0.extend(names(&|r| r.kind == ReceiverType::Email));
    p0.extend(names(&webhook));
    let mut p1 = names(&slack("incidents"));
    p1.extend(names(&webhook));
    let mut p2 = names(&slack("alerts"));
    p2.extend(names(&webhook));
    [("P0", p0), ("P1", p1), ("P2", p2)]
        .into_iter()
        .map(|(sev, receivers)| Route {
            matchers: [("severity".to_string(), sev.to_string())]
                .into_iter()
                .collect(),
            receivers,
            continue_matching: false,
        })
        .collect()
}

/// Why an incident's messages are held back, if they are.
fn held_back(
    conn: &Connection,
    cfg: &NotifyConfig,
    incident_id: i64,
    facts: &outbox::RoutingFacts,
    now: i64,
) -> rusqlite::Result<Option<String>> {
    let (severity, service, labels) = facts;
    for silence in outbox::active_silences(conn, now)? {
        if matchers_hold(&silence.matchers, *severity, service, labels) {
            return Ok(Some(format!(
                "silenced by silence #{} ({}) until {}",
                silence.id,
                silence.comment,
                crate::time::short(silence.ends_at)
            )));
        }
    }
    if cfg.inhibit
        && *severity >= Severity::P2
        && !service.is_empty()
        && let Some(p0) = outbox::open_p0_for_service(conn, service, incident_id)?
    {
        return Ok(Some(format!(
            "inhibited: P0 incident #{p0} is open for service {service}"
        )));
    }
    Ok(None)
}

/// Whether every matcher holds for an incident (`severity`, `service`, or a label).
pub fn matchers_hold(
    matchers: &BTreeMap<String, String>,
    severity: Severity,
    service: &str,
    labels: &BTreeMap<String, String>,
) -> bool {
    matchers.iter().all(|(k, v)| match k.as_str() {
        "severity" => v.eq_ignore_ascii_case(severity.as_str()),
        "service" => v == service,
        other => labels.get(other) == Some(v),
    })
}

/// Queues the notifications an incident event causes, inside the caller's transaction.
/// Escalations only reach receivers that have not heard of the incident yet; silences
/// and inhibition hold messages back and say so on the timeline.
pub fn enqueue(
    conn: &Connection,
    cfg: &NotifyConfig,
    incident_id: i64,
    event: Event,
    now: i64,
) -> rusqlite::Result<usize> {
    if cfg.receivers.is_empty() {
        return Ok(0);
    }
    let Some(facts) = outbox::routing_facts(conn, incident_id)? else {
        return Ok(0);
    };
    let opening = matches!(
        event,
        Event::Triggered | Event::Escalated | Event::Reopened | Event::Reminder
    );
    if opening && let Some(why) = held_back(conn, cfg, incident_id, &facts, now)? {
        // Reminders are re-checked every tick; saying so each time would flood the timeline.
        if event == Event::Reminder {
            return Ok(0);
        }
        crate::incidents::repo::add_timeline(
            conn,
            incident_id,
            now,
            "notification_held",
            "firewatch",
            &format!("Notifications held back ({}): {why}", event.as_str()),
            None,
        )?;
        return Ok(0);
    }
    let (severity, service, labels) = facts;
    let mut n = 0;
    for name in cfg.route(severity, &service, &labels) {
        let Some(r) = cfg.receiver(&name) else {
            continue;
        };
        let already = outbox::has_opening_message(conn, incident_id, &name)?;
        let event = match event {
            // A receiver that never got the opening message gets it now.
            Event::Escalated if already => continue,
            Event::Escalated => Event::Triggered,
            // Acknowledgements and resolutions only go where the incident was announced.
            Event::Acknowledged | Event::Resolved | Event::Reminder if !already => continue,
            // PagerDuty escalates on its own; a repeated trigger would change nothing.
            Event::Reminder if r.kind == ReceiverType::Pagerduty => continue,
            e => e,
        };
        outbox::insert(
            conn,
            Some(incident_id),
            &name,
            r.channel(),
            event.as_str(),
            now,
        )?;
        n += 1;
    }
    Ok(n)
}

/// Queues a test message for a receiver (the Integrations page's "Send test").
pub async fn queue_test(
    db: &crate::db::Db,
    receiver: &Receiver,
) -> Result<i64, crate::db::StoreError> {
    let (name, channel) = (receiver.name.clone(), receiver.channel());
    db.write(move |c| {
        Ok::<_, crate::db::StoreError>(outbox::insert(
            c,
            None,
            &name,
            channel,
            Event::Test.as_str(),
            crate::time::now_ms(),
        )?)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(toml: &str) -> NotifyConfig {
        let s: Settings =
            figment::Figment::from(figment::providers::Serialized::defaults(Settings::default()))
                .merge(<figment::providers::Toml as figment::providers::Format>::string(toml))
                .extract()
                .unwrap();
        NotifyConfig::from_settings(&s).unwrap()
    }

    const RECEIVERS: &str = r#"
[smtp]
host = "127.0.0.1"
from = "fw@example.com"
[[receiver]]
name = "pager"
type = "pagerduty"
routing_key = "0123456789abcdef0123456789abcdef"
[[receiver]]
name = "incidents"
type = "slack"
webhook_url = "https://hooks.slack.com/services/T0/B0/SECRET"
[[receiver]]
name = "alerts"
type = "slack"
webhook_url = "https://hooks.slack.com/services/T0/B1/SECRET"
[[receiver]]
name = "oncall-mail"
type = "email"
to = ["oncall@example.com"]
"#;

    #[test]
    fn default_routes_follow_the_seed_escalation_policy() {
        let c = cfg(RECEIVERS);
        let none = BTreeMap::new();
        assert_eq!(
            c.route(Severity::P0, "x", &none),
            ["pager", "incidents", "oncall-mail"]
        );
        assert_eq!(c.route(Severity::P1, "x", &none), ["incidents"]);
        assert_eq!(c.route(Severity::P2, "x", &none), ["alerts"]);
        assert!(c.route(Severity::P3, "x", &none).is_empty());
    }

    #[test]
    fn the_first_matching_route_wins_unless_it_continues() {
        let c = cfg(&format!(
            "{RECEIVERS}
[[route]]
match = {{ service = \"payments\" }}
receivers = [\"pager\"]
continue = true
[[route]]
match = {{ team = \"db\" }}
receivers = [\"oncall-mail\"]
[[route]]
match = {{ severity = \"P0\" }}
receivers = [\"incidents\"]
"
        ));
        let db: BTreeMap<String, String> = [("team".to_string(), "db".to_string())].into();
        assert_eq!(
            c.route(Severity::P0, "payments", &db),
            ["pager", "oncall-mail"]
        );
        assert_eq!(
            c.route(Severity::P0, "web", &BTreeMap::new()),
            ["incidents"]
        );
        assert!(c.route(Severity::P2, "web", &BTreeMap::new()).is_empty());
    }

    #[test]
    fn secrets_are_masked_in_debug_and_ui() {
        let c = cfg(RECEIVERS);
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("SECRET") && !dbg.contains("0123456789abcdef0123"),
            "{dbg}"
        );
        assert_eq!(c.receivers[1].masked_target(), "https://hooks.slack.com/…");
        assert_eq!(
            mask_url("https://h.example?token=SECRET"),
            "https://h.example/…"
        );
        assert_eq!(
            mask_url("https://user:pw@h.example:8443/x"),
            "https://h.example:8443/…"
        );
        assert_eq!(mask_url("https://h.example/"), "https://h.example");
        assert!(c.receivers[0].masked_target().ends_with("…cdef)"));
    }
}
