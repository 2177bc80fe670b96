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

use super::describe::{Prepared, is_stale_firing, runbook_of, summarize, title_for};
use super::rules::SeverityRules;
use crate::db::Conn;
use crate::incidents::repo::{self, NewIncident};
use crate::incidents::service::note_recent_deployments;
use crate::incidents::{Event, EventSink, IncidentError, Status, timeline};

use super::{ValidAlert, WebhookMessage};

pub const ACTOR: &str = "alertmanager";

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

/// The notification's alerts, deduplicated by fingerprint (the last copy wins), with
/// their severity and their labels as stored.
fn prepare<'a>(alerts: &'a [ValidAlert], rules: &SeverityRules) -> Vec<Prepared<'a>> {
    let mut by_fp: BTreeMap<&str, &ValidAlert> = BTreeMap::new();
    for a in alerts {
        by_fp.insert(&a.fingerprint, a);
    }
    by_fp
        .into_values()
        .map(|a| Prepared {
            alert: a,
            severity: rules.severity_of(&a.labels),
            labels: serde_json::to_string(&a.labels).expect("labels serialize"),
            annotations: serde_json::to_string(&a.annotations).expect("annotations serialize"),
        })
        .collect()
}

/// One notification being applied: what it touches and what it did so far.
struct Apply<'a> {
    conn: &'a Conn<'a>,
    msg: &'a WebhookMessage,
    rules: &'a SeverityRules,
    events: &'a dyn EventSink,
    source: &'a str,
    now: i64,
    out: Outcome,
    /// Timeline lines: alerts that fired and alerts that resolved.
    fired: Vec<String>,
    resolved: Vec<String>,
}

/// Applies one notification inside the caller's transaction. `source` names where the
/// alerts come from on a new incident (`alertmanager`, or `slo` for burn-rate alerts).
pub fn apply(
    conn: &Conn,
    msg: &WebhookMessage,
    alerts: &[ValidAlert],
    rules: &SeverityRules,
    events: &dyn EventSink,
    source: &str,
    now: i64,
) -> Result<Outcome, IncidentError> {
    let prepared = prepare(alerts, rules);
    let latest = repo::latest_for_group(conn, &msg.group_key)?;
    let mut run = Apply {
        conn,
        msg,
        rules,
        events,
        source,
        now,
        out: Outcome::default(),
        fired: Vec::new(),
        resolved: Vec::new(),
    };
    let needs_home = match &latest {
        Some(inc) if inc.status != Status::Resolved => {
            run.update_open_incident(inc.id, &prepared)?;
            Homeless::default()
        }
        Some(inc) => run.sort_after_resolution(inc.id, &prepared)?,
        None => Homeless::all(&prepared),
    };
    let target = if needs_home.firing.is_empty() {
        latest.as_ref().map(|l| l.id)
    } else {
        let id = match run.reopenable(latest.as_ref()) {
            Some(id) => run.reopen(id)?,
            None => run.open_new(latest.as_ref(), &needs_home.firing, &prepared)?,
        };
        run.house(id, &needs_home)?;
        Some(id)
    };
    run.out.incident_id = target;
    run.out.alerts_fired = run.fired.len();
    run.out.alerts_resolved = run.resolved.len();
    match target {
        Some(id) if run.changed() => run.settle(id, &prepared),
        _ => Ok(run.out),
    }
}

/// Alerts that need an incident that is not open yet.
#[derive(Default)]
struct Homeless<'p, 'a> {
    firing: Vec<&'p Prepared<'a>>,
    /// Resolved alerts never seen firing: kept only as context of a new incident.
    resolved: Vec<&'p Prepared<'a>>,
}

impl<'p, 'a> Homeless<'p, 'a> {
    fn all(prepared: &'p [Prepared<'a>]) -> Self {
        let (firing, resolved) = prepared.iter().partition(|p| p.alert.firing);
        Self { firing, resolved }
    }
}

impl Apply<'_> {
    fn changed(&self) -> bool {
        !self.fired.is_empty() || !self.resolved.is_empty() || self.out.created || self.out.reopened
    }

    /// The group's incident is open: new alerts join it, known ones change state.
    fn update_open_incident(
        &mut self,
        id: i64,
        prepared: &[Prepared],
    ) -> Result<(), IncidentError> {
        let group = &self.msg.group_labels;
        for p in prepared {
            match repo::find_alert(self.conn, id, &p.alert.fingerprint)? {
                Some(known) if known.firing == p.alert.firing => {}
                // A late copy of an old "firing" (e.g. from the other replica of an
                // Alertmanager HA pair) after its resolution: nothing new.
                Some(known) if is_stale_firing(p, &known) => {}
                Some(known) => {
                    repo::update_alert(self.conn, known.id, &p.row(), self.now)?;
                    if p.alert.firing {
                        self.fired
                            .push(format!("{} (fired again)", p.describe(group)));
                    } else {
                        self.resolved.push(p.describe(group));
                    }
                }
                None => {
                    repo::insert_alert(self.conn, id, &p.row(), self.now)?;
                    if p.alert.firing {
                        self.fired.push(p.describe(group));
                    } else {
                        self.resolved.push(p.describe(group));
                    }
                }
            }
        }
        Ok(())
    }

    /// The group's incident is resolved: re-sent resolutions and alerts still firing
    /// since before a manual resolve change nothing; late resolutions are recorded
    /// quietly; alerts firing anew need an open incident.
    fn sort_after_resolution<'p, 'a>(
        &mut self,
        id: i64,
        prepared: &'p [Prepared<'a>],
    ) -> Result<Homeless<'p, 'a>, IncidentError> {
        let mut homeless = Homeless::default();
        for p in prepared {
            match repo::find_alert(self.conn, id, &p.alert.fingerprint)? {
                Some(known)
                    if !p.alert.firing && !known.firing
                        || p.alert.firing
                            && known.firing
                            && known.starts_at == p.alert.starts_at
                        || is_stale_firing(p, &known) => {}
                Some(known) if !p.alert.firing => {
                    repo::update_alert(self.conn, known.id, &p.row(), self.now)?;
                    self.resolved.push(p.describe(&self.msg.group_labels));
                }
                _ if p.alert.firing => homeless.firing.push(p),
                // A resolution for an alert this group's incident never had.
                _ => homeless.resolved.push(p),
            }
        }
        self.out.incident_id = Some(id);
        Ok(homeless)
    }

    /// The group's resolved incident, when it was resolved within the reopen window.
    fn reopenable(&self, latest: Option<&repo::GroupIncident>) -> Option<i64> {
        latest
            .filter(|l| {
                l.status == Status::Resolved
                    && self.rules.reopen_window_ms > 0
                    && l.resolved_at
                        .is_some_and(|r| self.now - r <= self.rules.reopen_window_ms)
            })
            .map(|l| l.id)
    }

    fn reopen(&mut self, id: i64) -> Result<i64, IncidentError> {
        repo::set_reopened(self.conn, id, self.now)?;
        timeline::add(
            self.conn,
            id,
            self.now,
            "reopened",
            ACTOR,
            "Reopened: the alert group fired again within the reopen window",
            None,
        )?;
        self.out.reopened = true;
        // Resolutions recorded on it belong to the same incident.
        Ok(id)
    }

    /// Opens a new incident for the group; resolutions seen on its old incident stay there.
    fn open_new(
        &mut self,
        latest: Option<&repo::GroupIncident>,
        firing: &[&Prepared],
        prepared: &[Prepared],
    ) -> Result<i64, IncidentError> {
        let (msg, now) = (self.msg, self.now);
        if let Some(l) = latest
            && !self.resolved.is_empty()
        {
            write_summary(
                self.conn,
                l.id,
                now,
                "alert_resolved",
                "resolved",
                &self.resolved,
            )?;
            repo::refresh_alert_counts(self.conn, l.id)?;
            self.resolved.clear();
        }
        let severity = firing.iter().map(|p| p.severity).min().expect("non-empty");
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
        let runbook = runbook_of(msg, prepared);
        let labels = serde_json::to_string(&msg.common_labels).expect("labels serialize");
        let id = repo::insert_incident(
            self.conn,
            &NewIncident {
                title: &title_for(msg),
                description: &description,
                severity,
                service: &service,
                source: self.source,
                group_key: Some(&msg.group_key),
                runbook_url: runbook.as_deref(),
                labels: &labels,
                created_by: ACTOR,
                at: now,
            },
        )?;
        timeline::add(
            self.conn,
            id,
            now,
            "created",
            ACTOR,
            &format!("Incident opened by Alertmanager ({severity})"),
            Some(&serde_json::json!({ "group_key": msg.group_key, "receiver": msg.receiver })),
        )?;
        note_recent_deployments(self.conn, id, &service, now, self.rules.deploy_window_ms)?;
        self.out.created = true;
        Ok(id)
    }

    /// Puts the homeless alerts into the incident that was just opened or reopened.
    fn house(&mut self, id: i64, homeless: &Homeless) -> Result<(), IncidentError> {
        let group = &self.msg.group_labels;
        for p in &homeless.firing {
            // A new incident has no alerts yet: skip the lookup (the hot path of intake).
            let known = if self.out.created {
                None
            } else {
                repo::find_alert(self.conn, id, &p.alert.fingerprint)?
            };
            match known {
                Some(known) => repo::update_alert(self.conn, known.id, &p.row(), self.now)?,
                None => repo::insert_alert(self.conn, id, &p.row(), self.now)?,
            }
            self.fired.push(p.describe(group));
        }
        for p in &homeless.resolved {
            if repo::find_alert(self.conn, id, &p.alert.fingerprint)?.is_none() {
                repo::insert_alert(self.conn, id, &p.row(), self.now)?;
                self.resolved.push(p.describe(group));
            }
        }
        Ok(())
    }

    /// After the alerts changed: timeline summaries, counts, severity raised by a new
    /// alert, a runbook link, notifications, and resolution when nothing fires any more.
    fn settle(mut self, id: i64, prepared: &[Prepared]) -> Result<Outcome, IncidentError> {
        let (conn, now) = (self.conn, self.now);
        write_summary(conn, id, now, "alert_fired", "fired", &self.fired)?;
        write_summary(conn, id, now, "alert_resolved", "resolved", &self.resolved)?;
        let (_, firing, best) = repo::refresh_alert_counts(conn, id)?;
        let inc = repo::get(conn, id)?.ok_or(IncidentError::NotFound(id))?;
        let mut escalated = false;
        if let Some(best) = best
            && best < inc.severity
            && inc.status != Status::Resolved
        {
            repo::set_severity(conn, id, best, now)?;
            timeline::add(
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
            && let Some(url) = runbook_of(self.msg, prepared)
        {
            repo::set_runbook_url(conn, id, &url)?;
        }
        // Whatever changed, firing alerts now leave the incident open or resolve it.
        let will_resolve = firing == 0 && inc.status != Status::Resolved;
        let event = if self.out.created {
            Some(Event::Triggered)
        } else if self.out.reopened {
            Some(Event::Reopened)
        } else if escalated && !will_resolve {
            Some(Event::Escalated)
        } else {
            None
        };
        if let Some(event) = event {
            self.events.on_event(conn, id, event, now)?;
        }
        if will_resolve {
            repo::set_resolved(conn, id, now, ACTOR)?;
            timeline::add(
                conn,
                id,
                now,
                "auto_resolved",
                ACTOR,
                "All alerts resolved: incident resolved automatically",
                None,
            )?;
            self.events.on_event(conn, id, Event::Resolved, now)?;
            self.out.auto_resolved = true;
        } else {
            repo::touch(conn, id, now)?;
        }
        Ok(self.out)
    }
}

fn write_summary(
    conn: &Conn,
    id: i64,
    now: i64,
    kind: &str,
    verb: &str,
    items: &[String],
) -> Result<(), IncidentError> {
    if items.is_empty() {
        return Ok(());
    }
    timeline::add(conn, id, now, kind, ACTOR, &summarize(verb, items), None)?;
    Ok(())
}
