//! The team's own settings sections: runbooks folder, contacts and the on-call rotation.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::severity::Severity;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactSettings {
    /// Any UTF-8, unique; on-call members and overrides name contacts by it.
    pub name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub email: String,
    /// Slack handle, e.g. "@lead".
    #[serde(default)]
    pub slack: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OncallSettings {
    /// Contact names in rotation order: each is primary for a week, the next one is
    /// secondary.
    pub members: Vec<String>,
    /// When shifts change hands: a weekday and a local time.
    pub handover: String,
    /// IANA time zone of the handover (default: `evaluation.time_zone`).
    pub time_zone: Option<String>,
    /// A date (YYYY-MM-DD) whose first handover makes `members[0]` primary (default:
    /// 2024-01-01).
    pub start: Option<String>,
    /// Date-ranged replacements: holidays, swaps.
    #[serde(rename = "override")]
    pub overrides: Vec<OverrideSettings>,
}

impl Default for OncallSettings {
    fn default() -> Self {
        Self {
            members: Vec::new(),
            handover: "monday 10:00".into(),
            time_zone: None,
            start: None,
            overrides: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideSettings {
    /// Local "2026-12-24 10:00" (or a date, or RFC 3339) to `to`, exclusive.
    pub from: String,
    pub to: String,
    pub primary: String,
    pub secondary: Option<String>,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunbookSettings {
    /// A folder of the team's runbooks (Markdown with front matter); a file named like a
    /// built-in runbook overrides it. None: the built-in runbooks only.
    pub dir: Option<PathBuf>,
    /// How often the folder is checked for changed, new and deleted files.
    pub reload_interval: String,
}

impl Default for RunbookSettings {
    fn default() -> Self {
        Self {
            dir: None,
            reload_interval: "5s".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PostmortemSettings {
    /// Resolved incidents of these severities need a published post-mortem.
    pub required_for: Vec<Severity>,
    /// How long after resolution it is due.
    pub due_within: String,
    /// Remind the incident's receivers (at most once a day) of overdue post-mortems and
    /// action items.
    pub reminders: bool,
}

impl Default for PostmortemSettings {
    fn default() -> Self {
        Self {
            required_for: vec![Severity::P0, Severity::P1],
            due_within: "5d".into(),
            reminders: true,
        }
    }
}
