//! How an alert's labels become a priority, and the other intake settings.

use std::collections::BTreeMap;

use crate::config::AlertmanagerSettings;
use crate::severity::Severity;

#[derive(Debug, Clone)]
pub struct SeverityRules {
    label: String,
    map: BTreeMap<String, Severity>,
    default: Severity,
    pub(super) reopen_window_ms: i64,
    /// Deployments this recent are named on a new incident's timeline.
    pub(super) deploy_window_ms: i64,
}

impl SeverityRules {
    pub fn from_settings(s: &AlertmanagerSettings, reopen_window: std::time::Duration) -> Self {
        Self {
            label: s.severity_label.clone(),
            map: s
                .severity_map
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), *v))
                .collect(),
            default: s.default_severity,
            reopen_window_ms: reopen_window.as_millis() as i64,
            deploy_window_ms: 0,
        }
    }

    pub fn with_deploy_window(mut self, window: std::time::Duration) -> Self {
        self.deploy_window_ms = window.as_millis() as i64;
        self
    }

    pub fn severity_of(&self, labels: &BTreeMap<String, String>) -> Severity {
        match labels.get(&self.label) {
            None => self.default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                self.map
                    .get(&v.to_ascii_lowercase())
                    .copied()
                    .unwrap_or(self.default)
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_labels_map_to_priorities() {
        let rules = SeverityRules::from_settings(
            &AlertmanagerSettings::default(),
            std::time::Duration::ZERO,
        );
        let sev = |v: Option<&str>| {
            let mut labels = BTreeMap::new();
            if let Some(v) = v {
                labels.insert("severity".to_string(), v.to_string());
            }
            rules.severity_of(&labels)
        };
        assert_eq!(sev(Some("critical")), Severity::P0);
        assert_eq!(sev(Some("Critical")), Severity::P0);
        assert_eq!(sev(Some("error")), Severity::P1);
        assert_eq!(sev(Some("warning")), Severity::P2);
        assert_eq!(sev(Some("info")), Severity::P3);
        assert_eq!(sev(Some("page-me-maybe")), Severity::P3);
        assert_eq!(sev(Some("p1")), Severity::P1);
        assert_eq!(sev(None), Severity::P3);
    }
}
