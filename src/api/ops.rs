//! Health, readiness, metrics and the OpenAPI description.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{ApiError, Caller};
use crate::auth::Role;
use crate::state::AppState;

static OPENAPI: &str = include_str!("openapi.json");

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// /metrics, /readyz and the OpenAPI document are open unless `server.public_ops` is off;
/// then they take a viewer token (or anonymous reading).
fn ops_allowed(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    if state.settings.raw.server.public_ops {
        Ok(())
    } else {
        caller.require(Role::Viewer)
    }
}

/// Ready when the database answers a read and the writer commits.
pub async fn readyz(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    ops_allowed(&state, &caller)?;
    Ok(match state.db.ping().await {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ready" })),
        Err(e) => HttpResponse::ServiceUnavailable()
            .json(json!({ "status": "not ready", "reason": e.to_string() })),
    })
}

pub async fn metrics(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    ops_allowed(&state, &caller)?;
    let counts = state.incidents.counts().await?;
    state.metrics.set_incident_counts(&counts);
    let (depth, oldest_ms) = state.notifications.queue_stats().await?;
    state.metrics.notification_queue_depth.set(depth);
    state.metrics.set_slos(&state.slos.statuses());
    let (items, overdue_items) = state.postmortems.item_counts().await?;
    let now = crate::time::now_ms();
    let overdue_pms = state
        .postmortems
        .due(now)
        .await?
        .iter()
        .filter(|d| d.overdue)
        .count();
    state
        .metrics
        .set_followups(&items, overdue_items, overdue_pms as i64);
    state
        .metrics
        .notification_oldest_pending
        .set(oldest_ms / 1000);
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.encode()))
}

pub async fn openapi(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    ops_allowed(&state, &caller)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI))
}
