//! `[healing]`: guarded remediation rules.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealingSettings {
    pub enabled: bool,
    /// Act for real only when false: Kubernetes calls go out with `dryRun=All`, other
    /// actions are recorded without being taken.
    pub dry_run: bool,
    /// Absent: in-cluster credentials, then the usual kubeconfig.
    pub kubeconfig: Option<PathBuf>,
    /// Actions across all rules per hour (dry runs count).
    pub max_per_hour: u32,
    /// Namespaces rules may act in; empty allows any.
    pub namespaces: Vec<String>,
    #[serde(rename = "rule")]
    pub rules: Vec<HealingRuleSettings>,
}

impl Default for HealingSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            dry_run: true,
            kubeconfig: None,
            max_per_hour: 20,
            namespaces: Vec::new(),
            rules: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealingRuleSettings {
    pub name: String,
    /// Alert label matchers (exact values); the rule acts on alerts that match all.
    #[serde(default)]
    pub when: BTreeMap<String, String>,
    /// A healing check run on this interval instead of on alerts.
    pub every: Option<String>,
    pub action: String,
    /// Templates filled from the alert's labels: `{{namespace}}`, `{{pod}}`.
    pub namespace: Option<String>,
    pub target: Option<String>,
    #[serde(default = "default_cooldown")]
    pub cooldown: String,
    #[serde(default = "default_max_per_hour")]
    pub max_per_hour: u32,
    /// After acting on an alert: how long it has to resolve (default 10m), and how many
    /// unresolved actions on one target stop the rule there and escalate (default 3).
    pub verify_within: Option<String>,
    pub max_attempts: Option<u32>,
    /// For `kubernetes.rollout_restart`: deployment (default), statefulset or daemonset.
    pub kind: Option<String>,
    /// For `http.post`.
    pub url: Option<String>,
    /// For `kubernetes.scale`: up by `step` (default 1) while the alert fires, never
    /// above `replicas_max`; back to `replicas_min` (default 1) when it resolves.
    pub replicas_min: Option<i32>,
    pub replicas_max: Option<i32>,
    pub step: Option<i32>,
    /// For `postgres.*`: the database to act on (or `dsn_file`), sessions idle in a
    /// transaction or queries running longer than `older_than`, of these applications.
    pub dsn: Option<String>,
    pub dsn_file: Option<PathBuf>,
    /// A PEM file of CA certificates to trust besides the public ones (TLS to the
    /// database; `sslmode=require` in the DSN insists on TLS).
    pub ca_file: Option<PathBuf>,
    pub older_than: Option<String>,
    #[serde(default)]
    pub application_names: Vec<String>,
}

fn default_cooldown() -> String {
    "10m".into()
}

fn default_max_per_hour() -> u32 {
    3
}
