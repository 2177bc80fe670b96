//! Self-healing: rules that act on alerts before a person is woken — safe first. Dry run
//! by default; per-rule cooldowns per target and hourly caps, a global cap, a namespace
//! allowlist and a kill switch, all decided inside one database write so that parallel
//! alerts (a storm) cannot slip past them and a restart resets none of them. Every
//! decision is a row (repo.rs, the audit trail), a line on the incident's timeline and a
//! count in `/metrics`.

mod actions;
mod checks;
mod postgres;
mod repo;
pub mod rules;

use std::collections::BTreeMap;
use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::Serialize;

pub use rules::{Rule, rules_from};

use crate::config::HealingSettings;
use crate::db::{Conn, Db, StoreError};
use crate::incidents::timeline;
use crate::telemetry::HealingLabels;
use crate::time::{now_ms, ser_ms};

/// One decision of the audit trail.
#[derive(Debug, Clone, Serialize)]
pub struct HealingAction {
    pub id: i64,
    pub rule: String,
    pub action: String,
    pub target: String,
    pub dry_run: bool,
    /// executed, dry_run, skipped or failed (running while the call is made).
    pub outcome: String,
    pub reason: String,
    #[serde(serialize_with = "ser_ms")]
    pub at: i64,
    pub incident_id: Option<i64>,
}

/// A rule as the healing page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RuleState {
    pub name: String,
    pub action: &'static str,
    pub when: BTreeMap<String, String>,
    pub cooldown_s: i64,
    pub max_per_hour: u32,
    pub acted_last_hour: i64,
}

#[derive(Clone)]
pub struct Healing {
    db: Db,
    rules: Arc<Vec<Rule>>,
    enabled: bool,
    dry_run: bool,
    max_per_hour: u32,
    namespaces: Arc<Vec<String>>,
    kube: actions::Kube,
    http: reqwest::Client,
    counter: Family<HealingLabels, Counter>,
    /// When each scheduled check last ran (in this process; the guards are in the database).
    checked: Arc<std::sync::Mutex<std::collections::HashMap<String, i64>>>,
}

/// What the guards decided for one rule and target.
enum Decision {
    Act(i64),
    Skip,
}

impl Healing {
    pub fn new(
        db: Db,
        s: &HealingSettings,
        rules: Vec<Rule>,
        http: reqwest::Client,
        counter: Family<HealingLabels, Counter>,
    ) -> Self {
        Self {
            db,
            rules: Arc::new(rules),
            enabled: s.enabled,
            dry_run: s.dry_run,
            max_per_hour: s.max_per_hour,
            namespaces: Arc::new(s.namespaces.clone()),
            kube: actions::Kube::new(s.kubeconfig.clone()),
            http,
            counter,
            checked: Arc::default(),
        }
    }

    /// Records how an action went: the row, the incident's timeline, the metric.
    async fn finish(
        &self,
        rule: &Rule,
        id: i64,
        incident_id: Option<i64>,
        outcome: &'static str,
        detail: String,
    ) -> Result<(), StoreError> {
        self.count(rule, outcome);
        let (rule_name, now) = (rule.name.clone(), now_ms());
        self.db
            .write(move |c| {
                repo::finish(c, id, outcome, &detail)?;
                if let Some(inc) = incident_id {
                    let text = match outcome {
                        "failed" => format!("Healing rule {rule_name} failed: {detail}"),
                        _ => format!("Healing rule {rule_name}: {detail}"),
                    };
                    timeline::add(c, inc, now, "healing", "firewatch-healing", &text, None)?;
                }
                Ok(())
            })
            .await
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    fn count(&self, rule: &Rule, outcome: &str) {
        self.counter
            .get_or_create(&HealingLabels {
                rule: rule.name.clone(),
                action: rule.action.name().into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// Applies every matching rule to each firing alert (fingerprint, labels) of a
    /// notification, in order.
    pub async fn handle(
        &self,
        incident_id: Option<i64>,
        alerts: Vec<(String, BTreeMap<String, String>)>,
    ) {
        for (fingerprint, labels) in &alerts {
            for rule in self.rules.iter().filter(|r| r.matches(labels)) {
                let alert = Some((fingerprint.as_str(), labels));
                if let Err(e) = self.apply_to(rule, incident_id, labels, alert).await {
                    tracing::error!(rule = %rule.name, error = %e, "healing could not record a decision");
                }
            }
        }
    }

    async fn apply(
        &self,
        rule: &Rule,
        incident_id: Option<i64>,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        self.apply_to(rule, incident_id, labels, None).await
    }

    /// `apply` for an alert (fingerprint, labels): an executed action is then verified
    /// against it after the rule's `verify_within`.
    async fn apply_to(
        &self,
        rule: &Rule,
        incident_id: Option<i64>,
        labels: &BTreeMap<String, String>,
        alert: Option<(&str, &BTreeMap<String, String>)>,
    ) -> Result<(), StoreError> {
        if matches!(rule.action, rules::Action::Postgres { .. }) {
            return self.check_postgres(rule, incident_id).await;
        }
        let (namespace, name, target) = match rules::target_of(rule, labels) {
            Ok(t) => t,
            Err((target, why)) => return self.skip_only(rule, incident_id, &target, &why).await,
        };
        let id = match self
            .decide(rule, incident_id, &target, namespace.as_deref(), true)
            .await?
        {
            Decision::Skip => return Ok(()),
            Decision::Act(id) => id,
        };
        let body = serde_json::json!({
            "rule": rule.name, "action": rule.action.name(), "target": target,
            "incident_id": incident_id, "labels": labels, "dry_run": self.dry_run,
        });
        let t = actions::Target {
            namespace: namespace.as_deref(),
            name: name.as_deref(),
        };
        let result =
            actions::take(&self.kube, &self.http, &rule.action, &t, self.dry_run, body).await;
        let (outcome, detail) = match result {
            Ok(done) if self.dry_run => ("dry_run", done),
            Ok(done) => ("executed", done),
            Err(e) => ("failed", e),
        };
        self.finish(rule, id, incident_id, outcome, detail).await?;
        // An executed action is checked against its alert after the rule's window; a
        // failed one at once (the verifier escalates it).
        let at = match outcome {
            "executed" => now_ms() + rule.verify_within_ms,
            "failed" => now_ms(),
            _ => return Ok(()),
        };
        if let (Some((fp, labels)), Some(_)) = (alert, incident_id) {
            let (fp, labels) = (
                fp.to_string(),
                serde_json::to_string(labels).unwrap_or_default(),
            );
            self.db
                .write(move |c| repo::expect_resolution(c, id, &fp, &labels, at))
                .await?;
        }
        Ok(())
    }

    /// Records a skip that needs no guard (no target).
    async fn skip_only(
        &self,
        rule: &Rule,
        incident_id: Option<i64>,
        target: &str,
        why: &str,
    ) -> Result<(), StoreError> {
        self.count(rule, "skipped");
        let (r, t, w) = (rule.clone(), target.to_string(), why.to_string());
        self.db
            .write(move |c| skip(c, &r, incident_id, &t, &w, now_ms()))
            .await
    }

    /// The guards, in one write: the kill switch, the namespace allowlist, the rule's
    /// cooldown for the target (when `cooling`), the rule's and the global hourly caps.
    /// Acting claims a `running` row that counts at once for the next decision.
    async fn decide(
        &self,
        rule: &Rule,
        incident_id: Option<i64>,
        target: &str,
        namespace: Option<&str>,
        cooling: bool,
    ) -> Result<Decision, StoreError> {
        let (r, t) = (rule.clone(), target.to_string());
        let ns = namespace.map(str::to_string);
        let (allowed, global, dry_run) = (self.namespaces.clone(), self.max_per_hour, self.dry_run);
        let decision = self
            .db
            .write(move |c| {
                let now = now_ms();
                let why = if repo::paused(c)? {
                    Some("paused: the kill switch is on".to_string())
                } else if repo::stopped(c, &r.name, &t)? {
                    Some(format!(
                        "stopped: {} actions did not resolve the alert (resume healing to try again)",
                        r.max_attempts
                    ))
                } else if let Some(ns) = ns.filter(|n| !allowed.is_empty() && !allowed.contains(n))
                {
                    Some(format!(
                        "not allowed: namespace {ns} is not in healing.namespaces"
                    ))
                } else if let Some(at) =
                    repo::last_acted(c, &r.name, &t)?.filter(|at| cooling && now - at < r.cooldown_ms)
                {
                    Some(format!(
                        "cooldown: acted on it {} ago (cooldown {})",
                        crate::time::human_duration(now - at),
                        crate::time::human_duration(r.cooldown_ms)
                    ))
                } else if repo::acted_last_hour(c, Some(&r.name), now)? >= i64::from(r.max_per_hour)
                {
                    Some(format!(
                        "cap: {} actions of this rule in the last hour",
                        r.max_per_hour
                    ))
                } else if repo::acted_last_hour(c, None, now)? >= i64::from(global) {
                    Some(format!(
                        "cap: {global} healing actions in the last hour (healing.max_per_hour)"
                    ))
                } else {
                    None
                };
                match why {
                    Some(w) => {
                        skip(c, &r, incident_id, &t, &w, now)?;
                        Ok::<_, StoreError>(Decision::Skip)
                    }
                    None => Ok(Decision::Act(repo::insert(
                        c,
                        &repo::NewAction {
                            rule: &r.name,
                            action: r.action.name(),
                            target: &t,
                            dry_run,
                            outcome: "running",
                            reason: "",
                            incident_id,
                            at: now,
                        },
                    )?)),
                }
            })
            .await?;
        if matches!(decision, Decision::Skip) {
            self.count(rule, "skipped");
        }
        Ok(decision)
    }

    /// The audit trail, newest first.
    pub async fn actions(
        &self,
        incident: Option<i64>,
        rule: Option<String>,
        limit: usize,
    ) -> Result<Vec<HealingAction>, StoreError> {
        self.db
            .read(move |c| repo::list(c, incident, rule.as_deref(), limit))
            .await
    }

    pub async fn paused(&self) -> Result<bool, StoreError> {
        self.db.read(repo::paused).await
    }

    /// The kill switch: no rule acts while it is on. Resuming also lets rules that
    /// stopped for a target (after `max_attempts`) try again.
    pub async fn set_paused(&self, paused: bool) -> Result<(), StoreError> {
        self.db
            .write(move |c| {
                repo::set_paused(c, paused)?;
                if !paused {
                    repo::clear_stops(c)?;
                }
                Ok(())
            })
            .await
    }

    pub async fn rules(&self) -> Result<Vec<RuleState>, StoreError> {
        let rules = self.rules.clone();
        self.db
            .read(move |c| {
                let now = now_ms();
                rules
                    .iter()
                    .map(|r| {
                        Ok(RuleState {
                            name: r.name.clone(),
                            action: r.action.name(),
                            when: r.when.clone(),
                            cooldown_s: r.cooldown_ms / 1000,
                            max_per_hour: r.max_per_hour,
                            acted_last_hour: repo::acted_last_hour(c, Some(&r.name), now)?,
                        })
                    })
                    .collect()
            })
            .await
    }
}

/// A skipped decision: a row always; a timeline line the first time per rule, incident
/// and reason (a storm of a thousand alerts says "cap" once).
fn skip(
    c: &Conn,
    r: &Rule,
    incident_id: Option<i64>,
    target: &str,
    why: &str,
    now: i64,
) -> Result<(), StoreError> {
    // The reason's kind (before the colon) decides whether it was said already.
    let kind = why.split(':').next().unwrap_or(why);
    let said = match incident_id {
        Some(inc) => repo::skipped_before(c, &r.name, inc, kind)?,
        None => true,
    };
    repo::insert(
        c,
        &repo::NewAction {
            rule: &r.name,
            action: r.action.name(),
            target,
            dry_run: false,
            outcome: "skipped",
            reason: why,
            incident_id,
            at: now,
        },
    )?;
    if !said && let Some(inc) = incident_id {
        timeline::add(
            c,
            inc,
            now,
            "healing",
            "firewatch-healing",
            &format!("Healing rule {} skipped {target}: {why}", r.name),
            None,
        )?;
    }
    Ok(())
}

/// A notification's incident, firing alerts and resolved alerts.
type Fired = (
    Option<i64>,
    Vec<crate::alerts::Labelled>,
    Vec<crate::alerts::Labelled>,
);

/// Hears firing alerts from intake and acts on them in the background, one notification
/// after another (so caps hold in order).
pub struct Observer {
    pub healing: Healing,
    pub queue: tokio::sync::mpsc::Sender<Fired>,
}

impl Observer {
    /// The observer and the task that works its queue (bounded: a storm beyond it drops
    /// notifications, which the caps would refuse anyway; each drop is logged).
    pub fn start(healing: Healing) -> Arc<Self> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Fired>(1024);
        let worker = healing.clone();
        tokio::spawn(async move {
            while let Some((incident, firing, resolved)) = rx.recv().await {
                worker.handle(incident, firing).await;
                worker.handle_resolved(incident, resolved).await;
            }
        });
        Arc::new(Self { healing, queue: tx })
    }
}

impl crate::alerts::FiringObserver for Observer {
    fn wants(&self) -> bool {
        self.healing.enabled && !self.healing.rules.is_empty()
    }

    fn fired(
        &self,
        incident_id: Option<i64>,
        mut firing: Vec<crate::alerts::Labelled>,
        mut resolved: Vec<crate::alerts::Labelled>,
    ) {
        let rules = &self.healing.rules;
        firing.retain(|(_, l)| rules.iter().any(|r| r.matches(l)));
        // Only scaling rules act on resolutions (back down).
        resolved.retain(|(_, l)| {
            rules
                .iter()
                .any(|r| r.matches(l) && matches!(r.action, rules::Action::Scale { .. }))
        });
        if firing.is_empty() && resolved.is_empty() {
            return;
        }
        if self
            .queue
            .try_send((incident_id, firing, resolved))
            .is_err()
        {
            tracing::warn!("healing queue full: a notification's alerts were not considered");
        }
    }
}
