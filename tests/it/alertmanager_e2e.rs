//! End to end with a real Alertmanager (Debian's prometheus-alertmanager): alerts posted to
//! Alertmanager reach Firewatch through its webhook receiver.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

fn alertmanager_binary() -> String {
    for candidate in ["/usr/bin/prometheus-alertmanager", "/usr/bin/alertmanager"] {
        if std::path::Path::new(candidate).exists() {
            return candidate.to_string();
        }
    }
    panic!(
        "Alertmanager is not installed: run scripts/test.sh (apt-get install prometheus-alertmanager)"
    );
}

struct Alertmanager(Child);
impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_alertmanager_group_becomes_one_incident_and_resolves_it() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, WEBHOOK_TOKEN).unwrap();
    let config = format!(
        r#"route:
  receiver: firewatch
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: firewatch
    webhook_configs:
      - url: {}/api/v1/alerts/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials_file: {}
"#,
        app.address,
        token_file.display()
    );
    let cfg = dir.path().join("alertmanager.yml");
    std::fs::write(&cfg, config).unwrap();
    let port = free_port();
    let cluster_port = free_port();
    let child = Command::new(alertmanager_binary())
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--cluster.listen-address=127.0.0.1:{cluster_port}"))
        .arg("--cluster.advertise-address=127.0.0.1:9094")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start alertmanager");
    let _am = Alertmanager(child);
    let am = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_for("alertmanager to start", || {
        let c = client.clone();
        let url = format!("{am}/-/ready");
        async move {
            c.get(url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;

    let starts = jiff::Timestamp::now().to_string();
    let post = |ends: Option<String>| {
        let alerts: Vec<_> = ["api-1", "api-2"]
            .iter()
            .map(|i| {
                let mut a = json!({
                    "labels": {"alertname": "HighErrorRate", "service": "checkout", "instance": i, "severity": "critical"},
                    "annotations": {"summary": "5xx above 5%", "runbook_url": "https://runbooks.example.com/high-error-rate"},
                    "startsAt": starts,
                });
                if let Some(e) = &ends {
                    a["endsAt"] = json!(e);
                }
                a
            })
            .collect();
        let (c, url) = (client.clone(), format!("{am}/api/v2/alerts"));
        async move {
            let res = c.post(url).json(&alerts).send().await.unwrap();
            assert!(
                res.status().is_success(),
                "alertmanager refused: {}",
                res.status()
            );
        }
    };
    post(None).await;
    wait_for("the incident with both alerts", || async {
        let open = app.incidents("open").await;
        open.len() == 1 && open[0]["alert_count"] == 2
    })
    .await;
    let inc = &app.incidents("open").await[0];
    assert_eq!(inc["severity"], "P0");
    assert_eq!(inc["title"], "HighErrorRate on checkout");
    let id = inc["id"].as_i64().unwrap();

    post(Some(jiff::Timestamp::now().to_string())).await;
    wait_for("the incident to resolve", || async {
        app.incident(id).await["status"] == "resolved"
    })
    .await;
    let inc = app.incident(id).await;
    assert_eq!(inc["firing_count"], 0);
    assert_eq!(
        app.incidents("all").await.len(),
        1,
        "one group, one incident"
    );
    assert!(
        inc["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["kind"] == "auto_resolved")
    );
}
