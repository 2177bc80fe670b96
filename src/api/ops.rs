//! Health, readiness, metrics and the OpenAPI description.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::ApiError;
use crate::app::AppState;

static OPENAPI: &str = include_str!("openapi.json");

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Ready when the database answers a read and the writer commits.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let read = state
        .db
        .read(|c| Ok::<_, ApiError>(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
        .await;
    let write = state.db.write(|_| Ok::<_, ApiError>(())).await;
    match (read, write) {
        (Ok(_), Ok(())) => HttpResponse::Ok().json(json!({ "status": "ready" })),
        (r, w) => {
            let why = r
                .err()
                .or(w.err())
                .map(|e| e.to_string())
                .unwrap_or_default();
            HttpResponse::ServiceUnavailable().json(json!({ "status": "not ready", "reason": why }))
        }
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        crate::db::StoreError::Sqlite(e).into()
    }
}

pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let counts = state.incidents.counts().await?;
    state.metrics.set_incident_counts(&counts);
    let now = crate::time::now_ms();
    let (depth, oldest_ms) = state
        .db
        .read(move |c| Ok::<_, ApiError>(crate::notify::outbox::queue_stats(c, now)?))
        .await?;
    state.metrics.notification_queue_depth.set(depth);
    let slos = state.slo_engine.latest.read().expect("slo lock").clone();
    state.metrics.set_slos(&slos);
    state
        .metrics
        .notification_oldest_pending
        .set(oldest_ms / 1000);
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.encode()))
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI)
}
