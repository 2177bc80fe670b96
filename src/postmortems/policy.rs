//! The post-mortem policy: which resolved incidents need a post-mortem and by when
//! (`[postmortems] required_for`, `due_within`), and the counts the dashboard and
//! `/metrics` show.

use std::time::Duration;

use super::{Postmortems, Status, repo};
use crate::severity::Severity;

/// A resolved incident whose post-mortem is not published yet.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Due {
    pub incident_id: i64,
    pub title: String,
    pub severity: String,
    pub service: String,
    /// Resolution + `due_within`, unix ms.
    #[serde(serialize_with = "crate::time::ser_ms")]
    pub deadline: i64,
    pub overdue: bool,
    pub postmortem_id: Option<i64>,
    pub postmortem_status: Option<Status>,
}

/// How far back resolved incidents are looked at: a month, or twice the due time.
fn lookback(due_within: i64) -> i64 {
    (30 * 86_400_000_i64).max(2 * due_within)
}

impl Postmortems {
    pub fn with_policy(mut self, required_for: Vec<Severity>, due_within: Duration) -> Self {
        self.required_for = required_for;
        self.due_within = due_within.as_millis() as i64;
        self
    }

    /// Resolved incidents that need a post-mortem (of the last month), oldest first.
    pub async fn due(&self, now: i64) -> Result<Vec<Due>, super::PostmortemError> {
        let severities: Vec<&'static str> = self.required_for.iter().map(|s| s.as_str()).collect();
        let within = self.due_within;
        let rows = self
            .db
            .read(move |c| repo::due(c, &severities, now - lookback(within)))
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let deadline = r.resolved_at + within;
                Due {
                    incident_id: r.incident_id,
                    title: r.title,
                    severity: r.severity,
                    service: r.service,
                    deadline,
                    overdue: now > deadline,
                    postmortem_id: r.postmortem.as_ref().map(|p| p.0),
                    postmortem_status: r.postmortem.and_then(|p| p.1.parse().ok()),
                }
            })
            .collect())
    }

    /// Action items per status and the overdue count (for /metrics and the dashboard).
    pub async fn item_counts(&self) -> Result<(Vec<(String, i64)>, i64), super::PostmortemError> {
        let today = self.today();
        Ok(self.db.read(move |c| repo::item_counts(c, &today)).await?)
    }
}
