//! Changing what an incident says about itself: title, severity and its people. Every
//! change writes a timeline entry in the same transaction.

use super::repo;
use super::service::{Incidents, MAX_TITLE, load};
use super::{Event, Incident, IncidentError, Severity, Status, timeline};
use crate::time::now_ms;

impl Incidents {
    /// Changes the title and/or the severity; each change is a timeline line, and a more
    /// urgent severity escalates (receivers the new severity routes to hear of it).
    pub async fn edit(
        &self,
        id: i64,
        actor: String,
        title: Option<String>,
        severity: Option<Severity>,
    ) -> Result<Incident, IncidentError> {
        let title = title.map(|t| t.trim().to_string());
        if title
            .as_deref()
            .is_some_and(|t| t.is_empty() || t.chars().count() > MAX_TITLE)
        {
            return Err(IncidentError::invalid(
                "title",
                format!("must be 1-{MAX_TITLE} characters"),
            ));
        }
        if title.is_none() && severity.is_none() {
            return Err(IncidentError::invalid(
                "title",
                "give title and/or severity",
            ));
        }
        self.change(move |c, events| {
            let inc = load(c, id)?;
            let new_title = title.unwrap_or_else(|| inc.title.clone());
            let new_severity = severity.unwrap_or(inc.severity);
            let now = now_ms();
            repo::set_title_severity(c, id, &new_title, new_severity, now)?;
            if new_title != inc.title {
                let line = format!("Title changed from \"{}\" to \"{new_title}\"", inc.title);
                timeline::add(c, id, now, "edited", &actor, &line, None)?;
            }
            if new_severity != inc.severity {
                let line = format!("Severity changed from {} to {new_severity}", inc.severity);
                timeline::add(c, id, now, "severity_changed", &actor, &line, None)?;
                if new_severity < inc.severity && inc.status != Status::Resolved {
                    events.on_event(c, id, Event::Escalated, now)?;
                }
            }
            load(c, id)
        })
        .await
    }

    /// Sets assignee and/or commander. `None` leaves a field as it is; `Some("")` clears it.
    pub async fn assign(
        &self,
        id: i64,
        actor: String,
        assignee: Option<String>,
        commander: Option<String>,
    ) -> Result<Incident, IncidentError> {
        for (field, v) in [("assignee", &assignee), ("commander", &commander)] {
            if v.as_deref().is_some_and(|s| s.chars().count() > 100) {
                return Err(IncidentError::invalid(
                    field,
                    "must be at most 100 characters",
                ));
            }
        }
        if assignee.is_none() && commander.is_none() {
            return Err(IncidentError::invalid(
                "assignee",
                "give assignee and/or commander",
            ));
        }
        self.db
            .write(move |c| {
                let inc = load(c, id)?;
                let norm = |v: Option<String>, old: Option<String>| match v {
                    None => old,
                    Some(s) if s.trim().is_empty() => None,
                    Some(s) => Some(s.trim().to_string()),
                };
                let new_assignee = norm(assignee, inc.assignee.clone());
                let new_commander = norm(commander, inc.commander.clone());
                let now = now_ms();
                repo::set_people(
                    c,
                    id,
                    new_assignee.as_deref(),
                    new_commander.as_deref(),
                    now,
                )?;
                let mut changes = Vec::new();
                if new_assignee != inc.assignee {
                    changes.push(match &new_assignee {
                        Some(a) => format!("Assigned to {a}"),
                        None => "Assignee cleared".into(),
                    });
                }
                if new_commander != inc.commander {
                    changes.push(match &new_commander {
                        Some(a) => format!("Incident commander: {a}"),
                        None => "Incident commander cleared".into(),
                    });
                }
                if !changes.is_empty() {
                    timeline::add(c, id, now, "assigned", &actor, &changes.join("; "), None)?;
                }
                load(c, id)
            })
            .await
    }
}
