//! Incidents: model, repository (all SQL lives in `repo`), lifecycle service.

pub mod repo;
pub mod service;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::db::StoreError;
use crate::time::{ser_ms, ser_opt_ms};

/// Priority: P0 is the most urgent. Ordering follows urgency (`P0 < P1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    P0,
    P1,
    P2,
    P3,
    P4,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::P0,
        Severity::P1,
        Severity::P2,
        Severity::P3,
        Severity::P4,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::P0 => "P0",
            Severity::P1 => "P1",
            Severity::P2 => "P2",
            Severity::P3 => "P3",
            Severity::P4 => "P4",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_uppercase().as_str() {
            "P0" => Ok(Severity::P0),
            "P1" => Ok(Severity::P1),
            "P2" => Ok(Severity::P2),
            "P3" => Ok(Severity::P3),
            "P4" => Ok(Severity::P4),
            _ => Err(format!("`{s}` is not a severity (P0, P1, P2, P3 or P4)")),
        }
    }
}

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

impl From<rusqlite::Error> for IncidentError {
    fn from(e: rusqlite::Error) -> Self {
        IncidentError::Store(StoreError::Sqlite(e))
    }
}

impl IncidentError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        IncidentError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}
