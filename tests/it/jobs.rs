//! The scheduler: cron slots in a zone with DST, catch-up after downtime, one run per
//! slot (also for a second replica on the same database), run-now, backups.

use std::time::{Duration, Instant};

use firewatch::jobs::{CronSchedule, Due, JobSpec, Jobs};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

fn ms(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

fn daily_at_three(app: &TestApp, instance: &str) -> Jobs {
    let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
    let spec = JobSpec {
        name: "nightly",
        what: "a test job",
        setting: "jobs.nightly",
        schedule: Some(CronSchedule::new("0 0 3 * * *", tz.clone()).unwrap()),
    };
    Jobs::new(app.state.db.clone(), vec![spec], instance, tz)
}

#[tokio::test]
async fn a_missed_slot_runs_once_at_start_and_never_twice_even_with_two_replicas() {
    let app = spawn_app().await;
    let a = daily_at_three(&app, "replica-a");
    let b = daily_at_three(&app, "replica-b");
    // First sight: the job starts with its next slot, nothing is caught up.
    assert!(
        a.claim_due(ms("2026-03-27T12:00:00Z"))
            .await
            .unwrap()
            .is_empty()
    );
    // 03:00 CET on the 28th is 02:00 UTC: due on time.
    let due = a.claim_due(ms("2026-03-28T02:00:10Z")).await.unwrap();
    assert_eq!(
        due,
        [Due {
            name: "nightly",
            slot: ms("2026-03-28T02:00:00Z"),
            trigger: "schedule"
        }]
    );
    let t = ms("2026-03-28T02:00:10Z");
    a.finish("nightly", t, t + 5, "schedule", &Ok("done".into()))
        .await
        .unwrap();
    // The other replica looks at the same moment: the slot is taken.
    assert!(b.claim_due(t).await.unwrap().is_empty());
    // Down for three days across the DST change (29 March): one catch-up run, for the
    // latest slot (03:00 CEST = 01:00 UTC), not three.
    let back = ms("2026-03-31T09:00:00Z");
    let due = b.claim_due(back).await.unwrap();
    assert_eq!(
        due,
        [Due {
            name: "nightly",
            slot: ms("2026-03-31T01:00:00Z"),
            trigger: "catch-up"
        }]
    );
    assert!(a.claim_due(back).await.unwrap().is_empty());
    assert!(b.claim_due(back + 60_000).await.unwrap().is_empty());
    // While b's run holds the lease, nobody can run it by hand either.
    assert!(matches!(
        a.claim_now("nightly", back + 1).await,
        Err(firewatch::jobs::JobError::Running(_))
    ));
    b.finish("nightly", back, back + 10, "catch-up", &Err("boom".into()))
        .await
        .unwrap();
    let listed = b.list(back + 20).await.unwrap();
    assert_eq!(listed[0].last_outcome.as_deref(), Some("failed"));
    assert_eq!(listed[0].last_detail, "boom");
    assert_eq!(listed[0].last_trigger.as_deref(), Some("catch-up"));
    assert_eq!(listed[0].next_run, Some(ms("2026-04-01T01:00:00Z")));
    assert!(!listed[0].running);
    assert_eq!(a.claim_now("nightly", back + 30).await.unwrap(), "nightly");
}

async fn jobs(app: &TestApp) -> Vec<Value> {
    let (code, body) = app.get_json("/api/v1/jobs", &app.viewer_token).await;
    assert_eq!(code, StatusCode::OK);
    body["items"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_listed_run_on_their_schedule_and_run_now_for_admins() {
    let app = spawn_app_with(|s| {
        s.jobs.retention = "* * * * * *".into(); // every second
        s.evaluation.time_zone = "Europe/Berlin".into();
    })
    .await;
    let listed = jobs(&app).await;
    let names: Vec<&str> = listed.iter().map(|j| j["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "monthly_report",
            "retention",
            "postmortem_reminders",
            "oncall_handover",
            "backup"
        ]
    );
    assert_eq!(listed[0]["schedule"], "0 0 7 1 * *");
    assert_eq!(listed[2]["schedule"], "0 0 9 * * *");
    // Without an [oncall] rotation there is no handover to look for.
    assert_eq!(listed[3]["schedule"], "off");
    assert_eq!(listed[4]["schedule"], "off");
    assert!(listed[4]["next_run"].is_null());
    // The loop runs the every-second job by itself.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = &jobs(&app).await[1];
        if r["last_trigger"] == "schedule" {
            assert_eq!(r["last_outcome"], "ok");
            assert_eq!(r["last_detail"], "deleted 0 resolved incidents");
            break;
        }
        assert!(Instant::now() < deadline, "the scheduler never ran: {r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Run now: admins only; unknown jobs are a 404.
    let (code, _) = app
        .post_json(
            "/api/v1/jobs/postmortem_reminders/run",
            &app.responder_token,
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, body) = app
        .post_json(
            "/api/v1/jobs/nope/run",
            &app.admin_token,
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{body}");
    let (code, job) = app
        .post_json(
            "/api/v1/jobs/postmortem_reminders/run",
            &app.admin_token,
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{job}");
    assert_eq!(job["last_trigger"], "manual");
    assert_eq!(job["last_outcome"], "ok");
    assert_eq!(job["last_detail"], "queued 0 reminders");
    // /metrics counts runs by job and outcome.
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("firewatch_job_runs_total{job=\"postmortem_reminders\",outcome=\"ok\"} 1"),
        "{metrics}"
    );
    // The page lists them, with a Run now button for each.
    let cookie = admin_cookie(&app).await;
    let (code, html) = app.page("/admin/jobs", &cookie).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(html.matches(">Run now<").count(), 5, "{html}");
    assert!(html.contains("Europe/Berlin"));
}

async fn admin_cookie(app: &TestApp) -> String {
    app.state
        .accounts
        .add_user("ada", firewatch::auth::Role::Admin, "admin password 1")
        .await
        .unwrap();
    login(app, "ada", "admin password 1").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_are_complete_copies_and_only_the_newest_are_kept() {
    if sqlite_only("scheduled_backups_are_complete_copies_and_only_the_newest_are_kept") {
        return;
    }
    let backups = tempfile::tempdir().unwrap();
    let dir = backups.path().to_path_buf();
    let app = spawn_app_with(move |s| {
        s.backup.schedule = Some("0 0 3 * * *".into());
        s.backup.dir = Some(dir);
        s.backup.keep = Some(2);
    })
    .await;
    app.post_webhook_ok(&message("b", vec![alert("A", "i", "critical", "firing")]))
        .await;
    for _ in 0..3 {
        let (code, job) = app
            .post_json(
                "/api/v1/jobs/backup/run",
                &app.admin_token,
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(job["last_outcome"], "ok", "{job}");
        assert!(job["last_detail"].as_str().unwrap().starts_with("wrote "));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut files: Vec<_> = std::fs::read_dir(backups.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        assert!(f.starts_with("firewatch-") && f.ends_with("Z.db"), "{f}");
        let db = rusqlite::Connection::open(backups.path().join(f)).unwrap();
        let n: i64 = db
            .query_row("SELECT COUNT(*) FROM incidents", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }
}

#[test]
fn bad_schedules_are_refused_naming_the_setting() {
    let mut s = firewatch::config::Settings::default();
    s.jobs.monthly_report = "0 7 1 * *".into();
    let e = s.resolve().unwrap_err().to_string();
    assert!(
        e.contains("jobs.monthly_report") && e.contains("start with seconds"),
        "{e}"
    );
    let mut s = firewatch::config::Settings::default();
    s.backup.schedule = Some("at dawn".into());
    let e = s.resolve().unwrap_err().to_string();
    assert!(e.contains("backup.schedule"), "{e}");
    let mut s = firewatch::config::Settings::default();
    s.jobs.retention = "off".into();
    assert!(s.resolve().is_ok());
}
