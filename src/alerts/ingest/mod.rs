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
//!
//! The cost of a notification does not grow with its incident: alert counters are kept
//! on the incident and changed by deltas, and every lookup is by index.

mod open;
mod summary;

use summary::AlertLines;

use super::prepare::{Prepared, PreparedAlert, is_stale_firing};
use super::rules::SeverityRules;
use crate::db::Conn;
use crate::incidents::alert_rows::{self, KnownAlert};
use crate::incidents::repo::{self, CountDelta};
use crate::incidents::{Event, EventSink, IncidentError, Status, timeline};

pub const ACTOR: &str = "alertmanager";
/// Who acts for burn-rate alerts raised by Firewatch's own SLO engine (source `slo`).
pub const SLO_ACTOR: &str = "firewatch-slo";

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
    /// Notifications were queued (the delivery worker has work once this commits).
    pub notified: bool,
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

/// One notification being applied: what it touches and what it did so far.
struct Apply<'a> {
    conn: &'a Conn<'a>,
    n: &'a Prepared,
    rules: &'a SeverityRules,
    events: &'a dyn EventSink,
    source: &'a str,
    now: i64,
    out: Outcome,
    /// Timeline lines: alerts that fired and alerts that resolved.
    fired: AlertLines,
    resolved: AlertLines,
    /// How the alert counters of the incident being changed move.
    delta: CountDelta,
    /// The notification's shared set in the incident its alerts go to: (incident, set).
    set: Option<(i64, i64)>,
    /// The notification's first alert as the group's newest incident knew it, read with
    /// that incident: (incident, alert), until used.
    first: Option<(i64, Option<KnownAlert>)>,
    /// The incident this notification opened (it has no sets yet).
    opened: Option<i64>,
}

/// Applies one prepared notification inside the caller's transaction. `source` names
/// where the alerts come from on a new incident (`alertmanager`, or `slo` for burn-rate
/// alerts).
pub fn apply(
    conn: &Conn,
    n: &Prepared,
    rules: &SeverityRules,
    events: &dyn EventSink,
    source: &str,
    now: i64,
) -> Result<Outcome, IncidentError> {
    let first_fingerprint = n.alerts.first().map_or("", |p| p.fingerprint.as_str());
    let (latest, first) = repo::latest_for_group(conn, &n.group_key, first_fingerprint)?
        .map(|(inc, known)| {
            let id = inc.id;
            (inc, (id, known))
        })
        .unzip();
    let mut run = Apply {
        conn,
        n,
        rules,
        events,
        source,
        now,
        out: Outcome::default(),
        fired: AlertLines::default(),
        resolved: AlertLines::default(),
        delta: CountDelta::default(),
        set: None,
        first,
        opened: None,
    };
    let needs_home = match &latest {
        Some(inc) if inc.status != Status::Resolved => {
            run.update_open_incident(inc.id)?;
            Homeless::default()
        }
        Some(inc) => run.sort_after_resolution(inc.id)?,
        None => Homeless::all(&n.alerts),
    };
    let target = if needs_home.firing.is_empty() {
        latest.as_ref().map(|l| l.id)
    } else {
        let id = match run.reopenable(latest.as_ref()) {
            Some(id) => run.reopen(id)?,
            None => run.open_new(latest.as_ref(), &needs_home.firing)?,
        };
        run.house(id, &needs_home)?;
        Some(id)
    };
    run.out.incident_id = target;
    run.out.alerts_fired = run.fired.alerts;
    run.out.alerts_resolved = run.resolved.alerts;
    match target {
        Some(id) if run.changed() => run.settle(id),
        _ => Ok(run.out),
    }
}

/// Alerts that need an incident that is not open yet.
#[derive(Default)]
struct Homeless<'p> {
    firing: Vec<&'p PreparedAlert>,
    /// Resolved alerts never seen firing: kept only as context of a new incident.
    resolved: Vec<&'p PreparedAlert>,
}

impl<'p> Homeless<'p> {
    fn all(alerts: &'p [PreparedAlert]) -> Self {
        let (firing, resolved) = alerts.iter().partition(|p| p.firing);
        Self { firing, resolved }
    }
}

impl<'a> Apply<'a> {
    fn changed(&self) -> bool {
        !self.fired.is_empty() || !self.resolved.is_empty() || self.out.created || self.out.reopened
    }

    /// The incident's copy of what the notification's alerts share.
    fn set_in(&mut self, id: i64) -> Result<Option<i64>, IncidentError> {
        let Some(shared) = &self.n.shared else {
            return Ok(None);
        };
        match self.set {
            Some((incident, set)) if incident == id => Ok(Some(set)),
            _ => {
                let set = if self.opened == Some(id) {
                    alert_rows::add_set(self.conn, id, shared)?
                } else {
                    alert_rows::set_id(self.conn, id, shared)?
                };
                self.set = Some((id, set));
                Ok(Some(set))
            }
        }
    }

    /// What incident `id` knows of the notification's alert number `i`, `p` (the first
    /// was read with the incident).
    fn find(
        &mut self,
        id: i64,
        i: usize,
        p: &PreparedAlert,
    ) -> Result<Option<KnownAlert>, IncidentError> {
        if i == 0
            && let Some((incident, known)) = self.first.take()
            && incident == id
        {
            return Ok(known);
        }
        Ok(alert_rows::find(self.conn, id, &p.fingerprint)?)
    }

    fn update(
        &mut self,
        id: i64,
        known: &KnownAlert,
        p: &PreparedAlert,
    ) -> Result<(), IncidentError> {
        let set = self.set_in(id)?;
        alert_rows::update(self.conn, known.id, &p.row(set), self.now)?;
        self.delta
            .changed(known.firing, known.severity, p.firing, p.severity);
        Ok(())
    }

    /// Inserts those of the alerts the incident does not have; says which were new.
    fn insert_new(
        &mut self,
        id: i64,
        alerts: &[&PreparedAlert],
    ) -> Result<Vec<bool>, IncidentError> {
        let set = self.set_in(id)?;
        let rows: Vec<_> = alerts.iter().map(|p| p.row(set)).collect();
        let new = alert_rows::insert_new(self.conn, id, &rows, self.now)?;
        for (p, _) in alerts.iter().zip(&new).filter(|(_, new)| **new) {
            self.delta.added(p.firing, p.severity);
        }
        Ok(new)
    }

    /// The group's incident is open: new alerts join it, known ones change state.
    fn update_open_incident(&mut self, id: i64) -> Result<(), IncidentError> {
        let n: &'a Prepared = self.n;
        // A notification whose first alert the incident knows is most likely a re-send
        // (Alertmanager repeats its groups): look each alert up. Otherwise its alerts are
        // most likely new: insert them all, skipping known fingerprints, and look up only
        // the ones that were known.
        let resent = match n.alerts.first() {
            Some(p) => {
                let known = self.find(id, 0, p)?;
                let resent = known.is_some();
                self.first = Some((id, known));
                resent
            }
            None => false,
        };
        if resent {
            for (i, p) in n.alerts.iter().enumerate() {
                match self.find(id, i, p)? {
                    Some(known) => self.known_changed(id, &known, p)?,
                    None => {
                        if self.insert_new(id, &[p])?[0] {
                            self.joined(p);
                        }
                    }
                }
            }
            return Ok(());
        }
        let all: Vec<&PreparedAlert> = n.alerts.iter().collect();
        let new = self.insert_new(id, &all)?;
        for (p, new) in all.into_iter().zip(new) {
            if new {
                self.joined(p);
            } else if let Some(known) = alert_rows::find(self.conn, id, &p.fingerprint)? {
                self.known_changed(id, &known, p)?;
            }
        }
        Ok(())
    }

    /// A new alert joined the incident: its timeline line.
    fn joined(&mut self, p: &PreparedAlert) {
        if p.firing {
            self.fired.push(|| p.line.clone());
        } else {
            self.resolved.push(|| p.line.clone());
        }
    }

    /// An alert the open incident knows: a change of state is recorded, a re-send is not.
    fn known_changed(
        &mut self,
        id: i64,
        known: &KnownAlert,
        p: &PreparedAlert,
    ) -> Result<(), IncidentError> {
        // Same state: a re-send. A late copy of an old "firing" (e.g. from the other
        // replica of an Alertmanager HA pair) after its resolution: nothing new either.
        if known.firing == p.firing || is_stale_firing(p, known) {
            return Ok(());
        }
        self.update(id, known, p)?;
        if p.firing {
            self.fired.push(|| format!("{} (fired again)", p.line));
        } else {
            self.resolved.push(|| p.line.clone());
        }
        Ok(())
    }

    /// The group's incident is resolved: re-sent resolutions and alerts still firing
    /// since before a manual resolve change nothing; late resolutions are recorded
    /// quietly; alerts firing anew need an open incident.
    fn sort_after_resolution(&mut self, id: i64) -> Result<Homeless<'a>, IncidentError> {
        let n: &'a Prepared = self.n;
        let mut homeless = Homeless::default();
        for (i, p) in n.alerts.iter().enumerate() {
            match self.find(id, i, p)? {
                Some(known)
                    if !p.firing && !known.firing
                        || p.firing && known.firing && known.starts_at == p.starts_at
                        || is_stale_firing(p, &known) => {}
                Some(known) if !p.firing => {
                    self.update(id, &known, p)?;
                    self.resolved.push(|| p.line.clone());
                }
                _ if p.firing => homeless.firing.push(p),
                // A resolution for an alert this group's incident never had.
                _ => homeless.resolved.push(p),
            }
        }
        Ok(homeless)
    }

    /// Puts the homeless alerts into the incident that was just opened or reopened.
    fn house(&mut self, id: i64, homeless: &Homeless) -> Result<(), IncidentError> {
        let new = self.insert_new(id, &homeless.firing)?;
        for (p, new) in homeless.firing.iter().zip(new) {
            // A reopened incident may have had it: it fires again.
            if !new && let Some(known) = alert_rows::find(self.conn, id, &p.fingerprint)? {
                self.update(id, &known, p)?;
            }
            self.fired.push(|| p.line.clone());
        }
        let new = self.insert_new(id, &homeless.resolved)?;
        for (p, _) in homeless.resolved.iter().zip(new).filter(|(_, new)| *new) {
            self.resolved.push(|| p.line.clone());
        }
        Ok(())
    }

    /// After the alerts changed: timeline summaries, counters, severity raised by a new
    /// alert, a runbook link, notifications, and resolution when nothing fires any more.
    fn settle(self, id: i64) -> Result<Outcome, IncidentError> {
        let (conn, now) = (self.conn, self.now);
        let actor = self.actor();
        summary::write(actor, conn, id, now, "alert_fired", "fired", &self.fired)?;
        summary::write(
            actor,
            conn,
            id,
            now,
            "alert_resolved",
            "resolved",
            &self.resolved,
        )?;
        let inc = repo::add_alert_counts(conn, id, &self.delta, now)?;
        let mut escalated = false;
        if let Some(best) = inc.most_urgent
            && best < inc.severity
            && inc.status != Status::Resolved
        {
            repo::set_severity(conn, id, best, now)?;
            timeline::add(
                conn,
                id,
                now,
                "severity_changed",
                self.actor(),
                &format!(
                    "Severity raised from {} to {best} by a new alert",
                    inc.severity
                ),
                None,
            )?;
            escalated = true;
        }
        if !inc.has_runbook
            && let Some(url) = &self.n.runbook
        {
            repo::set_runbook_url(conn, id, url)?;
        }
        // Whatever changed, firing alerts now leave the incident open or resolve it.
        let will_resolve = inc.firing == 0 && inc.status != Status::Resolved;
        let event = if self.out.created {
            Some(Event::Triggered)
        } else if self.out.reopened {
            Some(Event::Reopened)
        } else if escalated && !will_resolve {
            Some(Event::Escalated)
        } else {
            None
        };
        let actor = self.actor();
        let mut out = self.out;
        if let Some(event) = event {
            out.notified |= self.events.on_event(conn, id, event, now)?;
        }
        if will_resolve {
            repo::set_resolved(conn, id, now, actor)?;
            timeline::add(
                conn,
                id,
                now,
                "auto_resolved",
                actor,
                "All alerts resolved: incident resolved automatically",
                None,
            )?;
            out.notified |= self.events.on_event(conn, id, Event::Resolved, now)?;
            out.auto_resolved = true;
        }
        Ok(out)
    }
}
