//! Scheduled healing checks (`every`) and the PostgreSQL check: each matching session is
//! a decision of its own, under the same guards as alert-triggered actions.

use std::collections::BTreeMap;

use super::{Decision, Healing, Rule, postgres, repo, rules};
use crate::db::StoreError;
use crate::incidents::timeline;
use crate::time::now_ms;

impl Healing {
    /// Whether any rule runs on a schedule (`every`).
    pub fn has_checks(&self) -> bool {
        self.enabled && self.rules.iter().any(|r| r.every_ms.is_some())
    }

    /// Runs the scheduled checks that are due at `now`; returns how many ran.
    pub async fn run_due_checks(&self, now: i64) -> usize {
        if !self.enabled {
            return 0;
        }
        let due: Vec<Rule> = {
            let mut checked = self.checked.lock().unwrap_or_else(|e| e.into_inner());
            let due: Vec<Rule> = self
                .rules
                .iter()
                .filter(|r| {
                    r.every_ms.is_some_and(|every| {
                        let last = checked.get(&r.name).copied().unwrap_or(i64::MIN / 2);
                        now - last >= every
                    })
                })
                .cloned()
                .collect();
            for r in &due {
                checked.insert(r.name.clone(), now);
            }
            due
        };
        for rule in &due {
            if let Err(e) = self.apply(rule, None, &BTreeMap::new()).await {
                tracing::error!(rule = %rule.name, error = %e, "healing check could not record a decision");
            }
        }
        due.len()
    }

    /// A PostgreSQL check: every matching session is a decision of its own.
    pub(super) async fn check_postgres(
        &self,
        rule: &Rule,
        incident_id: Option<i64>,
    ) -> Result<(), StoreError> {
        let rules::Action::Postgres {
            kind,
            dsn,
            ca_file,
            older_than_ms,
            applications,
        } = &rule.action
        else {
            return Ok(());
        };
        let older = std::time::Duration::from_millis(*older_than_ms as u64);
        let sessions =
            match postgres::find(dsn, ca_file.as_deref(), *kind, older, applications).await {
                Ok(s) => s,
                Err(e) => {
                    self.count(rule, "failed");
                    let (r, now) = (rule.clone(), now_ms());
                    return self
                        .db
                        .write(move |c| {
                            repo::insert(
                                c,
                                &repo::NewAction {
                                    rule: &r.name,
                                    action: r.action.name(),
                                    target: "database",
                                    dry_run: false,
                                    outcome: "failed",
                                    reason: &e,
                                    incident_id,
                                    at: now,
                                },
                            )
                            .map(|_| ())
                        })
                        .await;
                }
            };
        for sn in sessions {
            let target = format!("pid {} ({}, {})", sn.pid, sn.application, sn.user);
            let id = match self.decide(rule, incident_id, &target, None, true).await? {
                Decision::Skip => continue,
                Decision::Act(id) => id,
            };
            let what = format!(
                "{} {target}, {} for {}",
                kind.verb(),
                match kind {
                    postgres::Kind::IdleInTransaction => "idle in a transaction",
                    postgres::Kind::LongQuery => "running its query",
                },
                crate::time::human_duration((sn.for_s * 1000.0) as i64)
            );
            let (outcome, detail) = if self.dry_run {
                ("dry_run", format!("dry run: would {what}"))
            } else {
                match postgres::signal(dsn, ca_file.as_deref(), *kind, sn.pid).await {
                    Ok(true) => ("executed", what),
                    Ok(false) => ("failed", format!("{what}: the session was gone")),
                    Err(e) => ("failed", format!("{what}: {e}")),
                }
            };
            self.finish(rule, id, incident_id, outcome, detail).await?;
        }
        Ok(())
    }

    /// Checks the actions whose window ended: a resolved alert is a success (said on the
    /// timeline); one still firing is an unresolved attempt — the rule tries again, and
    /// after `max_attempts` in a row it stops for that target. Returns the escalations
    /// (incident, text) for the caller to notify.
    pub async fn verify_due(&self, now: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let pending = self.db.read(move |c| repo::pending(c, now, 100)).await?;
        let mut escalations = Vec::new();
        for p in pending {
            if p.failed {
                // A failed action escalates at once: the API refused, a person is needed.
                let text = format!(
                    "Healing rule {} could not act on {}: {}; a person is needed",
                    p.rule, p.target, p.reason
                );
                let (id, inc, t) = (p.id, p.incident_id, text.clone());
                self.db
                    .write(move |c| {
                        repo::set_verified(c, id, false)?;
                        timeline::add(c, inc, now, "healing", "firewatch-healing", &t, None)
                    })
                    .await?;
                escalations.push((p.incident_id, text));
                continue;
            }
            let rule = self.rules.iter().find(|r| r.name == p.rule).cloned();
            let (inc, fp) = (p.incident_id, p.fingerprint.clone());
            let firing = self
                .db
                .read(move |c| {
                    Ok::<_, StoreError>(
                        crate::incidents::alert_rows::find(c, inc, &fp)?.is_some_and(|a| a.firing),
                    )
                })
                .await?;
            let waited = crate::time::human_duration(now - p.at);
            let (id, target, name) = (p.id, p.target.clone(), p.rule.clone());
            let max = rule.as_ref().map_or(1, |r| r.max_attempts);
            let stopped = self
                .db
                .write(move |c| {
                    repo::set_verified(c, id, !firing)?;
                    let (text, stop) = if !firing {
                        (format!("Healing rule {name}: the alert resolved within {waited} of acting on {target}"), false)
                    } else {
                        let n = repo::unresolved_in_a_row(c, &name, &target)?;
                        if n >= i64::from(max) {
                            repo::stop(c, &name, &target)?;
                            (format!(
                                "Healing rule {name} stopped for {target}: {n} actions did not \
                                 resolve the alert; a person is needed"
                            ), true)
                        } else {
                            (format!(
                                "Healing rule {name}: the alert still fires {waited} after acting \
                                 on {target}; trying again (attempt {} of {max})",
                                n + 1
                            ), false)
                        }
                    };
                    timeline::add(c, inc, now, "healing", "firewatch-healing", &text, None)?;
                    Ok::<_, StoreError>(stop.then_some(text))
                })
                .await?;
            match (stopped, rule) {
                (Some(text), _) => escalations.push((inc, text)),
                (None, Some(rule)) if firing => {
                    let labels: BTreeMap<String, String> =
                        serde_json::from_str(&p.labels).unwrap_or_default();
                    self.apply_to(&rule, Some(inc), &labels, Some((&p.fingerprint, &labels)))
                        .await?;
                }
                _ => {}
            }
        }
        Ok(escalations)
    }

    /// Resolved alerts of scaling rules: back down to the rule's minimum. A cooldown
    /// does not hold a workload up; the kill switch, allowlist and caps still apply.
    pub async fn handle_resolved(
        &self,
        incident_id: Option<i64>,
        alerts: Vec<crate::alerts::Labelled>,
    ) {
        for (_, labels) in &alerts {
            for rule in self.rules.iter().filter(|r| r.matches(labels)) {
                if let Err(e) = self.scale_down(rule, incident_id, labels).await {
                    tracing::error!(rule = %rule.name, error = %e, "healing could not record a decision");
                }
            }
        }
    }

    async fn scale_down(
        &self,
        rule: &Rule,
        incident_id: Option<i64>,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let rules::Action::Scale { kind, min, .. } = rule.action else {
            return Ok(());
        };
        let (namespace, name, target) = match rules::target_of(rule, labels) {
            Ok(t) => t,
            Err((target, why)) => return self.skip_only(rule, incident_id, &target, &why).await,
        };
        let id = match self
            .decide(rule, incident_id, &target, namespace.as_deref(), false)
            .await?
        {
            Decision::Skip => return Ok(()),
            Decision::Act(id) => id,
        };
        let t = super::actions::Target {
            namespace: namespace.as_deref(),
            name: name.as_deref(),
        };
        let result = super::actions::scale(&self.kube, kind, &t, self.dry_run, |now| {
            (now > min).then_some(min)
        })
        .await;
        let (outcome, detail) = match result {
            Ok(done) if self.dry_run => ("dry_run", format!("the alert resolved: {done}")),
            Ok(done) => ("executed", format!("the alert resolved: {done}")),
            Err(e) => ("failed", e),
        };
        self.finish(rule, id, incident_id, outcome, detail).await
    }
}
