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
    documents_in("deploy/kubernetes")
}

fn documents_in(folder: &str) -> Vec<(String, serde_yaml_ng::Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
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

/// Two replicas on PostgreSQL: the manifests parse, the pods spread over nodes, the
/// connection string comes from a secret file and the settings load with it.
#[test]
fn the_postgres_example_runs_two_replicas_with_a_valid_config() {
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    let mut config = None;
    let mut deployment = None;
    for (file, v) in documents_in("deploy/kubernetes-postgres") {
        match v["kind"].as_str().unwrap() {
            "ConfigMap" => config = Some(parse::<ConfigMap>(&file, &v)),
            "Deployment" => deployment = Some(parse::<Deployment>(&file, &v)),
            "PodDisruptionBudget" => drop(parse::<PodDisruptionBudget>(&file, &v)),
            other => panic!("{file}: unexpected kind {other}"),
        }
    }
    let spec = deployment.expect("a Deployment").spec;
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.unwrap();
    assert!(
        pod.affinity
            .and_then(|a| a.pod_anti_affinity)
            .and_then(|a| a.required_during_scheduling_ignored_during_execution)
            .is_some(),
        "replicas on different nodes"
    );
    let env = pod.containers[0].env.clone().unwrap();
    assert!(env.iter().any(|e| e.name == "FIREWATCH__CLUSTER__INSTANCE"));
    // The settings load once the secret file exists.
    let toml = config.unwrap().data.unwrap()["firewatch.toml"].clone();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("url");
    std::fs::write(
        &secret,
        "postgres://firewatch:pw@db.internal:5432/firewatch\n",
    )
    .unwrap();
    let toml = toml.replace("/etc/firewatch-db/url", secret.to_str().unwrap());
    let resolved = firewatch::config::Settings::from_toml(&toml).expect("valid settings");
    assert_eq!(
        resolved.storage_url.as_deref(),
        Some("postgres://firewatch:pw@db.internal:5432/firewatch")
    );
    assert_eq!(
        resolved.cluster_takeover,
        std::time::Duration::from_secs(15)
    );
    // The compose file names PostgreSQL and two replicas on it.
    let compose: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/compose/compose.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    for replica in ["firewatch-a", "firewatch-b"] {
        let env = &compose["services"][replica]["environment"];
        assert_eq!(env["FIREWATCH__STORAGE__BACKEND"], "postgres", "{replica}");
        assert!(
            env["FIREWATCH__STORAGE__URL"]
                .as_str()
                .unwrap()
                .contains("@postgres:5432/"),
            "{replica}"
        );
    }
}
