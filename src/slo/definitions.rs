//! SLO definitions: the `[[slo]]` tables of the settings file, Sloth and OpenSLO files
//! (`evaluation.slo_files`), validated together; and which source measures each.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::spec::{Period, Sli, SloSpec, SpecError, SpecFormat, validate_all};
use super::{native, openslo, sloth};
use crate::config::{ConfigError, Resolved};

/// The SLOs the settings define: their `[[slo]]` tables and the files of
/// `evaluation.slo_files`, validated, with a history retention that covers every period.
pub fn load(settings: &Resolved) -> Result<Vec<SloSpec>, ConfigError> {
    let defs = |e: SpecError| ConfigError::Definitions(e.to_string());
    let mut slos = match &settings.file {
        Some(f) if !settings.raw.slo_tables.is_empty() => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| ConfigError::Definitions(format!("{}: {e}", f.display())))?;
            native::load_native(&f.display().to_string(), &text).map_err(defs)?
        }
        _ => Vec::new(),
    };
    for path in &settings.raw.evaluation.slo_files {
        slos.extend(load_path(path)?);
    }
    validate_all(&slos).map_err(defs)?;
    // The period window sums hourly rollups: they must cover the longest period.
    let keep = settings.history_retention;
    if let Some(s) = slos.iter().find(|s| {
        let days = match s.period {
            Some(Period::CalendarMonth) => 31,
            Some(p) => p.days() as u64,
            None => 30,
        };
        !keep.is_zero() && keep < Duration::from_secs(days * 86_400)
    }) {
        return Err(ConfigError::invalid(
            "evaluation.history_retention",
            format!(
                "is shorter than the period of SLO {} (the period window needs its history)",
                s.name
            ),
        ));
    }
    Ok(slos)
}

/// SLO spec files from a file or a folder (its `.yml`, `.yaml` and `.json` files, sorted).
fn load_path(path: &Path) -> Result<Vec<SloSpec>, ConfigError> {
    let files = if path.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| {
                ConfigError::Definitions(format!("evaluation.slo_files: {}: {e}", path.display()))
            })?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x == "yml" || x == "yaml" || x == "json")
            })
            .collect();
        v.sort();
        v
    } else {
        vec![path.to_path_buf()]
    };
    let mut out = Vec::new();
    for f in files {
        out.extend(load_spec_file(&f).map_err(|e| ConfigError::Definitions(e.to_string()))?);
    }
    Ok(out)
}

/// The source that measures each SLO: PromQL SLIs (Sloth and OpenSLO files, raw and
/// events) can only be measured by Prometheus; counters and histograms take the `source`
/// key of their `[[slo]]` table, by default the built-in scraper.
pub fn with_sources(settings: &Resolved, specs: Vec<SloSpec>) -> Vec<(SloSpec, String)> {
    let source_of = |name: &str| -> String {
        settings
            .raw
            .slo_tables
            .iter()
            .filter_map(|t| t.as_dict())
            .find(|d| d.get("name").and_then(|n| n.as_str()) == Some(name))
            .and_then(|d| d.get("source").and_then(|v| v.as_str()).map(String::from))
            .unwrap_or_else(|| "scrape".into())
    };
    specs
        .into_iter()
        .map(|s| {
            let promql = matches!(s.sli, Sli::Raw { .. } | Sli::Events { .. });
            let src = if promql {
                "prometheus".to_string()
            } else {
                source_of(&s.name)
            };
            (s, src)
        })
        .collect()
}

/// Reads a Sloth (`prometheus/v1`, `sloth.slok.dev/v1` PrometheusServiceLevel) or OpenSLO
/// (`openslo/v1alpha`, `openslo/v1`) file, validated. A `.toml` file is read as a
/// firewatch.toml (its `[[slo]]` tables).
pub fn load_spec_file(path: &Path) -> Result<Vec<SloSpec>, SpecError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| SpecError::Unreadable {
        file: file.clone(),
        message: e.to_string(),
    })?;
    let slos = if path.extension().is_some_and(|e| e == "toml") {
        native::load_native(&file, &text)?
    } else {
        load_spec_text(&file, &text)?
    };
    validate_all(&slos)?;
    Ok(slos)
}

/// Parses the YAML documents of one spec file; `file` is only used in messages.
pub fn load_spec_text(file: &str, text: &str) -> Result<Vec<SloSpec>, SpecError> {
    let syntax = |message: String| SpecError::Syntax {
        file: file.to_string(),
        format: "YAML",
        message,
    };
    let mut docs = Vec::new();
    for d in serde_yaml_ng::Deserializer::from_str(text) {
        let v: serde_yaml_ng::Value =
            serde::Deserialize::deserialize(d).map_err(|e| syntax(e.to_string()))?;
        if !v.is_null() {
            docs.push(v);
        }
    }
    let mut out = Vec::new();
    let mut openslo_v1 = Vec::new();
    for doc in docs {
        let get = |k: &str| doc.get(k).and_then(|v| v.as_str()).map(str::to_string);
        match (get("version"), get("apiVersion")) {
            (Some(v), _) if v == "prometheus/v1" => {
                out.extend(sloth::load_sloth(file, doc, SpecFormat::SlothV1)?);
            }
            (None, Some(a)) if a == "sloth.slok.dev/v1" => {
                let spec = doc.get("spec").cloned().unwrap_or_default();
                out.extend(sloth::load_sloth(file, spec, SpecFormat::SlothKubernetes)?);
            }
            (None, Some(a)) if a == "openslo/v1alpha" => {
                out.extend(openslo::load_v1alpha(file, &doc)?);
            }
            (None, Some(a)) if a == "openslo/v1" => openslo_v1.push(doc),
            (version, api) => {
                let (field, version) = match (version, api) {
                    (Some(v), _) => ("version", v),
                    (None, Some(a)) => ("apiVersion", a),
                    (None, None) => ("version", String::new()),
                };
                return Err(SpecError::UnknownVersion {
                    file: file.to_string(),
                    field,
                    version,
                    supported: "prometheus/v1, sloth.slok.dev/v1, openslo/v1alpha, openslo/v1",
                });
            }
        }
    }
    if !openslo_v1.is_empty() {
        out.extend(openslo::load_v1(file, &openslo_v1)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_period_window_needs_rollups_as_long_as_the_period() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("firewatch.toml");
        std::fs::write(
            &file,
            "[evaluation]\nhistory_retention = \"7d\"\n\n[[slo]]\nname = \"a\"\nservice = \"s\"\n\
             objective = 99.9\nperiod = \"30d\"\n[slo.ratio]\nerrors = 'x_total{code=\"5\"}'\n\
             total = 'x_total'\n",
        )
        .unwrap();
        let settings = crate::config::Settings::load(Some(&file)).unwrap();
        let err = load(&settings).unwrap_err().to_string();
        assert!(
            err.contains("evaluation.history_retention") && err.contains("SLO a"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_version_is_refused_with_file_and_field() {
        let err = load_spec_text("slos.yaml", "version: prometheus/v2\nservice: x\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            r#"slos.yaml: field version: unknown spec version "prometheus/v2" (supported: prometheus/v1, sloth.slok.dev/v1, openslo/v1alpha, openslo/v1)"#
        );
    }

    #[test]
    fn a_missing_file_is_reported_as_unreadable() {
        let err = load_spec_file(Path::new("/nonexistent/slos.yaml")).unwrap_err();
        assert!(matches!(err, SpecError::Unreadable { .. }));
        assert!(
            err.to_string()
                .starts_with("/nonexistent/slos.yaml: cannot read")
        );
    }
}
