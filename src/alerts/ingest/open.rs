//! Opening and reopening incidents for a notification, and the timeline lines it writes.

use super::summary::{self, AlertLines};
use super::{ACTOR, Apply, SLO_ACTOR};
use crate::alerts::prepare::PreparedAlert;
use crate::incidents::repo::{self, CountDelta, NewIncident};
use crate::incidents::service::note_recent_deployments;
use crate::incidents::{IncidentError, Status, timeline};

impl Apply<'_> {
    /// The group's resolved incident, when it was resolved within the reopen window.
    pub(super) fn reopenable(&self, latest: Option<&repo::GroupIncident>) -> Option<i64> {
        latest
            .filter(|l| {
                l.status == Status::Resolved
                    && self.rules.reopen_window_ms > 0
                    && l.resolved_at
                        .is_some_and(|r| self.now - r <= self.rules.reopen_window_ms)
            })
            .map(|l| l.id)
    }

    /// Who the timeline names for what this notification does.
    pub(super) fn actor(&self) -> &'static str {
        if self.source == "slo" {
            SLO_ACTOR
        } else {
            ACTOR
        }
    }

    fn opened_by(&self) -> &'static str {
        if self.source == "slo" {
            "Firewatch's SLO engine (burn rate)"
        } else {
            "Alertmanager"
        }
    }

    pub(super) fn reopen(&mut self, id: i64) -> Result<i64, IncidentError> {
        repo::set_reopened(self.conn, id, self.now)?;
        timeline::add(
            self.conn,
            id,
            self.now,
            "reopened",
            self.actor(),
            "Reopened: the alert group fired again within the reopen window",
            None,
        )?;
        self.out.reopened = true;
        // Resolutions recorded on it belong to the same incident.
        Ok(id)
    }

    /// Opens a new incident for the group; resolutions seen on its old incident stay there.
    pub(super) fn open_new(
        &mut self,
        latest: Option<&repo::GroupIncident>,
        firing: &[&PreparedAlert],
    ) -> Result<i64, IncidentError> {
        let (n, now) = (self.n, self.now);
        if let Some(l) = latest
            && (!self.resolved.is_empty() || self.delta != CountDelta::default())
        {
            summary::write(
                self.actor(),
                self.conn,
                l.id,
                now,
                "alert_resolved",
                "resolved",
                &self.resolved,
            )?;
            repo::add_alert_counts(self.conn, l.id, &self.delta, now)?;
            self.resolved = AlertLines::default();
            self.delta = CountDelta::default();
        }
        let severity = firing.iter().map(|p| p.severity).min().expect("non-empty");
        let id = repo::insert_incident(
            self.conn,
            &NewIncident {
                title: &n.title,
                description: &n.description,
                severity,
                service: &n.service,
                source: self.source,
                group_key: Some(&n.group_key),
                runbook_url: n.runbook.as_deref(),
                labels: &n.labels,
                created_by: self.actor(),
                at: now,
                drill: n.drill,
            },
        )?;
        self.opened = Some(id);
        timeline::add(
            self.conn,
            id,
            now,
            "created",
            self.actor(),
            &if n.drill.is_drill() {
                format!(
                    "Drill opened by {} ({severity}): a simulated incident, left out of \
                     MTTA, MTTR and reports",
                    self.opened_by()
                )
            } else {
                format!("Incident opened by {} ({severity})", self.opened_by())
            },
            Some(&serde_json::json!({ "group_key": n.group_key, "receiver": n.receiver })),
        )?;
        note_recent_deployments(self.conn, id, &n.service, now, self.rules.deploy_window_ms)?;
        self.out.created = true;
        Ok(id)
    }
}
