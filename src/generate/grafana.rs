//! Grafana 10+ dashboard over the Sloth recording rules (works for Firewatch's own SLOs
//! and for any Sloth-generated rules).

use serde_json::{Value, json};

use super::GenerateOptions;

const DS: &str = "${datasource}";
/// Matchers every SLO query carries, driven by the template variables.
const SEL: &str = r#"sloth_service=~"$service", sloth_slo=~"$slo""#;
const ON: &str = "on(sloth_id, sloth_slo, sloth_service) group_left";

fn ds() -> Value {
    json!({"type": "prometheus", "uid": DS})
}

fn target(ref_id: &str, expr: String, legend: &str) -> Value {
    json!({"datasource": ds(), "refId": ref_id, "expr": expr, "legendFormat": legend})
}

struct Panel {
    kind: &'static str,
    title: &'static str,
    description: &'static str,
    unit: &'static str,
    targets: Vec<Value>,
    /// x, y, w, h on Grafana's 24-column grid.
    grid: (u32, u32, u32, u32),
}

/// Latency SLOs are those with a p99 rule (histogram SLIs), or named like one.
const LATENCY_SLI: &str = r#"(1 - slo:sli_error:ratio_rate5m{SEL}) and on(sloth_id) slo:sli_latency_seconds:p99_5m{SEL}
or (1 - slo:sli_error:ratio_rate5m{SEL, sloth_slo=~".*latency.*"})"#;

/// One series per service holds its latest deployment's time and version; over the range
/// every version that was the latest shows once, and those deployed before the range are
/// left out. Grafana's time-range variables are in milliseconds.
const RECENT_DEPLOYMENTS: &str = r#"max by (service, version) (max_over_time(firewatch_last_deployment_timestamp_seconds{service=~"$service"}[$__range])) * 1000 >= $__from"#;

/// Deployment annotations at the deployment's own time (the series value), named by
/// service and version.
const DEPLOYMENT_MARKERS: &str = r#"max by (service, version) (firewatch_last_deployment_timestamp_seconds{service=~"$service"}) * 1000"#;

fn slo(expr: &str) -> String {
    expr.replace("SEL", SEL).replace("ON", ON)
}

fn panels() -> Vec<Panel> {
    let legend = "{{sloth_service}}/{{sloth_slo}}";
    let p = |kind, title, description, unit, targets, grid| Panel {
        kind,
        title,
        description,
        unit,
        targets,
        grid,
    };
    vec![
        p(
            "stat",
            "Availability now",
            "1 - error ratio over the last 5 minutes.",
            "percentunit",
            vec![target(
                "A",
                slo("1 - slo:sli_error:ratio_rate5m{SEL}"),
                legend,
            )],
            (0, 0, 6, 5),
        ),
        p(
            "stat",
            "Availability over the period",
            "SLI over the whole SLO period (30d, 4w, ...).",
            "percentunit",
            vec![target(
                "A",
                slo("1 - (slo:period_burn_rate:ratio{SEL} * ON slo:error_budget:ratio{SEL})"),
                legend,
            )],
            (6, 0, 6, 5),
        ),
        p(
            "stat",
            "Latency SLI",
            "Share of requests faster than the threshold (latency SLOs).",
            "percentunit",
            vec![target("A", slo(LATENCY_SLI), legend)],
            (12, 0, 6, 5),
        ),
        p(
            "gauge",
            "Error budget remaining",
            "Share of the period's error budget left.",
            "percentunit",
            vec![target(
                "A",
                slo("slo:period_error_budget_remaining:ratio{SEL}"),
                legend,
            )],
            (18, 0, 6, 5),
        ),
        p(
            "timeseries",
            "Burn rate (1h and 6h)",
            "How many times faster than sustainable the budget burns; 14.4 (1h) and 6 (6h) page on a 30d SLO.",
            "none",
            vec![
                target(
                    "A",
                    slo("slo:sli_error:ratio_rate1h{SEL} / ON slo:error_budget:ratio{SEL}"),
                    "1h {{sloth_service}}/{{sloth_slo}}",
                ),
                target(
                    "B",
                    slo("slo:sli_error:ratio_rate6h{SEL} / ON slo:error_budget:ratio{SEL}"),
                    "6h {{sloth_service}}/{{sloth_slo}}",
                ),
            ],
            (0, 5, 12, 8),
        ),
        p(
            "timeseries",
            "Budget burn-down",
            "Error budget remaining over time.",
            "percentunit",
            vec![target(
                "A",
                slo("slo:period_error_budget_remaining:ratio{SEL}"),
                legend,
            )],
            (12, 5, 12, 8),
        ),
        p(
            "timeseries",
            "SLI and error ratio over time",
            "SLI (1 - error ratio) and error ratio, 5m windows.",
            "percentunit",
            vec![
                target(
                    "A",
                    slo("1 - slo:sli_error:ratio_rate5m{SEL}"),
                    "SLI {{sloth_service}}/{{sloth_slo}}",
                ),
                target(
                    "B",
                    slo("slo:sli_error:ratio_rate5m{SEL}"),
                    "errors {{sloth_service}}/{{sloth_slo}}",
                ),
            ],
            (0, 13, 12, 8),
        ),
        p(
            "timeseries",
            "Request and error rate",
            "Requests and errors per second of the selected SLOs' SLIs (5m rate; checks and failed checks for probe SLIs), from the same selectors as their recording rules.",
            "reqps",
            vec![
                target(
                    "A",
                    slo("sum by (sloth_service, sloth_slo) (slo:sli_requests:rate5m{SEL})"),
                    "requests {{sloth_service}}/{{sloth_slo}}",
                ),
                target(
                    "B",
                    slo("sum by (sloth_service, sloth_slo) (slo:sli_errors:rate5m{SEL})"),
                    "errors {{sloth_service}}/{{sloth_slo}}",
                ),
            ],
            (12, 13, 12, 8),
        ),
        p(
            "timeseries",
            "Latency p99",
            "99th percentile latency of the selected latency SLOs (5m window), from their histograms.",
            "s",
            vec![target(
                "A",
                slo("max by (sloth_service, sloth_slo) (slo:sli_latency_seconds:p99_5m{SEL})"),
                "p99 {{sloth_service}}/{{sloth_slo}}",
            )],
            (0, 21, 12, 8),
        ),
        p(
            "table",
            "Firing burn-rate alerts",
            "Sloth page/ticket alerts currently firing.",
            "none",
            vec![
                json!({"datasource": ds(), "refId": "A", "instant": true, "format": "table",
                      "expr": slo(r#"sum by (alertname, sloth_service, sloth_slo, sloth_severity) (ALERTS{alertstate="firing", sloth_severity!="", SEL})"#)}),
            ],
            (0, 29, 12, 8),
        ),
        p(
            "bargauge",
            "Open incidents by severity",
            "Unresolved Firewatch incidents.",
            "none",
            vec![target(
                "A",
                r#"sum by (severity) (firewatch_incidents{status!="resolved"})"#.into(),
                "{{severity}}",
            )],
            (12, 29, 12, 8),
        ),
        p(
            "table",
            "Recent deployments",
            "Versions deployed (recorded through Firewatch's API) in the dashboard's time range, with their time.",
            "dateTimeAsIso",
            vec![
                json!({"datasource": ds(), "refId": "A", "instant": true, "format": "table",
                      "expr": RECENT_DEPLOYMENTS}),
            ],
            (12, 21, 12, 8),
        ),
        p(
            "table",
            "SLO compliance",
            "Objective, period SLI and budget left for every SLO.",
            "percentunit",
            vec![
                json!({"datasource": ds(), "refId": "A", "instant": true, "format": "table", "expr": slo("slo:objective:ratio{SEL}")}),
                json!({"datasource": ds(), "refId": "B", "instant": true, "format": "table", "expr": slo("1 - (slo:period_burn_rate:ratio{SEL} * ON slo:error_budget:ratio{SEL})")}),
                json!({"datasource": ds(), "refId": "C", "instant": true, "format": "table", "expr": slo("slo:period_error_budget_remaining:ratio{SEL}")}),
            ],
            (0, 37, 24, 9),
        ),
    ]
}

fn variable(name: &str, label: &str, query: &str) -> Value {
    json!({
        "name": name, "label": label, "type": "query", "datasource": ds(),
        "query": {"query": query, "refId": format!("{name}-query")},
        "definition": query, "refresh": 2, "includeAll": true, "multi": true,
        "allValue": ".*", "current": {"selected": true, "text": ["All"], "value": ["$__all"]},
        "sort": 1, "hide": 0
    })
}

/// The dashboard JSON, pretty-printed. Its 13 panels: availability now, availability over
/// the period, latency SLI, error budget remaining, burn rate (1h and 6h in one panel),
/// budget burn-down, SLI and error ratio over time, request and error rate (one panel),
/// latency p99, firing burn-rate alerts, open incidents by severity, recent deployments
/// and the SLO compliance table. Request, error and latency panels chart the SLIs of the
/// selected service's SLOs through the `firewatch-slo-traffic-*` rules. The "Deployments"
/// annotation marks each deployment at its time with service and version.
pub fn dashboard(opts: &GenerateOptions) -> String {
    let panels: Vec<Value> = panels()
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let (x, y, w, h) = p.grid;
            json!({
                "id": i + 1, "type": p.kind, "title": p.title, "description": p.description,
                "datasource": ds(), "gridPos": {"x": x, "y": y, "w": w, "h": h},
                "targets": p.targets,
                "fieldConfig": {"defaults": {"unit": p.unit}, "overrides": []},
                "options": {}
            })
        })
        .collect();
    let doc = json!({
        "uid": "firewatch-slos",
        "title": "Firewatch SLOs",
        "description": format!("SLOs from Sloth-compatible recording rules (generated by Firewatch {}).", opts.version_label),
        "tags": ["firewatch", "slo", "sloth"],
        "schemaVersion": 39,
        "version": 1,
        "editable": true,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-24h", "to": "now"},
        "timezone": "browser",
        "links": [{"title": "Firewatch", "type": "link", "url": opts.public_url, "targetBlank": true}],
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "refresh": 1, "regex": ""},
            variable("service", "Service", "label_values(slo:objective:ratio, sloth_service)"),
            variable("slo", "SLO", r#"label_values(slo:objective:ratio{sloth_service=~"$service"}, sloth_slo)"#),
        ]},
        "annotations": {"list": [
            {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": true,
             "hide": true, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"},
            {"name": "Deployments", "datasource": ds(), "enable": true, "iconColor": "blue",
             "expr": DEPLOYMENT_MARKERS, "step": "1m", "titleFormat": "Deployment",
             "textFormat": "{{service}} {{version}}", "tagKeys": "service,version",
             "useValueForTime": true},
        ]},
        "panels": panels,
    });
    // A json! value always serialises.
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
