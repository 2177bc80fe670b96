//! Artefacts for a Prometheus stack: rules, Alertmanager config, Grafana dashboard.
//!
//! [`generate`] is pure (no IO) so the CLI, the HTTP API and tests share it; [`cli`] does
//! the file handling for `firewatch generate`.

pub mod alertmanager;
pub mod cli;
pub mod grafana;
pub mod rules;
pub mod selfmon;
pub mod windows;

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::Serialize;

use crate::slo::spec::{Origin, Period, Sli, SloSpec, SpecError, SpecFormat, validate_all};

pub use windows::AlertWindows;

/// What `generate` can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artefact {
    PrometheusRules,
    AlertmanagerConfig,
    GrafanaDashboard,
}

impl Artefact {
    /// Suggested download name.
    pub fn file_name(&self) -> &'static str {
        match self {
            Artefact::PrometheusRules => "firewatch-slo-rules.yaml",
            Artefact::AlertmanagerConfig => "alertmanager.yml",
            Artefact::GrafanaDashboard => "firewatch-slo-dashboard.json",
        }
    }

    pub fn content_type(&self) -> &'static str {
        match self {
            Artefact::PrometheusRules | Artefact::AlertmanagerConfig => {
                "application/yaml; charset=utf-8"
            }
            Artefact::GrafanaDashboard => "application/json",
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Artefact::PrometheusRules => "prometheus-rules",
            Artefact::AlertmanagerConfig => "alertmanager-config",
            Artefact::GrafanaDashboard => "grafana-dashboard",
        }
    }
}

impl FromStr for Artefact {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "prometheus-rules" => Ok(Artefact::PrometheusRules),
            "alertmanager-config" => Ok(Artefact::AlertmanagerConfig),
            "grafana-dashboard" => Ok(Artefact::GrafanaDashboard),
            other => Err(format!(
                "unknown artefact {other:?} (expected prometheus-rules, alertmanager-config or grafana-dashboard)"
            )),
        }
    }
}

/// Layout of the rules file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RulesFormat {
    /// A plain Prometheus rules file (`groups:`).
    #[default]
    Prometheus,
    /// The groups wrapped in a `monitoring.coreos.com/v1` PrometheusRule.
    PrometheusOperator,
}

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Base URL of Firewatch (runbook links, Alertmanager webhook, dashboard link).
    pub public_url: String,
    /// Period for SLOs that do not set one (`30d`, `28d`, `7d`); `None` means 30d.
    pub period: Option<String>,
    /// Alert windows per SLO period; periods without an entry use Google's windows.
    pub windows: Vec<AlertWindows>,
    pub format: RulesFormat,
    /// `sloth_version` label value.
    pub version_label: String,
    /// Labels added to every recording rule (Sloth's `--extra-labels`).
    pub extra_labels: BTreeMap<String, String>,
    /// Add the `firewatch-self-monitoring` group (see [`selfmon::group`]).
    pub self_monitoring: bool,
    /// Directory of the Alertmanager secret files.
    pub secrets_dir: String,
    pub email_to: String,
    pub smtp_from: String,
    pub smtp_smarthost: String,
    /// The label alerts carry their severity in (`alertmanager.severity_label`).
    pub severity_label: String,
    /// The label values Firewatch reads as each priority: `P0` itself and every
    /// `alertmanager.severity_map` value mapped to it (`critical`).
    pub severity_values: BTreeMap<crate::severity::Severity, Vec<String>>,
    /// Alertmanager also pages and posts to Slack and email itself (Firewatch notifies too,
    /// so people hear twice); off by default: Alertmanager sends to Firewatch only.
    pub direct_routes: bool,
}

impl GenerateOptions {
    /// Severity label and values as Firewatch maps them at intake.
    pub fn with_severities(mut self, am: &crate::config::AlertmanagerSettings) -> Self {
        use crate::severity::Severity;
        self.severity_label = am.severity_label.clone();
        self.severity_values = Severity::ALL
            .into_iter()
            .map(|p| {
                let mut values = vec![p.as_str().to_string()];
                values.extend(
                    am.severity_map
                        .iter()
                        .filter(|(_, v)| **v == p)
                        .map(|(k, _)| k.clone()),
                );
                (p, values)
            })
            .collect();
        self
    }
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            public_url: "http://localhost:8080".into(),
            period: None,
            windows: Vec::new(),
            format: RulesFormat::Prometheus,
            version_label: format!("firewatch-{}", crate::VERSION),
            extra_labels: BTreeMap::new(),
            self_monitoring: false,
            secrets_dir: "/etc/alertmanager/secrets".into(),
            email_to: "oncall@example.com".into(),
            smtp_from: "alertmanager@example.com".into(),
            smtp_smarthost: "smtp.example.com:587".into(),
            severity_label: String::new(),
            severity_values: BTreeMap::new(),
            direct_routes: false,
        }
        .with_severities(&crate::config::AlertmanagerSettings::default())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The SLO definitions are invalid (exit code 2 on the CLI).
    #[error(transparent)]
    InvalidSpec(#[from] SpecError),
    /// An option or side file is invalid (exit code 2 on the CLI).
    #[error("{0}")]
    InvalidInput(String),
    #[error("cannot serialise the output: {0}")]
    Output(String),
}

/// Produces one artefact. Rules are generated for `slos` (validated first); the
/// Alertmanager config and the dashboard do not depend on them.
pub fn generate(
    artefact: Artefact,
    slos: &[SloSpec],
    opts: &GenerateOptions,
) -> Result<String, GenerateError> {
    match artefact {
        Artefact::PrometheusRules => prometheus_rules(slos, opts),
        Artefact::AlertmanagerConfig => Ok(alertmanager::config(opts)),
        Artefact::GrafanaDashboard => Ok(grafana::dashboard(opts)),
    }
}

#[derive(Serialize)]
struct RulesFile<'a> {
    groups: &'a [rules::RuleGroup],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PrometheusRule<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    spec: RulesFile<'a>,
}

#[derive(Serialize)]
struct Metadata {
    name: String,
    labels: BTreeMap<String, String>,
}

fn prometheus_rules(slos: &[SloSpec], opts: &GenerateOptions) -> Result<String, GenerateError> {
    validate_all(slos)?;
    if let Some(p) = &opts.period {
        // Checked up front: SLOs with their own period would otherwise hide a typo.
        Period::parse(p).map_err(|m| GenerateError::InvalidInput(format!("--period: {m}")))?;
    }
    let mut groups = rules::slo_groups(slos, opts)?;
    if opts.self_monitoring {
        groups.push(selfmon::group(&opts.public_url));
    }
    let header = format!(
        "# Code generated by Firewatch ({}): Sloth-compatible SLO rules.\n# DO NOT EDIT.\n\n",
        opts.version_label
    );
    let body = match opts.format {
        RulesFormat::Prometheus => serde_yaml_ng::to_string(&RulesFile { groups: &groups }),
        RulesFormat::PrometheusOperator => serde_yaml_ng::to_string(&PrometheusRule {
            api_version: "monitoring.coreos.com/v1",
            kind: "PrometheusRule",
            metadata: Metadata {
                name: "firewatch-slos".into(),
                labels: BTreeMap::from([(
                    "app.kubernetes.io/managed-by".to_string(),
                    "firewatch".to_string(),
                )]),
            },
            spec: RulesFile { groups: &groups },
        }),
    }
    .map_err(|e| GenerateError::Output(e.to_string()))?;
    Ok(header + &body)
}

/// Firewatch's own SLOs, used when nothing else is configured:
/// - `api-availability`: 99.9 % of API requests (`firewatch_http_requests_total`) are not
///   answered with a 5xx, over 30 days;
/// - `api-latency`: 99 % of API requests take at most 0.256 s (a bucket of
///   `firewatch_http_request_duration_seconds`, whose buckets are 0.0005 × 2^n), over 30 days.
///
/// Both page with severity P0 and open a ticket with severity P2.
pub fn default_slos() -> Vec<SloSpec> {
    let slo = |name: &str, description: &str, objective: f64, sli: Sli| SloSpec {
        name: name.to_string(),
        service: "firewatch".to_string(),
        description: description.to_string(),
        objective_percent: objective,
        period: Some(Period::Rolling { days: 30 }),
        labels: BTreeMap::new(),
        sli,
        alerting: crate::slo::native::native_alerting(name, "firewatch", None),
        origin: Origin::new("built-in", SpecFormat::BuiltIn),
    };
    vec![
        slo(
            "api-availability",
            "Firewatch API requests answered without a server error.",
            99.9,
            Sli::Ratio {
                errors: r#"firewatch_http_requests_total{status=~"5.."}"#.into(),
                total: "firewatch_http_requests_total".into(),
            },
        ),
        slo(
            "api-latency",
            "Firewatch API requests answered within 256 ms.",
            99.0,
            Sli::Latency {
                histogram: "firewatch_http_request_duration_seconds".into(),
                threshold: 0.256,
            },
        ),
    ]
}

/// The artefact as the running server offers it (UI download and API): the SLOs of the
/// settings, or Firewatch's own SLOs plus the self-monitoring alerts when none are
/// configured, with links to this server's public URL.
pub fn for_server(
    artefact: Artefact,
    configured: &[SloSpec],
    public_url: &str,
    alertmanager: &crate::config::AlertmanagerSettings,
    format: RulesFormat,
) -> Result<String, GenerateError> {
    let defaults;
    let (slos, self_monitoring) = if configured.is_empty() {
        defaults = default_slos();
        (&defaults[..], true)
    } else {
        (configured, false)
    };
    let opts = GenerateOptions {
        public_url: public_url.to_string(),
        format,
        self_monitoring,
        ..GenerateOptions::default()
    }
    .with_severities(alertmanager);
    generate(artefact, slos, &opts)
}

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("artefacts are prometheus-rules, alertmanager-config and grafana-dashboard")]
    UnknownArtefact,
    #[error("format `{0}`: use prometheus or prometheus-operator")]
    UnknownFormat(String),
    #[error(transparent)]
    Generate(#[from] GenerateError),
}

/// A download asked for by name (`prometheus-rules`, …) and rules format
/// (`prometheus`, the default, or `prometheus-operator`).
pub fn download(
    artefact: &str,
    format: Option<&str>,
    configured: &[SloSpec],
    public_url: &str,
    alertmanager: &crate::config::AlertmanagerSettings,
) -> Result<(Artefact, String), DownloadError> {
    let artefact: Artefact = artefact
        .parse()
        .map_err(|_| DownloadError::UnknownArtefact)?;
    let format = match format {
        None | Some("prometheus") => RulesFormat::Prometheus,
        Some("prometheus-operator") => RulesFormat::PrometheusOperator,
        Some(other) => return Err(DownloadError::UnknownFormat(other.to_string())),
    };
    let body = for_server(artefact, configured, public_url, alertmanager, format)?;
    Ok((artefact, body))
}

/// The SLOs Firewatch measures: the configured ones, or — with neither SLOs nor
/// `[[scrape]]` in the settings — its own API availability and latency.
pub fn measured_slos(settings: &crate::config::Resolved, configured: &[SloSpec]) -> Vec<SloSpec> {
    if configured.is_empty() && settings.raw.scrapes.is_empty() {
        default_slos()
    } else {
        configured.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artefacts_parse_from_their_names() {
        for a in [
            Artefact::PrometheusRules,
            Artefact::AlertmanagerConfig,
            Artefact::GrafanaDashboard,
        ] {
            assert_eq!(a.as_str().parse::<Artefact>(), Ok(a));
        }
        assert!("rules".parse::<Artefact>().is_err());
    }

    #[test]
    fn the_default_stack_has_sloth_groups_and_the_self_monitoring_group() {
        let opts = GenerateOptions {
            self_monitoring: true,
            ..GenerateOptions::default()
        };
        let out = generate(Artefact::PrometheusRules, &default_slos(), &opts).unwrap();
        assert!(out.contains("sloth-slo-alerts-firewatch-api-availability"));
        assert!(out.contains(r#"le=\"0.256\""#) || out.contains(r#"le="0.256""#));
        assert!(out.contains("name: firewatch-self-monitoring"));
    }
}
