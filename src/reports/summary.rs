//! The executive summary in plain words, and the small formatting helpers the renderings
//! share.

use super::{ActionItemsSection, ExecutiveSummary, IncidentsSection, SloCompliance, TopIncident};

/// `99.912 %` (three decimals: objectives like 99.9 need them).
pub fn pct(v: f64) -> String {
    format!("{:.3} %", v * 100.0)
}

/// Budget shares: `38 %`, `0.4 %`, `412 %`.
pub fn share(v: f64) -> String {
    let p = v * 100.0;
    if p != 0.0 && p.abs() < 1.0 {
        format!("{p:.1} %")
    } else {
        format!("{p:.0} %")
    }
}

/// Seconds as "4m", "2h 5m".
pub fn secs(v: Option<f64>) -> String {
    v.map_or("—".into(), |s| {
        crate::time::human_duration((s * 1000.0) as i64)
    })
}

pub fn summarize(
    label: &str,
    month_to_date: bool,
    slos: &[SloCompliance],
    incidents: &IncidentsSection,
    top: &[TopIncident],
    items: &ActionItemsSection,
) -> ExecutiveSummary {
    let measured: Vec<&SloCompliance> = slos.iter().filter(|s| s.sli.is_some()).collect();
    let met: Vec<&SloCompliance> = measured
        .iter()
        .copied()
        .filter(|s| s.met == Some(true))
        .collect();
    let mut missed: Vec<&SloCompliance> = measured
        .iter()
        .copied()
        .filter(|s| s.met == Some(false))
        .collect();
    missed.sort_by(|a, b| {
        b.budget_consumed
            .unwrap_or(0.0)
            .total_cmp(&a.budget_consumed.unwrap_or(0.0))
    });
    let without: Vec<String> = slos
        .iter()
        .filter(|s| s.sli.is_none())
        .map(|s| s.slo.clone())
        .collect();
    let period = if month_to_date {
        format!("{label} so far")
    } else {
        label.to_string()
    };
    let mut p = Vec::new();
    if slos.is_empty() {
        p.push(format!(
            "No SLOs were configured in {period}: add [[slo]] tables to measure reliability."
        ));
    } else {
        p.push(format!(
            "{} of {} SLOs met their objective in {period}.",
            met.len(),
            slos.len()
        ));
    }
    for s in &missed {
        p.push(format!(
            "{} missed: {} against {} ({:.3} points short), {} of its error budget consumed.",
            s.slo,
            pct(s.sli.unwrap_or(0.0)),
            pct(s.objective),
            (s.objective - s.sli.unwrap_or(0.0)) * 100.0,
            share(s.budget_consumed.unwrap_or(0.0))
        ));
    }
    let tight: Vec<String> = met
        .iter()
        .filter(|s| s.budget_consumed.is_some_and(|b| b >= 0.75))
        .map(|s| format!("{} ({})", s.slo, share(s.budget_consumed.unwrap_or(0.0))))
        .collect();
    if !tight.is_empty() {
        p.push(format!(
            "Met, but with little budget left: {}.",
            tight.join(", ")
        ));
    } else if missed.is_empty() && !met.is_empty() {
        p.push("Every measured SLO stayed within its error budget.".into());
    }
    if !without.is_empty() {
        p.push(format!(
            "No data at all for {}: it cannot be judged.",
            without.join(", ")
        ));
    }
    let gaps: Vec<String> = measured
        .iter()
        .filter(|s| s.coverage < 0.99)
        .map(|s| format!("{} ({} of hours)", s.slo, share(s.coverage)))
        .collect();
    if !gaps.is_empty() {
        p.push(format!(
            "Data is missing for part of the month for {}; missing hours are not counted as good.",
            gaps.join(", ")
        ));
    }
    let p0p1 = incidents.by_severity.get("P0").copied().unwrap_or(0)
        + incidents.by_severity.get("P1").copied().unwrap_or(0);
    p.push(format!(
        "{} incidents ({} P0 or P1); mean time to acknowledge {}, to resolve {}.",
        incidents.total,
        p0p1,
        secs(incidents.mtta_s),
        secs(incidents.mttr_s)
    ));
    if !top.is_empty() {
        let worst: Vec<String> = top
            .iter()
            .take(3)
            .map(|t| {
                format!(
                    "#{} {} ({}, {} of {}'s budget)",
                    t.id,
                    t.title,
                    t.severity,
                    share(t.budget_burned),
                    t.slo
                )
            })
            .collect();
        p.push(format!("The worst incidents: {}.", worst.join("; ")));
    }
    if items.opened + items.closed + items.open > 0 {
        p.push(format!(
            "Action items: {} opened, {} closed, {} open of which {} overdue.",
            items.opened, items.closed, items.open, items.overdue
        ));
    }
    let fix_first = if let Some(s) = missed.first() {
        match top.iter().find(|t| t.slo == s.slo) {
            Some(t) => format!(
                "{}: it missed its objective; incident #{} alone burned {} of its budget{}.",
                s.slo,
                t.id,
                share(t.budget_burned),
                t.root_causes
                    .as_ref()
                    .map(|r| format!(" (root causes: {})", first_line(r)))
                    .unwrap_or_default()
            ),
            None => format!(
                "{}: it missed its objective with {} of its budget consumed.",
                s.slo,
                share(s.budget_consumed.unwrap_or(0.0))
            ),
        }
    } else if items.overdue > 0 {
        format!(
            "Close the {} overdue action item{}: they hold the lessons of past incidents.",
            items.overdue,
            if items.overdue == 1 { "" } else { "s" }
        )
    } else if let Some(s) = tight.first() {
        format!("{s}: met, but close to its budget.")
    } else if !without.is_empty() {
        format!("Get data for {}: it was not measured.", without.join(", "))
    } else {
        "Nothing urgent: keep the current course.".into()
    };
    ExecutiveSummary {
        slos_total: slos.len(),
        slos_met: met.len(),
        slos_missed: missed.iter().map(|s| s.slo.clone()).collect(),
        slos_without_data: without,
        paragraphs: p,
        fix_first,
    }
}

/// The first line of a Markdown text, at most 200 characters.
pub fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .map(|l| l.trim().trim_start_matches(['-', '*', '#', ' ']))
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() > 200 {
        line.chars().take(199).collect::<String>() + "…"
    } else {
        line.to_string()
    }
}
