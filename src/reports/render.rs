//! The report as Markdown and as the page's HTML body (askama, every value escaped; the
//! budget charts are server-side SVG). Both are rendered once, when the report is
//! generated, and stored with it.

use askama::Template;

use super::summary::{pct, secs, share};
use super::{Report, SloCompliance};
use crate::svg_charts::{Chart, Point, Unit};

const DAY: i64 = 86_400_000;

/// `Some(v)` as `f(v)`, None as "no data".
fn or_none(v: Option<f64>, f: fn(f64) -> String) -> String {
    v.map_or("no data".into(), f)
}

fn met_word(c: &SloCompliance) -> &'static str {
    match c.met {
        Some(true) => "met",
        Some(false) => "missed",
        None => "no data",
    }
}

fn previous_words(c: &SloCompliance) -> String {
    match &c.previous {
        Some(p) if p.sli.is_none() => format!("{}: no data", p.month),
        Some(p) => format!(
            "{}: {} ({}), {} budget",
            p.month,
            or_none(p.sli, pct),
            if p.met == Some(true) { "met" } else { "missed" },
            or_none(p.budget_consumed, share)
        ),
        None => "—".into(),
    }
}

/// "↑", "↓" or "→" from `a` to `b` (None when either is missing).
fn direction(a: Option<f64>, b: Option<f64>) -> &'static str {
    match (a, b) {
        (Some(a), Some(b)) if b > a * 1.001 + 1e-12 => "↑",
        (Some(a), Some(b)) if b < a * 0.999 - 1e-12 => "↓",
        (Some(_), Some(_)) => "→",
        _ => "",
    }
}

/// Per SLO, its SLI and budget consumed in each month of the trend, with the direction
/// of the SLI from the month before: (slo, cells).
pub(super) fn slo_trends(r: &Report) -> Vec<(String, Vec<String>)> {
    let s = &r.sections;
    s.slo_compliance
        .iter()
        .map(|c| {
            let mut last: Option<f64> = None;
            let cells = s
                .trends
                .iter()
                .map(|t| match t.slos.get(&c.slo) {
                    Some((Some(sli), budget)) => {
                        let arrow = direction(last, Some(*sli));
                        last = Some(*sli);
                        let arrow = if arrow.is_empty() {
                            String::new()
                        } else {
                            format!(" {arrow}")
                        };
                        format!("{}{arrow} ({} budget)", pct(*sli), or_none(*budget, share))
                    }
                    _ => "no data".into(),
                })
                .collect();
            (c.slo.clone(), cells)
        })
        .collect()
}

/// "Generated … by … (revision 2; times in UTC). Month to date: …": the report's byline.
pub(super) fn byline(r: &Report, local: &dyn Fn(i64) -> String) -> String {
    format!(
        "Generated {} by {} ({}; times in {}).{}",
        local(r.generated_at),
        r.generated_by,
        super::revision_words(r.revision),
        r.time_zone,
        if r.month_to_date {
            format!(" Month to date: numbers up to {}.", local(r.until))
        } else {
            String::new()
        }
    )
}

/// An SLO's appendix line: its totals, coverage and windows at the end of the period.
pub(super) fn detail_line(d: &super::SloDetail) -> String {
    format!(
        "Objective {}; {:.0} events, {:.0} bad, {:.0} allowed; {} of {} hours with data \
         (longest gap {} h). At the end of the period: {}.",
        pct(d.objective),
        d.events,
        d.bad_events,
        d.allowed_bad_events,
        d.hours_with_data,
        d.hours_total,
        d.longest_gap_hours,
        window_words(d)
    )
}

pub fn markdown(r: &Report, base_url: &str, local: &dyn Fn(i64) -> String) -> String {
    let s = &r.sections;
    let mut md = format!("# SLO report: {}\n\n", r.label);
    md.push_str(&format!("{}\n\n", byline(r, local)));
    md.push_str("## 1. Executive summary\n\n");
    for p in &s.executive_summary.paragraphs {
        md.push_str(&format!("{p}\n\n"));
    }
    md.push_str(&format!(
        "**Fix first:** {}\n\n",
        s.executive_summary.fix_first
    ));
    md.push_str("## 2. SLO compliance\n\n| SLO | Objective | SLI | Met | Budget consumed | Coverage | Previous month |\n|---|---|---|---|---|---|---|\n");
    for c in &s.slo_compliance {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            c.slo,
            pct(c.objective),
            or_none(c.sli, pct),
            met_word(c),
            or_none(c.budget_consumed, share),
            share(c.coverage),
            previous_words(c)
        ));
    }
    md.push_str("\n## 3. Error budget consumption\n\n");
    for b in &s.error_budget {
        let worst: Vec<String> = b
            .worst_days
            .iter()
            .map(|(d, v)| format!("{d} ({})", share(*v)))
            .collect();
        md.push_str(&format!(
            "- **{}**: {} of the month's budget consumed; days that burned most: {}\n",
            b.slo,
            or_none(b.budget_consumed, share),
            if worst.is_empty() {
                "none".to_string()
            } else {
                worst.join(", ")
            }
        ));
    }
    let i = &s.incidents;
    md.push_str(&format!(
        "\n## 4. Incidents\n\n{} incidents. MTTA {}, MTTR {} (drills left out).\n\nBy severity: {}.\n\nBy service: {}.\n\n",
        i.total,
        secs(i.mtta_s),
        secs(i.mttr_s),
        i.by_severity
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        if i.by_service.is_empty() {
            "none".to_string()
        } else {
            i.by_service
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    for l in &i.list {
        md.push_str(&format!(
            "- [#{}]({base_url}/incidents/{}) {} {} — {} ({}, {})\n",
            l.id,
            l.id,
            l.severity,
            l.title,
            if l.service.is_empty() {
                "-"
            } else {
                &l.service
            },
            local(l.created_at),
            crate::time::human_duration(l.duration_s * 1000)
        ));
    }
    md.push_str(
        "\n## 5. Trends\n\n| Month | SLOs met | Incidents | MTTA | MTTR |\n|---|---|---|---|---|\n",
    );
    for t in &s.trends {
        md.push_str(&format!(
            "| {} | {} of {} | {} | {} | {} |\n",
            t.month,
            t.slos_met,
            t.slos_with_data,
            t.incidents,
            secs(t.mtta_s),
            secs(t.mttr_s)
        ));
    }
    if !s.slo_compliance.is_empty() {
        md.push_str(&format!(
            "\n| SLO | {} |\n|---|{}\n",
            s.trends
                .iter()
                .map(|t| t.month.as_str())
                .collect::<Vec<_>>()
                .join(" | "),
            "---|".repeat(s.trends.len())
        ));
        for (slo, cells) in slo_trends(r) {
            md.push_str(&format!("| {slo} | {} |\n", cells.join(" | ")));
        }
    }
    md.push_str("\n## 6. Top incidents and contributing causes\n\n");
    if s.top_incidents.is_empty() {
        md.push_str("No incident burned error budget.\n");
    }
    for t in &s.top_incidents {
        md.push_str(&format!(
            "- #{} {} ({}, {}): {} of {}'s budget. Root causes: {}\n",
            t.id,
            t.title,
            t.severity,
            t.service,
            share(t.budget_burned),
            t.slo,
            t.root_causes
                .as_deref()
                .map(super::summary::first_line)
                .unwrap_or_else(|| "no post-mortem yet".into())
        ));
    }
    let a = &s.action_items;
    md.push_str(&format!(
        "\n## 7. Action items\n\n{} opened, {} closed, {} open, {} overdue.\n\n| Owner | Opened | Closed | Open | Overdue |\n|---|---|---|---|---|\n",
        a.opened, a.closed, a.open, a.overdue
    ));
    for o in &a.by_owner {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            o.owner, o.opened, o.closed, o.open, o.overdue
        ));
    }
    md.push_str("\n## 8. Appendix\n\n");
    for d in &s.appendix.slos {
        md.push_str(&format!(
            "### {}\n\n{}\n\n| Day | Events | Bad | SLI | Hours with data |\n|---|---|---|---|---|\n",
            d.slo,
            detail_line(d)
        ));
        for day in &d.daily {
            md.push_str(&format!(
                "| {} | {:.0} | {:.0} | {} | {} |\n",
                day.date,
                day.events,
                day.bad,
                or_none(day.sli, pct),
                day.hours_with_data
            ));
        }
        md.push('\n');
    }
    md.push_str("### How the numbers are computed\n\n");
    for m in &s.appendix.method {
        md.push_str(&format!("- {m}\n"));
    }
    md
}

/// The budget chart of one SLO: the share consumed by the end of each day, with the
/// whole budget as a reference line.
pub fn budget_chart(r: &Report, slo: &str, by_day: &[(String, Option<f64>)]) -> String {
    let points: Vec<Point> = by_day
        .iter()
        .enumerate()
        .map(|(i, (_, v))| (r.from + (i as i64 + 1) * DAY, *v))
        .filter(|(t, _)| *t <= r.until + DAY)
        .collect();
    let top = points.iter().filter_map(|p| p.1).fold(1.0f64, f64::max);
    let title = format!("{slo}: error budget consumed");
    Chart {
        title: &title,
        points: &points,
        from: r.from,
        to: r.to,
        y_min: 0.0,
        y_max: top,
        references: &[(1.0, "whole budget".to_string())],
        markers: &[],
        unit: Unit::Percent,
        withheld: None,
    }
    .render()
}

/// "5m 99.9 % (burn 1.00), 1h …": the SLO's windows at the end of the period.
pub(super) fn window_words(d: &super::SloDetail) -> String {
    d.windows
        .iter()
        .map(|w| {
            format!(
                "{} {}{}",
                w.window,
                or_none(w.sli, pct),
                w.burn_rate
                    .map(|b| format!(" (burn {b:.2})"))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub struct Row(pub Vec<String>);

#[derive(Template)]
#[template(path = "report_body.html")]
struct Body<'a> {
    r: &'a Report,
    generated: String,
    revision: String,
    mtta: String,
    mttr: String,
    until: String,
    compliance: Vec<(Row, &'static str)>,
    budgets: Vec<(String, String, String, String)>,
    incidents: Vec<(i64, String, String, String, String, String)>,
    severities: String,
    services: String,
    trends: Vec<Row>,
    trend_months: Vec<String>,
    slo_trends: Vec<(String, Vec<String>)>,
    top: Vec<(i64, String, Row)>,
    appendix: Vec<(String, String, Vec<Row>)>,
}

pub fn html(r: &Report, local: &dyn Fn(i64) -> String) -> Result<String, String> {
    let s = &r.sections;
    let compliance = s
        .slo_compliance
        .iter()
        .map(|c| {
            (
                Row(vec![
                    c.slo.clone(),
                    pct(c.objective),
                    or_none(c.sli, pct),
                    met_word(c).into(),
                    or_none(c.budget_consumed, share),
                    format!(
                        "{}{}",
                        share(c.coverage),
                        c.measured_since
                            .map(|t| format!(" (since {})", local(t)))
                            .unwrap_or_default()
                    ),
                    previous_words(c),
                ]),
                match c.met {
                    Some(true) => "outcome outcome-ok",
                    Some(false) => "outcome outcome-failed",
                    None => "muted",
                },
            )
        })
        .collect();
    let budgets = s
        .error_budget
        .iter()
        .map(|b| {
            let worst: Vec<String> = b
                .worst_days
                .iter()
                .map(|(d, v)| format!("{d} ({})", share(*v)))
                .collect();
            (
                b.slo.clone(),
                or_none(b.budget_consumed, share),
                if worst.is_empty() {
                    "none".into()
                } else {
                    worst.join(", ")
                },
                budget_chart(r, &b.slo, &b.by_day),
            )
        })
        .collect();
    let incidents = s
        .incidents
        .list
        .iter()
        .map(|l| {
            (
                l.id,
                l.severity.clone(),
                l.title.clone(),
                l.service.clone(),
                local(l.created_at),
                crate::time::human_duration(l.duration_s * 1000),
            )
        })
        .collect();
    let join = |m: &std::collections::BTreeMap<String, i64>| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut trends = Vec::new();
    let mut last: Option<&super::MonthTrend> = None;
    for t in &s.trends {
        let d =
            |f: fn(&super::MonthTrend) -> Option<f64>| last.map_or("", |p| direction(f(p), f(t)));
        trends.push(Row(vec![
            t.month.clone(),
            format!("{} of {}", t.slos_met, t.slos_with_data),
            format!("{} {}", t.incidents, d(|m| Some(m.incidents as f64))),
            format!("{} {}", secs(t.mtta_s), d(|m| m.mtta_s)),
            format!("{} {}", secs(t.mttr_s), d(|m| m.mttr_s)),
        ]));
        last = Some(t);
    }
    let top = s
        .top_incidents
        .iter()
        .map(|t| {
            (
                t.id,
                t.title.clone(),
                Row(vec![
                    t.severity.clone(),
                    t.service.clone(),
                    format!("{} of {}'s budget", share(t.budget_burned), t.slo),
                    t.root_causes
                        .as_deref()
                        .map(super::summary::first_line)
                        .unwrap_or_else(|| "no post-mortem yet".into()),
                ]),
            )
        })
        .collect();
    let appendix = s
        .appendix
        .slos
        .iter()
        .map(|d| {
            (
                d.slo.clone(),
                detail_line(d),
                d.daily
                    .iter()
                    .map(|day| {
                        Row(vec![
                            day.date.clone(),
                            format!("{:.0}", day.events),
                            format!("{:.0}", day.bad),
                            or_none(day.sli, pct),
                            day.hours_with_data.to_string(),
                        ])
                    })
                    .collect(),
            )
        })
        .collect();
    Body {
        r,
        generated: local(r.generated_at),
        revision: super::revision_words(r.revision),
        mtta: secs(s.incidents.mtta_s),
        mttr: secs(s.incidents.mttr_s),
        until: local(r.until),
        compliance,
        budgets,
        incidents,
        severities: join(&s.incidents.by_severity),
        services: join(&s.incidents.by_service),
        trends,
        trend_months: s.trends.iter().map(|t| t.month.clone()).collect(),
        slo_trends: slo_trends(r),
        top,
        appendix,
    }
    .render()
    .map_err(|e| e.to_string())
}
