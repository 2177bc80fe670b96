//! The Kubernetes manifests in deploy/kubernetes parse into k8s-openapi types, their
//! example config is a valid Firewatch config, and the Role grants exactly what the
//! configured healing actions need.

use std::path::Path;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolumeClaim, Service, ServiceAccount,
};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};

fn documents() -> Vec<(String, serde_yaml_ng::Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes");
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let v: serde_yaml_ng::Value = serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((path.file_name().unwrap().to_string_lossy().into_owned(), v));
        }
    }
    out
}

fn parse<T: serde::de::DeserializeOwned>(file: &str, v: &serde_yaml_ng::Value) -> T {
    serde_yaml_ng::from_value(v.clone()).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn every_manifest_is_a_valid_kubernetes_object_and_the_example_config_works() {
    let docs = documents();
    let mut kinds = Vec::new();
    let mut config = None;
    let mut role = None;
    for (file, v) in &docs {
        let kind = v["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("{file}: no kind"))
            .to_string();
        match kind.as_str() {
            "Namespace" => drop(parse::<Namespace>(file, v)),
            "ServiceAccount" => drop(parse::<ServiceAccount>(file, v)),
            "PersistentVolumeClaim" => drop(parse::<PersistentVolumeClaim>(file, v)),
            "Service" => drop(parse::<Service>(file, v)),
            "RoleBinding" => {
                let b: RoleBinding = parse(file, v);
                let s = &b.subjects.unwrap()[0];
                assert_eq!(
                    (s.name.as_str(), s.namespace.as_deref()),
                    ("firewatch", Some("firewatch"))
                );
            }
            "Role" => role = Some(parse::<Role>(file, v)),
            "ConfigMap" => config = Some(parse::<ConfigMap>(file, v)),
            "Deployment" => {
                let d: Deployment = parse(file, v);
                let spec = d.spec;
                assert_eq!(spec.replicas, Some(1), "one writer for the SQLite file");
                let pod = spec.template.spec.unwrap();
                assert_eq!(pod.service_account_name.as_deref(), Some("firewatch"));
                let c = &pod.containers[0];
                assert_eq!(
                    c.readiness_probe
                        .as_ref()
                        .unwrap()
                        .http_get
                        .as_ref()
                        .unwrap()
                        .path
                        .as_deref(),
                    Some("/readyz")
                );
            }
            other => panic!("{file}: unexpected kind {other}"),
        }
        kinds.push(kind);
    }
    for k in [
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "PersistentVolumeClaim",
        "Deployment",
        "Service",
        "Role",
        "RoleBinding",
    ] {
        assert!(kinds.iter().any(|x| x == k), "no {k}");
    }
    // The ConfigMap's firewatch.toml loads and its healing rules validate.
    let toml = config.unwrap().data.unwrap()["firewatch.toml"].clone();
    let settings: firewatch::config::Settings = figment::Figment::from(
        figment::providers::Serialized::defaults(firewatch::config::Settings::default()),
    )
    .merge(<figment::providers::Toml as figment::providers::Format>::string(&toml))
    .extract()
    .unwrap();
    let rules = firewatch::healing::rules_from(&settings.healing).unwrap();
    assert!(settings.healing.dry_run, "the example starts as a dry run");
    // The Role grants what the actions need, and nothing more.
    let mut needed: Vec<(&str, &str, &str)> = Vec::new();
    for r in &rules {
        match r.action.name() {
            "kubernetes.delete_pod" => needed.extend([("", "pods", "delete")]),
            "kubernetes.delete_failed_pods" => {
                needed.extend([("", "pods", "list"), ("", "pods", "delete")]);
            }
            "kubernetes.rollout_restart" => needed.extend([("apps", "deployments", "patch")]),
            "kubernetes.scale" => needed.extend([("apps", "deployments/scale", "patch")]),
            _ => {}
        }
    }
    let role = role.unwrap();
    let grants: Vec<(String, String, String)> = role
        .rules
        .unwrap()
        .iter()
        .flat_map(|p| {
            let groups = p.api_groups.clone().unwrap_or_default();
            let resources = p.resources.clone().unwrap_or_default();
            let verbs = p.verbs.clone();
            groups.into_iter().flat_map(move |g| {
                let verbs = verbs.clone();
                resources.clone().into_iter().flat_map(move |r| {
                    let g = g.clone();
                    verbs
                        .clone()
                        .into_iter()
                        .map(move |v| (g.clone(), r.clone(), v))
                })
            })
        })
        .collect();
    for (g, r, v) in &needed {
        assert!(
            grants
                .iter()
                .any(|x| (x.0.as_str(), x.1.as_str(), x.2.as_str()) == (*g, *r, *v)),
            "missing {g}/{r} {v}"
        );
    }
    for (g, r, v) in &grants {
        assert!(
            v == "get"
                || needed
                    .iter()
                    .any(|n| (n.0, n.1, n.2) == (g.as_str(), r.as_str(), v.as_str())),
            "granted but not needed: {g}/{r} {v}"
        );
    }
}
