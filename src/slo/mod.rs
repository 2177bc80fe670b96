//! Service level objectives: definitions (native, Sloth, OpenSLO).

pub mod duration;
pub mod engine;
pub mod expfmt;
pub mod native;
pub mod openslo;
pub mod selector;
pub mod sloth;
pub mod spec;

use std::path::Path;

use spec::{SloSpec, SpecError, SpecFormat};

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
    spec::validate_all(&slos)?;
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
                out.extend(sloth::load_sloth(file, doc, SpecFormat::SlothV1)?)
            }
            (None, Some(a)) if a == "sloth.slok.dev/v1" => {
                let spec = doc.get("spec").cloned().unwrap_or_default();
                out.extend(sloth::load_sloth(file, spec, SpecFormat::SlothKubernetes)?)
            }
            (None, Some(a)) if a == "openslo/v1alpha" => {
                out.extend(openslo::load_v1alpha(file, &doc)?)
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
