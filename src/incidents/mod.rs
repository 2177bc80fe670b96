//! Incidents: the model, the owner files of their tables (`repo` owns `incidents`,
//! `alert_rows` owns `alerts`, `timeline` owns `timeline`), the list query, and the
//! lifecycle service.
//!
//! Whoever reacts to incident events (notifications) plugs in as an [`EventSink`]: it
//! runs inside the transaction of the change, so an incident change and the messages it
//! causes commit together, and this module does not depend on the notification code.

pub mod alert_rows;
mod edits;
mod list;
pub mod repo;
pub mod service;
pub mod shared_sets;
pub mod stats;
pub mod timeline;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::db::{Conn, StoreError};
use crate::time::{ser_ms, ser_opt_ms};

pub use crate::severity::Severity;
pub use list::{ListParams, ListQuery, Sort};
pub use service::Incidents;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Triggered,
    Acknowledged,
    Resolved,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Triggered, Status::Acknowledged, Status::Resolved];
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Triggered => "triggered",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "triggered" => Ok(Status::Triggered),
            "acknowledged" => Ok(Status::Acknowledged),
            "resolved" => Ok(Status::Resolved),
            _ => Err(format!("`{s}` is not an incident status")),
        }
    }
}

/// The status filter of incident lists: `open` is everything not resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Open,
    All,
    Only(Status),
}

impl FromStr for StatusFilter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "" | "open" => Ok(StatusFilter::Open),
            "all" => Ok(StatusFilter::All),
            other => other.parse().map(StatusFilter::Only).map_err(|_| {
                format!("`{s}` is not one of open, triggered, acknowledged, resolved, all")
            }),
        }
    }
}

impl StatusFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusFilter::Open => "open",
            StatusFilter::All => "all",
            StatusFilter::Only(s) => s.as_str(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub status: Status,
    pub severity: Severity,
    pub service: String,
    pub source: String,
    pub group_key: Option<String>,
    pub runbook_url: Option<String>,
    pub assignee: Option<String>,
    pub commander: Option<String>,
    pub created_by: String,
    #[serde(serialize_with = "ser_ms")]
    pub created_at: i64,
    #[serde(serialize_with = "ser_ms")]
    pub updated_at: i64,
    #[serde(serialize_with = "ser_opt_ms")]
    pub acknowledged_at: Option<i64>,
    pub acknowledged_by: Option<String>,
    #[serde(serialize_with = "ser_opt_ms")]
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<String>,
    pub alert_count: i64,
    pub firing_count: i64,
    /// Opened by a drill (`firewatch drill`): left out of MTTA, MTTR and reports.
    pub drill: bool,
}

/// Whether an incident is a drill, and whether its drill may page PagerDuty. Alerts say
/// so with the label `firewatch_drill`: `page` pages, any other value except `false`
/// keeps PagerDuty out of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Drill {
    #[default]
    No = 0,
    Quiet = 1,
    Paging = 2,
}

impl Drill {
    pub const LABEL: &str = "firewatch_drill";

    pub fn from_label(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            None | Some("") => Drill::No,
            Some(v) if v.eq_ignore_ascii_case("false") => Drill::No,
            Some(v) if v.eq_ignore_ascii_case("page") => Drill::Paging,
            Some(_) => Drill::Quiet,
        }
    }

    /// The stored value: 0 real, 1 drill, 2 drill that may page.
    pub fn from_column(v: i64) -> Self {
        match v {
            1 => Drill::Quiet,
            2 => Drill::Paging,
            _ => Drill::No,
        }
    }

    pub fn is_drill(self) -> bool {
        self != Drill::No
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub id: i64,
    pub fingerprint: String,
    pub status: String,
    pub alertname: String,
    pub severity: Severity,
    pub labels: serde_json::Map<String, serde_json::Value>,
    pub annotations: serde_json::Map<String, serde_json::Value>,
    #[serde(serialize_with = "ser_ms")]
    pub starts_at: i64,
    #[serde(serialize_with = "ser_opt_ms")]
    pub ends_at: Option<i64>,
    pub generator_url: String,
    #[serde(serialize_with = "ser_ms")]
    pub first_seen_at: i64,
    #[serde(serialize_with = "ser_ms")]
    pub last_seen_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    pub id: i64,
    #[serde(serialize_with = "ser_ms")]
    pub at: i64,
    pub kind: String,
    pub actor: String,
    pub message: String,
    pub details: Option<serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error("incident {0} not found")]
    NotFound(i64),
    #[error("{0}")]
    Conflict(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IncidentError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        IncidentError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What happened to an incident, for whoever reacts to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Triggered,
    /// Its severity was raised by a new alert.
    Escalated,
    Acknowledged,
    Resolved,
    Reopened,
}

/// Reacts to incident events inside the transaction that caused them (the notification
/// outbox), and is told once that transaction has committed. `on_event` only changes the
/// database: alert intake may run twice when its batch is replayed (`Db::write_for`).
pub trait EventSink: Send + Sync {
    /// Returns whether it queued anything (then `committed` has work to start).
    fn on_event(
        &self,
        c: &Conn,
        incident_id: i64,
        event: Event,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// The change is durable: start acting on it (wake the delivery worker).
    fn committed(&self);
}

#[cfg(test)]
mod tests {
    use super::Drill;

    #[test]
    fn the_drill_label_says_whether_and_how_an_incident_is_a_drill() {
        assert_eq!(Drill::from_label(None), Drill::No);
        assert_eq!(Drill::from_label(Some("")), Drill::No);
        assert_eq!(Drill::from_label(Some("False")), Drill::No);
        assert_eq!(Drill::from_label(Some("true")), Drill::Quiet);
        assert_eq!(Drill::from_label(Some("q4-2026")), Drill::Quiet);
        assert_eq!(Drill::from_label(Some(" PAGE ")), Drill::Paging);
        for d in [Drill::No, Drill::Quiet, Drill::Paging] {
            assert_eq!(Drill::from_column(d as i64), d);
        }
    }
}
