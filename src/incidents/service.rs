//! Incident lifecycle: triggered -> acknowledged -> resolved, reopen; manual incidents and
//! notes (title, severity and people are in `edits.rs`). Every change writes a timeline
//! entry in the same transaction.

use std::sync::Arc;

use crate::db::{Conn, Db, StoreResult};
use crate::time::{human_duration, now_ms};

use super::alert_rows::{self, AlertCursor};
use super::repo::{self, NewIncident};
use super::stats::{self, ResponseStats};
use super::{
    Alert, Event, EventSink, Incident, IncidentError, ListQuery, Severity, Status, TimelineEntry,
    timeline,
};

pub struct ManualIncident {
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub service: String,
    pub runbook_url: Option<String>,
}

/// An incident with the first page of its alerts (firing first) and the latest page of
/// its timeline: bounded however large the incident.
pub struct IncidentDetail {
    pub incident: Incident,
    pub alerts: Vec<Alert>,
    /// Where the next page of alerts starts, when there are more.
    pub alerts_next: Option<AlertCursor>,
    /// Oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// The cursor of older entries, when there are more.
    pub timeline_older: Option<i64>,
}

/// How many alerts and timeline entries an incident answer holds at most.
pub const ALERTS_PAGE: usize = 100;
pub const TIMELINE_PAGE: usize = 200;

pub(super) const MAX_TITLE: usize = 300;
const MAX_TEXT: usize = 20_000;
const MAX_SERVICE: usize = 200;

/// Only http(s) links are kept: a `javascript:` runbook URL must never become a link.
pub fn safe_url(url: &str) -> Option<String> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    ((lower.starts_with("https://") || lower.starts_with("http://")) && url.len() <= 2048)
        .then(|| url.to_string())
}

pub(super) fn load(conn: &Conn, id: i64) -> Result<Incident, IncidentError> {
    repo::get(conn, id)?.ok_or(IncidentError::NotFound(id))
}

/// Adds "what changed" to a newly opened incident's timeline: the deployments of its
/// service in the `window_ms` before it opened.
pub fn note_recent_deployments(
    c: &Conn,
    incident_id: i64,
    service: &str,
    now: i64,
    window_ms: i64,
) -> StoreResult<()> {
    if service.is_empty() || window_ms <= 0 {
        return Ok(());
    }
    for d in crate::deployments::repo::recent_before(c, service, now, window_ms)? {
        let what = if d.description.is_empty() {
            String::new()
        } else {
            format!(": {}", d.description)
        };
        timeline::add(
            c,
            incident_id,
            now,
            "deployment",
            &d.created_by,
            &format!(
                "Recent change: {} {} was deployed {} before this incident{what}",
                d.service,
                d.version,
                human_duration(now - d.at)
            ),
            Some(&serde_json::json!({ "deployment_id": d.id })),
        )?;
    }
    Ok(())
}

#[derive(Clone)]
pub struct Incidents {
    pub(super) db: Db,
    /// Reacts to lifecycle changes in their transaction (the notification outbox).
    events: Arc<dyn EventSink>,
    /// Deployments this recent are named on a new incident's timeline.
    deploy_window_ms: i64,
}

impl Incidents {
    pub fn new(db: Db, events: Arc<dyn EventSink>) -> Self {
        Self {
            db,
            events,
            deploy_window_ms: 0,
        }
    }

    pub fn with_deploy_window(mut self, window: std::time::Duration) -> Self {
        self.deploy_window_ms = window.as_millis() as i64;
        self
    }

    /// Runs a lifecycle change in the writer; once it committed, tells the event sink.
    pub(super) async fn change<T, F>(&self, f: F) -> Result<T, IncidentError>
    where
        T: Send + 'static,
        F: FnOnce(&Conn, &dyn EventSink) -> Result<T, IncidentError> + Send + 'static,
    {
        let events = self.events.clone();
        let out = self.db.write(move |c| f(c, events.as_ref())).await;
        if out.is_ok() {
            self.events.committed();
        }
        out
    }

    pub async fn list(
        &self,
        q: ListQuery,
    ) -> Result<(Vec<Incident>, Option<super::list::Cursor>), IncidentError> {
        self.db.read(move |c| Ok(repo::list(c, &q)?)).await
    }

    pub async fn counts(&self) -> Result<Vec<(Status, Severity, i64)>, IncidentError> {
        self.db.read(|c| Ok(repo::counts(c)?)).await
    }

    pub async fn detail(&self, id: i64) -> Result<IncidentDetail, IncidentError> {
        self.db
            .read(move |c| {
                let incident = load(c, id)?;
                let (alerts, alerts_next) = alert_rows::page(c, id, None, None, ALERTS_PAGE)?;
                let (timeline, timeline_older) = timeline::page(c, id, None, TIMELINE_PAGE)?;
                Ok(IncidentDetail {
                    incident,
                    alerts,
                    alerts_next,
                    timeline,
                    timeline_older,
                })
            })
            .await
    }

    /// The incident alone.
    pub async fn detail_head(&self, id: i64) -> Result<Incident, IncidentError> {
        self.db.read(move |c| load(c, id)).await
    }

    /// A page of an incident's alerts, firing first; `only` keeps firing (true) or
    /// resolved (false) ones.
    pub async fn alerts(
        &self,
        id: i64,
        only: Option<bool>,
        after: Option<AlertCursor>,
        limit: usize,
    ) -> Result<(Vec<Alert>, Option<AlertCursor>), IncidentError> {
        self.db
            .read(move |c| {
                load(c, id)?;
                Ok(alert_rows::page(c, id, only, after, limit)?)
            })
            .await
    }

    /// A page of an incident's timeline before entry `before` (the latest when None),
    /// oldest first, and the cursor of older entries.
    pub async fn timeline(
        &self,
        id: i64,
        before: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<TimelineEntry>, Option<i64>), IncidentError> {
        self.db
            .read(move |c| {
                load(c, id)?;
                Ok(timeline::page(c, id, before, limit)?)
            })
            .await
    }

    pub async fn create(
        &self,
        m: ManualIncident,
        actor: String,
    ) -> Result<Incident, IncidentError> {
        let title = m.title.trim().to_string();
        if title.is_empty() {
            return Err(IncidentError::invalid("title", "must not be empty"));
        }
        if title.chars().count() > MAX_TITLE {
            return Err(IncidentError::invalid(
                "title",
                format!("must be at most {MAX_TITLE} characters"),
            ));
        }
        if m.description.len() > MAX_TEXT {
            return Err(IncidentError::invalid("description", "is too long"));
        }
        if m.service.trim().chars().count() > MAX_SERVICE {
            return Err(IncidentError::invalid(
                "service",
                format!("must be at most {MAX_SERVICE} characters"),
            ));
        }
        let runbook_url = match m.runbook_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(u) => Some(safe_url(u).ok_or_else(|| {
                IncidentError::invalid("runbook_url", "must be an http:// or https:// URL")
            })?),
        };
        let window = self.deploy_window_ms;
        self.change(move |c, events| {
            let now = now_ms();
            let id = repo::insert_incident(
                c,
                &NewIncident {
                    title: &title,
                    description: m.description.trim(),
                    severity: m.severity,
                    service: m.service.trim(),
                    source: "manual",
                    group_key: None,
                    runbook_url: runbook_url.as_deref(),
                    labels: "{}",
                    created_by: &actor,
                    at: now,
                    drill: crate::incidents::Drill::No,
                },
            )?;
            timeline::add(
                c,
                id,
                now,
                "created",
                &actor,
                &format!("Incident declared ({})", m.severity),
                None,
            )?;
            note_recent_deployments(c, id, m.service.trim(), now, window)?;
            events.on_event(c, id, Event::Triggered, now)?;
            load(c, id)
        })
        .await
    }

    pub async fn acknowledge(&self, id: i64, actor: String) -> Result<Incident, IncidentError> {
        self.change(move |c, events| {
            let inc = load(c, id)?;
            match inc.status {
                Status::Triggered => {}
                Status::Acknowledged => {
                    return Err(IncidentError::Conflict(format!(
                        "incident {id} is already acknowledged by {}",
                        inc.acknowledged_by.unwrap_or_default()
                    )));
                }
                Status::Resolved => {
                    return Err(IncidentError::Conflict(format!(
                        "incident {id} is resolved; reopen it first"
                    )));
                }
            }
            let now = now_ms();
            repo::set_acknowledged(c, id, now, &actor)?;
            timeline::add(c, id, now, "acknowledged", &actor, "Acknowledged", None)?;
            events.on_event(c, id, Event::Acknowledged, now)?;
            load(c, id)
        })
        .await
    }

    pub async fn resolve(
        &self,
        id: i64,
        actor: String,
        note: Option<String>,
    ) -> Result<Incident, IncidentError> {
        let note = check_optional_text("note", note)?;
        self.change(move |c, events| {
            let inc = load(c, id)?;
            if inc.status == Status::Resolved {
                return Err(IncidentError::Conflict(format!(
                    "incident {id} is already resolved"
                )));
            }
            let now = now_ms();
            repo::set_resolved(c, id, now, &actor)?;
            let message = match &note {
                Some(n) => format!("Resolved: {n}"),
                None => "Resolved".to_string(),
            };
            timeline::add(c, id, now, "resolved", &actor, &message, None)?;
            events.on_event(c, id, Event::Resolved, now)?;
            load(c, id)
        })
        .await
    }

    pub async fn reopen(
        &self,
        id: i64,
        actor: String,
        reason: Option<String>,
    ) -> Result<Incident, IncidentError> {
        let reason = check_optional_text("reason", reason)?;
        self.change(move |c, events| {
            let inc = load(c, id)?;
            if inc.status != Status::Resolved {
                return Err(IncidentError::Conflict(format!(
                    "incident {id} is not resolved (it is {})",
                    inc.status
                )));
            }
            let now = now_ms();
            repo::set_reopened(c, id, now)?;
            let message = match &reason {
                Some(r) => format!("Reopened: {r}"),
                None => "Reopened".to_string(),
            };
            timeline::add(c, id, now, "reopened", &actor, &message, None)?;
            events.on_event(c, id, Event::Reopened, now)?;
            load(c, id)
        })
        .await
    }

    pub async fn add_note(
        &self,
        id: i64,
        actor: String,
        text: String,
    ) -> Result<TimelineEntry, IncidentError> {
        let text = check_optional_text("text", Some(text))?
            .ok_or_else(|| IncidentError::invalid("text", "must not be empty"))?;
        self.db
            .write(move |c| {
                load(c, id)?;
                let now = now_ms();
                timeline::add(c, id, now, "note", &actor, &text, None)?;
                repo::touch(c, id, now)?;
                Ok(timeline::page(c, id, None, 1)?
                    .0
                    .pop()
                    .expect("the note was just written"))
            })
            .await
    }

    /// Records on the timeline that `actor` opened runbook `name` from this incident;
    /// the same person opening the same runbook again within 10 minutes adds nothing.
    pub async fn runbook_opened(
        &self,
        id: i64,
        actor: String,
        name: String,
    ) -> Result<(), IncidentError> {
        const AGAIN: i64 = 10 * 60_000;
        self.db
            .write(move |c| {
                load(c, id)?;
                let now = now_ms();
                let message = format!("Opened runbook {name}");
                let recent = timeline::latest_of(c, id, "runbook", &actor)?;
                if recent.is_some_and(|e| e.message == message && now - e.at < AGAIN) {
                    return Ok(());
                }
                timeline::add(c, id, now, "runbook", &actor, &message, None)?;
                Ok(())
            })
            .await
    }

    /// Deletes resolved incidents older than `older_than_ms`, in small batches so the
    /// writer is never held for long. Returns how many were deleted.
    pub async fn apply_retention(&self, older_than_ms: i64) -> Result<usize, IncidentError> {
        let cutoff = now_ms() - older_than_ms;
        let mut total = 0;
        loop {
            let n = self
                .db
                .write(move |c| {
                    Ok::<_, IncidentError>(repo::delete_resolved_before(c, cutoff, 500)?)
                })
                .await?;
            total += n;
            if n < 500 {
                return Ok(total);
            }
        }
    }
}

fn check_optional_text(field: &str, text: Option<String>) -> Result<Option<String>, IncidentError> {
    match text.map(|t| t.trim().to_string()) {
        None => Ok(None),
        Some(t) if t.is_empty() => Ok(None),
        Some(t) if t.len() > MAX_TEXT => Err(IncidentError::invalid(
            field,
            format!("must be at most {MAX_TEXT} bytes"),
        )),
        Some(t) => Ok(Some(t)),
    }
}

impl Incidents {
    pub async fn response_stats(&self, since: i64) -> Result<ResponseStats, IncidentError> {
        self.db
            .read(move |c| Ok(stats::response_stats(c, since)?))
            .await
    }

    /// The event sink this service reports to (alert intake reports to the same one).
    pub fn events(&self) -> Arc<dyn EventSink> {
        self.events.clone()
    }

    pub fn deploy_window_ms(&self) -> i64 {
        self.deploy_window_ms
    }
}
