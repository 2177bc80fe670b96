//! The report as a multi-page A4 PDF (see `crate::pdf`): the eight sections as text, the
//! budget charts drawn as lines, page numbers at the foot.

use super::summary::{first_line, pct, secs, share};
use super::{BudgetBurn, Report};
use crate::pdf::{Face, Fonts, Layout, MARGIN, Op, PAGE_H, PAGE_W};

const SIZE: f32 = 9.0;
/// At most this many incidents are listed in the PDF (the page lists all).
const LISTED: usize = 150;

fn or_none(v: Option<f64>, f: fn(f64) -> String) -> String {
    v.map_or("no data".into(), f)
}

/// The budget consumed by day as a line chart: axes, 0 % and 100 % lines, the series.
fn chart(l: &mut Layout, b: &BudgetBurn) {
    let height = 90.0;
    l.room(height + 16.0);
    let top = l.y + 6.0;
    let (left, right) = (MARGIN + 34.0, PAGE_W - MARGIN);
    let hi = b
        .by_day
        .iter()
        .filter_map(|(_, v)| *v)
        .fold(1.0f64, f64::max);
    let y_of = |v: f64| top + height - (v / hi) as f32 * height;
    let n = b.by_day.len().max(1) as f32;
    let x_of = |i: usize| left + (i as f32 + 1.0) / n * (right - left);
    for (v, label) in [(0.0, "0 %".to_string()), (1.0, "100 %".to_string())] {
        let y = y_of(v);
        l.ops.push(Op::Line {
            points: vec![(left, y), (right, y)],
            width: if v == 0.0 { 0.8 } else { 0.5 },
            grey: if v == 0.0 { 60 } else { 150 },
        });
        l.ops.push(Op::Text {
            x: MARGIN,
            y: y + 3.0,
            face: Face::Regular,
            size: 7.0,
            grey: true,
            text: label,
        });
    }
    if hi > 1.0 {
        l.ops.push(Op::Text {
            x: MARGIN,
            y: top + 3.0,
            face: Face::Regular,
            size: 7.0,
            grey: true,
            text: share(hi),
        });
    }
    // Runs of days with data; a day without data breaks the line.
    let mut run: Vec<(f32, f32)> = Vec::new();
    for (i, (_, v)) in b.by_day.iter().enumerate() {
        match v {
            Some(v) => run.push((x_of(i), y_of(*v))),
            None if !run.is_empty() => l.ops.push(Op::Line {
                points: std::mem::take(&mut run),
                width: 1.6,
                grey: 20,
            }),
            None => {}
        }
    }
    if run.len() == 1 {
        let (x, y) = run[0];
        run.push((x + 1.5, y));
    }
    if !run.is_empty() {
        l.ops.push(Op::Line {
            points: run,
            width: 1.6,
            grey: 20,
        });
    }
    if let (Some(first), Some(last)) = (b.by_day.first(), b.by_day.last()) {
        for (x, text) in [(left, &first.0), (right - 40.0, &last.0)] {
            l.ops.push(Op::Text {
                x,
                y: top + height + 10.0,
                face: Face::Regular,
                size: 7.0,
                grey: true,
                text: text.clone(),
            });
        }
    }
    l.y = top + height + 14.0;
}

pub fn render(r: &Report, local: &dyn Fn(i64) -> String) -> Result<Vec<u8>, String> {
    let fonts = Fonts::load().ok_or("the embedded fonts cannot be read")?;
    let mut l = Layout::new(&fonts, SIZE, true);
    let s = &r.sections;
    let text = |l: &mut Layout, t: &str| l.para(Face::Regular, SIZE, 0.0, 0.0, false, t);
    l.para(
        Face::Bold,
        SIZE * 2.0,
        0.0,
        0.0,
        false,
        &format!("SLO report: {}", r.label),
    );
    l.note(&super::render::byline(r, local));

    l.heading("1. Executive summary");
    for p in &s.executive_summary.paragraphs {
        text(&mut l, p);
        l.y += 2.0;
    }
    l.labelled("Fix first:", &s.executive_summary.fix_first);

    l.heading("2. SLO compliance");
    for c in &s.slo_compliance {
        let prev = c.previous.as_ref().map_or(String::new(), |p| {
            format!(
                " · {}: {}, budget {}",
                p.month,
                or_none(p.sli, pct),
                or_none(p.budget_consumed, share)
            )
        });
        l.labelled(
            &c.slo,
            &format!(
                "objective {} · SLI {} · {} · budget consumed {} · coverage {}{prev}",
                pct(c.objective),
                or_none(c.sli, pct),
                match c.met {
                    Some(true) => "met",
                    Some(false) => "MISSED",
                    None => "no data",
                },
                or_none(c.budget_consumed, share),
                share(c.coverage)
            ),
        );
    }

    l.heading("3. Error budget consumption");
    for b in &s.error_budget {
        l.para(
            Face::Bold,
            SIZE,
            0.0,
            0.0,
            false,
            &format!(
                "{}: {} of the month's budget consumed",
                b.slo,
                or_none(b.budget_consumed, share)
            ),
        );
        chart(&mut l, b);
        let worst: Vec<String> = b
            .worst_days
            .iter()
            .map(|(d, v)| format!("{d} ({})", share(*v)))
            .collect();
        if !worst.is_empty() {
            l.note(&format!("Days that burned most: {}", worst.join(", ")));
        }
    }

    let i = &s.incidents;
    l.heading("4. Incidents");
    text(
        &mut l,
        &format!(
            "{} incidents · MTTA {} · MTTR {} (drills left out). By severity: {}.",
            i.total,
            secs(i.mtta_s),
            secs(i.mttr_s),
            i.by_severity
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    for line in i.list.iter().take(LISTED) {
        l.labelled(
            &format!("#{} {}", line.id, line.severity),
            &format!(
                "{} — {} · opened {} · lasted {}",
                line.title,
                if line.service.is_empty() {
                    "-"
                } else {
                    &line.service
                },
                local(line.created_at),
                crate::time::human_duration(line.duration_s * 1000)
            ),
        );
    }
    if i.list.len() > LISTED {
        l.note(&format!(
            "… and {} more on the report's page.",
            i.list.len() - LISTED
        ));
    }

    l.heading("5. Trends");
    for t in &s.trends {
        l.labelled(
            &t.month,
            &format!(
                "{} of {} SLOs met · {} incidents · MTTA {} · MTTR {}",
                t.slos_met,
                t.slos_with_data,
                t.incidents,
                secs(t.mtta_s),
                secs(t.mttr_s)
            ),
        );
    }

    for (slo, cells) in super::render::slo_trends(r) {
        let months: Vec<String> = s
            .trends
            .iter()
            .zip(&cells)
            .map(|(t, c)| format!("{}: {c}", t.month))
            .collect();
        l.labelled(&slo, &months.join(" · "));
    }

    l.heading("6. Top incidents and contributing causes");
    if s.top_incidents.is_empty() {
        text(&mut l, "No incident burned error budget.");
    }
    for t in &s.top_incidents {
        l.labelled(
            &format!("#{}", t.id),
            &format!(
                "{} ({}, {}): {} of {}'s budget. Root causes: {}",
                t.title,
                t.severity,
                t.service,
                share(t.budget_burned),
                t.slo,
                t.root_causes
                    .as_deref()
                    .map(first_line)
                    .unwrap_or_else(|| "no post-mortem yet".into())
            ),
        );
    }

    let a = &s.action_items;
    l.heading("7. Action items");
    text(
        &mut l,
        &format!(
            "{} opened · {} closed · {} open · {} overdue",
            a.opened, a.closed, a.open, a.overdue
        ),
    );
    for o in &a.by_owner {
        l.labelled(
            &o.owner,
            &format!(
                "{} opened, {} closed, {} open, {} overdue",
                o.opened, o.closed, o.open, o.overdue
            ),
        );
    }

    l.heading("8. Appendix");
    for d in &s.appendix.slos {
        l.para(Face::Bold, SIZE, 0.0, 0.0, false, &d.slo);
        text(&mut l, &super::render::detail_line(d));
        let mono = |l: &mut Layout, t: &str| l.para(Face::Mono, SIZE * 0.8, 0.0, 0.0, false, t);
        mono(
            &mut l,
            &format!(
                "{:<10}  {:>12}  {:>10}  {:>9}  {:>5}",
                "day", "events", "bad", "SLI", "hours"
            ),
        );
        for day in &d.daily {
            mono(
                &mut l,
                &format!(
                    "{:<10}  {:>12.0}  {:>10.0}  {:>9}  {:>5}",
                    day.date,
                    day.events,
                    day.bad,
                    or_none(day.sli, pct),
                    day.hours_with_data
                ),
            );
        }
        l.y += 4.0;
    }
    l.heading("How the numbers are computed");
    for m in &s.appendix.method {
        l.labelled("•", m);
    }

    let mut pages = l.finish();
    let n = pages.len();
    for (i, page) in pages.iter_mut().enumerate() {
        page.push(Op::Text {
            x: MARGIN,
            y: PAGE_H - MARGIN / 2.0,
            face: Face::Regular,
            size: 7.0,
            grey: true,
            text: format!("Firewatch · SLO report {} · page {} of {n}", r.month, i + 1),
        });
    }
    crate::pdf::draw(&pages, &fonts, &format!("SLO report {}", r.label))
}
