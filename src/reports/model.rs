//! What a report holds: the numbers of its eight sections (the JSON API's shape).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// `2026-11`.
    pub month: String,
    /// "November 2026".
    pub label: String,
    pub revision: i64,
    #[serde(
        serialize_with = "crate::time::ser_ms",
        deserialize_with = "crate::time::de_ms"
    )]
    pub generated_at: i64,
    pub generated_by: String,
    pub time_zone: String,
    /// The month's bounds (ms); `until` is where the numbers stop (the month's end, or
    /// the generation time for a month-to-date report).
    #[serde(
        serialize_with = "crate::time::ser_ms",
        deserialize_with = "crate::time::de_ms"
    )]
    pub from: i64,
    #[serde(
        serialize_with = "crate::time::ser_ms",
        deserialize_with = "crate::time::de_ms"
    )]
    pub to: i64,
    #[serde(
        serialize_with = "crate::time::ser_ms",
        deserialize_with = "crate::time::de_ms"
    )]
    pub until: i64,
    pub month_to_date: bool,
    pub sections: Sections,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sections {
    pub executive_summary: ExecutiveSummary,
    pub slo_compliance: Vec<SloCompliance>,
    pub error_budget: Vec<BudgetBurn>,
    pub incidents: IncidentsSection,
    pub trends: Vec<MonthTrend>,
    pub top_incidents: Vec<TopIncident>,
    pub action_items: ActionItemsSection,
    pub appendix: Appendix,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutiveSummary {
    pub slos_total: usize,
    pub slos_met: usize,
    pub slos_missed: Vec<String>,
    pub slos_without_data: Vec<String>,
    /// Plain sentences, in order.
    pub paragraphs: Vec<String>,
    /// The one thing to fix.
    pub fix_first: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SloCompliance {
    /// The SLO's id (`service-name`).
    pub slo: String,
    pub name: String,
    pub service: String,
    /// Ratio (0.999).
    pub objective: f64,
    pub sli: Option<f64>,
    pub met: Option<bool>,
    /// Share of the month's error budget (1.0 = all of it).
    pub budget_consumed: Option<f64>,
    /// Share of the hours measured with data.
    pub coverage: f64,
    /// When measuring began, if the SLO was added during the month.
    #[serde(
        serialize_with = "crate::time::ser_opt_ms",
        deserialize_with = "crate::time::de_opt_ms"
    )]
    pub measured_since: Option<i64>,
    pub events: f64,
    pub bad_events: f64,
    pub previous: Option<PreviousMonth>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreviousMonth {
    pub month: String,
    pub sli: Option<f64>,
    pub met: Option<bool>,
    pub budget_consumed: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BudgetBurn {
    pub slo: String,
    pub objective: f64,
    pub budget_consumed: Option<f64>,
    /// Per day: (date, share of the month's budget consumed by the end of that day).
    pub by_day: Vec<(String, Option<f64>)>,
    /// The days that burned most: (date, share of the month's budget).
    pub worst_days: Vec<(String, f64)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IncidentsSection {
    pub total: i64,
    pub by_severity: BTreeMap<String, i64>,
    pub by_service: BTreeMap<String, i64>,
    pub mtta_s: Option<f64>,
    pub mttr_s: Option<f64>,
    pub list: Vec<IncidentLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IncidentLine {
    pub id: i64,
    pub title: String,
    pub severity: String,
    pub service: String,
    #[serde(
        serialize_with = "crate::time::ser_ms",
        deserialize_with = "crate::time::de_ms"
    )]
    pub created_at: i64,
    pub status: String,
    pub duration_s: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MonthTrend {
    pub month: String,
    pub slos_met: usize,
    pub slos_with_data: usize,
    /// Per SLO id: (SLI, budget consumed).
    pub slos: BTreeMap<String, (Option<f64>, Option<f64>)>,
    pub incidents: i64,
    pub mtta_s: Option<f64>,
    pub mttr_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TopIncident {
    pub id: i64,
    pub title: String,
    pub severity: String,
    pub service: String,
    pub slo: String,
    /// Share of the month's error budget of `slo` burned while it was open.
    pub budget_burned: f64,
    pub postmortem_id: Option<i64>,
    /// From its post-mortem ("Root causes and contributing factors").
    pub root_causes: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ActionItemsSection {
    pub opened: i64,
    pub closed: i64,
    /// Open or in progress at the end of the period.
    pub open: i64,
    pub overdue: i64,
    pub by_owner: Vec<OwnerItems>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OwnerItems {
    pub owner: String,
    pub opened: i64,
    pub closed: i64,
    pub open: i64,
    pub overdue: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Appendix {
    pub slos: Vec<SloDetail>,
    /// How each number is computed.
    pub method: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SloDetail {
    pub slo: String,
    pub objective: f64,
    pub events: f64,
    pub bad_events: f64,
    pub allowed_bad_events: f64,
    pub hours_total: i64,
    pub hours_with_data: i64,
    pub longest_gap_hours: i64,
    /// The SLO's burn-rate windows ending where the report's numbers end.
    pub windows: Vec<WindowRow>,
    pub daily: Vec<DayRow>,
}

/// One window ending at the end of the period (short windows need the per-interval
/// rows, kept `evaluation.raw_history_retention`: older months show "no data" there).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WindowRow {
    pub window: String,
    pub events: f64,
    pub sli: Option<f64>,
    /// Error ratio ÷ (1 − objective).
    pub burn_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DayRow {
    pub date: String,
    pub events: f64,
    pub bad: f64,
    pub sli: Option<f64>,
    pub hours_with_data: i64,
    pub budget_burned: Option<f64>,
    pub budget_consumed_to_date: Option<f64>,
}

/// One SLO's month: its compliance line and its appendix detail.
#[derive(Debug, Clone)]
pub struct SloMonth {
    pub compliance: SloCompliance,
    pub detail: SloDetail,
}

/// A stored revision's headline.
#[derive(Debug, Clone, Serialize)]
pub struct ReportListing {
    pub month: String,
    pub revision: i64,
    #[serde(serialize_with = "crate::time::ser_ms")]
    pub generated_at: i64,
    pub month_to_date: bool,
}

/// The how-it-is-computed text of the appendix.
pub const METHOD: [&str; 7] = [
    "SLI for the month = 1 − Σbad ÷ Σtotal over the SLO's hourly rollups in the month (events counted by Firewatch at every evaluation; the rollups are kept evaluation.history_retention).",
    "An hour without a rollup has no data. It is counted against coverage and never as good: the SLI is computed from measured events only.",
    "Coverage = hours with data ÷ hours in the month (from the SLO's first data when it was added during the month).",
    "Error budget consumed = Σbad ÷ ((1 − objective) × Σtotal): the share of the bad events the objective allows for the month's traffic. Over 100 % means the objective was missed.",
    "A day's burn = that day's bad events ÷ the month's allowed bad events; days are calendar days in the report's time zone.",
    "MTTA and MTTR are the mean times from an incident's opening to its acknowledgement and to its resolution, over the month's incidents that were acknowledged or resolved. Drills are left out everywhere.",
    "An incident's budget burned = bad events of its service's SLO in the hours it was open ÷ the month's allowed bad events (the worst hit SLO is shown).",
];
