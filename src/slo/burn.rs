//! Burn-rate alerts as incidents: when an SLO starts or stops burning its error budget
//! too fast, a notification goes through the same intake as Alertmanager's (same
//! grouping, timeline, notifications and auto-resolve), with source `slo`.

use super::service::Slos;
use super::window::SloStatus;
use crate::alerts::{ValidAlert, WebhookMessage};

impl Slos {
    /// Opens, changes or resolves the burn-rate incident of each SLO, through the same ingest
    /// path as Alertmanager alerts (same grouping, timeline, notifications, auto-resolve).
    pub(super) async fn burn_alerts(&self, statuses: &[SloStatus], now: i64) -> anyhow::Result<()> {
        let opts = &self.inner.opts;
        let mut changes: Vec<(WebhookMessage, Vec<ValidAlert>)> = Vec::new();
        {
            let mut active = self.inner.burning.lock().expect("slo alerts lock");
            for s in statuses {
                let id = format!("{}-{}", s.service, s.name);
                let current = active.get(&id).cloned();
                let wanted = s.alert.clone();
                if current.as_ref().map(|c| c.0.clone()) == wanted {
                    continue;
                }
                let mut alerts = Vec::new();
                let spec = self
                    .inner
                    .configured
                    .iter()
                    .find(|c| c.service == s.service && c.name == s.name);
                // The severity label the generated Prometheus rule of this alert carries
                // (the alert's own, else the SLO's alerting labels), so both paths give the
                // incident the same severity; the evaluation default otherwise.
                let severity = |kind: &str| {
                    spec.and_then(|c| {
                        let a = &c.alerting;
                        let alert = if kind == "page" { &a.page } else { &a.ticket };
                        alert
                            .labels
                            .get("severity")
                            .or_else(|| a.labels.get("severity"))
                            .cloned()
                    })
                    .unwrap_or_else(|| {
                        if kind == "page" {
                            opts.page_severity.to_string()
                        } else {
                            opts.ticket_severity.to_string()
                        }
                    })
                };
                let long = |kind: &str| if kind == "page" { "1h" } else { "1d" };
                let burn = |kind: &str| {
                    s.windows
                        .get(long(kind))
                        .and_then(|w| w.burn_rate)
                        .unwrap_or(0.0)
                };
                let alert = |kind: &str, firing: bool, since: i64| {
                    let sev = severity(kind);
                    let labels: std::collections::BTreeMap<String, String> = [
                        ("alertname", "SLOBurnRate".to_string()),
                        ("slo", s.name.clone()),
                        ("service", s.service.clone()),
                        ("burn", kind.to_string()),
                        ("severity", sev),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect();
                    let (long, b1) = (long(kind), burn(kind));
                    ValidAlert {
                        firing,
                        fingerprint: format!("slo-{id}-{kind}"),
                        labels,
                        annotations: [
                            (
                                "summary".to_string(),
                                format!(
                                    "SLO {} of {} burns its error budget {b1:.1}x too fast over {long} ({kind})",
                                    s.name, s.service
                                ),
                            ),
                            (
                                "runbook_url".to_string(),
                                format!("{}/runbooks/slo-burn-rate-{kind}", opts.public_url),
                            ),
                            (
                                "slo_url".to_string(),
                                format!("{}/slos/{id}", opts.public_url),
                            ),
                        ]
                        .into_iter()
                        .collect(),
                        starts_at: since,
                        ends_at: (!firing).then_some(now),
                        generator_url: String::new(),
                    }
                };
                if let Some((kind, since)) = &current {
                    alerts.push(alert(kind, false, *since));
                }
                match &wanted {
                    Some(kind) => {
                        alerts.push(alert(kind, true, now));
                        active.insert(id.clone(), (kind.clone(), now));
                    }
                    None => {
                        active.remove(&id);
                    }
                }
                let msg = WebhookMessage {
                    version: "4".into(),
                    group_key: format!("firewatch-slo:{id}"),
                    truncated_alerts: 0,
                    status: if wanted.is_some() {
                        "firing"
                    } else {
                        "resolved"
                    }
                    .into(),
                    receiver: "firewatch-slo".into(),
                    group_labels: [
                        ("alertname".to_string(), "SLOBurnRate".to_string()),
                        ("service".to_string(), s.service.clone()),
                        ("slo".to_string(), s.name.clone()),
                    ]
                    .into_iter()
                    .collect(),
                    common_labels: [
                        ("service".to_string(), s.service.clone()),
                        ("slo".to_string(), s.name.clone()),
                    ]
                    .into_iter()
                    .collect(),
                    common_annotations: wanted
                        .as_deref()
                        .map(|kind| {
                            let b = burn(kind);
                            let times = if b >= 10.0 {
                                format!("{b:.0}")
                            } else {
                                format!("{b:.1}")
                            };
                            (
                                "title".to_string(),
                                format!(
                                    "{} {}: budget burning {times}× ({kind})",
                                    s.service, s.name
                                ),
                            )
                        })
                        .into_iter()
                        .collect(),
                    external_url: String::new(),
                    alerts: Vec::new(),
                };
                changes.push((msg, alerts));
            }
        }
        for (msg, alerts) in changes {
            self.inner
                .intake
                .apply(msg, alerts, "slo", Some(now))
                .await?;
        }
        Ok(())
    }
}
