//! Turns an Alertmanager notification into incident changes, idempotently.
//!
//! Rules (README "How alerts become incidents"):
//! - One Alertmanager group (`groupKey`) maps to one incident while that incident is open.
//!   Inside it an alert is identified by its fingerprint.
//! - A re-sent notification changes nothing: alerts already known with the same status
//!   are skipped, so no alert, incident or timeline entry is duplicated.
//! - When the group's newest incident is resolved, an alert that is new (or fires again
//!   with a new start) opens a new incident, or reopens the resolved one when it was
//!   resolved less than `alertmanager.reopen_window` ago. An alert still firing with the
//!   same start as before (the incident was resolved by hand) does not reopen anything.
//! - The incident takes the most urgent severity of its alerts; when all of its alerts are
//!   resolved it resolves itself and the timeline says so.

use std::collections::BTreeMap;

use rusqlite::Connection;

use crate::config::AlertmanagerSettings;
use crate::incidents::repo::{self, AlertRow, NewIncident};
use crate::incidents::{IncidentError, Severity, Status};
use crate::notify::{self, Event, NotifyConfig};

use super::{ValidAlert, WebhookMessage};

pub const ACTOR: &str = "alertmanager";

#[derive(Debug, Clone)]
pub struct SeverityRules {
    label: String,
    map: BTreeMap<String, Severity>,
    default: Severity,
    reopen_window_ms: i64,
    /// Deployments this recent are named on a new incident's timeline.
    deploy_window_ms: i64,
}

impl SeverityRules {
    pub fn from_settings(s: &AlertmanagerSettings, reopen_window: std::time::Duration) -> Self {
        Self {
            label: s.severity_label.clone(),
            map: s
                .severity_map
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), *v))
                .collect(),
            default: s.default_severity,
            reopen_window_ms: reopen_window.as_millis() as i64,
            deploy_window_ms: 0,
        }
    }

    pub fn with_deploy_window(mut self, window: std::time::Duration) -> Self {
        self.deploy_window_ms = window.as_millis() as i64;
        self
    }

    pub fn severity_of(&self, labels: &BTreeMap<String, String>) -> Severity {
        match labels.get(&self.label) {
            None => self.default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                self.map
                    .get(&v.to_ascii_lowercase())
                    .copied()
                    .unwrap_or(self.default)
            }),
        }
    }
}

/// What one notification did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The incident the group maps to after this notification (None: nothing to do).
    pub incident_id: Option<i64>,
    pub created: bool,
    pub reopened: bool,
    pub auto_resolved: bool,
    pub alerts_fired: usize,
    pub alerts_resolved: usize,
}

impl Outcome {
    pub fn changed(&self) -> bool {
        self.created
            || self.reopened
            || self.auto_resolved
            || self.alerts_fired > 0
            || self.alerts_resolved > 0
    }
}

struct Prepared<'a> {
    alert: &'a ValidAlert,
    severity: Severity,
    labels: String,
    annotations: String,
}

impl Prepared<'_> {
    fn row(&self) -> AlertRow<'_> {
        AlertRow {
            fingerprint: &self.alert.fingerprint,
            firing: self.alert.firing,
            alertname: self
                .alert
                .labels
                .get("alertname")
                .map(String::as_str)
                .unwrap_or(""),
            severity: self.severity,
            labels: &self.labels,
            annotations: &self.annotations,
            starts_at: self.alert.starts_at,
            ends_at: self.alert.ends_at,
            generator_url: &self.alert.generator_url,
        }
    }

    /// `HighErrorRate {instance="api-1"}`: the alert name plus the labels that tell it
    /// apart from the group.
    fn describe(&self, group_labels: &BTreeMap<String, String>) -> String {
        let name = self
            .alert
            .labels
            .get("alertname")
            .cloned()
            .unwrap_or_default();
        let extra: Vec<String> = self
            .alert
            .labels
            .iter()
            .filter(|(k, _)| {
                k.as_str() != "alertname"
                    && k.as_str() != "severity"
                    && !group_labels.contains_key(*k)
            })
            .take(4)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if extra.is_empty() {
            name
        } else {
            format!("{name} {{{}}}", extra.join(", "))
        }
    }
}

/// "Firing" for an alert already resolved, with a start no later than the one it had:
/// an old notification arriving late, not the alert firing again.
fn is_stale_firing(p: &Prepared, known: &repo::KnownAlert) -> bool {
    p.alert.firing && !known.firing && p.alert.starts_at <= known.starts_at
}

fn summarize(verb: &str, items: &[String]) -> String {
    const SHOWN: usize = 5;
    let listed = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    let more = items.len().saturating_sub(SHOWN);
    let noun = if items.len() == 1 { "Alert" } else { "alerts" };
    let head = if items.len() == 1 {
        format!("{noun} {verb}")
    } else {
        format!("{} {noun} {verb}", items.len())
    };
    if more > 0 {
        format!("{head}: {listed} (+{more} more)")
    } else {
        format!("{head}: {listed}")
    }
}

fn title_for(msg: &WebhookMessage) -> String {
    let label = |k: &str| {
        msg.group_labels
            .get(k)
            .or_else(|| msg.common_labels.get(k))
            .filter(|v| !v.is_empty())
    };
    let base = label("alertname")
        .cloned()
        .or_else(|| msg.common_annotations.get("summary").cloned())
        .unwrap_or_else(|| format!("Alert group {}", msg.group_key));
    let mut title = match label("service") {
        Some(service) => format!("{base} on {service}"),
        None => base,
    };
    if title.chars().count() > 300 {
        title = title.chars().take(297).collect::<String>() + "...";
    }
    title
}

fn runbook_of(msg: &WebhookMessage, alerts: &[Prepared]) -> Option<String> {
    msg.common_annotations
        .get("runbook_url")
        .into_iter()
        .chain(
            alerts
                .iter()
                .filter_map(|a| a.alert.annotations.get("runbook_url")),
        )
        .find_map(|u| crate::incidents::service::safe_url(u))
}

/// Applies one notification inside the caller's transaction.
pub fn apply(
    conn: &Connection,
    msg: &WebhookMessage,
    alerts: &[ValidAlert],
    rules: &SeverityRules,
    notify_cfg: &NotifyConfig,
    now: i64,
) -> Result<Outcome, IncidentError> {
    // The same fingerprint twice in one message: the last one wins.
    let mut by_fp: BTreeMap<&str, &ValidAlert> = BTreeMap::new();
    for a in alerts {
        by_fp.insert(&a.fingerprint, a);
    }
    let prepared: Vec<Prepared> = by_fp
        .into_values()
        .map(|a| Prepared {
            alert: a,
            severity: rules.severity_of(&a.labels),
            labels: serde_json::to_string(&a.labels).expect("labels serialize"),
            annotations: serde_json::to_string(&a.annotations).expect("annotations serialize"),
        })
        .collect();

    let mut out = Outcome::default();
    let latest = repo::latest_for_group(conn, &msg.group_key)?;
    let mut fired: Vec<String> = Vec::new();
    let mut resolved: Vec<String> = Vec::new();
    // Alerts that need an incident that is not open yet.
    let mut homeless: Vec<&Prepared> = Vec::new();
    // Resolved alerts never seen firing: kept only as context of a new incident.
    let mut unseen_resolved: Vec<&Prepared> = Vec::new();

    match &latest {
        Some(inc) if inc.status != Status::Resolved => {
            for p in &prepared {
                match repo::find_alert(conn, inc.id, &p.alert.fingerprint)? {
                    Some(known) if known.firing == p.alert.firing => {}
                    // A late copy of an old "firing" (e.g. from the other replica of an
                    // Alertmanager HA pair) after its resolution: nothing new.
                    Some(known) if is_stale_firing(p, &known) => {}
                    Some(known) => {
                        repo::update_alert(conn, known.id, &p.row(), now)?;
                        if p.alert.firing {
                            fired.push(format!("{} (fired again)", p.describe(&msg.group_labels)));
                        } else {
                            resolved.push(p.describe(&msg.group_labels));
                        }
                    }
                    None => {
                        repo::insert_alert(conn, inc.id, &p.row(), now)?;
                        if p.alert.firing {
                            fired.push(p.describe(&msg.group_labels));
                        } else {
                            resolved.push(p.describe(&msg.group_labels));
                        }
                    }
                }
            }
            out.incident_id = Some(inc.id);
        }
        Some(inc) => {
            for p in &prepared {
                match repo::find_alert(conn, inc.id, &p.alert.fingerprint)? {
                    // Re-sent resolution, or still firing after a manual resolve.
                    Some(known)
                        if !p.alert.firing && !known.firing
                            || p.alert.firing
                                && known.firing
                                && known.starts_at == p.alert.starts_at
                            || is_stale_firing(p, &known) => {}
                    Some(known) if !p.alert.firing => {
                        // Resolved after the incident was closed by hand: record it quietly.
                        repo::update_alert(conn, known.id, &p.row(), now)?;
                        resolved.push(p.describe(&msg.group_labels));
                    }
                    _ if p.alert.firing => homeless.push(p),
                    // A resolution for an alert this group's incident never had.
                    _ => unseen_resolved.push(p),
                }
            }
            out.incident_id = Some(inc.id);
        }
        None => {
            for p in &prepared {
                if p.alert.firing {
                    homeless.push(p);
                } else {
                    unseen_resolved.push(p);
                }
            }
        }
    }

    let target = if homeless.is_empty() {
        latest.as_ref().map(|l| l.id)
    } else {
        let reopen = latest.as_ref().filter(|l| {
            l.status == Status::Resolved
                && rules.reopen_window_ms > 0
                && l.resolved_at
                    .is_some_and(|r| now - r <= rules.reopen_window_ms)
        });
        let id = match reopen {
            Some(l) => {
                repo::set_reopened(conn, l.id, now)?;
                repo::add_timeline(
                    conn,
                    l.id,
                    now,
                    "reopened",
                    ACTOR,
                    "Reopened: the alert group fired again within the reopen window",
                    None,
                )?;
                out.reopened = true;
                // Resolutions recorded above belong to the same incident.
                l.id
            }
            None => {
                // Resolutions seen on the old incident stay there.
                if let Some(l) = &latest
                    && !resolved.is_empty()
                {
                    write_summary(conn, l.id, now, "alert_resolved", "resolved", &resolved)?;
                    repo::refresh_alert_counts(conn, l.id)?;
                    resolved.clear();
                }
                let severity = homeless
                    .iter()
                    .map(|p| p.severity)
                    .min()
                    .expect("non-empty");
                let description = [
                    msg.common_annotations.get("summary"),
                    msg.common_annotations.get("description"),
                ]
                .into_iter()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join("\n\n");
                let service = msg
                    .common_labels
                    .get("service")
                    .or_else(|| msg.group_labels.get("service"))
                    .cloned()
                    .unwrap_or_default();
                let runbook = runbook_of(msg, &prepared);
                let title = title_for(msg);
                let id = repo::insert_incident(
                    conn,
                    &NewIncident {
                        title: &title,
                        description: &description,
                        severity,
                        service: &service,
                        source: "alertmanager",
                        group_key: Some(&msg.group_key),
                        runbook_url: runbook.as_deref(),
                        created_by: ACTOR,
                        at: now,
                    },
                )?;
                repo::add_timeline(
                    conn,
                    id,
                    now,
                    "created",
                    ACTOR,
                    &format!("Incident opened by Alertmanager ({severity})"),
                    Some(
                        &serde_json::json!({ "group_key": msg.group_key, "receiver": msg.receiver }),
                    ),
                )?;
                let labels = serde_json::to_string(&msg.common_labels).expect("labels serialize");
                conn.prepare_cached("UPDATE incidents SET labels = ?2 WHERE id = ?1")?
                    .execute(rusqlite::params![id, labels])?;
                crate::deployments::note_recent(conn, id, &service, now, rules.deploy_window_ms)?;
                out.created = true;
                id
            }
        };
        for p in &homeless {
            // A new incident has no alerts yet: skip the lookup (the hot path of intake).
            let known = if out.created {
                None
            } else {
                repo::find_alert(conn, id, &p.alert.fingerprint)?
            };
            match known {
                Some(known) => repo::update_alert(conn, known.id, &p.row(), now)?,
                None => repo::insert_alert(conn, id, &p.row(), now)?,
            }
            fired.push(p.describe(&msg.group_labels));
        }
        for p in &unseen_resolved {
            if repo::find_alert(conn, id, &p.alert.fingerprint)?.is_none() {
                repo::insert_alert(conn, id, &p.row(), now)?;
                resolved.push(p.describe(&msg.group_labels));
            }
        }
        out.incident_id = Some(id);
        Some(id)
    };

    out.alerts_fired = fired.len();
    out.alerts_resolved = resolved.len();
    let Some(id) = target else {
        return Ok(out);
    };
    if fired.is_empty() && resolved.is_empty() && !out.created && !out.reopened {
        return Ok(out);
    }
    write_summary(conn, id, now, "alert_fired", "fired", &fired)?;
    write_summary(conn, id, now, "alert_resolved", "resolved", &resolved)?;
    let (_, firing, best) = repo::refresh_alert_counts(conn, id)?;
    let inc = repo::get(conn, id)?.ok_or(IncidentError::NotFound(id))?;
    let mut escalated = false;
    if let Some(best) = best
        && best < inc.severity
        && inc.status != Status::Resolved
    {
        repo::set_severity(conn, id, best, now)?;
        repo::add_timeline(
            conn,
            id,
            now,
            "severity_changed",
            ACTOR,
            &format!(
                "Severity raised from {} to {best} by a new alert",
                inc.severity
            ),
            None,
        )?;
        escalated = true;
    }
    if inc.runbook_url.is_none()
        && let Some(url) = runbook_of(msg, &prepared)
    {
        conn.prepare_cached("UPDATE incidents SET runbook_url = ?2 WHERE id = ?1")?
            .execute(rusqlite::params![id, url])?;
    }
    // Whatever changed, firing alerts now leave the incident open or resolve it.
    let will_resolve = firing == 0 && inc.status != Status::Resolved;
    let event = if out.created {
        Some(Event::Triggered)
    } else if out.reopened {
        Some(Event::Reopened)
    } else if escalated && !will_resolve {
        Some(Event::Escalated)
    } else {
        None
    };
    if let Some(event) = event {
        notify::enqueue(conn, notify_cfg, id, event, now)?;
    }
    if will_resolve {
        repo::set_resolved(conn, id, now, ACTOR)?;
        repo::add_timeline(
            conn,
            id,
            now,
            "auto_resolved",
            ACTOR,
            "All alerts resolved: incident resolved automatically",
            None,
        )?;
        notify::enqueue(conn, notify_cfg, id, Event::Resolved, now)?;
        out.auto_resolved = true;
    } else {
        repo::touch(conn, id, now)?;
    }
    Ok(out)
}

fn write_summary(
    conn: &Connection,
    id: i64,
    now: i64,
    kind: &str,
    verb: &str,
    items: &[String],
) -> Result<(), IncidentError> {
    if items.is_empty() {
        return Ok(());
    }
    repo::add_timeline(conn, id, now, kind, ACTOR, &summarize(verb, items), None)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_labels_map_to_priorities() {
        let rules = SeverityRules::from_settings(
            &AlertmanagerSettings::default(),
            std::time::Duration::ZERO,
        );
        let sev = |v: Option<&str>| {
            let mut labels = BTreeMap::new();
            if let Some(v) = v {
                labels.insert("severity".to_string(), v.to_string());
            }
            rules.severity_of(&labels)
        };
        assert_eq!(sev(Some("critical")), Severity::P0);
        assert_eq!(sev(Some("Critical")), Severity::P0);
        assert_eq!(sev(Some("error")), Severity::P1);
        assert_eq!(sev(Some("warning")), Severity::P2);
        assert_eq!(sev(Some("info")), Severity::P3);
        assert_eq!(sev(Some("page-me-maybe")), Severity::P3);
        assert_eq!(sev(Some("p1")), Severity::P1);
        assert_eq!(sev(None), Severity::P3);
    }

    #[test]
    fn long_lists_are_summarized() {
        let items: Vec<String> = (0..8).map(|i| format!("A{i}")).collect();
        assert_eq!(
            summarize("fired", &items),
            "8 alerts fired: A0; A1; A2; A3; A4 (+3 more)"
        );
        assert_eq!(summarize("resolved", &items[..1]), "Alert resolved: A0");
    }
}
