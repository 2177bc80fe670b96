//! Notifications, receivers, test messages and silences.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Caller};
use crate::auth::Role;
use crate::notify::outbox::ListFilter;
use crate::notify::silences::NewSilence;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationParams {
    incident: Option<i64>,
    status: Option<String>,
    receiver: Option<String>,
    limit: Option<usize>,
}

pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    params: web::Query<NotificationParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let p = params.into_inner();
    if let Some(s) = &p.status
        && !["pending", "delivered", "failed"].contains(&s.as_str())
    {
        return Err(ApiError::BadRequest(
            "status must be pending, delivered or failed".into(),
        ));
    }
    let items = state
        .notifications
        .list(ListFilter {
            incident_id: p.incident,
            status: p.status,
            receiver: p.receiver,
            limit: p.limit.unwrap_or(100).min(1000),
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

pub async fn retry(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    state.notifications.retry(id.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(json!({ "status": "pending" })))
}

pub async fn receivers(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let items = state.notifications.receivers().await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

pub async fn test_receiver(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let id = state.notifications.test(&name).await?;
    Ok(HttpResponse::Accepted().json(json!({ "notification_id": id, "status": "pending" })))
}

pub async fn list_silences(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let items = state.notifications.silences().await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

pub async fn create_silence(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<NewSilence>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let silence = state
        .notifications
        .create_silence(body.into_inner(), caller.principal.actor())
        .await?;
    Ok(HttpResponse::Created().json(silence))
}

pub async fn expire_silence(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    state.notifications.expire_silence(id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
