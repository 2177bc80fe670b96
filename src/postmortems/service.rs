//! The Postmortems service: drafts a post-mortem from its incident, edits sections, moves
//! it through draft → in review → published, and records each change on the incident's
//! timeline in the same transaction.

use std::collections::BTreeMap;

use super::{Metrics, Postmortem, PostmortemError, SECTIONS, Status, is_section, repo};
use crate::db::Db;
use crate::incidents::service::IncidentDetail;
use crate::incidents::{Incidents, timeline};
use crate::slo::{SloImpact, Slos};
use crate::time::now_ms;

/// The most a section may hold.
const MAX_SECTION: usize = 64 * 1024;

#[derive(Clone)]
pub struct Postmortems {
    pub(super) db: Db,
    incidents: Incidents,
    slos: Slos,
    pub(super) tz: jiff::tz::TimeZone,
    /// `[postmortems] required_for` and `due_within` (ms).
    pub(super) required_for: Vec<crate::severity::Severity>,
    pub(super) due_within: i64,
}

/// A change: any sections (key → Markdown) and a new status.
#[derive(Debug, Default)]
pub struct Change {
    pub sections: BTreeMap<String, String>,
    pub status: Option<String>,
}

impl Postmortems {
    pub fn new(db: Db, incidents: Incidents, slos: Slos, tz: jiff::tz::TimeZone) -> Self {
        Self {
            db,
            incidents,
            slos,
            tz,
            required_for: Vec::new(),
            due_within: 5 * 86_400_000,
        }
    }

    /// `ms` in the configured time zone: "2026-12-01 10:00:00 CET".
    pub fn local(&self, ms: i64) -> String {
        crate::time::in_zone(ms, &self.tz, "%Y-%m-%d %H:%M:%S %Z")
    }

    /// Starts the post-mortem of incident `incident_id`, prefilled from it.
    pub async fn create(
        &self,
        incident_id: i64,
        actor: &str,
    ) -> Result<Postmortem, PostmortemError> {
        let d = self.incidents.detail(incident_id).await?;
        let now = now_ms();
        let first_signal = d
            .alerts
            .iter()
            .map(|a| a.starts_at)
            .filter(|t| *t > 0)
            .min()
            .map_or(d.incident.created_at, |t| t.min(d.incident.created_at));
        let end = d.incident.resolved_at.unwrap_or(now);
        let impact = self
            .slos
            .impact(&d.incident.service, first_signal, end)
            .await?;
        let draft = self.draft(&d, &impact, first_signal, now, actor);
        let actor = actor.to_string();
        self.db
            .write(move |c| {
                if repo::of_incident(c, incident_id)?.is_some() {
                    return Err(PostmortemError::Conflict(format!(
                        "incident {incident_id} already has a post-mortem"
                    )));
                }
                let id = repo::insert(c, &draft)?;
                timeline::add(
                    c,
                    incident_id,
                    now,
                    "postmortem",
                    &actor,
                    "Started the post-mortem",
                    None,
                )?;
                Ok(repo::get(c, id)?.expect("just written"))
            })
            .await
    }

    fn draft(
        &self,
        d: &IncidentDetail,
        impact: &[SloImpact],
        first_signal: i64,
        now: i64,
        actor: &str,
    ) -> Postmortem {
        let i = &d.incident;
        let secs = |a: i64, b: i64| ((b - a) / 1000).max(0);
        let detect = d
            .alerts
            .iter()
            .map(|a| a.starts_at)
            .filter(|t| *t > 0)
            .min();
        let metrics = Metrics {
            time_to_detect_s: detect.map(|t| secs(t, i.created_at)),
            time_to_acknowledge_s: i.acknowledged_at.map(|t| secs(i.created_at, t)),
            time_to_resolve_s: i.resolved_at.map(|t| secs(i.created_at, t)),
            duration_s: Some(secs(first_signal, i.resolved_at.unwrap_or(now))),
        };
        let human = |s: Option<i64>| s.map(|s| crate::time::human_duration(s * 1000));
        // Every section is there from the start, empty until written.
        let mut sections: BTreeMap<String, String> = SECTIONS
            .iter()
            .map(|(k, _, _)| (k.to_string(), String::new()))
            .collect();
        let service = if i.service.is_empty() {
            "no service".to_string()
        } else {
            i.service.clone()
        };
        sections.insert(
            "summary".into(),
            format!(
                "{}{} incident on {service}: {}. It lasted {}.",
                if i.drill { "Drill: a simulated " } else { "" },
                i.severity,
                i.title,
                human(metrics.duration_s).unwrap_or_default()
            ),
        );
        let mut impact_text = String::new();
        for s in impact {
            impact_text.push_str(&format!(
                "- SLO {}: {:.0} bad events of {:.0} ({}), {} of the period's error budget.\n",
                s.slo,
                s.bad_events,
                s.events,
                s.error_ratio
                    .map(|r| format!("error ratio {:.3} %", r * 100.0))
                    .unwrap_or_else(|| "no data".into()),
                s.budget_consumed
                    .map(|b| format!("{:.1} %", b * 100.0))
                    .unwrap_or_else(|| "an unknown share".into()),
            ));
        }
        if !impact_text.is_empty() {
            sections.insert("impact".into(), impact_text);
        }
        sections.insert(
            "detection".into(),
            match human(metrics.time_to_detect_s) {
                Some(t) => format!(
                    "Opened by {} {t} after the first alert started firing.",
                    i.created_by
                ),
                None => format!("Declared by {}.", i.created_by),
            },
        );
        sections.insert("timeline".into(), self.timeline_text(d));
        Postmortem {
            id: 0,
            incident_id: i.id,
            status: Status::Draft,
            title: if i.drill {
                format!("Drill: {}", i.title)
            } else {
                i.title.clone()
            },
            sections,
            metrics,
            slo_impact: impact.to_vec(),
            action_items: None,
            created_by: actor.to_string(),
            created_at: now,
            updated_at: now,
            published_at: None,
        }
    }

    /// Every alert's start and end and every timeline entry, oldest first, in the
    /// configured time zone.
    fn timeline_text(&self, d: &IncidentDetail) -> String {
        let mut lines: Vec<(i64, String)> = Vec::new();
        for a in &d.alerts {
            let instance = a
                .labels
                .get("instance")
                .and_then(|v| v.as_str())
                .map(|i| format!(" on {i}"))
                .unwrap_or_default();
            lines.push((
                a.starts_at,
                format!("alert {}{instance} started firing", a.alertname),
            ));
            if let Some(end) = a.ends_at.filter(|_| a.status == "resolved") {
                lines.push((end, format!("alert {}{instance} resolved", a.alertname)));
            }
        }
        for e in &d.timeline {
            lines.push((e.at, format!("{}: {}", e.actor, e.message)));
        }
        lines.sort_by_key(|l| l.0);
        lines
            .into_iter()
            .map(|(at, text)| format!("- {} — {}\n", self.local(at), text.replace('\n', " ")))
            .collect()
    }

    /// One post-mortem with its action items.
    pub async fn get(&self, id: i64) -> Result<Postmortem, PostmortemError> {
        let today = self.today();
        self.db
            .read(move |c| {
                let Some(mut p) = repo::get(c, id)? else {
                    return Ok(None);
                };
                let filter = super::items::ItemFilter {
                    postmortem_id: Some(id),
                    ..Default::default()
                };
                p.action_items = Some(repo::list_items(c, &filter, &today)?);
                Ok::<_, crate::db::StoreError>(Some(p))
            })
            .await?
            .ok_or_else(|| PostmortemError::NotFound(format!("post-mortem {id} not found")))
    }

    /// The post-mortem of an incident, if any.
    pub async fn of_incident(&self, incident_id: i64) -> Result<Option<i64>, PostmortemError> {
        Ok(self
            .db
            .read(move |c| repo::of_incident(c, incident_id))
            .await?)
    }

    pub async fn list(&self, status: Option<&str>) -> Result<Vec<Postmortem>, PostmortemError> {
        let status = status
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<Status>())
            .transpose()
            .map_err(|m| PostmortemError::Invalid {
                field: "status".into(),
                message: m,
            })?;
        Ok(self.db.read(move |c| repo::list(c, status, 500)).await?)
    }

    /// Edits sections and/or moves the status; a published post-mortem takes no edits
    /// until it is moved back to draft. Recorded on the incident's timeline.
    pub async fn update(
        &self,
        id: i64,
        change: Change,
        actor: &str,
    ) -> Result<Postmortem, PostmortemError> {
        let invalid = |field: &str, message: String| PostmortemError::Invalid {
            field: field.into(),
            message,
        };
        for (key, text) in &change.sections {
            if !is_section(key) {
                let known: Vec<&str> = SECTIONS.iter().map(|s| s.0).collect();
                return Err(invalid(
                    &format!("sections.{key}"),
                    format!("is not a section (one of {})", known.join(", ")),
                ));
            }
            if text.len() > MAX_SECTION {
                return Err(invalid(
                    &format!("sections.{key}"),
                    format!("at most {MAX_SECTION} bytes"),
                ));
            }
        }
        let status = change
            .status
            .as_deref()
            .map(|s| s.parse::<Status>())
            .transpose()
            .map_err(|m| invalid("status", m))?;
        let actor = actor.to_string();
        self.db
            .write(move |c| {
                let mut p = repo::get(c, id)?.ok_or_else(|| {
                    PostmortemError::NotFound(format!("post-mortem {id} not found"))
                })?;
                let editing = change
                    .sections
                    .iter()
                    .any(|(k, v)| p.sections.get(k) != Some(v));
                let reopening = status == Some(Status::Draft) && p.status == Status::Published;
                if p.status == Status::Published && editing && !reopening {
                    return Err(PostmortemError::Conflict(
                        "a published post-mortem is read-only: move it back to draft to edit it"
                            .into(),
                    ));
                }
                let now = now_ms();
                let mut said: Vec<String> = Vec::new();
                if editing {
                    let changed: Vec<&str> = SECTIONS
                        .iter()
                        .map(|s| s.0)
                        .filter(|k| {
                            change
                                .sections
                                .get(*k)
                                .is_some_and(|v| p.sections.get(*k) != Some(v))
                        })
                        .collect();
                    said.push(format!("Edited the post-mortem ({})", changed.join(", ")));
                    for (k, v) in &change.sections {
                        p.sections.insert(k.clone(), v.clone());
                    }
                }
                if let Some(s) = status.filter(|s| *s != p.status) {
                    said.push(format!("Moved the post-mortem to {}", s.words()));
                    p.status = s;
                    p.published_at = (s == Status::Published).then_some(now);
                }
                if said.is_empty() {
                    return Ok(p);
                }
                p.updated_at = now;
                repo::update(c, &p)?;
                for line in said {
                    timeline::add(c, p.incident_id, now, "postmortem", &actor, &line, None)?;
                }
                Ok::<_, PostmortemError>(p)
            })
            .await
    }
}
