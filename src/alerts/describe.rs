//! The alerts of one notification as intake works with them, and how they are described
//! on the timeline and in the incident's title.

use std::collections::BTreeMap;

use super::{ValidAlert, WebhookMessage};
use crate::incidents::Severity;
use crate::incidents::repo::{AlertRow, KnownAlert};

pub(super) struct Prepared<'a> {
    pub alert: &'a ValidAlert,
    pub severity: Severity,
    pub labels: String,
    pub annotations: String,
}

impl Prepared<'_> {
    pub fn row(&self) -> AlertRow<'_> {
        AlertRow {
            fingerprint: &self.alert.fingerprint,
            firing: self.alert.firing,
            alertname: self
                .alert
                .labels
                .get("alertname")
                .map(String::as_str)
                .unwrap_or(""),
            severity: self.severity,
            labels: &self.labels,
            annotations: &self.annotations,
            starts_at: self.alert.starts_at,
            ends_at: self.alert.ends_at,
            generator_url: &self.alert.generator_url,
        }
    }

    /// `HighErrorRate {instance="api-1"}`: the alert name plus the labels that tell it
    /// apart from the group.
    pub fn describe(&self, group_labels: &BTreeMap<String, String>) -> String {
        let name = self
            .alert
            .labels
            .get("alertname")
            .cloned()
            .unwrap_or_default();
        let extra: Vec<String> = self
            .alert
            .labels
            .iter()
            .filter(|(k, _)| {
                k.as_str() != "alertname"
                    && k.as_str() != "severity"
                    && !group_labels.contains_key(*k)
            })
            .take(4)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if extra.is_empty() {
            name
        } else {
            format!("{name} {{{}}}", extra.join(", "))
        }
    }
}

/// "Firing" for an alert already resolved, with a start no later than the one it had:
/// an old notification arriving late, not the alert firing again.
pub(super) fn is_stale_firing(p: &Prepared, known: &KnownAlert) -> bool {
    p.alert.firing && !known.firing && p.alert.starts_at <= known.starts_at
}

pub(super) fn summarize(verb: &str, items: &[String]) -> String {
    const SHOWN: usize = 5;
    let listed = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    let more = items.len().saturating_sub(SHOWN);
    let noun = if items.len() == 1 { "Alert" } else { "alerts" };
    let head = if items.len() == 1 {
        format!("{noun} {verb}")
    } else {
        format!("{} {noun} {verb}", items.len())
    };
    if more > 0 {
        format!("{head}: {listed} (+{more} more)")
    } else {
        format!("{head}: {listed}")
    }
}

pub(super) fn title_for(msg: &WebhookMessage) -> String {
    let label = |k: &str| {
        msg.group_labels
            .get(k)
            .or_else(|| msg.common_labels.get(k))
            .filter(|v| !v.is_empty())
    };
    let base = label("alertname")
        .cloned()
        .or_else(|| msg.common_annotations.get("summary").cloned())
        .unwrap_or_else(|| format!("Alert group {}", msg.group_key));
    let mut title = match label("service") {
        Some(service) => format!("{base} on {service}"),
        None => base,
    };
    if title.chars().count() > 300 {
        title = title.chars().take(297).collect::<String>() + "...";
    }
    title
}

pub(super) fn runbook_of(msg: &WebhookMessage, alerts: &[Prepared]) -> Option<String> {
    msg.common_annotations
        .get("runbook_url")
        .into_iter()
        .chain(
            alerts
                .iter()
                .filter_map(|a| a.alert.annotations.get("runbook_url")),
        )
        .find_map(|u| crate::incidents::service::safe_url(u))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_are_summarized() {
        let items: Vec<String> = (0..8).map(|i| format!("A{i}")).collect();
        assert_eq!(
            summarize("fired", &items),
            "8 alerts fired: A0; A1; A2; A3; A4 (+3 more)"
        );
        assert_eq!(summarize("resolved", &items[..1]), "Alert resolved: A0");
    }
}
