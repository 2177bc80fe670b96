//! The scheduled jobs: what each does, the loop that runs due slots, and "run now".
//! `crate::jobs` decides what is due and records runs; this file calls the services.

use std::time::Duration;

use actix_web::web;

use crate::config::{Resolved, schedule_is_off};
use crate::jobs::{CronSchedule, JobError, JobSpec, JobState};
use crate::state::AppState;
use crate::time::now_ms;

/// The jobs and their schedules from the settings.
pub fn specs(settings: &Resolved) -> Result<Vec<JobSpec>, String> {
    let tz = crate::config::time_zone(&settings.raw.evaluation.time_zone)
        .map_err(|e| format!("evaluation.time_zone: {e}"))?;
    let j = &settings.raw.jobs;
    let schedule = |field: &str, expr: &str| -> Result<Option<CronSchedule>, String> {
        if schedule_is_off(expr) {
            return Ok(None);
        }
        CronSchedule::new(expr, tz.clone())
            .map(Some)
            .map_err(|e| format!("{field}: {e}"))
    };
    let reminders = if settings.raw.postmortems.reminders {
        j.postmortem_reminders.as_str()
    } else {
        "off"
    };
    Ok(vec![
        JobSpec {
            name: "monthly_report",
            what: "Generates the SLO report of the month that ended and emails it to \
                   reports.recipients",
            setting: "jobs.monthly_report",
            schedule: schedule("jobs.monthly_report", &j.monthly_report)?,
        },
        JobSpec {
            name: "retention",
            what: "Deletes resolved incidents past retention.resolved_incidents and the \
                   history of SLOs no longer configured",
            setting: "jobs.retention",
            schedule: schedule("jobs.retention", &j.retention)?,
        },
        JobSpec {
            name: "postmortem_reminders",
            what: "Reminds the incident's receivers of overdue post-mortems and action items",
            setting: "jobs.postmortem_reminders",
            schedule: schedule("jobs.postmortem_reminders", reminders)?,
        },
        JobSpec {
            name: "oncall_handover",
            what: "Posts the on-call handover to Slack when the rotation changes hands \
                   (once per handover, also after downtime)",
            setting: "jobs.oncall_handover",
            schedule: schedule(
                "jobs.oncall_handover",
                if settings.raw.oncall.is_some() {
                    &j.oncall_handover
                } else {
                    "off"
                },
            )?,
        },
        JobSpec {
            name: "backup",
            what: "Writes a consistent copy of the database to backup.dir and keeps the \
                   newest backup.keep",
            setting: "backup.schedule",
            schedule: schedule(
                "backup.schedule",
                settings.raw.backup.schedule.as_deref().unwrap_or("off"),
            )?,
        },
    ])
}

/// Runs one job; Ok(what it did) or Err(why it failed).
async fn execute(state: &AppState, name: &str, now: i64) -> Result<String, String> {
    let fail = |e: anyhow::Error| format!("{e:#}");
    match name {
        "retention" => super::run_retention_once(state)
            .await
            .map(|n| format!("deleted {n} resolved incidents"))
            .map_err(fail),
        "postmortem_reminders" => super::run_postmortem_reminders_once(state, now)
            .await
            .map(|n| format!("queued {n} reminders"))
            .map_err(fail),
        "backup" => run_backup_once(state, now).await.map_err(fail),
        "oncall_handover" => super::run_handover_once(state, now)
            .await
            .map(|n| match n {
                0 => "no handover since the last check".to_string(),
                n => format!("announced a handover ({n} messages)"),
            })
            .map_err(fail),
        "monthly_report" => run_monthly_report_once(state, now).await.map_err(fail),
        other => Err(format!("no job named {other}")),
    }
}

/// Generates the report of the month that ended before `now` (a new revision if one
/// exists) and queues it for `[reports] recipients`.
pub async fn run_monthly_report_once(state: &AppState, now: i64) -> anyhow::Result<String> {
    let month = state.reports.last_month(now)?;
    let r = state
        .reports
        .generate(&month.key, "firewatch-scheduler", now)
        .await?;
    let sent = state
        .notifications
        .send_report(&r.month, r.revision)
        .await?;
    Ok(format!(
        "generated the {} report (revision {}); queued for {sent} recipients",
        r.month, r.revision
    ))
}

/// One scheduled backup: the copy, its size, and how many old copies were deleted.
pub async fn run_backup_once(state: &AppState, now: i64) -> anyhow::Result<String> {
    let db_path = state.settings.db_path();
    let b = &state.settings.raw.backup;
    let dir = b
        .dir
        .clone()
        .unwrap_or_else(|| state.settings.raw.storage.data_dir.join("backups"));
    let keep = b.keep.unwrap_or(7);
    let w = tokio::task::spawn_blocking(move || {
        crate::db::backups::scheduled(&db_path, &dir, keep, now)
    })
    .await??;
    Ok(format!(
        "wrote {} ({} bytes); deleted {} old copies",
        w.path.display(),
        w.bytes,
        w.deleted.len()
    ))
}

/// Runs a claimed job and records the outcome.
async fn run_claimed(state: &AppState, name: &'static str, trigger: &'static str) {
    let started = now_ms();
    let outcome = execute(state, name, started).await;
    match &outcome {
        Ok(d) => tracing::info!(job = name, trigger, "{d}"),
        Err(e) => tracing::error!(job = name, trigger, error = %e, "job failed"),
    }
    state
        .metrics
        .job_runs
        .get_or_create(&crate::telemetry::JobLabels {
            job: name.to_string(),
            outcome: if outcome.is_ok() { "ok" } else { "failed" }.to_string(),
        })
        .inc();
    if let Err(e) = state
        .jobs
        .finish(name, started, now_ms(), trigger, &outcome)
        .await
    {
        tracing::error!(job = name, error = %e, "cannot record the job's run");
    }
}

/// Runs a job now (admin's "Run now"), whatever its schedule, unless it is running.
pub async fn run_now(state: &AppState, name: &str) -> Result<JobState, JobError> {
    let name = state.jobs.claim_now(name, now_ms()).await?;
    run_claimed(state, name, "manual").await;
    let now = now_ms();
    Ok(state
        .jobs
        .list(now)
        .await?
        .into_iter()
        .find(|j| j.name == name)
        .expect("a known job is listed"))
}

/// Claims and runs the due slots (each job on its own task), then sleeps until the next
/// slot — at most a minute, so a clock change is noticed.
pub async fn jobs_loop(state: web::Data<AppState>) {
    loop {
        if !state.cluster.is_leader() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        let now = now_ms();
        match state.jobs.claim_due(now).await {
            Ok(due) => {
                for d in due {
                    let state = state.clone();
                    tokio::spawn(async move { run_claimed(&state, d.name, d.trigger).await });
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read the job schedule"),
        }
        let now = now_ms();
        let next = state.jobs.next_slot(now).unwrap_or(now + 60_000);
        let wait = (next - now).clamp(50, 60_000);
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
}
