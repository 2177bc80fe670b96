//! Healing rules from `[[healing.rule]]`, validated once at start (every error names the
//! rule and the field), and `{{label}}` templates filled from an alert's labels.

use std::collections::BTreeMap;

use crate::config::{HealingRuleSettings, HealingSettings, parse_duration};

/// What a rule does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Delete the pod `target` in `namespace` (its controller starts a new one).
    DeletePod,
    /// Restart a workload's pods the way `kubectl rollout restart` does.
    RolloutRestart { kind: Workload },
    /// Delete the failed (and evicted) pods of `namespace`.
    DeleteFailedPods,
    /// Scale a workload up by `step` while the alert fires (never above `max`), and back
    /// to `min` when it resolves (consumer lag).
    Scale {
        kind: Workload,
        min: i32,
        max: i32,
        step: i32,
    },
    /// POST the decision as JSON to `url`.
    HttpPost { url: String },
    /// Terminate sessions of `applications` idle in a transaction longer than `older_than`
    /// (kind IdleInTransaction), or cancel their queries running longer (LongQuery).
    Postgres {
        kind: super::postgres::Kind,
        dsn: String,
        /// Extra CA certificates (PEM) to trust.
        ca_file: Option<std::path::PathBuf>,
        older_than_ms: i64,
        applications: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Deployment,
    StatefulSet,
    DaemonSet,
}

impl Workload {
    pub fn as_str(self) -> &'static str {
        match self {
            Workload::Deployment => "deployment",
            Workload::StatefulSet => "statefulset",
            Workload::DaemonSet => "daemonset",
        }
    }
}

impl Action {
    /// The name as configured (`kubernetes.delete_pod`), also the metric label.
    pub fn name(&self) -> &'static str {
        match self {
            Action::DeletePod => "kubernetes.delete_pod",
            Action::RolloutRestart { .. } => "kubernetes.rollout_restart",
            Action::DeleteFailedPods => "kubernetes.delete_failed_pods",
            Action::Scale { .. } => "kubernetes.scale",
            Action::HttpPost { .. } => "http.post",
            Action::Postgres {
                kind: super::postgres::Kind::IdleInTransaction,
                ..
            } => "postgres.terminate_idle_in_transaction",
            Action::Postgres { .. } => "postgres.cancel_long_queries",
        }
    }

    pub fn is_kubernetes(&self) -> bool {
        self.name().starts_with("kubernetes.")
    }
}

/// The actions this version takes.
pub const SUPPORTED: [&str; 7] = [
    "kubernetes.delete_pod",
    "kubernetes.scale",
    "kubernetes.rollout_restart",
    "kubernetes.delete_failed_pods",
    "http.post",
    "postgres.terminate_idle_in_transaction",
    "postgres.cancel_long_queries",
];

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub when: BTreeMap<String, String>,
    pub action: Action,
    pub namespace: Option<String>,
    pub target: Option<String>,
    pub cooldown_ms: i64,
    pub max_per_hour: u32,
    /// A healing check run on this interval (ms), besides any alert trigger.
    pub every_ms: Option<i64>,
    /// How long an alert has to resolve after an action, and how many unresolved
    /// actions on one target stop the rule there.
    pub verify_within_ms: i64,
    pub max_attempts: u32,
}

impl Rule {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.when.iter().all(|(k, v)| labels.get(k) == Some(v))
    }
}

/// `{{name}}` replaced by the label `name`; Err names the first label the alert lacks.
pub fn fill(template: &str, labels: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(format!("`{template}` has an unclosed {{{{"));
        };
        let key = after[..end].trim();
        match labels.get(key).filter(|v| !v.is_empty()) {
            Some(v) => out.push_str(v),
            None => return Err(format!("the alert has no label `{key}`")),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A Kubernetes name (RFC 1123 subdomain): what a filled target must be, so a label can
/// never smuggle a path into an API call.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && !name.starts_with(['-', '.'])
        && !name.ends_with(['-', '.'])
}

/// What a rule acts on for an alert: (namespace, name, "namespace/name"), or why it has
/// no target: (target so far, reason).
#[allow(clippy::type_complexity)]
pub fn target_of(
    rule: &Rule,
    labels: &BTreeMap<String, String>,
) -> Result<(Option<String>, Option<String>, String), (String, String)> {
    let filled = |t: &Option<String>| t.as_deref().map(|t| fill(t, labels)).transpose();
    let (namespace, name) = match (filled(&rule.namespace), filled(&rule.target)) {
        (Ok(ns), Ok(name)) => (ns, name),
        (Err(why), _) | (_, Err(why)) => return Err((String::new(), format!("no target: {why}"))),
    };
    let target = match (&namespace, &name) {
        (Some(ns), Some(n)) => format!("{ns}/{n}"),
        (Some(ns), None) => ns.clone(),
        (None, Some(n)) => n.clone(),
        (None, None) => rule.action.name().to_string(),
    };
    if let Some(n) = [&namespace, &name]
        .into_iter()
        .flatten()
        .find(|n| rule.action.is_kubernetes() && !valid_name(n))
    {
        return Err((target, format!("no target: `{n}` is not a Kubernetes name")));
    }
    Ok((namespace, name, target))
}

fn rule(i: usize, r: &HealingRuleSettings) -> Result<Rule, (String, String)> {
    let at = |f: &str| format!("healing.rule[{i}] ({}).{f}", r.name);
    let err = |f: &str, m: String| Err((at(f), m));
    if r.name.trim().is_empty()
        || !r
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return err("name", "letters, digits, - and _ only".into());
    }
    let every_ms = match &r.every {
        Some(e) => {
            let d = parse_duration(e).map_err(|m| (at("every"), m))?;
            if d < std::time::Duration::from_secs(1) {
                return err("every", "at least 1s".into());
            }
            Some(d.as_millis() as i64)
        }
        None => None,
    };
    if r.when.is_empty() && every_ms.is_none() {
        return err(
            "when",
            "give alert label matchers, e.g. { alertname = \"KubePodCrashLooping\" }, or \
             `every` for a scheduled check"
                .into(),
        );
    }
    let action = match r.action.as_str() {
        "kubernetes.delete_pod" => Action::DeletePod,
        "kubernetes.rollout_restart" => Action::RolloutRestart {
            kind: match r.kind.as_deref().unwrap_or("deployment") {
                "deployment" => Workload::Deployment,
                "statefulset" => Workload::StatefulSet,
                "daemonset" => Workload::DaemonSet,
                other => {
                    return err(
                        "kind",
                        format!("`{other}` is not deployment, statefulset or daemonset"),
                    );
                }
            },
        },
        "kubernetes.delete_failed_pods" => Action::DeleteFailedPods,
        "kubernetes.scale" => {
            let kind = match r.kind.as_deref().unwrap_or("deployment") {
                "deployment" => Workload::Deployment,
                "statefulset" => Workload::StatefulSet,
                other => {
                    return err(
                        "kind",
                        format!("`{other}` is not deployment or statefulset"),
                    );
                }
            };
            let min = r.replicas_min.unwrap_or(1);
            let Some(max) = r.replicas_max else {
                return err("replicas_max", "kubernetes.scale needs a maximum".into());
            };
            let step = r.step.unwrap_or(1);
            if min < 0 || max < min.max(1) || step < 1 {
                return err(
                    "replicas_max",
                    format!(
                        "need 0 <= replicas_min <= replicas_max, replicas_max >= 1 and step >= 1 (got {min}, {max}, {step})"
                    ),
                );
            }
            Action::Scale {
                kind,
                min,
                max,
                step,
            }
        }
        "http.post" => match &r.url {
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                Action::HttpPost { url: u.clone() }
            }
            _ => return err("url", "http.post needs an http(s) URL".into()),
        },
        "postgres.terminate_idle_in_transaction" | "postgres.cancel_long_queries" => {
            let dsn = match (&r.dsn, &r.dsn_file) {
                (Some(d), None) => d.clone(),
                (None, Some(f)) => {
                    crate::config::read_secret(f).map_err(|m| (at("dsn_file"), m))?
                }
                _ => {
                    return err(
                        "dsn",
                        "give the database: dsn or dsn_file (one of them)".into(),
                    );
                }
            };
            let older = parse_duration(r.older_than.as_deref().unwrap_or("5m"))
                .map_err(|m| (at("older_than"), m))?;
            if r.application_names.is_empty() {
                return err(
                    "application_names",
                    "list the applications whose sessions may be ended (never all)".into(),
                );
            }
            Action::Postgres {
                kind: if r.action.ends_with("idle_in_transaction") {
                    super::postgres::Kind::IdleInTransaction
                } else {
                    super::postgres::Kind::LongQuery
                },
                dsn,
                ca_file: r.ca_file.clone(),
                older_than_ms: older.as_millis() as i64,
                applications: r.application_names.clone(),
            }
        }
        other => {
            return err(
                "action",
                format!(
                    "`{other}` is not an action this version takes (it takes {})",
                    SUPPORTED.join(", ")
                ),
            );
        }
    };
    if action.is_kubernetes() && r.namespace.as_deref().is_none_or(str::is_empty) {
        return err(
            "namespace",
            "Kubernetes actions need a namespace (a name or {{namespace}})".into(),
        );
    }
    if matches!(
        action,
        Action::DeletePod | Action::RolloutRestart { .. } | Action::Scale { .. }
    ) && r.target.as_deref().is_none_or(str::is_empty)
    {
        return err("target", "name what to act on, e.g. {{pod}}".into());
    }
    if every_ms.is_some()
        && !matches!(
            action,
            Action::Postgres { .. } | Action::DeleteFailedPods | Action::HttpPost { .. }
        )
    {
        return err(
            "every",
            "scheduled checks run postgres.*, kubernetes.delete_failed_pods or http.post".into(),
        );
    }
    if every_ms.is_some()
        && [&r.namespace, &r.target]
            .iter()
            .any(|t| t.as_deref().is_some_and(|t| t.contains("{{")))
    {
        return err(
            "namespace",
            "a scheduled check has no alert to fill {{labels}} from".into(),
        );
    }
    let cooldown = parse_duration(&r.cooldown).map_err(|m| (at("cooldown"), m))?;
    if r.max_per_hour == 0 {
        return err("max_per_hour", "must be at least 1".into());
    }
    Ok(Rule {
        name: r.name.clone(),
        when: r.when.clone(),
        action,
        namespace: r.namespace.clone().filter(|n| !n.is_empty()),
        target: r.target.clone().filter(|t| !t.is_empty()),
        cooldown_ms: cooldown.as_millis() as i64,
        max_per_hour: r.max_per_hour,
        every_ms,
        verify_within_ms: parse_duration(r.verify_within.as_deref().unwrap_or("10m"))
            .map_err(|m| (at("verify_within"), m))?
            .as_millis() as i64,
        max_attempts: match r.max_attempts.unwrap_or(3) {
            0 => return err("max_attempts", "must be at least 1".into()),
            n => n,
        },
    })
}

/// The rules of the settings, or the first problem: (setting, message).
pub fn rules_from(s: &HealingSettings) -> Result<Vec<Rule>, (String, String)> {
    let mut out: Vec<Rule> = Vec::new();
    for (i, r) in s.rules.iter().enumerate() {
        let rule = rule(i, r)?;
        if out.iter().any(|x| x.name == rule.name) {
            return Err((
                format!("healing.rule[{i}].name"),
                format!("`{}` is used by another rule", rule.name),
            ));
        }
        out.push(rule);
    }
    if s.max_per_hour == 0 {
        return Err(("healing.max_per_hour".into(), "must be at least 1".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_from_labels_and_name_what_is_missing() {
        let labels: BTreeMap<String, String> = [("namespace", "shop"), ("pod", "api-7f9")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            fill("{{namespace}}/{{ pod }}", &labels).unwrap(),
            "shop/api-7f9"
        );
        assert_eq!(
            fill("{{deployment}}", &labels).unwrap_err(),
            "the alert has no label `deployment`"
        );
        assert!(valid_name("api-7f9.x"));
        for bad in ["", "../etc", "a/b", "Api", "-a", "a b", "a?dryRun=None"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn rules_are_checked_naming_the_rule_and_field() {
        let parse = |toml: &str| -> Result<Vec<Rule>, (String, String)> {
            let s: HealingSettings = figment::Figment::new()
                .merge(<figment::providers::Toml as figment::providers::Format>::string(toml))
                .extract()
                .unwrap();
            rules_from(&s)
        };
        let ok = parse(
            "[[rule]]\nname = \"restart\"\nwhen = { alertname = \"KubePodCrashLooping\" }\n\
             action = \"kubernetes.delete_pod\"\nnamespace = \"{{namespace}}\"\ntarget = \"{{pod}}\"\n",
        )
        .unwrap();
        assert_eq!(ok[0].action, Action::DeletePod);
        assert_eq!(ok[0].cooldown_ms, 600_000);
        assert_eq!(ok[0].max_per_hour, 3);
        let e = parse(
            "[[rule]]\nname = \"x\"\nwhen = { a = \"b\" }\naction = \"kubernetes.delete_pod\"\nnamespace = \"n\"\n",
        )
        .unwrap_err();
        assert_eq!(e.0, "healing.rule[0] (x).target");
        let e =
            parse("[[rule]]\nname = \"x\"\nwhen = { a = \"b\" }\naction = \"nuke\"\n").unwrap_err();
        assert!(e.1.contains("`nuke` is not an action"), "{e:?}");
        let e = parse(
            "[[rule]]\nname = \"pg\"\nevery = \"1m\"\naction = \"postgres.terminate_idle_in_transaction\"\ndsn = \"postgres://x\"\n",
        )
        .unwrap_err();
        assert_eq!(e.0, "healing.rule[0] (pg).application_names");
    }
}
