//! OpenSLO documents: `openslo/v1alpha` as Sloth reads them, and `openslo/v1` SLOs with an
//! inline indicator or an `indicatorRef` to an SLI document of the same file.
//!
//! Only Prometheus ratio SLIs with Occurrences budgeting can be turned into burn-rate
//! rules; everything else is refused with a message naming the field.

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

use super::spec::{AlertSpec, AlertingSpec, Origin, Period, Sli, SloSpec, SpecError, SpecFormat};

/// Sloth's layout for a good/total ratio turned into an error ratio.
fn good_total_error_ratio(good: &str, total: &str) -> String {
    format!("\n  1 - (\n    (\n      {good}\n    )\n    /\n    (\n      {total}\n    )\n  )\n")
}

struct Ctx<'a> {
    file: &'a str,
    slo: String,
}

impl Ctx<'_> {
    fn err(&self, field: &str, message: impl Into<String>) -> SpecError {
        SpecError::Field {
            file: self.file.to_string(),
            slo: self.slo.clone(),
            field: field.to_string(),
            message: message.into(),
        }
    }

    fn str_at<'v>(&self, v: &'v Value, path: &str) -> Result<&'v str, SpecError> {
        lookup(v, path)
            .and_then(Value::as_str)
            .ok_or_else(|| self.err(path, "required (a string)"))
    }
}

fn lookup<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(v, |cur, key| cur.get(key))
}

fn no_alerts() -> AlertingSpec {
    let off = AlertSpec {
        disabled: true,
        ..AlertSpec::default()
    };
    AlertingSpec {
        page: off.clone(),
        ticket: off,
        ..AlertingSpec::default()
    }
}

fn check_budgeting(ctx: &Ctx, spec: &Value) -> Result<(), SpecError> {
    match lookup(spec, "budgetingMethod").and_then(Value::as_str) {
        None | Some("Occurrences") => Ok(()),
        Some(other) => Err(ctx.err(
            "spec.budgetingMethod",
            format!("{other} is not supported; only Occurrences maps to burn-rate rules"),
        )),
    }
}

fn objective_percent(ctx: &Ctx, obj: &Value, index: usize) -> Result<f64, SpecError> {
    let field = format!("spec.objectives[{index}].target");
    if let Some(p) = obj.get("targetPercent").and_then(Value::as_f64) {
        return Ok(p);
    }
    obj.get("target")
        .and_then(Value::as_f64)
        .map(|t| t * 100.0)
        .ok_or_else(|| ctx.err(&field, "required (a ratio such as 0.999)"))
}

/// One `openslo/v1alpha` SLO document.
pub fn load_v1alpha(file: &str, doc: &Value) -> Result<Vec<SloSpec>, SpecError> {
    let mut ctx = Ctx {
        file,
        slo: lookup(doc, "metadata.name")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string(),
    };
    let name = ctx.str_at(doc, "metadata.name")?.to_string();
    let spec = doc.get("spec").ok_or_else(|| ctx.err("spec", "required"))?;
    let service = ctx.str_at(spec, "service")?.to_string();
    let description = lookup(spec, "description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    check_budgeting(&ctx, spec)?;
    let period = v1alpha_period(&ctx, spec)?;
    let objectives = lookup(spec, "objectives")
        .and_then(Value::as_sequence)
        .ok_or_else(|| ctx.err("spec.objectives", "required (a list)"))?;
    let mut out = Vec::new();
    for (i, obj) in objectives.iter().enumerate() {
        // Sloth names each objective `<slo>-<index>`.
        ctx.slo = format!("{name}-{i}");
        let ratio = obj.get("ratioMetrics").ok_or_else(|| {
            ctx.err(
                &format!("spec.objectives[{i}].ratioMetrics"),
                "required: only ratio metrics are supported",
            )
        })?;
        let query = |key: &str| -> Result<Option<String>, SpecError> {
            let Some(m) = ratio.get(key) else {
                return Ok(None);
            };
            let source = m.get("source").and_then(Value::as_str).unwrap_or("");
            if !source.eq_ignore_ascii_case("prometheus") {
                return Err(ctx.err(
                    &format!("ratioMetrics.{key}.source"),
                    format!("{source:?} is not supported; only prometheus"),
                ));
            }
            Ok(Some(ctx.str_at(m, "query")?.to_string()))
        };
        let total = query("total")?.ok_or_else(|| ctx.err("ratioMetrics.total", "required"))?;
        let sli = ratio_sli(&ctx, query("good")?, query("bad")?, total)?;
        out.push(SloSpec {
            name: ctx.slo.clone(),
            service: service.clone(),
            description: description.clone(),
            objective_percent: objective_percent(&ctx, obj, i)?,
            period,
            labels: BTreeMap::new(),
            sli,
            alerting: no_alerts(),
            origin: Origin::new(file, SpecFormat::OpenSloV1Alpha),
        });
    }
    Ok(out)
}

fn ratio_sli(
    ctx: &Ctx,
    good: Option<String>,
    bad: Option<String>,
    total: String,
) -> Result<Sli, SpecError> {
    match (good, bad) {
        (Some(good), None) => Ok(Sli::Raw {
            error_ratio_query: good_total_error_ratio(&good, &total),
        }),
        (None, Some(bad)) => Ok(Sli::Events {
            error_query: bad,
            total_query: total,
        }),
        _ => Err(ctx.err("ratioMetrics", "exactly one of good or bad is required")),
    }
}

fn v1alpha_period(ctx: &Ctx, spec: &Value) -> Result<Option<Period>, SpecError> {
    let Some(w) = lookup(spec, "timeWindows")
        .and_then(Value::as_sequence)
        .and_then(|s| s.first())
    else {
        return Ok(None);
    };
    let count = w.get("count").and_then(Value::as_u64).unwrap_or(0);
    let unit = w.get("unit").and_then(Value::as_str).unwrap_or("");
    let days = match unit.to_ascii_lowercase().as_str() {
        "day" | "days" => count,
        "week" | "weeks" => count * 7,
        _ => {
            return Err(ctx.err(
                "spec.timeWindows[0].unit",
                format!("{unit:?} is not supported; use Day or Week"),
            ));
        }
    };
    let days = u32::try_from(days)
        .ok()
        .filter(|d| *d > 0)
        .ok_or_else(|| ctx.err("spec.timeWindows[0].count", "must be a positive number"))?;
    Ok(Some(Period::Rolling { days }))
}

/// The `openslo/v1` documents of one file: SLOs, plus the SLIs they may reference.
pub fn load_v1(file: &str, docs: &[Value]) -> Result<Vec<SloSpec>, SpecError> {
    let slis: BTreeMap<&str, &Value> = docs
        .iter()
        .filter(|d| d.get("kind").and_then(Value::as_str) == Some("SLI"))
        .filter_map(|d| Some((lookup(d, "metadata.name")?.as_str()?, d)))
        .collect();
    let mut out = Vec::new();
    for doc in docs {
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = lookup(doc, "metadata.name")
            .and_then(Value::as_str)
            .unwrap_or("?");
        match kind {
            "SLO" => out.extend(v1_slo(file, doc, &slis)?),
            // Services carry no data the rules need; SLIs are read through their SLOs.
            "SLI" | "Service" => {}
            other => {
                return Err(SpecError::Field {
                    file: file.to_string(),
                    slo: name.to_string(),
                    field: "kind".into(),
                    message: format!(
                        "openslo/v1 kind {other:?} is not supported (supported: SLO, SLI, Service)"
                    ),
                });
            }
        }
    }
    Ok(out)
}

fn v1_slo(
    file: &str,
    doc: &Value,
    slis: &BTreeMap<&str, &Value>,
) -> Result<Vec<SloSpec>, SpecError> {
    let mut ctx = Ctx {
        file,
        slo: lookup(doc, "metadata.name")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string(),
    };
    let name = ctx.str_at(doc, "metadata.name")?.to_string();
    let spec = doc.get("spec").ok_or_else(|| ctx.err("spec", "required"))?;
    let service = ctx.str_at(spec, "service")?.to_string();
    let description = lookup(spec, "description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    check_budgeting(&ctx, spec)?;
    let indicator_spec = if let Some(ind) = spec.get("indicator") {
        ind.get("spec")
            .ok_or_else(|| ctx.err("spec.indicator.spec", "required"))?
    } else if let Some(r) = lookup(spec, "indicatorRef").and_then(Value::as_str) {
        slis.get(r).and_then(|d| d.get("spec")).ok_or_else(|| {
            ctx.err(
                "spec.indicatorRef",
                format!("no SLI document named {r:?} in this file"),
            )
        })?
    } else {
        return Err(ctx.err("spec.indicator", "an indicator or indicatorRef is required"));
    };
    if indicator_spec.get("thresholdMetric").is_some() {
        return Err(ctx.err(
            "spec.indicator.spec.thresholdMetric",
            "threshold metrics are not supported; use a ratioMetric",
        ));
    }
    let ratio = indicator_spec
        .get("ratioMetric")
        .ok_or_else(|| ctx.err("spec.indicator.spec.ratioMetric", "required"))?;
    let query = |key: &str| -> Result<Option<String>, SpecError> {
        let Some(m) = ratio.get(key) else {
            return Ok(None);
        };
        let field = format!("ratioMetric.{key}.metricSource");
        let src = m
            .get("metricSource")
            .ok_or_else(|| ctx.err(&field, "required"))?;
        let kind = src.get("type").and_then(Value::as_str).unwrap_or("");
        if !kind.eq_ignore_ascii_case("prometheus") {
            return Err(ctx.err(
                &format!("{field}.type"),
                format!("{kind:?} is not supported; only Prometheus"),
            ));
        }
        let q = lookup(src, "spec.query")
            .or_else(|| lookup(src, "spec.promql"))
            .and_then(Value::as_str)
            .ok_or_else(|| ctx.err(&format!("{field}.spec.query"), "required"))?;
        Ok(Some(q.to_string()))
    };
    let sli = if let Some(raw) = ratio.get("raw") {
        let q = ctx.str_at(raw, "metricSource.spec.query")?.to_string();
        match lookup(ratio, "rawType").and_then(Value::as_str) {
            Some("failure") => Sli::Raw {
                error_ratio_query: q,
            },
            _ => Sli::Raw {
                error_ratio_query: format!("1 - ({q})"),
            },
        }
    } else {
        let total = query("total")?.ok_or_else(|| ctx.err("ratioMetric.total", "required"))?;
        ratio_sli(&ctx, query("good")?, query("bad")?, total)?
    };
    let period = match lookup(spec, "timeWindow")
        .and_then(Value::as_sequence)
        .and_then(|s| s.first())
    {
        None => None,
        Some(w) => {
            let d = w.get("duration").and_then(Value::as_str).unwrap_or("");
            let rolling = w.get("isRolling").and_then(Value::as_bool).unwrap_or(true);
            if !rolling && (d == "1M" || d == "1month") {
                Some(Period::CalendarMonth)
            } else {
                Some(Period::parse(d).map_err(|m| ctx.err("spec.timeWindow[0].duration", m))?)
            }
        }
    };
    let objectives = lookup(spec, "objectives")
        .and_then(Value::as_sequence)
        .ok_or_else(|| ctx.err("spec.objectives", "required (a list)"))?;
    let mut out = Vec::new();
    for (i, obj) in objectives.iter().enumerate() {
        // One objective keeps the SLO's name; several get Sloth's `-<index>` suffix.
        if objectives.len() > 1 {
            ctx.slo = format!("{name}-{i}");
        }
        out.push(SloSpec {
            name: ctx.slo.clone(),
            service: service.clone(),
            description: description.clone(),
            objective_percent: objective_percent(&ctx, obj, i)?,
            period,
            labels: BTreeMap::new(),
            sli: sli.clone(),
            alerting: no_alerts(),
            origin: Origin::new(file, SpecFormat::OpenSloV1),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(text: &str) -> Vec<Value> {
        serde_yaml_ng::Deserializer::from_str(text)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .collect()
    }

    #[test]
    fn v1_slo_with_a_referenced_prometheus_sli_is_loaded() {
        let d = docs(
            r#"
apiVersion: openslo/v1
kind: SLI
metadata: {name: errors}
spec:
  ratioMetric:
    counter: true
    bad: {metricSource: {type: Prometheus, spec: {query: "sum(rate(e[{{.window}}]))"}}}
    total: {metricSource: {type: Prometheus, spec: {query: "sum(rate(t[{{.window}}]))"}}}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: avail}
spec:
  service: web
  indicatorRef: errors
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.99}]
"#,
        );
        let slos = load_v1("o.yaml", &d).unwrap();
        assert_eq!(slos.len(), 1);
        assert_eq!(slos[0].name, "avail");
        assert_eq!(slos[0].period, Some(Period::Rolling { days: 28 }));
        assert!(matches!(slos[0].sli, Sli::Events { .. }));
    }

    #[test]
    fn timeslice_budgeting_is_refused() {
        let d = docs(
            r#"
apiVersion: openslo/v1
kind: SLO
metadata: {name: s}
spec: {service: web, budgetingMethod: Timeslices, objectives: [{target: 0.9}]}
"#,
        );
        let err = load_v1("o.yaml", &d).unwrap_err().to_string();
        assert!(err.contains("field spec.budgetingMethod"), "{err}");
    }
}
