//! Post-mortems: one per incident, a blameless write-up that drafts itself from what
//! Firewatch already holds — the alerts, the timeline, who acknowledged and when, and the
//! SLO budget the incident burned — and that responders edit, review and publish. Every
//! change is a line on the incident's timeline.

pub mod items;
pub mod policy;
pub mod repo;
pub mod service;
mod tracker;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use service::Postmortems;

use crate::db::StoreError;
use crate::slo::SloImpact;
use crate::time::{ser_ms, ser_opt_ms};

/// The sections, in order: (key, heading, the hint shown in an empty section).
pub const SECTIONS: [(&str, &str, &str); 14] = [
    (
        "summary",
        "Summary",
        "What happened, in two or three sentences a stakeholder understands.",
    ),
    (
        "impact",
        "Impact",
        "Who was affected and how: users, requests, revenue, SLO budget burned.",
    ),
    (
        "detection",
        "Detection",
        "How and when we found out: which alert, or a person? Could we have known sooner?",
    ),
    (
        "response",
        "Response",
        "Who responded and what they did, in order. Describe systems and decisions, not blame.",
    ),
    (
        "recovery",
        "Recovery",
        "What brought service back, and how we confirmed it.",
    ),
    (
        "timeline",
        "Timeline",
        "Times and events, from the first signal to recovery.",
    ),
    (
        "root_causes",
        "Root causes and contributing factors",
        "The conditions that made this possible. Systems fail, people act reasonably on what they know.",
    ),
    ("trigger", "Trigger", "The change or event that set it off."),
    (
        "five_whys",
        "Five whys",
        "Why did it happen? Why was that possible? Keep asking until you reach something we can change.",
    ),
    (
        "went_well",
        "What went well",
        "What helped: alerts, runbooks, tools, people.",
    ),
    (
        "went_wrong",
        "What went wrong",
        "What made it worse or slower, without naming anyone as the cause.",
    ),
    (
        "lucky",
        "Where we got lucky",
        "What could have made it much worse and did not.",
    ),
    (
        "messaging",
        "Messaging",
        "What we told customers and stakeholders, when, and through which channel.",
    ),
    (
        "lessons",
        "Lessons",
        "What we learned, and the action items that follow from it.",
    ),
];

/// Whether `key` is a section.
pub fn is_section(key: &str) -> bool {
    SECTIONS.iter().any(|(k, _, _)| *k == key)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    InReview,
    Published,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::InReview => "in_review",
            Status::Published => "published",
        }
    }

    /// For people: "in review".
    pub fn words(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::InReview => "in review",
            Status::Published => "published",
        }
    }
}

impl std::str::FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "draft" => Ok(Status::Draft),
            "in_review" => Ok(Status::InReview),
            "published" => Ok(Status::Published),
            other => Err(format!(
                "`{other}` is not a status (draft, in_review or published)"
            )),
        }
    }
}

/// The incident's durations, in seconds; None where a step has not happened.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Metrics {
    /// First alert's start → incident opened.
    pub time_to_detect_s: Option<i64>,
    pub time_to_acknowledge_s: Option<i64>,
    pub time_to_resolve_s: Option<i64>,
    /// First signal (alert start or opening) → resolution (or the draft, if still open).
    pub duration_s: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Postmortem {
    pub id: i64,
    pub incident_id: i64,
    pub status: Status,
    pub title: String,
    /// Markdown per section key.
    pub sections: BTreeMap<String, String>,
    pub metrics: Metrics,
    pub slo_impact: Vec<SloImpact>,
    /// Filled when one post-mortem is read (not in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_items: Option<Vec<items::ActionItem>>,
    pub created_by: String,
    #[serde(serialize_with = "ser_ms")]
    pub created_at: i64,
    #[serde(serialize_with = "ser_ms")]
    pub updated_at: i64,
    #[serde(serialize_with = "ser_opt_ms")]
    pub published_at: Option<i64>,
}

impl Postmortem {
    /// The post-mortem as Markdown: the title, the metrics, one `## ` heading per section.
    pub fn to_markdown(&self) -> String {
        let mut md = format!("# Post-mortem: {}\n\n", self.title);
        md.push_str(&format!(
            "Incident #{} · status {}\n\n",
            self.incident_id,
            self.status.words()
        ));
        let d = |s: Option<i64>| {
            s.map(|s| crate::time::human_duration(s * 1000))
                .unwrap_or_else(|| "–".into())
        };
        md.push_str(&format!(
            "| Time to detect | Time to acknowledge | Time to resolve | Duration |\n|---|---|---|---|\n| {} | {} | {} | {} |\n\n",
            d(self.metrics.time_to_detect_s),
            d(self.metrics.time_to_acknowledge_s),
            d(self.metrics.time_to_resolve_s),
            d(self.metrics.duration_s)
        ));
        for (key, heading, _) in SECTIONS {
            md.push_str(&format!("## {heading}\n\n"));
            let text = self.sections.get(key).map(|s| s.trim()).unwrap_or("");
            md.push_str(if text.is_empty() {
                "_Not written yet._"
            } else {
                text
            });
            md.push_str("\n\n");
        }
        md
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PostmortemError {
    #[error("{0}")]
    NotFound(String),
    /// The incident already has one, or a published post-mortem was edited.
    #[error("{0}")]
    Conflict(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<crate::incidents::IncidentError> for PostmortemError {
    fn from(e: crate::incidents::IncidentError) -> Self {
        use crate::incidents::IncidentError as E;
        match e {
            E::NotFound(id) => PostmortemError::NotFound(format!("incident {id} not found")),
            E::Store(s) => PostmortemError::Store(s),
            other => PostmortemError::Invalid {
                field: "incident".into(),
                message: other.to_string(),
            },
        }
    }
}

impl From<crate::slo::SloError> for PostmortemError {
    fn from(e: crate::slo::SloError) -> Self {
        match e {
            crate::slo::SloError::Store(s) => PostmortemError::Store(s),
            other => PostmortemError::Invalid {
                field: "slo".into(),
                message: other.to_string(),
            },
        }
    }
}
