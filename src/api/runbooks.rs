//! Runbooks: the catalogue (built-in and the team's folder, with files that could not be
//! read) and one runbook's Markdown.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{ApiError, Caller};
use crate::auth::Role;
use crate::state::AppState;

pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let list = state.runbooks.list();
    let items: Vec<&crate::runbooks::Runbook> = list.iter().map(|r| &**r).collect();
    Ok(HttpResponse::Ok().json(json!({
        "items": items,
        "broken": state.runbooks.broken(),
    })))
}

pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let rb = state
        .runbooks
        .get(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no runbook named {name}")))?;
    let mut body = serde_json::to_value(&*rb).map_err(|e| ApiError::Internal(e.to_string()))?;
    body["markdown"] = json!(rb.markdown);
    Ok(HttpResponse::Ok().json(body))
}
