//! The `firewatch-self-monitoring` rule group of the default stack.

use std::collections::BTreeMap;

use super::rules::{Rule, RuleGroup};

/// Name of the group added to the default stack.
pub const GROUP_NAME: &str = "firewatch-self-monitoring";

/// `FirewatchDown` → `firewatch-down`.
pub fn kebab_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

struct Spec {
    name: &'static str,
    expr: &'static str,
    for_: &'static str,
    severity: &'static str,
    /// `service_down` inhibits `symptom` alerts of the same service in Alertmanager.
    kind: Option<&'static str>,
    summary: &'static str,
    description: &'static str,
}

/// Copies `sloth_service` into `service` so Alertmanager can group and inhibit budget
/// alerts like every other alert.
const BUDGET_LOW: &str = r#"label_replace(slo:period_error_budget_remaining:ratio < 0.1, "service", "$1", "sloth_service", "(.*)")"#;
const BUDGET_EXHAUSTED: &str = r#"label_replace(slo:period_error_budget_remaining:ratio < 0, "service", "$1", "sloth_service", "(.*)")"#;

const ALERTS: [Spec; 11] = [
    Spec {
        name: "FirewatchDown",
        expr: r#"up{job="firewatch"} == 0"#,
        for_: "2m",
        severity: "P0",
        kind: Some("service_down"),
        summary: "Firewatch is down",
        description: "Prometheus cannot scrape Firewatch ({{ $labels.instance }}): incidents are not being recorded and escalations are not sent.",
    },
    Spec {
        name: "FirewatchSloMetricAbsent",
        expr: "absent(firewatch_http_requests_total)",
        for_: "10m",
        severity: "P1",
        kind: Some("symptom"),
        summary: "Firewatch SLO metrics are missing",
        description: "firewatch_http_requests_total has no series, so Firewatch's own SLOs cannot be evaluated.",
    },
    Spec {
        name: "FirewatchWebhookIntakeFailing",
        expr: r#"sum(rate(firewatch_webhook_requests_total{outcome="error"}[5m])) > 0"#,
        for_: "5m",
        severity: "P0",
        kind: Some("symptom"),
        summary: "Firewatch fails to ingest Alertmanager webhooks",
        description: "Alertmanager webhook requests end in errors: alerts are not turned into incidents.",
    },
    Spec {
        name: "FirewatchWebhookRejections",
        expr: r#"sum(rate(firewatch_webhook_requests_total{outcome="rejected"}[5m])) > 0"#,
        for_: "15m",
        severity: "P2",
        kind: Some("symptom"),
        summary: "Firewatch rejects Alertmanager webhooks",
        description: "Webhook requests are rejected (bad token or payload); check the Alertmanager credentials file.",
    },
    Spec {
        name: "FirewatchNotificationsFailing",
        expr: r#"sum(rate(firewatch_notifications_total{outcome="failed"}[15m])) > 0"#,
        for_: "5m",
        severity: "P1",
        kind: Some("symptom"),
        summary: "Firewatch notifications are failing",
        description: "Notification deliveries fail permanently; responders may not be paged.",
    },
    Spec {
        name: "FirewatchNotificationQueueBacklog",
        expr: "firewatch_notifications_queue_depth > 100",
        for_: "10m",
        severity: "P2",
        kind: Some("symptom"),
        summary: "Firewatch notification queue is backing up",
        description: "{{ $value }} notifications are waiting to be delivered.",
    },
    Spec {
        name: "FirewatchHighApiLatency",
        expr: "histogram_quantile(0.99, sum by (le) (rate(firewatch_http_request_duration_seconds_bucket[5m]))) > 1",
        for_: "10m",
        severity: "P2",
        kind: Some("symptom"),
        summary: "Firewatch API p99 latency is above 1s",
        description: "The 99th percentile of Firewatch HTTP request latency is {{ $value }}s.",
    },
    Spec {
        name: "FirewatchHighErrorRatio",
        expr: r#"sum(rate(firewatch_http_requests_total{status=~"5.."}[5m])) / sum(rate(firewatch_http_requests_total[5m])) > 0.05"#,
        for_: "5m",
        severity: "P1",
        kind: Some("symptom"),
        summary: "Firewatch answers more than 5 % of requests with 5xx",
        description: "{{ $value | humanizePercentage }} of Firewatch HTTP requests fail with a server error.",
    },
    Spec {
        name: "FirewatchOpenP0Incidents",
        expr: r#"sum(firewatch_incidents{status!="resolved",severity="P0"}) > 0"#,
        for_: "0m",
        severity: "P1",
        kind: None,
        summary: "P0 incidents are open",
        description: "{{ $value }} P0 incidents are not resolved yet.",
    },
    Spec {
        name: "SloErrorBudgetLow",
        expr: BUDGET_LOW,
        for_: "15m",
        severity: "P2",
        kind: None,
        summary: "Error budget of {{ $labels.sloth_service }}/{{ $labels.sloth_slo }} is below 10 %",
        description: "{{ $value | humanizePercentage }} of the period's error budget is left.",
    },
    Spec {
        name: "SloErrorBudgetExhausted",
        expr: BUDGET_EXHAUSTED,
        for_: "5m",
        severity: "P1",
        kind: None,
        summary: "Error budget of {{ $labels.sloth_service }}/{{ $labels.sloth_slo }} is exhausted",
        description: "The SLO is out of budget for its period: freeze risky changes.",
    },
];

/// Firewatch's self-monitoring alerts (each refers only to metrics Firewatch exports
/// from its start, or to `up` and the SLO recording rules), each with a `severity` (P0–P2) label, `summary`,
/// `description` and `runbook_url` (`<public_url>/runbooks/<alert-name-in-kebab-case>`):
///
/// | alert | fires when | severity |
/// |---|---|---|
/// | FirewatchDown | `up{job="firewatch"} == 0` for 2m | P0 |
/// | FirewatchSloMetricAbsent | `absent(firewatch_http_requests_total)` for 10m | P1 |
/// | FirewatchWebhookIntakeFailing | webhook requests with `outcome="error"` | P0 |
/// | FirewatchWebhookRejections | webhook requests with `outcome="rejected"` | P2 |
/// | FirewatchNotificationsFailing | notifications with `outcome="failed"` (15m rate) | P1 |
/// | FirewatchNotificationQueueBacklog | `firewatch_notifications_queue_depth > 100` | P2 |
/// | FirewatchHighApiLatency | API p99 above 1s | P2 |
/// | FirewatchHighErrorRatio | more than 5 % of API requests answered 5xx | P1 |
/// | FirewatchOpenP0Incidents | any unresolved P0 incident | P1 |
/// | SloErrorBudgetLow | any SLO with less than 10 % budget left | P2 |
/// | SloErrorBudgetExhausted | any SLO with no budget left | P1 |
///
/// Firewatch alerts carry `service="firewatch"` and `kind` (`service_down` for
/// FirewatchDown, `symptom` for what it explains), which the generated Alertmanager
/// configuration uses for inhibition. The burn-rate page (P0) and ticket (P2) alerts of
/// each SLO come from the SLO rule groups, not from this group.
pub fn group(public_url: &str) -> RuleGroup {
    let base = public_url.trim_end_matches('/');
    let rules = ALERTS
        .iter()
        .map(|a| {
            let mut labels = BTreeMap::from([("severity".to_string(), a.severity.to_string())]);
            if let Some(kind) = a.kind {
                labels.insert("kind".into(), kind.into());
            }
            if !a.name.starts_with("Slo") {
                labels.insert("service".into(), "firewatch".into());
            }
            Rule {
                alert: Some(a.name.to_string()),
                expr: a.expr.to_string(),
                for_: (a.for_ != "0m").then(|| a.for_.to_string()),
                labels,
                annotations: BTreeMap::from([
                    ("summary".to_string(), a.summary.to_string()),
                    ("description".to_string(), a.description.to_string()),
                    (
                        "runbook_url".to_string(),
                        format!("{base}/runbooks/{}", kebab_case(a.name)),
                    ),
                ]),
                ..Rule::default()
            }
        })
        .collect();
    RuleGroup {
        name: GROUP_NAME.to_string(),
        rules,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_has_eleven_alerts_with_severity_and_runbook() {
        let g = group("https://fw.example.com/");
        assert_eq!(g.rules.len(), 11);
        for r in &g.rules {
            assert!(["P0", "P1", "P2"].contains(&r.labels["severity"].as_str()));
            assert!(r.annotations["runbook_url"].starts_with("https://fw.example.com/runbooks/"));
        }
        assert_eq!(
            g.rules[0].annotations["runbook_url"],
            "https://fw.example.com/runbooks/firewatch-down"
        );
    }
}
