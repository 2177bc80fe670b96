//! Sloth `prometheus/v1` specs (and the `PrometheusServiceLevel` CRD wrapping the same spec).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::spec::{AlertSpec, AlertingSpec, Origin, Sli, SloSpec, SpecError, SpecFormat};

#[derive(Deserialize)]
struct SlothSpec {
    service: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    slos: Vec<serde_yaml_ng::Value>,
}

#[derive(Deserialize)]
struct SlothSlo {
    name: String,
    objective: f64,
    #[serde(default)]
    description: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    sli: SlothSli,
    #[serde(default)]
    alerting: SlothAlerting,
}

#[derive(Deserialize)]
struct SlothSli {
    events: Option<SlothEvents>,
    raw: Option<SlothRaw>,
    plugin: Option<serde_yaml_ng::Value>,
}

#[derive(Deserialize)]
struct SlothEvents {
    error_query: String,
    total_query: String,
}

#[derive(Deserialize)]
struct SlothRaw {
    error_ratio_query: String,
}

#[derive(Deserialize, Default)]
struct SlothAlerting {
    name: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    page_alert: SlothAlert,
    #[serde(default)]
    ticket_alert: SlothAlert,
}

#[derive(Deserialize, Default)]
struct SlothAlert {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    disable: bool,
}

/// Reads one `prometheus/v1` document (already known to have that version).
pub fn load_sloth(
    file: &str,
    doc: serde_yaml_ng::Value,
    format: SpecFormat,
) -> Result<Vec<SloSpec>, SpecError> {
    let spec: SlothSpec = serde_yaml_ng::from_value(doc).map_err(|e| SpecError::Syntax {
        file: file.to_string(),
        format: "Sloth prometheus/v1 spec",
        message: e.to_string(),
    })?;
    spec.slos
        .into_iter()
        .enumerate()
        .map(|(i, v)| one(file, &spec.service, &spec.labels, i, v, format))
        .collect()
}

fn one(
    file: &str,
    service: &str,
    global_labels: &BTreeMap<String, String>,
    index: usize,
    value: serde_yaml_ng::Value,
    format: SpecFormat,
) -> Result<SloSpec, SpecError> {
    let label = value
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
    let slo: SlothSlo = serde_yaml_ng::from_value(value).map_err(|e| {
        let msg = e.to_string();
        let name = msg.split('`').nth(1).unwrap_or("slo").to_string();
        field(&name, msg)
    })?;
    if slo.sli.plugin.is_some() {
        return Err(field(
            "sli.plugin",
            "SLI plugins (Go code run by Sloth) are not supported; rewrite the SLI as sli.events or sli.raw".into(),
        ));
    }
    let sli = match (slo.sli.events, slo.sli.raw) {
        (Some(e), None) => Sli::Events {
            error_query: e.error_query,
            total_query: e.total_query,
        },
        (None, Some(r)) => Sli::Raw {
            error_ratio_query: r.error_ratio_query,
        },
        _ => {
            return Err(field(
                "sli",
                "exactly one of sli.events or sli.raw is required".into(),
            ));
        }
    };
    let a = slo.alerting;
    let enabled = !(a.page_alert.disable && a.ticket_alert.disable);
    if enabled && a.name.as_deref().unwrap_or("").is_empty() {
        return Err(field(
            "alerting.name",
            "required unless both page_alert and ticket_alert are disabled".into(),
        ));
    }
    let mut labels = global_labels.clone();
    labels.extend(slo.labels);
    Ok(SloSpec {
        name: slo.name,
        service: service.to_string(),
        description: slo.description,
        objective_percent: slo.objective,
        period: None,
        labels,
        sli,
        alerting: AlertingSpec {
            name: a.name,
            labels: a.labels,
            annotations: a.annotations,
            page: AlertSpec {
                labels: a.page_alert.labels,
                annotations: a.page_alert.annotations,
                disabled: a.page_alert.disable,
            },
            ticket: AlertSpec {
                labels: a.ticket_alert.labels,
                annotations: a.ticket_alert.annotations,
                disabled: a.ticket_alert.disable,
            },
        },
        origin: Origin::new(file, format),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Vec<SloSpec>, SpecError> {
        load_sloth(
            "slos.yaml",
            serde_yaml_ng::from_str(text).unwrap(),
            SpecFormat::SlothV1,
        )
    }

    #[test]
    fn global_and_slo_labels_are_merged() {
        let slos = load(
            r#"
version: prometheus/v1
service: svc
labels: {a: "1"}
slos:
  - name: s
    objective: 99
    labels: {b: "2"}
    sli: {raw: {error_ratio_query: "x[{{.window}}]"}}
    alerting: {page_alert: {disable: true}, ticket_alert: {disable: true}}
"#,
        )
        .unwrap();
        assert_eq!(slos[0].labels.len(), 2);
        assert_eq!(slos[0].period, None);
    }

    #[test]
    fn plugin_slis_are_refused_with_the_field_named() {
        let err = load(
            r#"
version: prometheus/v1
service: svc
slos:
  - name: s
    objective: 99
    sli: {plugin: {id: "x"}}
"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(r#"slos.yaml: SLO "s": field sli.plugin: SLI plugins"#),
            "{err}"
        );
    }

    #[test]
    fn enabled_alerts_need_a_name() {
        let err = load(
            r#"
version: prometheus/v1
service: svc
slos:
  - name: s
    objective: 99
    sli: {raw: {error_ratio_query: "x[{{.window}}]"}}
"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("field alerting.name"), "{err}");
    }
}
