use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::helpers::*;

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let cfg = dir.join("fw.toml");
    std::fs::write(
        &cfg,
        format!(
            "[storage]\ndata_dir = \"{}\"\n[alertmanager]\nwebhook_token = \"{WEBHOOK_TOKEN}\"\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    cfg
}

/// Sends unique notifications from `workers` tasks until stopped; returns the group keys
/// that were answered 200.
pub(crate) async fn load(address: String, workers: usize, run_for: Duration) -> HashSet<String> {
    let accepted = Arc::new(Mutex::new(HashSet::new()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let deadline = tokio::time::Instant::now() + run_for;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (client, address, accepted) = (client.clone(), address.clone(), accepted.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while tokio::time::Instant::now() < deadline {
                let key = format!("dur-{w}-{n}");
                n += 1;
                let alerts = (0..5)
                    .map(|i| alert("Load", &format!("{key}-{i}"), "warning", "firing"))
                    .collect();
                let res = client
                    .post(format!("{address}/api/v1/alerts/alertmanager"))
                    .bearer_auth(WEBHOOK_TOKEN)
                    .json(&message(&key, alerts))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status() == 200 => {
                        accepted.lock().unwrap().insert(key);
                    }
                    Ok(_) => {}
                    Err(_) => return, // the server is gone
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    Arc::try_unwrap(accepted).unwrap().into_inner().unwrap()
}

fn stored(dir: &std::path::Path) -> (HashSet<String>, i64) {
    let conn = rusqlite::Connection::open(dir.join("data/firewatch.db")).unwrap();
    let mut stmt = conn.prepare("SELECT group_key FROM incidents").unwrap();
    let keys = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let alerts = conn
        .query_row("SELECT COUNT(*) FROM alerts", [], |r| r.get(0))
        .unwrap();
    (keys, alerts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_alert_answered_200_survives_kill_9() {
    if sqlite_only("every_alert_answered_200_survives_kill_9") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let mut server = ServerProcess::start(&cfg, &[]);
    let address = server.address.clone();
    let loader = tokio::spawn(load(address, 16, Duration::from_secs(10)));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill9();
    let accepted = loader.await.unwrap();
    assert!(
        accepted.len() > 50,
        "the load ran ({} accepted)",
        accepted.len()
    );

    // Restart on the same data: recovery happens on open.
    let restarted = ServerProcess::start(&cfg, &[]);
    let (keys, alerts) = stored(dir.path());
    let lost: Vec<_> = accepted.difference(&keys).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged notifications lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    assert!(alerts >= accepted.len() as i64 * 5);
    drop(restarted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_writes_and_exits_cleanly() {
    if sqlite_only("sigterm_finishes_in_flight_writes_and_exits_cleanly") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let mut server = ServerProcess::start(&cfg, &[]);
    let loader = tokio::spawn(load(server.address.clone(), 8, Duration::from_secs(3)));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let pid = server.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = server.child.wait().unwrap();
    assert!(status.success(), "graceful exit, got {status}");
    let accepted = loader.await.unwrap();
    let (keys, _) = stored(dir.path());
    assert!(accepted.is_subset(&keys));
    // A clean shutdown checkpoints the WAL into the main file.
    let wal = dir.path().join("data/firewatch.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0);
}
