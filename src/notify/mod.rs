//! Notifications: routing incident events to receivers (Slack, PagerDuty, email,
//! webhooks) through a durable outbox.
//!
//! An incident change and the outbox rows it causes are written in one transaction: the
//! [`Notifications`] service plugs into the incidents as their event sink, and
//! `routing::enqueue` runs inside the writer's job. The worker (`worker::run_once`)
//! delivers due rows with retries; every attempt lands on the incident's timeline.

pub mod channels;
pub mod email;
pub mod outbox;
mod routing;
mod service;
mod settings;
pub mod silences;
pub mod worker;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::{ReceiverType, SmtpTls};
use crate::severity::Severity;

pub use routing::matchers_hold;
pub use service::{Notifications, NotifyError, ReceiverState};

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
    /// The on-call handover: a message of its own, no incident.
    Handover,
    /// A required post-mortem is past its due date (a message of its own).
    PostmortemDue,
    /// An action item of the incident's post-mortem is overdue (a message of its own).
    ActionItemOverdue,
    /// The monthly SLO report (message: `YYYY-MM#revision`), emailed with its PDF.
    Report,
    /// Self-healing gave up on a target: a person is needed (a message of its own).
    HealingFailed,
}

impl From<crate::incidents::Event> for Event {
    fn from(e: crate::incidents::Event) -> Self {
        use crate::incidents::Event as E;
        match e {
            E::Triggered => Event::Triggered,
            E::Escalated => Event::Escalated,
            E::Acknowledged => Event::Acknowledged,
            E::Resolved => Event::Resolved,
            E::Reopened => Event::Reopened,
        }
    }
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
            Event::Handover => "handover",
            Event::PostmortemDue => "postmortem_due",
            Event::ActionItemOverdue => "action_item_overdue",
            Event::Report => "report",
            Event::HealingFailed => "healing_failed",
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
            "handover" => Event::Handover,
            "postmortem_due" => Event::PostmortemDue,
            "action_item_overdue" => Event::ActionItemOverdue,
            "report" => Event::Report,
            "healing_failed" => Event::HealingFailed,
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

/// The receiver that emails the monthly report to `[reports] recipients`.
pub const REPORT_RECEIVER: &str = "monthly-report";

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
    /// The longest a silence may last.
    pub max_silence: Duration,
    /// Silences longer than this are shown as long.
    pub long_silence: Duration,
}

impl NotifyConfig {
    pub fn receiver(&self, name: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.name == name)
    }

    /// Who an incident of `severity` without service or labels reaches, for people:
    /// "pager (pagerduty)" per receiver.
    pub fn reaches(&self, severity: Severity) -> Vec<String> {
        self.route(severity, "", &BTreeMap::new())
            .into_iter()
            .map(|name| match self.receiver(&name) {
                Some(r) => format!("{name} ({})", r.channel()),
                None => name,
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_receiver_type_has_its_channel_exported_from_the_start() {
        for kind in [
            ReceiverType::Slack,
            ReceiverType::Pagerduty,
            ReceiverType::Email,
            ReceiverType::Webhook,
        ] {
            let r = Receiver {
                name: "r".into(),
                kind,
                url: String::new(),
                routing_key: String::new(),
                to: Vec::new(),
                secret: None,
            };
            assert!(
                crate::telemetry::CHANNELS.contains(&r.channel()),
                "{kind:?}"
            );
        }
    }
}
