//! The `[[slo]]` tables of firewatch.toml.
//!
//! The loader reads the whole settings file but looks only at `slo`, so it keeps working
//! whatever else the settings grow.

use std::collections::BTreeMap;

use figment::Provider;
use figment::providers::{Format, Toml};
use serde::Deserialize;

use super::spec::{AlertSpec, AlertingSpec, Origin, Period, Sli, SloSpec, SpecError, SpecFormat};

#[derive(Deserialize)]
struct NativeSlo {
    name: String,
    service: String,
    objective: f64,
    period: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    ratio: Option<Ratio>,
    latency: Option<Latency>,
    probe: Option<Probe>,
    raw: Option<Raw>,
    events: Option<Events>,
    alerting: Option<NativeAlerting>,
}

#[derive(Deserialize)]
struct Ratio {
    errors: String,
    total: String,
}

#[derive(Deserialize)]
struct Latency {
    histogram: String,
    threshold: f64,
}

#[derive(Deserialize)]
struct Probe {
    metric: String,
}

#[derive(Deserialize)]
struct Raw {
    error_ratio: String,
}

#[derive(Deserialize)]
struct Events {
    error_query: String,
    total_query: String,
}

/// `[slo.alerting]`: everything optional; page and ticket alerts are on by default.
#[derive(Deserialize)]
struct NativeAlerting {
    name: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    page: Option<bool>,
    ticket: Option<bool>,
    page_severity: Option<String>,
    ticket_severity: Option<String>,
    enabled: Option<bool>,
}

/// Reads the `[[slo]]` array of a firewatch.toml; `file` is only used in messages.
/// No `slo` key means no SLOs.
pub fn load_native(file: &str, text: &str) -> Result<Vec<SloSpec>, SpecError> {
    let syntax = |message: String| SpecError::Syntax {
        file: file.to_string(),
        format: "TOML",
        message,
    };
    let data = Toml::string(text)
        .data()
        .map_err(|e| syntax(e.to_string()))?;
    let Some(value) = data.values().find_map(|dict| dict.get("slo")) else {
        return Ok(Vec::new());
    };
    let json = serde_json::to_value(value).map_err(|e| syntax(e.to_string()))?;
    let serde_json::Value::Array(items) = json else {
        return Err(syntax("`slo` must be an array of tables ([[slo]])".into()));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| one(file, i, item))
        .collect()
}

fn one(file: &str, index: usize, item: serde_json::Value) -> Result<SloSpec, SpecError> {
    let label = item
        .get("name")
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| format!("#{}", index + 1));
    let field = |field: &str, message: String| SpecError::Field {
        file: file.to_string(),
        slo: label.clone(),
        field: field.to_string(),
        message,
    };
    let raw: NativeSlo = serde_json::from_value(item).map_err(|e| {
        let msg = e.to_string();
        // serde names the missing key in backticks; use it as the field when present.
        let name = msg.split('`').nth(1).unwrap_or("slo").to_string();
        field(&name, msg)
    })?;
    let mut slis = Vec::new();
    if let Some(r) = raw.ratio {
        slis.push(Sli::Ratio {
            errors: r.errors,
            total: r.total,
        });
    }
    if let Some(l) = raw.latency {
        slis.push(Sli::Latency {
            histogram: l.histogram,
            threshold: l.threshold,
        });
    }
    if let Some(p) = raw.probe {
        slis.push(Sli::Probe { metric: p.metric });
    }
    if let Some(r) = raw.raw {
        slis.push(Sli::Raw {
            error_ratio_query: r.error_ratio,
        });
    }
    if let Some(e) = raw.events {
        slis.push(Sli::Events {
            error_query: e.error_query,
            total_query: e.total_query,
        });
    }
    if slis.len() != 1 {
        return Err(field(
            "sli",
            format!(
                "exactly one of [slo.ratio], [slo.latency], [slo.probe], [slo.raw] or [slo.events] is required (found {})",
                slis.len()
            ),
        ));
    }
    let sli = slis.remove(0);
    let period = raw
        .period
        .as_deref()
        .map(Period::parse)
        .transpose()
        .map_err(|m| field("period", m))?;
    let alerting = native_alerting(&raw.name, &raw.service, raw.alerting.map(Into::into));
    Ok(SloSpec {
        name: raw.name,
        service: raw.service,
        description: raw.description,
        objective_percent: raw.objective,
        period,
        labels: raw.labels,
        sli,
        alerting,
        origin: Origin::new(file, SpecFormat::Native),
    })
}

/// Native SLOs alert by default: page with severity P0 and ticket with P2, named after the
/// SLO, with a `service` label so Alertmanager can group and inhibit per service.
pub(crate) fn native_alerting(
    name: &str,
    service: &str,
    cfg: Option<NativeAlertingView>,
) -> AlertingSpec {
    let cfg = cfg.unwrap_or_default();
    let NativeAlertingView {
        name: alert_name,
        mut labels,
        annotations,
        page,
        ticket,
        page_severity,
        ticket_severity,
    } = cfg;
    labels
        .entry("service".into())
        .or_insert_with(|| service.to_string());
    let severity = |s: Option<String>, d: &str| {
        BTreeMap::from([("severity".to_string(), s.unwrap_or_else(|| d.to_string()))])
    };
    AlertingSpec {
        name: Some(alert_name.unwrap_or_else(|| format!("{}BurnRate", pascal_case(name)))),
        labels,
        annotations,
        page: AlertSpec {
            labels: severity(page_severity, "P0"),
            annotations: BTreeMap::new(),
            disabled: !page,
        },
        ticket: AlertSpec {
            labels: severity(ticket_severity, "P2"),
            annotations: BTreeMap::new(),
            disabled: !ticket,
        },
    }
}

/// Alerting options after defaults, shared with the built-in SLOs.
pub(crate) struct NativeAlertingView {
    pub name: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub page: bool,
    pub ticket: bool,
    pub page_severity: Option<String>,
    pub ticket_severity: Option<String>,
}

impl Default for NativeAlertingView {
    fn default() -> Self {
        NativeAlertingView {
            name: None,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            page: true,
            ticket: true,
            page_severity: None,
            ticket_severity: None,
        }
    }
}

impl From<NativeAlerting> for NativeAlertingView {
    fn from(a: NativeAlerting) -> Self {
        let enabled = a.enabled.unwrap_or(true);
        NativeAlertingView {
            name: a.name,
            labels: a.labels,
            annotations: a.annotations,
            page: enabled && a.page.unwrap_or(true),
            ticket: enabled && a.ticket.unwrap_or(true),
            page_severity: a.page_severity,
            ticket_severity: a.ticket_severity,
        }
    }
}

/// `api-availability` → `ApiAvailability`.
pub fn pascal_case(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"
[server]
listen = "0.0.0.0:8080"

[[slo]]
name = "checkout-availability"
service = "checkout"
objective = 99.9
period = "28d"
source = "scrape"
[slo.ratio]
errors = 'http_requests_total{job="checkout",code=~"5.."}'
total = 'http_requests_total{job="checkout"}'

[[slo]]
name = "checkout-latency"
service = "checkout"
objective = 99
[slo.latency]
histogram = 'http_request_duration_seconds{job="checkout"}'
threshold = 0.256
[slo.alerting]
ticket = false
"#;

    #[test]
    fn slo_tables_are_read_and_other_keys_ignored() {
        let slos = load_native("firewatch.toml", TOML).unwrap();
        assert_eq!(slos.len(), 2);
        assert_eq!(slos[0].period, Some(Period::Rolling { days: 28 }));
        assert_eq!(
            slos[0].alerting.name.as_deref(),
            Some("CheckoutAvailabilityBurnRate")
        );
        assert_eq!(slos[0].alerting.labels["service"], "checkout");
        assert!(matches!(slos[1].sli, Sli::Latency { threshold, .. } if threshold == 0.256));
        assert!(slos[1].alerting.ticket.disabled);
        assert!(!slos[1].alerting.page.disabled);
    }

    #[test]
    fn a_file_without_slo_tables_has_no_slos() {
        assert!(
            load_native("f.toml", "[server]\nlisten = \"x\"\n")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_bad_period_names_the_field() {
        let text = TOML.replace("\"28d\"", "\"36x\"");
        let err = load_native("firewatch.toml", &text)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(r#"firewatch.toml: SLO "checkout-availability": field period:"#),
            "{err}"
        );
    }

    #[test]
    fn a_missing_objective_names_the_field() {
        let text = TOML.replace("objective = 99.9\n", "");
        let err = load_native("firewatch.toml", &text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("field objective"), "{err}");
    }
}
