//! Taking an action: Kubernetes through kube-rs (dry runs go to the API server with
//! `dryRun=All`, so permissions and targets are still checked), or an HTTP call. Each
//! returns what it did, or why it failed, in words for the audit trail.

use std::path::PathBuf;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;
use tokio::sync::Mutex;

use super::rules::{Action, Workload};

/// The Kubernetes client, made at first use (in-cluster, a kubeconfig, or the usual one)
/// and kept; a failure to make one is an action's failure, tried again next time.
#[derive(Clone, Default)]
pub struct Kube {
    kubeconfig: Option<PathBuf>,
    client: Arc<Mutex<Option<kube::Client>>>,
}

impl Kube {
    pub fn new(kubeconfig: Option<PathBuf>) -> Self {
        Self {
            kubeconfig,
            client: Arc::default(),
        }
    }

    async fn client(&self) -> Result<kube::Client, String> {
        let mut guard = self.client.lock().await;
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        let config = match &self.kubeconfig {
            Some(path) => {
                let kc = kube::config::Kubeconfig::read_from(path)
                    .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?;
                kube::Config::from_custom_kubeconfig(
                    kc,
                    &kube::config::KubeConfigOptions::default(),
                )
                .await
                .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?
            }
            None => kube::Config::infer().await.map_err(|e| {
                format!("no Kubernetes credentials (in-cluster or kubeconfig): {e}")
            })?,
        };
        let client =
            kube::Client::try_from(config).map_err(|e| format!("Kubernetes client: {e}"))?;
        *guard = Some(client.clone());
        Ok(client)
    }
}

/// An API error in words: "Kubernetes API 403 Forbidden: pods "x" is forbidden: …".
fn describe(e: kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("Kubernetes API {} {}: {}", s.code, s.reason, s.message),
        other => format!("Kubernetes API: {other}"),
    }
}

/// Reads the workload's replicas and sets `to(current)`; None: nothing to do (said).
pub async fn scale(
    kube: &Kube,
    kind: Workload,
    t: &Target<'_>,
    dry_run: bool,
    to: impl Fn(i32) -> Option<i32>,
) -> Result<String, String> {
    let (ns, name) = (t.namespace.unwrap_or_default(), t.name.unwrap_or_default());
    let client = kube.client().await?;
    let params = PatchParams {
        dry_run,
        field_manager: Some("firewatch".into()),
        ..PatchParams::default()
    };
    macro_rules! go {
        ($k:ty) => {{
            let api: Api<$k> = Api::namespaced(client, ns);
            let now = api
                .get_scale(name)
                .await
                .map_err(describe)?
                .spec
                .and_then(|s| s.replicas)
                .unwrap_or(0);
            match to(now) {
                None => Ok(format!(
                    "{} {ns}/{name} stays at {now} replicas (its limit)",
                    kind.as_str()
                )),
                Some(next) => {
                    let patch = Patch::Merge(json!({"spec": {"replicas": next}}));
                    api.patch_scale(name, &params, &patch)
                        .await
                        .map_err(describe)?;
                    Ok(format!(
                        "{}scale {} {ns}/{name} from {now} to {next} replicas",
                        if dry_run { "dry run: would " } else { "" },
                        kind.as_str()
                    ))
                }
            }
        }};
    }
    match kind {
        Workload::StatefulSet => go!(StatefulSet),
        _ => go!(Deployment),
    }
}

/// What an action is applied to.
pub struct Target<'a> {
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// Takes `action`; Ok(what was done) or Err(why not).
pub async fn take(
    kube: &Kube,
    http: &reqwest::Client,
    action: &Action,
    t: &Target<'_>,
    dry_run: bool,
    body: serde_json::Value,
) -> Result<String, String> {
    let would = if dry_run { "dry run: would " } else { "" };
    match action {
        Action::HttpPost { url } => {
            if dry_run {
                return Ok(format!(
                    "dry run: would POST to {}",
                    crate::notify::mask_url(url)
                ));
            }
            let res = http.post(url).json(&body).send().await.map_err(|e| {
                format!(
                    "POST {}: {}",
                    crate::notify::mask_url(url),
                    crate::net::describe(&e)
                )
            })?;
            let status = res.status();
            if status.is_success() {
                Ok(format!(
                    "POST {}: HTTP {status}",
                    crate::notify::mask_url(url)
                ))
            } else {
                Err(format!(
                    "POST {}: HTTP {status}",
                    crate::notify::mask_url(url)
                ))
            }
        }
        Action::DeletePod => {
            let (ns, name) = (t.namespace.unwrap_or_default(), t.name.unwrap_or_default());
            let api: Api<Pod> = Api::namespaced(kube.client().await?, ns);
            let params = DeleteParams {
                dry_run,
                ..DeleteParams::default()
            };
            api.delete(name, &params).await.map_err(describe)?;
            Ok(format!("{would}delete pod {ns}/{name}"))
        }
        Action::RolloutRestart { kind } => {
            let (ns, name) = (t.namespace.unwrap_or_default(), t.name.unwrap_or_default());
            let client = kube.client().await?;
            // What `kubectl rollout restart` does: a new template annotation.
            let patch = Patch::Merge(json!({"spec": {"template": {"metadata": {"annotations": {
                "kubectl.kubernetes.io/restartedAt": crate::time::rfc3339(crate::time::now_ms())
            }}}}}));
            let params = PatchParams {
                dry_run,
                field_manager: Some("firewatch".into()),
                ..PatchParams::default()
            };
            let done = match kind {
                Workload::Deployment => Api::<Deployment>::namespaced(client, ns)
                    .patch(name, &params, &patch)
                    .await
                    .map(|_| ()),
                Workload::StatefulSet => Api::<StatefulSet>::namespaced(client, ns)
                    .patch(name, &params, &patch)
                    .await
                    .map(|_| ()),
                Workload::DaemonSet => Api::<DaemonSet>::namespaced(client, ns)
                    .patch(name, &params, &patch)
                    .await
                    .map(|_| ()),
            };
            done.map_err(describe)?;
            Ok(format!("{would}restart {} {ns}/{name}", kind.as_str()))
        }
        Action::Postgres { .. } => Err("PostgreSQL actions run as checks".into()),
        Action::Scale {
            kind, max, step, ..
        } => {
            let (max, step) = (*max, *step);
            scale(kube, *kind, t, dry_run, |now| {
                (now < max).then(|| (now + step).min(max))
            })
            .await
        }
        Action::DeleteFailedPods => {
            let ns = t.namespace.unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(kube.client().await?, ns);
            let failed = api
                .list(&ListParams::default().fields("status.phase=Failed"))
                .await
                .map_err(describe)?;
            let params = DeleteParams {
                dry_run,
                ..DeleteParams::default()
            };
            let mut names = Vec::new();
            for pod in failed.items {
                let Some(name) = pod.metadata.name else {
                    continue;
                };
                api.delete(&name, &params).await.map_err(describe)?;
                names.push(name);
            }
            Ok(format!(
                "{would}delete {} failed pods in {ns}{}",
                names.len(),
                if names.is_empty() {
                    String::new()
                } else {
                    format!(": {}", names.join(", "))
                }
            ))
        }
    }
}
