//! Background jobs. Each job is a plain `run_once(&AppState)` that tests can call; the
//! loops only add the schedule.

use actix_web::web;

use crate::app::AppState;

/// Deletes resolved incidents older than `retention.resolved_incidents`.
pub async fn run_retention_once(state: &AppState) -> anyhow::Result<usize> {
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

pub async fn retention_loop(state: web::Data<AppState>) {
    let every = state
        .settings
        .retention_interval
        .max(std::time::Duration::from_secs(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = run_retention_once(&state).await {
            tracing::error!(error = %format!("{e:#}"), "retention job failed");
        }
    }
}

/// Queues reminders for P0 incidents nobody has acknowledged within
/// `notify.reminder_interval`, to the receivers that were told about them.
pub async fn run_reminders_once(state: &AppState) -> anyhow::Result<usize> {
    let every = state.notify.reminder_interval;
    if every.is_zero() || state.notify.receivers.is_empty() {
        return Ok(0);
    }
    let cfg = state.notify.clone();
    let n = state
        .db
        .write(move |c| {
            let now = crate::time::now_ms();
            let due = crate::notify::outbox::reminders_due(c, now - every.as_millis() as i64)?;
            let mut queued = 0;
            for incident in due {
                queued +=
                    crate::notify::enqueue(c, &cfg, incident, crate::notify::Event::Reminder, now)?;
            }
            Ok::<_, crate::db::StoreError>(queued)
        })
        .await?;
    if n > 0 {
        state.notify_wake.notify_one();
    }
    Ok(n)
}

pub async fn reminders_loop(state: web::Data<AppState>) {
    let every = (state.notify.reminder_interval / 4).clamp(
        std::time::Duration::from_millis(200),
        std::time::Duration::from_secs(60),
    );
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = run_reminders_once(&state).await {
            tracing::error!(error = %format!("{e:#}"), "reminder job failed");
        }
    }
}
