//! Scheduled jobs: their schedules and last runs, and "run now" for admins.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{ApiError, Caller};
use crate::auth::Role;
use crate::state::AppState;

pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let items = state.jobs.list(crate::time::now_ms()).await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

/// Runs the job now and answers with its state after the run (`last_outcome` says how
/// it went); 409 while it is running.
pub async fn run(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let job = crate::scheduler::run_now(&state, &name).await?;
    Ok(HttpResponse::Ok().json(job))
}
