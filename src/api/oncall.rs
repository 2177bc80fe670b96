//! Who is on call: now, until when, and who is next.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{ApiError, Caller};
use crate::auth::Role;
use crate::state::AppState;

pub async fn get(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let now = crate::time::now_ms();
    let (Some(w), Some(r)) = (state.oncall.at(now), state.oncall.rotation()) else {
        return Err(ApiError::NotFound(
            "no on-call rotation is configured ([oncall] members)".into(),
        ));
    };
    let next = state.oncall.at(w.until);
    let mut body = serde_json::to_value(&w).map_err(|e| ApiError::Internal(e.to_string()))?;
    body["next"] = json!(next.map(|n| json!({"primary": n.primary, "secondary": n.secondary})));
    body["handover"] = json!(r.handover());
    body["time_zone"] = json!(r.time_zone());
    Ok(HttpResponse::Ok().json(body))
}

/// Every `[[contact]]`.
pub async fn contacts(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(HttpResponse::Ok().json(json!({ "items": state.oncall.contacts() })))
}
