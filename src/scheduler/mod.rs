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
