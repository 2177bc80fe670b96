//! Background jobs. The scheduler only schedules: each job is a plain `run_*_once(&AppState)`
//! that calls a service (tests call them directly). Jobs with a calendar (retention,
//! reminders of post-mortems, backups, the monthly report) run from cron schedules
//! (jobs.rs, bookkeeping in `crate::jobs`), on-call handovers too (checked every minute);
//! work that follows its own clock (scrapes and SLO evaluation, P0 reminders, runbook
//! reloads) runs in loops here.

mod jobs;

use std::time::Duration;

use actix_web::web;

pub use jobs::{jobs_loop, run_backup_once, run_now, specs};

use crate::cluster::Cluster;
use crate::state::AppState;

/// Deletes resolved incidents older than `retention.resolved_incidents`, and applies the
/// SLO history retention to SLOs no longer configured (configured ones are pruned at each
/// evaluation). Returns how many incidents were deleted.
pub async fn run_retention_once(state: &AppState) -> anyhow::Result<usize> {
    state.slos.prune_unconfigured().await?;
    let keep = state.settings.retention_resolved;
    if keep.is_zero() {
        return Ok(0);
    }
    let n = state
        .incidents
        .apply_retention(keep.as_millis() as i64)
        .await?;
    if n > 0 {
        tracing::info!(deleted = n, "retention removed old resolved incidents");
    }
    Ok(n)
}

/// Queues reminders for unacknowledged P0 incidents (`notify.reminder_interval`).
pub async fn run_reminders_once(state: &AppState) -> anyhow::Result<usize> {
    Ok(state.notifications.remind_once().await?)
}

/// One SLO evaluation with fresh scrapes of every target.
pub async fn run_slo_evaluation_once(state: &AppState) -> anyhow::Result<()> {
    state.slos.evaluate_once().await
}

/// Back-fills Prometheus-measured SLO history (`raw_step` rows for the per-interval part).
pub async fn run_prometheus_backfill_once(
    state: &AppState,
    raw_step: Duration,
) -> anyhow::Result<usize> {
    state.slos.backfill_once(raw_step).await
}

/// Runs `job` every `every` until the task is aborted; failures are logged. With
/// `leader`, only while this replica is the leader (work that must run once).
async fn every<F, Fut, T>(every: Duration, name: &str, leader: Option<&Cluster>, job: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if leader.is_some_and(|c| !c.is_leader()) {
            continue;
        }
        if let Err(e) = job().await {
            tracing::error!(error = %format!("{e:#}"), "{name} failed");
        }
    }
}

pub async fn reminders_loop(state: web::Data<AppState>) {
    let period = state.notifications.reminder_tick();
    every(period, "reminder job", Some(&state.cluster), || {
        run_reminders_once(&state)
    })
    .await;
}

/// Re-reads the runbooks folder when its files change (a no-op without a folder).
pub async fn runbooks_loop(state: web::Data<AppState>) {
    if state.settings.raw.runbooks.dir.is_none() {
        return;
    }
    let period = state.settings.runbooks_reload;
    every(period, "runbooks reload", None, || {
        run_runbooks_reload_once(&state)
    })
    .await;
}

/// Re-reads the runbooks folder if it changed; returns whether it did.
pub async fn run_runbooks_reload_once(state: &AppState) -> anyhow::Result<bool> {
    let runbooks = state.runbooks.clone();
    Ok(tokio::task::spawn_blocking(move || runbooks.reload_if_changed()).await?)
}

/// Posts "<primary> is now on call until …, secondary <secondary>" with a link to the
/// on-call card when a handover happened since the last check — once, even when
/// Firewatch was down across several. The first check only sets the mark. Returns how
/// many messages were queued.
pub async fn run_handover_once(state: &AppState, now: i64) -> anyhow::Result<usize> {
    let Some(rotation) = state.oncall.rotation() else {
        return Ok(0);
    };
    let Some(last) = state
        .accounts
        .advance_mark("oncall.handover_checked_at", now)
        .await?
    else {
        return Ok(0);
    };
    let Some(at) = rotation.handovers_between(last, now).pop() else {
        return Ok(0);
    };
    let Some(w) = state.oncall.at(at) else {
        return Ok(0);
    };
    let mut text = format!(
        "{} is now on call until {}",
        w.primary.name,
        rotation.local(w.until)
    );
    if let Some(s) = &w.secondary {
        text.push_str(&format!(", secondary {}", s.name));
    }
    text.push('.');
    let n = state.notifications.announce_handover(text).await?;
    tracing::info!(primary = %w.primary.name, messages = n, "on-call handover announced");
    Ok(n)
}

/// Queues reminders to the incident's receivers (not PagerDuty): a required post-mortem
/// past its due time, an action item past its due date. Returns how many were queued.
pub async fn run_postmortem_reminders_once(state: &AppState, now: i64) -> anyhow::Result<usize> {
    use crate::notify::Event;
    let mut n = 0;
    for d in state
        .postmortems
        .due(now)
        .await?
        .into_iter()
        .filter(|d| d.overdue)
    {
        let stage = d.postmortem_status.map_or("not started", |s| s.words());
        let text = format!(
            "the post-mortem was due {} and is {stage}",
            state.postmortems.local(d.deadline)
        );
        n += state
            .notifications
            .follow_up(d.incident_id, Event::PostmortemDue, text)
            .await?;
    }
    let overdue = crate::postmortems::items::ItemFilter {
        overdue: true,
        ..Default::default()
    };
    for item in state.postmortems.items(overdue).await? {
        let text = format!(
            "action item \"{}\" ({}) was due {}",
            item.title, item.owner, item.due
        );
        n += state
            .notifications
            .follow_up(item.incident_id, Event::ActionItemOverdue, text)
            .await?;
    }
    Ok(n)
}

/// Once a second: the healing checks (`every`) that are due, and the verification of
/// actions whose window ended; escalations go to the incident's receivers.
pub async fn healing_checks_loop(state: web::Data<AppState>) {
    if !state.healing.enabled() {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        if !state.cluster.is_leader() {
            continue;
        }
        if let Err(e) = run_healing_once(&state, crate::time::now_ms()).await {
            tracing::error!(error = %format!("{e:#}"), "healing checks failed");
        }
    }
}

/// One pass of the healing loop; returns how many escalations were queued.
pub async fn run_healing_once(state: &AppState, now: i64) -> anyhow::Result<usize> {
    state.healing.run_due_checks(now).await;
    let mut n = 0;
    for (incident, text) in state.healing.verify_due(now).await? {
        n += state
            .notifications
            .follow_up(incident, crate::notify::Event::HealingFailed, text)
            .await?;
    }
    Ok(n)
}

/// Scrapes run on their own intervals; evaluation reads what they have, one interval
/// after the first scrapes. Prometheus-measured history is back-filled once at start.
pub async fn slo_loop(state: web::Data<AppState>) {
    let (targets, wanted, scraped) = state.slos.scrape_jobs();
    for t in targets {
        tokio::spawn(crate::metrics::scrape::run(
            state.http.clone(),
            t,
            wanted.clone(),
            scraped.clone(),
        ));
    }
    if state.slos.options().backfill {
        let slos = state.slos.clone();
        tokio::spawn(async move {
            if let Err(e) = slos.backfill_once(Duration::from_secs(300)).await {
                tracing::warn!(error = %format!("{e:#}"), "SLO history back-fill failed");
            }
        });
    }
    let period = state
        .slos
        .options()
        .interval
        .max(Duration::from_millis(100));
    // The first scrapes run now; evaluate one interval later.
    tokio::time::sleep(period).await;
    every(period, "SLO evaluation", Some(&state.cluster), || {
        state.slos.evaluate()
    })
    .await;
}
