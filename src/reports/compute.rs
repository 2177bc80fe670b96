//! The report's numbers, from the SLOs' hourly rollups, the month's incidents and the
//! action items. Pure functions of their inputs, so tests can check them by hand.
//!
//! How each number is computed (also written into the appendix):
//! - An SLO's SLI for the month is `1 - Σbad / Σtotal` over its hourly rollups in the
//!   month; an hour without a rollup has no data and counts for nothing — never as good.
//! - Budget consumed is `Σbad / ((1 - objective) × Σtotal)`: the share of the bad events
//!   the objective allows for the month's traffic.
//! - Coverage is the share of the month's hours (from the SLO's first data when it was
//!   added during the month) that have data.

use std::collections::BTreeMap;

use super::month::{HOUR, Month, hour_ceil};
use super::{
    ActionItemsSection, DayRow, IncidentLine, IncidentsSection, OwnerItems, SloCompliance,
    SloDetail, SloMonth, TopIncident,
};
use crate::incidents::Incident;
use crate::postmortems::items::ActionItem;
use crate::slo::store::HistoryPoint;

/// One SLO and its rollups for a month.
pub struct SloInput {
    pub id: String,
    pub name: String,
    pub service: String,
    pub objective: f64,
    /// The SLO's first stored data ever (to tell "added this month" from a gap).
    pub first_data: Option<i64>,
    pub hours: Vec<HistoryPoint>,
}

fn bad_of(p: &HistoryPoint) -> f64 {
    p.error_ratio.unwrap_or(0.0) * p.events
}

/// The SLO's month: SLI, budget, coverage, days.
pub fn slo_month(m: &Month, s: &SloInput, until: i64) -> SloMonth {
    let to = until.min(m.to);
    // Added during the month: measured from its first data.
    let start = match s.first_data {
        Some(f) if f > m.from && f < to => f,
        _ => m.from,
    };
    // From the hour measuring began in (its rollup holds the first data), but not before
    // the month's first whole hour.
    let first_hour = (start - start.rem_euclid(HOUR)).max(hour_ceil(m.from));
    let hours: Vec<&HistoryPoint> = s
        .hours
        .iter()
        .filter(|p| p.at >= hour_ceil(m.from) && p.at < to && p.intervals > 0)
        .collect();
    let hours_total = ((to - first_hour).max(0) + HOUR - 1) / HOUR;
    let with_data = hours.iter().filter(|p| p.at >= first_hour).count() as i64;
    // Folded from +0.0: an empty f64 sum is -0.0, which prints as "-0".
    let events: f64 = hours.iter().map(|p| p.events).fold(0.0, |a, b| a + b);
    let bad: f64 = hours.iter().map(|p| bad_of(p)).fold(0.0, |a, b| a + b);
    let budget = 1.0 - s.objective;
    let sli = (events > 0.0).then(|| 1.0 - bad / events);
    let allowed = budget * events;
    let mut by_day: BTreeMap<String, (f64, f64, i64)> = BTreeMap::new();
    for p in &hours {
        let d = by_day.entry(m.date_of(p.at)).or_default();
        d.0 += p.events;
        d.1 += bad_of(p);
        d.2 += 1;
    }
    let mut cumulative = 0.0;
    let mut daily = Vec::new();
    for day in m.days() {
        let (ev, b, h) = by_day.get(&day).copied().unwrap_or_default();
        cumulative += b;
        daily.push(DayRow {
            date: day,
            events: ev,
            bad: b,
            sli: (ev > 0.0).then(|| 1.0 - b / ev),
            hours_with_data: h,
            budget_burned: (allowed > 0.0).then(|| b / allowed),
            // A day without data breaks the chart's line instead of drawing a flat one.
            budget_consumed_to_date: (allowed > 0.0 && h > 0).then(|| cumulative / allowed),
        });
    }
    // Longest run of hours without data, from the start of measurement.
    let have: std::collections::HashSet<i64> = hours.iter().map(|p| p.at).collect();
    let (mut longest, mut run) = (0i64, 0i64);
    let mut h = first_hour;
    while h < to {
        if have.contains(&h) {
            run = 0;
        } else {
            run += 1;
            longest = longest.max(run);
        }
        h += HOUR;
    }
    SloMonth {
        compliance: SloCompliance {
            slo: s.id.clone(),
            name: s.name.clone(),
            service: s.service.clone(),
            objective: s.objective,
            sli,
            met: sli.map(|v| v >= s.objective),
            budget_consumed: (allowed > 0.0).then(|| bad / allowed),
            coverage: if hours_total > 0 {
                with_data as f64 / hours_total as f64
            } else {
                0.0
            },
            measured_since: (start > m.from).then_some(start),
            events,
            bad_events: bad,
            previous: None,
        },
        detail: SloDetail {
            slo: s.id.clone(),
            objective: s.objective,
            events,
            bad_events: bad,
            allowed_bad_events: allowed,
            hours_total,
            hours_with_data: with_data,
            longest_gap_hours: longest,
            windows: Vec::new(),
            daily,
        },
    }
}

/// Bad events of the SLO's hours overlapping `from..to`, as a share of the month's
/// allowed bad events (hour granularity: an hour touched by the window counts whole).
pub fn burned_in(s: &SloInput, month: &SloMonth, from: i64, to: i64) -> Option<f64> {
    let allowed = month.detail.allowed_bad_events;
    if allowed <= 0.0 {
        return None;
    }
    let bad: f64 = s
        .hours
        .iter()
        .filter(|p| p.at + HOUR > from && p.at < to)
        .map(bad_of)
        .fold(0.0, |a, b| a + b);
    Some(bad / allowed)
}

fn mean(values: impl Iterator<Item = i64>) -> Option<f64> {
    let v: Vec<i64> = values.collect();
    (!v.is_empty()).then(|| v.iter().sum::<i64>() as f64 / v.len() as f64 / 1000.0)
}

/// Counts by severity and service, MTTA and MTTR (seconds) of the month's incidents.
pub fn incidents(list: &[Incident], until: i64) -> IncidentsSection {
    let mut by_severity: BTreeMap<String, i64> = ["P0", "P1", "P2", "P3", "P4"]
        .iter()
        .map(|s| (s.to_string(), 0))
        .collect();
    let mut by_service: BTreeMap<String, i64> = BTreeMap::new();
    for i in list {
        *by_severity.entry(i.severity.as_str().into()).or_default() += 1;
        let svc = if i.service.is_empty() {
            "(no service)".to_string()
        } else {
            i.service.clone()
        };
        *by_service.entry(svc).or_default() += 1;
    }
    IncidentsSection {
        total: list.len() as i64,
        by_severity,
        by_service,
        mtta_s: mean(
            list.iter()
                .filter_map(|i| i.acknowledged_at.map(|a| a - i.created_at)),
        ),
        mttr_s: mean(
            list.iter()
                .filter_map(|i| i.resolved_at.map(|r| r - i.created_at)),
        ),
        list: list
            .iter()
            .map(|i| IncidentLine {
                id: i.id,
                title: i.title.clone(),
                severity: i.severity.as_str().into(),
                service: i.service.clone(),
                created_at: i.created_at,
                status: i.status.as_str().into(),
                duration_s: (i.resolved_at.unwrap_or(until) - i.created_at).max(0) / 1000,
            })
            .collect(),
    }
}

/// The incidents that burned most budget (share of the month's budget of the worst hit
/// SLO of their service), at most five.
pub fn top_incidents(
    list: &[Incident],
    slos: &[(SloInput, SloMonth)],
    until: i64,
) -> Vec<TopIncident> {
    let mut out: Vec<TopIncident> = list
        .iter()
        .filter_map(|i| {
            let end = i.resolved_at.unwrap_or(until);
            slos.iter()
                .filter(|(s, _)| !i.service.is_empty() && s.service == i.service)
                .filter_map(|(s, m)| Some((s.id.clone(), burned_in(s, m, i.created_at, end)?)))
                .filter(|(_, b)| *b > 0.0)
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(slo, burned)| TopIncident {
                    id: i.id,
                    title: i.title.clone(),
                    severity: i.severity.as_str().into(),
                    service: i.service.clone(),
                    slo,
                    budget_burned: burned,
                    postmortem_id: None,
                    root_causes: None,
                })
        })
        .collect();
    out.sort_by(|a, b| b.budget_burned.total_cmp(&a.budget_burned));
    out.truncate(5);
    out
}

/// Opened, closed and overdue action items, by owner.
pub fn action_items(items: &[ActionItem], m: &Month, until: i64) -> ActionItemsSection {
    let to = until.min(m.to);
    let in_month = |t: i64| t >= m.from && t < to;
    // An item is overdue from the day after its due date (local), while open.
    let today = m.date_of(to);
    let open =
        |i: &ActionItem| i.created_at < to && matches!(i.status.as_str(), "open" | "in_progress");
    let mut by_owner: BTreeMap<String, OwnerItems> = BTreeMap::new();
    let (mut opened, mut closed, mut overdue, mut still_open) = (0, 0, 0, 0);
    for i in items {
        let o = by_owner.entry(i.owner.clone()).or_default();
        if in_month(i.created_at) {
            opened += 1;
            o.opened += 1;
        }
        if matches!(i.status.as_str(), "done" | "wont_do") && in_month(i.updated_at) {
            closed += 1;
            o.closed += 1;
        }
        if open(i) {
            still_open += 1;
            o.open += 1;
            if i.due < today {
                overdue += 1;
                o.overdue += 1;
            }
        }
    }
    by_owner.retain(|_, o| o.opened + o.closed + o.open > 0);
    ActionItemsSection {
        opened,
        closed,
        open: still_open,
        overdue,
        by_owner: by_owner
            .into_iter()
            .map(|(owner, mut o)| {
                o.owner = owner;
                o
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hour(at: i64, events: f64, bad: f64) -> HistoryPoint {
        HistoryPoint {
            at,
            sli: Some(1.0 - bad / events),
            error_ratio: Some(bad / events),
            events,
            intervals: 60,
            p99: None,
        }
    }

    #[test]
    fn the_months_sli_is_the_ratio_of_summed_events_and_gaps_are_not_good() {
        let tz = jiff::tz::TimeZone::UTC;
        let m = Month::parse("2026-02", &tz).unwrap(); // 28 days, 672 hours
        // Every hour 1,000 events, 1 bad — except 72 hours without data.
        let hours: Vec<HistoryPoint> = (0..672)
            .filter(|h| !(100..172).contains(h))
            .map(|h| hour(m.from + h * HOUR, 1000.0, 1.0))
            .collect();
        let s = SloInput {
            id: "shop-availability".into(),
            name: "availability".into(),
            service: "shop".into(),
            objective: 0.999,
            first_data: Some(m.from - 86_400_000),
            hours,
        };
        let r = slo_month(&m, &s, i64::MAX);
        let c = &r.compliance;
        assert_eq!(c.events, 600_000.0);
        assert!((c.bad_events - 600.0).abs() < 1e-6);
        assert!((c.sli.unwrap() - 0.999).abs() < 1e-12);
        assert!((c.budget_consumed.unwrap() - 1.0).abs() < 1e-9);
        assert!((c.coverage - 600.0 / 672.0).abs() < 1e-12);
        assert_eq!(r.detail.longest_gap_hours, 72);
        assert_eq!(r.detail.daily.len(), 28);
        // Day 5 (hours 96..120) has 4 hours of data.
        assert_eq!(r.detail.daily[4].hours_with_data, 4);
        assert_eq!(c.measured_since, None);
    }

    #[test]
    fn an_slo_added_mid_month_is_measured_from_its_first_data() {
        let tz = jiff::tz::TimeZone::UTC;
        let m = Month::parse("2026-11", &tz).unwrap(); // 720 hours
        let start = m.from + 360 * HOUR;
        let s = SloInput {
            id: "a-b".into(),
            name: "b".into(),
            service: "a".into(),
            objective: 0.99,
            first_data: Some(start + 120_000),
            // The first data's hour has its rollup.
            hours: (360..720)
                .map(|h| hour(m.from + h * HOUR, 100.0, 0.0))
                .collect(),
        };
        let r = slo_month(&m, &s, i64::MAX);
        assert_eq!(r.compliance.measured_since, Some(start + 120_000));
        assert_eq!(r.detail.hours_total, 360);
        assert!((r.compliance.coverage - 1.0).abs() < 1e-12);
        assert_eq!(r.compliance.met, Some(true));
    }
}
