//! Alertmanager webhook payloads (version 4, as sent by Alertmanager 0.25+) and their
//! intake into incidents: validated here, applied by `ingest` in one transaction.

pub mod ingest;
pub mod prepare;
pub mod rules;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use crate::db::Db;
use crate::incidents::{EventSink, IncidentError};
pub use ingest::Outcome;
pub use rules::SeverityRules;

/// The webhook body. Unknown fields (e.g. `notification_reason`, `routeLabels` in newer
/// Alertmanagers) are ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookMessage {
    pub version: String,
    pub group_key: String,
    #[serde(default)]
    pub truncated_alerts: u64,
    pub status: String,
    #[serde(default)]
    pub receiver: String,
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(rename = "externalURL", default)]
    pub external_url: String,
    pub alerts: Vec<WebhookAlert>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAlert {
    pub status: String,
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub starts_at: String,
    #[serde(default)]
    pub ends_at: Option<String>,
    #[serde(rename = "generatorURL", default)]
    pub generator_url: String,
    #[serde(default)]
    pub fingerprint: String,
}

/// Limits that keep one payload from filling the database.
pub const MAX_ALERTS_PER_MESSAGE: usize = 10_000;
const MAX_LABEL_BYTES: usize = 16 * 1024;
/// Alertmanager's fingerprints are 16 hex digits; other senders get some room.
const MAX_FINGERPRINT_BYTES: usize = 128;
/// Group keys name the route and the group's labels.
const MAX_GROUP_KEY_BYTES: usize = 16 * 1024;
/// A link longer than this is dropped (the alert is kept without it).
const MAX_URL_BYTES: usize = 16 * 1024;

/// Bytes in a label or annotation set.
fn set_bytes(set: &BTreeMap<String, String>) -> usize {
    set.iter().map(|(k, v)| k.len() + v.len()).sum()
}

#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PayloadError {
    pub field: String,
    pub message: String,
}

fn perr(field: impl Into<String>, message: impl Into<String>) -> PayloadError {
    PayloadError {
        field: field.into(),
        message: message.into(),
    }
}

/// An alert after validation: times parsed, fingerprint known.
#[derive(Debug, Clone)]
pub struct ValidAlert {
    pub firing: bool,
    pub fingerprint: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: i64,
    pub ends_at: Option<i64>,
    pub generator_url: String,
}

impl ValidAlert {
    /// What the split into shared and own parts reads of it.
    pub fn parts(&self) -> crate::incidents::shared_sets::Parts<'_> {
        crate::incidents::shared_sets::Parts {
            labels: &self.labels,
            annotations: &self.annotations,
            generator_url: &self.generator_url,
        }
    }
}

impl WebhookMessage {
    /// Checks the message and takes its alerts out, ready for ingestion (moved, not
    /// copied: intake is the hot path).
    pub fn validate(&mut self) -> Result<Vec<ValidAlert>, PayloadError> {
        if self.version != "4" {
            return Err(perr(
                "version",
                format!(
                    "unsupported webhook version `{}` (expected \"4\")",
                    self.version
                ),
            ));
        }
        if self.group_key.trim().is_empty() {
            return Err(perr("groupKey", "must not be empty"));
        }
        if self.group_key.len() > MAX_GROUP_KEY_BYTES {
            return Err(perr(
                "groupKey",
                format!("at most {MAX_GROUP_KEY_BYTES} bytes"),
            ));
        }
        for (field, set) in [
            ("groupLabels", &self.group_labels),
            ("commonLabels", &self.common_labels),
            ("commonAnnotations", &self.common_annotations),
        ] {
            if set_bytes(set) > MAX_LABEL_BYTES * 4 {
                return Err(perr(field, "too large"));
            }
        }
        if self.receiver.len() > MAX_LABEL_BYTES {
            return Err(perr("receiver", "too long"));
        }
        if self.external_url.len() > MAX_URL_BYTES {
            self.external_url.clear();
        }
        if self.status != "firing" && self.status != "resolved" {
            return Err(perr("status", "must be \"firing\" or \"resolved\""));
        }
        if self.alerts.len() > MAX_ALERTS_PER_MESSAGE {
            return Err(perr(
                "alerts",
                format!("at most {MAX_ALERTS_PER_MESSAGE} alerts per message"),
            ));
        }
        let mut out = Vec::with_capacity(self.alerts.len());
        for (i, a) in std::mem::take(&mut self.alerts).into_iter().enumerate() {
            let field = |f: &str| format!("alerts[{i}].{f}");
            let firing = match a.status.as_str() {
                "firing" => true,
                "resolved" => false,
                _ => return Err(perr(field("status"), "must be \"firing\" or \"resolved\"")),
            };
            if set_bytes(&a.labels) + set_bytes(&a.annotations) > MAX_LABEL_BYTES * 4 {
                return Err(perr(
                    field("labels"),
                    "labels and annotations are too large",
                ));
            }
            let starts_at = crate::time::parse_rfc3339(&a.starts_at)
                .map_err(|m| perr(field("startsAt"), m))?
                .unwrap_or(0);
            let ends_at = match a.ends_at.as_deref() {
                None | Some("") => None,
                Some(t) => crate::time::parse_rfc3339(t).map_err(|m| perr(field("endsAt"), m))?,
            };
            if a.fingerprint.len() > MAX_FINGERPRINT_BYTES {
                return Err(perr(
                    field("fingerprint"),
                    format!("at most {MAX_FINGERPRINT_BYTES} bytes"),
                ));
            }
            let fingerprint = if a.fingerprint.is_empty() {
                fingerprint_of(&a.labels)
            } else {
                a.fingerprint
            };
            let generator_url = if a.generator_url.len() > MAX_URL_BYTES {
                String::new()
            } else {
                a.generator_url
            };
            out.push(ValidAlert {
                firing,
                fingerprint,
                labels: a.labels,
                annotations: a.annotations,
                starts_at,
                ends_at,
                generator_url,
            });
        }
        Ok(out)
    }
}

/// Fingerprint for senders that omit it: a hash of the sorted label set.
fn fingerprint_of(labels: &BTreeMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (k, v) in labels {
        h.update(k.as_bytes());
        h.update([0xff]);
        h.update(v.as_bytes());
        h.update([0xff]);
    }
    hex::encode(&h.finalize()[..8])
}

/// Alert intake: applies notifications (from Alertmanager's webhook, and Firewatch's own
/// burn-rate alerts) to incidents in one transaction each, then wakes the notifications.
#[derive(Clone)]
pub struct Intake {
    db: Db,
    rules: Arc<SeverityRules>,
    events: Arc<dyn EventSink>,
    observer: Option<Arc<dyn FiringObserver>>,
}

/// An alert's fingerprint and labels.
pub type Labelled = (String, BTreeMap<String, String>);

/// Hears of a notification's firing alerts once it has committed (self-healing acts on
/// them). Labels are only collected when it wants them.
pub trait FiringObserver: Send + Sync {
    fn wants(&self) -> bool;
    /// The notification's firing and resolved alerts, each as (fingerprint, labels).
    fn fired(&self, incident_id: Option<i64>, firing: Vec<Labelled>, resolved: Vec<Labelled>);
}

impl Intake {
    pub fn new(db: Db, rules: SeverityRules, events: Arc<dyn EventSink>) -> Self {
        Self {
            db,
            rules: Arc::new(rules),
            events,
            observer: None,
        }
    }

    /// Applies already validated alerts; `source` is the new incident's source
    /// (`alertmanager` or `slo`), `at` the time to record (now when None).
    pub fn with_observer(mut self, observer: Arc<dyn FiringObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    pub async fn apply(
        &self,
        msg: WebhookMessage,
        alerts: Vec<ValidAlert>,
        source: &'static str,
        at: Option<i64>,
    ) -> Result<Outcome, IncidentError> {
        let (firing, resolved): (Vec<Labelled>, Vec<Labelled>) = match &self.observer {
            Some(o) if o.wants() => {
                let (f, r): (Vec<&ValidAlert>, Vec<&ValidAlert>) =
                    alerts.iter().partition(|a| a.firing);
                let pairs = |v: Vec<&ValidAlert>| -> Vec<Labelled> {
                    v.into_iter()
                        .map(|a| (a.fingerprint.clone(), a.labels.clone()))
                        .collect()
                };
                (pairs(f), pairs(r))
            }
            _ => (Vec::new(), Vec::new()),
        };
        // Everything that needs no database happens here, on the HTTP worker.
        let prepared = prepare::prepare(&msg, alerts, &self.rules);
        let (rules, events) = (self.rules.clone(), self.events.clone());
        let group = prepared.group_key.clone();
        // One group's notifications go in one after the other; other groups' alongside.
        let result = self
            .db
            .write_for(&group, move |c| {
                let now = at.unwrap_or_else(crate::time::now_ms);
                ingest::apply(c, &prepared, &rules, events.as_ref(), source, now)
            })
            .await;
        if result.as_ref().is_ok_and(|o| o.notified) {
            self.events.committed();
        }
        if let (Ok(o), Some(observer)) = (&result, &self.observer)
            && !(firing.is_empty() && resolved.is_empty())
        {
            observer.fired(o.incident_id, firing, resolved);
        }
        result
    }
}
