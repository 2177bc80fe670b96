//! Scheduled jobs, backups and the monthly report: `[jobs]`, `[backup]`, `[reports]`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[jobs]`: when each scheduled job runs, as a cron expression with seconds
/// (`sec min hour day-of-month month day-of-week`) in `evaluation.time_zone`. `"off"`
/// turns a job off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsSettings {
    /// The monthly SLO report for the month that ended.
    pub monthly_report: String,
    /// Deletes resolved incidents past `retention.resolved_incidents` and the history of
    /// SLOs no longer configured.
    pub retention: String,
    /// Reminders of overdue post-mortems and action items (`postmortems.reminders`).
    pub postmortem_reminders: String,
    /// How often to look for an on-call handover (with an `[oncall]` rotation).
    pub oncall_handover: String,
}

impl Default for JobsSettings {
    fn default() -> Self {
        Self {
            monthly_report: "0 0 7 1 * *".into(),
            retention: "0 30 * * * *".into(),
            postmortem_reminders: "0 0 9 * * *".into(),
            oncall_handover: "0 * * * * *".into(),
        }
    }
}

/// `[backup]`: scheduled consistent copies of the database.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct BackupSettings {
    /// A cron expression (like `[jobs]`); absent: no scheduled backups.
    pub schedule: Option<String>,
    /// Where the copies go (default `<data_dir>/backups`).
    pub dir: Option<PathBuf>,
    /// How many copies to keep (the oldest are deleted); 0 keeps all. Default 7.
    pub keep: Option<usize>,
}

/// `[reports]`: the monthly SLO report.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ReportSettings {
    /// Who gets the report by email when it is generated (needs `[smtp]`).
    pub recipients: Vec<String>,
}

/// Whether a `[jobs]` value turns its job off.
pub fn schedule_is_off(expr: &str) -> bool {
    let e = expr.trim();
    e.is_empty() || e.eq_ignore_ascii_case("off")
}

/// A cron expression with seconds, or why it is not one.
pub fn parse_cron(expr: &str) -> Result<cron::Schedule, String> {
    use std::str::FromStr;
    let fields = expr.split_whitespace().count();
    if fields == 5 {
        return Err(format!(
            "`{expr}` has 5 fields; Firewatch's cron expressions start with seconds \
             (sec min hour day-of-month month day-of-week), e.g. `0 {expr}`"
        ));
    }
    cron::Schedule::from_str(expr).map_err(|e| format!("`{expr}` is not a cron expression: {e}"))
}

impl super::Settings {
    /// Every schedule parses (named by its setting when it does not).
    pub(super) fn check_schedules(&self) -> Result<(), super::ConfigError> {
        let j = &self.jobs;
        let mut all = vec![
            ("jobs.monthly_report", j.monthly_report.as_str()),
            ("jobs.retention", j.retention.as_str()),
            ("jobs.postmortem_reminders", j.postmortem_reminders.as_str()),
            ("jobs.oncall_handover", j.oncall_handover.as_str()),
        ];
        if let Some(b) = &self.backup.schedule {
            all.push(("backup.schedule", b.as_str()));
        }
        for (field, expr) in all {
            if !schedule_is_off(expr) {
                parse_cron(expr).map_err(|m| super::ConfigError::invalid(field, m))?;
            }
        }
        for r in &self.reports.recipients {
            if !r.contains('@') || r.trim() != r || r.contains(['<', '>', ',', ';']) {
                return Err(super::ConfigError::invalid(
                    "reports.recipients",
                    format!("`{r}` is not an email address"),
                ));
            }
        }
        Ok(())
    }
}
