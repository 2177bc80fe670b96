//! SLO statuses, history, the deployment gate and scrape targets.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Caller};
use crate::auth::Role;
use crate::state::AppState;

pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(HttpResponse::Ok().json(json!({ "items": state.slos.statuses() })))
}

/// One SLO by name (or `service-name` when two services share a name).
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(HttpResponse::Ok().json(state.slos.find(&name)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    from: Option<String>,
    to: Option<String>,
    step: Option<String>,
}

pub async fn history(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
    params: web::Query<HistoryParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let p = params.into_inner();
    let h = state
        .slos
        .history(&name, p.from.as_deref(), p.to.as_deref(), p.step.as_deref())
        .await?;
    Ok(HttpResponse::Ok().json(h))
}

/// Error-budget gate for CI/CD: 200 when deploying is allowed, 409 with the reason when
/// the budget policy says stop.
pub async fn gate(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let g = state.slos.gate(&name)?;
    Ok(if g.allowed {
        HttpResponse::Ok().json(g)
    } else {
        HttpResponse::Conflict().json(g)
    })
}

pub async fn targets(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(HttpResponse::Ok().json(json!({ "items": state.slos.targets() })))
}
