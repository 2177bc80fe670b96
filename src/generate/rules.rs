//! Sloth-compatible Prometheus rules: per SLO an SLI recording group, a metadata group and
//! (when enabled) a page/ticket multi-window burn-rate alert group. Names, labels and
//! expressions follow `sloth generate` so the output is a drop-in replacement. Firewatch
//! adds one group per SLO after Sloth's (`firewatch-slo-traffic-<id>`) for the dashboard.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::duration::format_secs as format_duration_secs;
use crate::slo::native::pascal_case;
use crate::slo::spec::{AlertSpec, Period, SloSpec};

use super::windows::{AlertWindows, Window};
use super::{GenerateError, GenerateOptions};

#[derive(Debug, Clone, Serialize)]
pub struct RuleGroup {
    pub name: String,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Rule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    pub expr: String,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

fn record(name: &str, expr: String, labels: BTreeMap<String, String>) -> Rule {
    Rule {
        record: Some(name.to_string()),
        expr,
        labels,
        ..Rule::default()
    }
}

/// The period an SLO is generated for: its own, else `--period`, else 30 days.
fn period_days(slo: &SloSpec, opts: &GenerateOptions) -> Result<u32, GenerateError> {
    if let Some(p) = slo.period {
        return Ok(p.days());
    }
    match &opts.period {
        Some(text) => Period::parse(text)
            .map(|p| p.days())
            .map_err(|m| GenerateError::InvalidInput(format!("--period: {m}"))),
        None => Ok(30),
    }
}

fn windows_for(days: u32, opts: &GenerateOptions) -> AlertWindows {
    opts.windows
        .iter()
        .find(|w| w.period_days == days)
        .cloned()
        .unwrap_or_else(|| AlertWindows::google(days))
}

/// Prefix of the group Firewatch adds to Sloth's three per SLO: the SLI's requests and
/// errors per second and, for latency SLIs, the p99 — what the dashboard's traffic and
/// latency panels chart for the selected service (Sloth has no such rules).
pub const TRAFFIC_GROUP_PREFIX: &str = "firewatch-slo-traffic-";

/// All rule groups for the given SLOs, in input order.
pub fn slo_groups(
    slos: &[SloSpec],
    opts: &GenerateOptions,
) -> Result<Vec<RuleGroup>, GenerateError> {
    let mut groups = Vec::new();
    for slo in slos {
        let days = period_days(slo, opts)?;
        let windows = windows_for(days, opts);
        groups.extend(one_slo(slo, days, &windows, opts));
    }
    Ok(groups)
}

fn one_slo(
    slo: &SloSpec,
    days: u32,
    windows: &AlertWindows,
    opts: &GenerateOptions,
) -> Vec<RuleGroup> {
    let id = slo.id();
    let period = format_duration_secs(u64::from(days) * 86_400);
    let sel = format!(
        "sloth_id=\"{id}\", sloth_service=\"{}\", sloth_slo=\"{}\"",
        slo.service, slo.name
    );
    let mut base = opts.extra_labels.clone();
    base.extend(slo.labels.clone());
    base.insert("sloth_id".into(), id.clone());
    base.insert("sloth_service".into(), slo.service.clone());
    base.insert("sloth_slo".into(), slo.name.clone());
    let with_window = |w: &str| {
        let mut l = base.clone();
        l.insert("sloth_window".into(), w.to_string());
        l
    };

    let query = slo.sli.sloth_query();
    let mut sli_rules: Vec<Rule> = windows
        .sli_windows()
        .into_iter()
        .map(|secs| {
            let w = format_duration_secs(secs);
            record(
                &format!("slo:sli_error:ratio_rate{w}"),
                query.for_window(&w),
                with_window(&w),
            )
        })
        .collect();
    // The period SLI averages the 5m ratios instead of querying a 30-day range directly,
    // which Prometheus could not evaluate cheaply.
    sli_rules.push(record(
        &format!("slo:sli_error:ratio_rate{period}"),
        format!(
            "sum_over_time(slo:sli_error:ratio_rate5m{{{sel}}}[{period}])\n/ ignoring (sloth_window)\ncount_over_time(slo:sli_error:ratio_rate5m{{{sel}}}[{period}])\n"
        ),
        with_window(&period),
    ));

    let objective = slo.objective_ratio();
    let ratio_over_budget = |sli: &str| {
        format!(
            "{sli}{{{sel}}}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\nslo:error_budget:ratio{{{sel}}}\n"
        )
    };
    let mut info = base.clone();
    info.insert("sloth_mode".into(), slo.origin.format.mode_label().into());
    info.insert("sloth_objective".into(), slo.objective_percent.to_string());
    info.insert("sloth_spec".into(), slo.origin.format.spec_label().into());
    info.insert("sloth_version".into(), opts.version_label.clone());
    let meta_rules = vec![
        record(
            "slo:objective:ratio",
            format!("vector({objective})"),
            base.clone(),
        ),
        record(
            "slo:error_budget:ratio",
            format!("vector(1-{objective})"),
            base.clone(),
        ),
        record(
            "slo:time_period:days",
            format!("vector({days})"),
            base.clone(),
        ),
        record(
            "slo:current_burn_rate:ratio",
            ratio_over_budget("slo:sli_error:ratio_rate5m"),
            base.clone(),
        ),
        record(
            "slo:period_burn_rate:ratio",
            ratio_over_budget(&format!("slo:sli_error:ratio_rate{period}")),
            base.clone(),
        ),
        record(
            "slo:period_error_budget_remaining:ratio",
            format!("1 - slo:period_burn_rate:ratio{{{sel}}}"),
            base.clone(),
        ),
        record("sloth_slo_info", "vector(1)".into(), info),
    ];

    let mut groups = vec![
        RuleGroup {
            name: format!("sloth-slo-sli-recordings-{id}"),
            rules: sli_rules,
        },
        RuleGroup {
            name: format!("sloth-slo-meta-recordings-{id}"),
            rules: meta_rules,
        },
    ];
    let mut traffic = Vec::new();
    if let Some((requests, errors)) = slo.sli.traffic_queries("5m") {
        traffic.push(record("slo:sli_requests:rate5m", requests, base.clone()));
        traffic.push(record("slo:sli_errors:rate5m", errors, base.clone()));
    }
    if let Some(p99) = slo.sli.quantile_query(0.99, "5m") {
        traffic.push(record("slo:sli_latency_seconds:p99_5m", p99, base.clone()));
    }
    let budget = slo.error_budget_ratio();
    let a = &slo.alerting;
    let mut alerts = Vec::new();
    for (severity, alert, quick, slow) in [
        ("page", &a.page, windows.page_quick, windows.page_slow),
        (
            "ticket",
            &a.ticket,
            windows.ticket_quick,
            windows.ticket_slow,
        ),
    ] {
        if alert.disabled {
            continue;
        }
        alerts.push(burn_alert(
            slo,
            severity,
            alert,
            [quick, slow],
            days,
            budget,
            &sel,
        ));
    }
    if !alerts.is_empty() {
        groups.push(RuleGroup {
            name: format!("sloth-slo-alerts-{id}"),
            rules: alerts,
        });
    }
    if !traffic.is_empty() {
        groups.push(RuleGroup {
            name: format!("{TRAFFIC_GROUP_PREFIX}{id}"),
            rules: traffic,
        });
    }
    groups
}

fn burn_alert(
    slo: &SloSpec,
    severity: &str,
    alert: &AlertSpec,
    pair: [Window; 2],
    days: u32,
    budget: f64,
    sel: &str,
) -> Rule {
    let cond = |w: &Window| {
        let f = w.factor(days);
        let one = |win: String| {
            format!(
                "max(slo:sli_error:ratio_rate{win}{{{sel}}} > ({f} * {budget})) without (sloth_window)"
            )
        };
        format!(
            "(\n    {}\n    and\n    {}\n)",
            one(w.short()),
            one(w.long())
        )
    };
    let expr = format!("{}\nor\n{}\n", cond(&pair[0]), cond(&pair[1]));
    let a = &slo.alerting;
    let mut labels = a.labels.clone();
    labels.extend(alert.labels.clone());
    labels.insert("sloth_severity".into(), severity.into());
    let mut annotations = a.annotations.clone();
    annotations.extend(alert.annotations.clone());
    annotations.entry("summary".into()).or_insert_with(|| {
        "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over expected.".into()
    });
    annotations.entry("title".into()).or_insert_with(|| {
        format!("({severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} SLO error budget burn rate is too fast.")
    });
    Rule {
        alert: Some(
            a.name
                .clone()
                .unwrap_or_else(|| format!("{}BurnRate", pascal_case(&slo.name))),
        ),
        expr,
        labels,
        annotations,
        ..Rule::default()
    }
}
