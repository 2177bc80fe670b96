//! A notification made ready for the writer on the HTTP worker: alerts deduplicated,
//! severities mapped, labels encoded, timeline lines and the new incident's title worked
//! out. The writer thread then only reads and writes rows.

use std::collections::BTreeMap;

use super::rules::SeverityRules;
use super::{ValidAlert, WebhookMessage};
use crate::incidents::alert_rows::{AlertRow, KnownAlert};
use crate::incidents::shared_sets::{Parts, SharedSet, split};
use crate::incidents::{Drill, Severity};

/// One alert as it will be stored.
pub struct PreparedAlert {
    pub fingerprint: String,
    pub firing: bool,
    pub alertname: String,
    pub severity: Severity,
    /// Labels and annotations as stored (JSON objects): what the notification's shared
    /// set does not hold.
    pub labels: String,
    pub annotations: String,
    pub starts_at: i64,
    pub ends_at: Option<i64>,
    /// Empty when the shared set holds it.
    pub generator_url: String,
    /// How the timeline names it: `HighErrorRate {instance=api-1}`.
    pub line: String,
}

impl PreparedAlert {
    pub fn row(&self, set_id: Option<i64>) -> AlertRow<'_> {
        AlertRow {
            set_id,
            fingerprint: &self.fingerprint,
            firing: self.firing,
            alertname: &self.alertname,
            severity: self.severity,
            labels: &self.labels,
            annotations: &self.annotations,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            generator_url: &self.generator_url,
        }
    }
}

/// A notification ready to apply.
pub struct Prepared {
    pub group_key: String,
    pub receiver: String,
    /// Its alerts, one per fingerprint (the last copy wins), ordered by fingerprint.
    pub alerts: Vec<PreparedAlert>,
    /// For an incident it opens: title, description, service, runbook link and the
    /// group's common labels (JSON).
    pub title: String,
    pub description: String,
    pub service: String,
    pub runbook: Option<String>,
    pub labels: String,
    /// A drill (an alert labelled `firewatch_drill`): its alerts are P0.
    pub drill: Drill,
    /// What all of its alerts share, stored once per incident.
    pub shared: Option<SharedSet>,
}

/// Does everything to a validated notification that needs no database.
pub fn prepare(msg: &WebhookMessage, alerts: Vec<ValidAlert>, rules: &SeverityRules) -> Prepared {
    // One alert per fingerprint, the last copy winning: a stable sort keeps copies in
    // the order they came, and each run of copies is left with its last.
    let mut by_fp = alerts;
    by_fp.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    by_fp.dedup_by(|later, kept| {
        let same = later.fingerprint == kept.fingerprint;
        if same {
            std::mem::swap(later, kept);
        }
        same
    });
    let runbook = msg
        .common_annotations
        .get("runbook_url")
        .into_iter()
        .chain(
            by_fp
                .iter()
                .filter_map(|a| a.annotations.get("runbook_url")),
        )
        .find_map(|u| crate::incidents::service::safe_url(u));
    // A drill is a simulated P0, whatever the team's severity labels say.
    let drill = Drill::from_label(
        by_fp
            .iter()
            .find_map(|a| a.labels.get(Drill::LABEL))
            .map(String::as_str),
    );
    let parts: Vec<Parts> = by_fp.iter().map(ValidAlert::parts).collect();
    let (shared, owns) = split(&parts);
    let alerts = by_fp
        .into_iter()
        .zip(owns)
        .map(|(a, own)| PreparedAlert {
            severity: if drill.is_drill() {
                Severity::P0
            } else {
                rules.severity_of(&a.labels)
            },
            labels: own.labels,
            annotations: own.annotations,
            line: describe(&a, &msg.group_labels),
            alertname: a.labels.get("alertname").cloned().unwrap_or_default(),
            fingerprint: a.fingerprint,
            firing: a.firing,
            starts_at: a.starts_at,
            ends_at: a.ends_at,
            generator_url: own.generator_url.unwrap_or_default(),
        })
        .collect();
    let description = [
        msg.common_annotations.get("summary"),
        msg.common_annotations.get("description"),
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect::<Vec<_>>()
    .join("\n\n");
    Prepared {
        group_key: msg.group_key.clone(),
        receiver: msg.receiver.clone(),
        alerts,
        title: title_for(msg),
        description,
        service: msg
            .common_labels
            .get("service")
            .or_else(|| msg.group_labels.get("service"))
            .cloned()
            .unwrap_or_default(),
        runbook,
        labels: serde_json::to_string(&msg.common_labels).expect("labels serialize"),
        drill,
        shared,
    }
}

/// `HighErrorRate {instance=api-1}`: the alert name plus the labels that tell it apart
/// from the group.
fn describe(a: &ValidAlert, group_labels: &BTreeMap<String, String>) -> String {
    use std::fmt::Write;
    let mut line = a.labels.get("alertname").cloned().unwrap_or_default();
    let extra = a
        .labels
        .iter()
        .filter(|(k, _)| {
            k.as_str() != "alertname" && k.as_str() != "severity" && !group_labels.contains_key(*k)
        })
        .take(4);
    let mut any = false;
    for (k, v) in extra {
        line.push_str(if any { ", " } else { " {" });
        let _ = write!(line, "{k}={v}");
        any = true;
    }
    if any {
        line.push('}');
    }
    line
}

/// "Firing" for an alert already resolved, with a start no later than the one it had:
/// an old notification arriving late, not the alert firing again.
pub(super) fn is_stale_firing(p: &PreparedAlert, known: &KnownAlert) -> bool {
    p.firing && !known.firing && p.starts_at <= known.starts_at
}

fn title_for(msg: &WebhookMessage) -> String {
    let label = |k: &str| {
        msg.group_labels
            .get(k)
            .or_else(|| msg.common_labels.get(k))
            .filter(|v| !v.is_empty())
    };
    // An explicit title shared by the group (Sloth's alerts carry one; so do Firewatch's
    // own burn-rate alerts) says it best.
    if let Some(title) = msg
        .common_annotations
        .get("title")
        .filter(|t| !t.trim().is_empty())
    {
        return cut_title(title.trim().to_string());
    }
    let base = label("alertname")
        .cloned()
        .or_else(|| msg.common_annotations.get("summary").cloned())
        .unwrap_or_else(|| format!("Alert group {}", msg.group_key));
    cut_title(match label("service") {
        Some(service) => format!("{base} on {service}"),
        None => base,
    })
}

fn cut_title(title: String) -> String {
    if title.chars().count() > 300 {
        title.chars().take(297).collect::<String>() + "..."
    } else {
        title
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(fingerprint: &str, labels: &[(&str, &str)], starts_at: i64) -> ValidAlert {
        ValidAlert {
            firing: true,
            fingerprint: fingerprint.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: BTreeMap::new(),
            starts_at,
            ends_at: None,
            generator_url: String::new(),
        }
    }

    #[test]
    fn one_alert_per_fingerprint_the_last_copy_winning_in_fingerprint_order() {
        let msg: WebhookMessage = serde_json::from_value(serde_json::json!({
            "version": "4", "groupKey": "g", "status": "firing", "alerts": [],
            "groupLabels": {"alertname": "A"}
        }))
        .unwrap();
        let a = [("alertname", "A")];
        let alerts = vec![
            alert("c", &a, 1),
            alert("a", &a, 2),
            alert("c", &a, 3),
            alert("b", &a, 4),
            alert("c", &a, 5),
            alert("a", &a, 6),
        ];
        let p = prepare(
            &msg,
            alerts,
            &SeverityRules::from_settings(&Default::default(), std::time::Duration::ZERO),
        );
        let got: Vec<(&str, i64)> = p
            .alerts
            .iter()
            .map(|a| (a.fingerprint.as_str(), a.starts_at))
            .collect();
        assert_eq!(got, [("a", 6), ("b", 4), ("c", 5)]);
    }

    #[test]
    fn lines_name_the_alert_and_the_labels_that_tell_it_from_its_group() {
        let group: BTreeMap<String, String> = [("service".to_string(), "api".to_string())].into();
        let plain = alert("f", &[("alertname", "Down"), ("service", "api")], 0);
        assert_eq!(describe(&plain, &group), "Down");
        let many = alert(
            "f",
            &[
                ("alertname", "HighErrorRate"),
                ("severity", "critical"),
                ("service", "api"),
                ("instance", "api-1"),
                ("a", "1"),
                ("b", "2"),
                ("c", "3"),
                ("d", "4"),
            ],
            0,
        );
        assert_eq!(
            describe(&many, &group),
            "HighErrorRate {a=1, b=2, c=3, d=4}"
        );
        let one = alert("f", &[("alertname", "X"), ("pod", "p-0")], 0);
        assert_eq!(describe(&one, &group), "X {pod=p-0}");
    }
}
