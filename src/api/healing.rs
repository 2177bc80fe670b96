//! Self-healing: the audit trail, the rules with their state, and the kill switch.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Caller};
use crate::auth::Role;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionsQuery {
    incident: Option<i64>,
    rule: Option<String>,
    limit: Option<usize>,
}

pub async fn actions(
    caller: Caller,
    state: web::Data<AppState>,
    q: web::Query<ActionsQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let q = q.into_inner();
    let items = state
        .healing
        .actions(q.incident, q.rule, q.limit.unwrap_or(100).clamp(1, 1000))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

pub async fn overview(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(HttpResponse::Ok().json(json!({
        "enabled": state.healing.enabled(),
        "dry_run": state.healing.dry_run(),
        "paused": state.healing.paused().await?,
        "rules": state.healing.rules().await?,
    })))
}

/// The kill switch (admin): `pause` stops every rule, `resume` lets them act again.
pub async fn switch(
    caller: Caller,
    state: web::Data<AppState>,
    what: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let paused = match what.as_str() {
        "pause" => true,
        "resume" => false,
        other => return Err(ApiError::NotFound(format!("no healing switch `{other}`"))),
    };
    state.healing.set_paused(paused).await?;
    tracing::warn!(by = %caller.principal.actor(), paused, "healing kill switch");
    Ok(HttpResponse::Ok().json(json!({ "paused": paused })))
}
