//! View models: incidents, alerts, timeline entries and SLOs with their numbers already
//! in words, as every page shows them.

use crate::incidents::{Alert, Incident, Status, TimelineEntry};
use crate::slo::SloStatus;
use crate::time::{human_duration, rfc3339, short};

/// An incident as the pages show it.
pub struct IncidentView {
    pub inc: Incident,
    pub created_iso: String,
    pub created_short: String,
    pub age: String,
    pub tta: Option<String>,
    pub ttr: Option<String>,
    pub acknowledged_short: Option<String>,
    pub resolved_short: Option<String>,
    /// The active silence that holds its notifications back, if one does.
    pub silenced: Option<i64>,
}

/// Marks the incidents an active silence covers (one read for the whole list).
pub async fn mark_silenced(
    state: &crate::state::AppState,
    views: &mut [IncidentView],
) -> Result<(), crate::notify::NotifyError> {
    let open: Vec<i64> = views
        .iter()
        .filter(|v| v.is_open())
        .map(|v| v.inc.id)
        .collect();
    if open.is_empty() {
        return Ok(());
    }
    let silenced = state.notifications.silenced(open).await?;
    for v in views {
        v.silenced = silenced.get(&v.inc.id).copied();
    }
    Ok(())
}

impl IncidentView {
    pub fn new(inc: Incident, now: i64) -> Self {
        let end = inc.resolved_at.unwrap_or(now);
        Self {
            created_iso: rfc3339(inc.created_at),
            created_short: short(inc.created_at),
            age: human_duration(end - inc.created_at),
            tta: inc
                .acknowledged_at
                .map(|a| human_duration(a - inc.created_at)),
            ttr: inc.resolved_at.map(|r| human_duration(r - inc.created_at)),
            acknowledged_short: inc.acknowledged_at.map(short),
            resolved_short: inc.resolved_at.map(short),
            silenced: None,
            inc,
        }
    }
    pub fn sev(&self) -> &'static str {
        self.inc.severity.as_str()
    }
    pub fn status(&self) -> &'static str {
        self.inc.status.as_str()
    }
    pub fn is_open(&self) -> bool {
        self.inc.status != Status::Resolved
    }
}

pub struct AlertView {
    pub alert: Alert,
    pub labels: Vec<(String, String)>,
    pub summary: String,
    pub starts_short: String,
    pub ends_short: Option<String>,
    pub generator_url: Option<String>,
}

impl AlertView {
    pub fn new(alert: Alert) -> Self {
        let text = |v: &serde_json::Value| {
            v.as_str()
                .map(String::from)
                .unwrap_or_else(|| v.to_string())
        };
        let labels = alert
            .labels
            .iter()
            .filter(|(k, _)| k.as_str() != "alertname")
            .map(|(k, v)| (k.clone(), text(v)))
            .collect();
        let summary = alert
            .annotations
            .get("summary")
            .or_else(|| alert.annotations.get("description"))
            .map(text)
            .unwrap_or_default();
        Self {
            labels,
            summary,
            starts_short: short(alert.starts_at),
            ends_short: alert.ends_at.map(short),
            generator_url: crate::incidents::service::safe_url(&alert.generator_url),
            alert,
        }
    }
    pub fn firing(&self) -> bool {
        self.alert.status == "firing"
    }
}

pub struct TimelineView {
    pub entry: TimelineEntry,
    pub at_iso: String,
    pub at_short: String,
    /// A note rendered as safe Markdown (links clickable, raw HTML shown as text).
    pub note_html: Option<String>,
}

/// Worst first: critical, warning, ok, no data.
pub fn status_rank(status: &str) -> u8 {
    match status {
        "critical" => 0,
        "warning" => 1,
        "ok" => 2,
        _ => 3,
    }
}

/// One SLO row of the dashboard, with the numbers already in words.
pub struct SloView {
    /// `<service>-<name>`, the SLO page's address.
    pub id: String,
    pub name: String,
    pub service: String,
    pub status: String,
    pub objective: String,
    pub sli_1h: String,
    pub sli_period: String,
    pub budget: String,
    pub burn_1h: String,
    pub burn_6h: String,
    pub words: String,
    /// The last 24 hours as a sparkline (dashboard only).
    pub spark: String,
}

fn pct(v: Option<f64>) -> String {
    match v {
        Some(v) => {
            let p = v * 100.0;
            if p >= 99.0 {
                format!("{p:.3} %")
            } else {
                format!("{p:.1} %")
            }
        }
        None => "no data".into(),
    }
}

impl SloView {
    pub fn new(s: &SloStatus) -> Self {
        let w = |k: &str| s.windows.get(k);
        let burn = |k: &str| {
            w(k).and_then(|w| w.burn_rate)
                .map(|b| format!("{b:.2}x"))
                .unwrap_or_else(|| "–".into())
        };
        let words = if let Some(e) = &s.error {
            e.clone()
        } else {
            match (s.error_budget.remaining, s.error_budget.hours_to_exhaustion) {
                (None, _) => match &s.reason {
                    Some(r) => format!("No data: {r}."),
                    None => "No data yet: no events were measured in the period.".into(),
                },
                (Some(r), _) if r <= 0.0 => "The error budget is spent for this period.".into(),
                (Some(_), Some(h)) if h < 48.0 => {
                    format!(
                        "At this rate the budget runs out in {}.",
                        human_duration((h * 3_600_000.0) as i64)
                    )
                }
                (Some(_), Some(h)) if h > s.period_days as f64 * 24.0 => {
                    "At this rate the budget outlasts the period.".into()
                }
                (Some(_), Some(h)) => {
                    format!("At this rate the budget runs out in {:.0} days.", h / 24.0)
                }
                (Some(_), None) => "Not burning budget right now.".into(),
            }
        };
        // Every number says how much data stands behind it.
        let measured = match (s.measured_since, s.coverage) {
            (Some(since), Some(c)) => format!(
                "Measured since {} ({} of the period).",
                short(since),
                coverage_pct(c)
            ),
            _ => String::new(),
        };
        let words = if s.too_early && s.error.is_none() && s.alert.is_none() {
            format!("Too early to judge the period. {measured}")
        } else if measured.is_empty() {
            words
        } else {
            format!("{words} {measured}")
        };
        Self {
            id: format!("{}-{}", s.service, s.name),
            name: s.name.clone(),
            service: s.service.clone(),
            status: s.status.clone(),
            objective: format!("{} %", s.objective * 100.0),
            sli_1h: pct(w("1h").and_then(|w| w.sli)),
            sli_period: pct(w("period").and_then(|w| w.sli)),
            budget: if s.too_early {
                "too early".into()
            } else {
                pct(s.error_budget.remaining)
            },
            burn_1h: burn("1h"),
            burn_6h: burn("6h"),
            words,
            spark: String::new(),
        }
    }
}

/// "under 0.1 %", "0.3 %", "12 %", "100 %": how much of a period is measured.
pub fn coverage_pct(c: f64) -> String {
    let p = c * 100.0;
    if p < 0.1 {
        "under 0.1 %".into()
    } else if p < 10.0 {
        format!("{p:.1} %")
    } else {
        format!("{p:.0} %")
    }
}

impl TimelineView {
    pub fn new(entry: TimelineEntry) -> Self {
        Self {
            at_iso: rfc3339(entry.at),
            at_short: crate::time::short_secs(entry.at),
            note_html: (entry.kind == "note").then(|| crate::markdown::to_html(&entry.message)),
            entry,
        }
    }
}

/// Who is on call, for the dashboard, the incident page and the card.
pub struct OncallView {
    pub primary: crate::oncall::Contact,
    pub primary_tel: String,
    pub secondary: Option<(crate::oncall::Contact, String)>,
    /// "Mon 7 Dec 10:00 CET".
    pub until: String,
    pub reason: Option<String>,
}

/// A phone number as a `tel:` link target: the plus sign and digits only.
pub fn tel(phone: &str) -> String {
    phone
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect()
}

impl OncallView {
    /// Who is on call now; None without a rotation.
    pub fn now(state: &crate::state::AppState) -> Option<Self> {
        let w = state.oncall.at(crate::time::now_ms())?;
        let r = state.oncall.rotation()?;
        Some(OncallView {
            primary_tel: tel(&w.primary.phone),
            primary: w.primary,
            secondary: w.secondary.map(|s| {
                let t = tel(&s.phone);
                (s, t)
            }),
            until: r.local(w.until),
            reason: w.override_reason,
        })
    }
}

#[derive(askama::Template)]
#[template(path = "contacts_table.html")]
struct ContactsTable<'a> {
    contacts: Vec<(&'a crate::oncall::Contact, String)>,
}

/// Every `[[contact]]` as an HTML table (the `{{contacts}}` block of runbooks).
pub fn contacts_table(contacts: &[crate::oncall::Contact]) -> String {
    use askama::Template;
    ContactsTable {
        contacts: contacts.iter().map(|c| (c, tel(&c.phone))).collect(),
    }
    .render()
    .unwrap_or_default()
}
