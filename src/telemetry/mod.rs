//! Logs (tracing, text or JSON) and the Prometheus metrics Firewatch exports about itself.
//! The HTTP middleware that feeds the request metrics lives with the HTTP code
//! (`api::middleware`).

mod logs;
mod threads;

pub use logs::{escape_control, init_logging};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::incidents::{Severity, Status};
use crate::slo::SloStatus;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IncidentLabels {
    pub status: String,
    pub severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

/// `rule` is a configured healing rule (a fixed set), `action` its action, `outcome`
/// executed, dry_run, skipped or failed.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HealingLabels {
    pub rule: String,
    pub action: String,
    pub outcome: String,
}

/// `job` is one of the scheduled jobs (a fixed set), `outcome` ok or failed.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub job: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotificationLabels {
    pub channel: String,
    pub outcome: String,
}

/// The `channel` label values of `firewatch_notifications_total`: one per receiver type.
pub const CHANNELS: [&str; 4] = ["pagerduty", "slack", "email", "webhook"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabel {
    pub service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeploymentLabels {
    pub service: String,
    pub version: String,
}

/// Services whose latest deployment is exported; beyond it the least recently deployed
/// service is dropped from `firewatch_last_deployment_timestamp_seconds`.
pub const MAX_DEPLOYED_SERVICES: usize = 1000;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SloLabels {
    pub slo: String,
    pub service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SloWindowLabels {
    pub slo: String,
    pub service: String,
    pub window: String,
}

type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

pub struct Metrics {
    registry: Registry,
    pub slo_objective: Family<SloLabels, FloatGauge>,
    pub slo_sli: Family<SloWindowLabels, FloatGauge>,
    pub slo_budget_remaining: Family<SloLabels, FloatGauge>,
    pub slo_burn_rate: Family<SloWindowLabels, FloatGauge>,
    deployments: Family<ServiceLabel, Counter>,
    last_deployment: Family<DeploymentLabels, FloatGauge>,
    /// service → (version, at ms) of the latest deployment, the source of `last_deployment`.
    latest_deployments: std::sync::Mutex<std::collections::HashMap<String, (String, i64)>>,
    pub notifications: Family<NotificationLabels, Counter>,
    pub notification_queue_depth: Gauge,
    pub notification_oldest_pending: Gauge,
    pub alerts_received: Family<StatusLabel, Counter>,
    pub webhook_requests: Family<OutcomeLabel, Counter>,
    pub incidents: Family<IncidentLabels, Gauge>,
    action_items: Family<StatusLabel, Gauge>,
    action_items_overdue: Gauge,
    postmortems_overdue: Gauge,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<RouteLabels, Histogram>,
    /// Scheduled job runs by job and outcome.
    pub job_runs: Family<JobLabels, Counter>,
    /// Self-healing decisions by rule, action and outcome.
    pub healing_actions: Family<HealingLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("firewatch");
        let alerts_received = Family::<StatusLabel, Counter>::default();
        registry.register(
            "alerts_received",
            "Alerts received from Alertmanager, by alert status",
            alerts_received.clone(),
        );
        let webhook_requests = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "webhook_requests",
            "Alertmanager webhook requests, by outcome (accepted, rejected, error)",
            webhook_requests.clone(),
        );
        let incidents = Family::<IncidentLabels, Gauge>::default();
        registry.register(
            "incidents",
            "Incidents in the database, by status and severity",
            incidents.clone(),
        );
        let action_items = Family::<StatusLabel, Gauge>::default();
        registry.register(
            "action_items",
            "Post-mortem action items, by status (open, in_progress, done, wont_do)",
            action_items.clone(),
        );
        let action_items_overdue = Gauge::default();
        registry.register(
            "action_items_overdue",
            "Action items open or in progress after their due date",
            action_items_overdue.clone(),
        );
        let postmortems_overdue = Gauge::default();
        registry.register(
            "postmortems_overdue",
            "Resolved incidents past the [postmortems] due time without a published post-mortem",
            postmortems_overdue.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests, by method, route pattern and status code",
            http_requests.clone(),
        );
        let http_duration = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 14))
        });
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency, by method and route pattern",
            http_duration.clone(),
        );
        let healing_actions = Family::<HealingLabels, Counter>::default();
        registry.register(
            "healing_actions",
            "Self-healing decisions, by rule, action and outcome (executed, dry_run, skipped, failed)",
            healing_actions.clone(),
        );
        let job_runs = Family::<JobLabels, Counter>::default();
        registry.register(
            "job_runs",
            "Scheduled job runs (firewatch jobs), by job and outcome (ok, failed)",
            job_runs.clone(),
        );
        let notifications = Family::<NotificationLabels, Counter>::default();
        registry.register(
            "notifications",
            "Notification delivery attempts, by channel and outcome (delivered, retry, failed)",
            notifications.clone(),
        );
        let notification_queue_depth = Gauge::default();
        registry.register(
            "notifications_queue_depth",
            "Notifications waiting to be delivered",
            notification_queue_depth.clone(),
        );
        let notification_oldest_pending = Gauge::default();
        registry.register(
            "notifications_oldest_pending_seconds",
            "Age of the oldest notification still waiting to be delivered",
            notification_oldest_pending.clone(),
        );
        let deployments = Family::<ServiceLabel, Counter>::default();
        registry.register(
            "deployments",
            "Deployments recorded through the API, by service (Grafana annotations use it)",
            deployments.clone(),
        );
        let last_deployment = Family::<DeploymentLabels, FloatGauge>::default();
        registry.register(
            "last_deployment_timestamp_seconds",
            "Time of each service's latest deployment, labelled with its version (one series per service)",
            last_deployment.clone(),
        );
        registry.register_collector(Box::new(threads::ThreadCpu));
        let slo_objective = Family::<SloLabels, FloatGauge>::default();
        registry.register(
            "slo_objective",
            "SLO objective as a ratio (0.999)",
            slo_objective.clone(),
        );
        let slo_sli = Family::<SloWindowLabels, FloatGauge>::default();
        registry.register(
            "slo_sli",
            "SLI (good ratio) per window; absent when there is no data",
            slo_sli.clone(),
        );
        let slo_budget_remaining = Family::<SloLabels, FloatGauge>::default();
        registry.register(
            "slo_error_budget_remaining",
            "Fraction of the period's error budget left (negative when overspent)",
            slo_budget_remaining.clone(),
        );
        let slo_burn_rate = Family::<SloWindowLabels, FloatGauge>::default();
        registry.register(
            "slo_burn_rate",
            "Error budget burn rate per window",
            slo_burn_rate.clone(),
        );
        // Every label value a rule or panel selects on is exported from the start (at 0), so
        // `rate()` and the generated alerts see the series before the first event.
        for outcome in ["accepted", "rejected", "error"] {
            let _ = webhook_requests.get_or_create(&OutcomeLabel {
                outcome: outcome.into(),
            });
        }
        for channel in CHANNELS {
            for outcome in ["delivered", "retry", "failed"] {
                let _ = notifications.get_or_create(&NotificationLabels {
                    channel: channel.into(),
                    outcome: outcome.into(),
                });
            }
        }
        for status in ["firing", "resolved"] {
            let _ = alerts_received.get_or_create(&StatusLabel {
                status: status.into(),
            });
        }
        Self {
            registry,
            slo_objective,
            slo_sli,
            slo_budget_remaining,
            slo_burn_rate,
            deployments,
            last_deployment,
            latest_deployments: Default::default(),
            notifications,
            notification_queue_depth,
            notification_oldest_pending,
            alerts_received,
            webhook_requests,
            incidents,
            action_items,
            action_items_overdue,
            postmortems_overdue,
            http_requests,
            http_duration,
            job_runs,
            healing_actions,
        }
    }

    /// Replaces the incident gauges with fresh counts (every pair is exported, zeros too).
    pub fn set_incident_counts(&self, counts: &[(Status, Severity, i64)]) {
        for status in Status::ALL {
            for severity in Severity::ALL {
                let n = counts
                    .iter()
                    .find(|(s, v, _)| *s == status && *v == severity)
                    .map(|c| c.2)
                    .unwrap_or(0);
                self.incidents
                    .get_or_create(&IncidentLabels {
                        status: status.as_str().into(),
                        severity: severity.as_str().into(),
                    })
                    .set(n);
            }
        }
    }

    /// Action items per status (every status exported, 0 when none), the overdue ones,
    /// and the overdue post-mortems.
    pub fn set_followups(
        &self,
        items: &[(String, i64)],
        overdue_items: i64,
        overdue_postmortems: i64,
    ) {
        for status in ["open", "in_progress", "done", "wont_do"] {
            let n = items.iter().find(|(s, _)| s == status).map_or(0, |c| c.1);
            self.action_items
                .get_or_create(&StatusLabel {
                    status: status.into(),
                })
                .set(n);
        }
        self.action_items_overdue.set(overdue_items);
        self.postmortems_overdue.set(overdue_postmortems);
    }

    /// Records a deployment in `firewatch_last_deployment_timestamp_seconds`: each service
    /// keeps one series, its latest deployment's time labelled with the version, so Grafana
    /// can annotate deployments with a bounded number of series.
    pub fn deployed(&self, service: &str, version: &str, at_ms: i64) {
        let mut latest = self.latest_deployments.lock().expect("deployments lock");
        if latest.get(service).is_some_and(|(_, at)| *at > at_ms) {
            return;
        }
        let labels = |service: &str, version: &str| DeploymentLabels {
            service: service.to_string(),
            version: version.to_string(),
        };
        if let Some((old, _)) = latest.insert(service.to_string(), (version.to_string(), at_ms))
            && old != version
        {
            self.last_deployment.remove(&labels(service, &old));
        }
        self.last_deployment
            .get_or_create(&labels(service, version))
            .set(at_ms as f64 / 1000.0);
        if latest.len() > MAX_DEPLOYED_SERVICES
            && let Some(oldest) = latest
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(s, _)| s.clone())
            && let Some((version, _)) = latest.remove(&oldest)
        {
            self.last_deployment.remove(&labels(&oldest, &version));
            self.deployments.remove(&ServiceLabel { service: oldest });
        }
    }

    /// A deployment recorded through the API: counted in `firewatch_deployments_total` and
    /// made the service's latest when it is the newest.
    pub fn record_deployment(&self, service: &str, version: &str, at_ms: i64) {
        self.deployed(service, version, at_ms);
        let latest = self.latest_deployments.lock().expect("deployments lock");
        // Only services that hold a place among the exported ones are counted: bounded.
        if latest.contains_key(service) {
            self.deployments
                .get_or_create(&ServiceLabel {
                    service: service.to_string(),
                })
                .inc();
        }
    }

    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

impl Metrics {
    /// Replaces the SLO gauges with the latest evaluation (windows without data are left out).
    pub fn set_slos(&self, statuses: &[SloStatus]) {
        self.slo_objective.clear();
        self.slo_sli.clear();
        self.slo_budget_remaining.clear();
        self.slo_burn_rate.clear();
        for s in statuses {
            let l = SloLabels {
                slo: s.name.clone(),
                service: s.service.clone(),
            };
            self.slo_objective.get_or_create(&l).set(s.objective);
            if let Some(r) = s.error_budget.remaining {
                self.slo_budget_remaining.get_or_create(&l).set(r);
            }
            for (window, w) in &s.windows {
                let wl = SloWindowLabels {
                    slo: s.name.clone(),
                    service: s.service.clone(),
                    window: window.clone(),
                };
                if let Some(v) = w.sli {
                    self.slo_sli.get_or_create(&wl).set(v);
                }
                if let Some(b) = w.burn_rate {
                    self.slo_burn_rate.get_or_create(&wl).set(b);
                }
            }
        }
    }
}

#[cfg(test)]
mod log_tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn text_logs_escape_control_characters_in_every_field() {
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .fmt_fields(super::logs::escaped_fields())
            .finish();
        let evil = "bob\n2026-01-01T00:00:00Z  INFO forged: admin signed in\u{1b}[2J\u{202e}";
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(name = %evil, debug = ?evil, "sign-in failed for {evil}");
        });
        let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out.matches('\n').count(), 1, "{out}");
        assert!(out.ends_with('\n'));
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{202e}'),
            "{out}"
        );
        assert!(out.contains("name=bob\\n2026-01-01"), "{out}");
        assert!(out.contains("sign-in failed for bob\\n"), "{out}");
        assert!(out.contains("\\u{1b}[2J"), "{out}");
    }

    #[test]
    fn plain_text_is_left_alone() {
        assert!(matches!(
            super::escape_control("job=node error=timeout"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(super::escape_control("a\tb\u{7f}"), "a\\tb\\u{7f}");
    }
}
