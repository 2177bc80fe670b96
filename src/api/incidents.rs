//! Incidents: list, detail, manual creation and the lifecycle.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Caller};
use crate::auth::Role;
use crate::incidents::service::ManualIncident;
use crate::incidents::{ListQuery, Severity};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    status: Option<String>,
    severity: Option<String>,
    service: Option<String>,
    q: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let p = params.into_inner();
    let q = ListQuery::from_params(
        p.status.as_deref(),
        p.severity.as_deref(),
        p.service.as_deref(),
        p.q.as_deref(),
        p.limit,
        p.cursor.as_deref(),
    )
    .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let (items, next) = state.incidents.list(q).await?;
    Ok(HttpResponse::Ok().json(json!({
        "items": items,
        "next_cursor": next.map(|n| n.to_string()),
    })))
}

pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let d = state.incidents.detail(id.into_inner()).await?;
    let mut body =
        serde_json::to_value(&d.incident).map_err(|e| ApiError::Internal(e.to_string()))?;
    body["alerts"] =
        serde_json::to_value(&d.alerts).map_err(|e| ApiError::Internal(e.to_string()))?;
    body["timeline"] =
        serde_json::to_value(&d.timeline).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateIncident {
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    service: String,
    #[serde(default)]
    runbook_url: Option<String>,
}

pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<CreateIncident>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let b = body.into_inner();
    let severity = match b.severity.as_deref() {
        None => Severity::P3,
        Some(s) => s
            .parse()
            .map_err(|m: String| ApiError::Unprocessable(format!("severity: {m}")))?,
    };
    let inc = state
        .incidents
        .create(
            ManualIncident {
                title: b.title,
                description: b.description,
                severity,
                service: b.service,
                runbook_url: b.runbook_url,
            },
            caller.principal.actor(),
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/incidents/{}", inc.id)))
        .json(inc))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// Lifecycle actions take an optional JSON body; an empty body is fine.
fn optional_body(body: &web::Bytes) -> Result<ActionBody, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ActionBody::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

pub async fn acknowledge(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let inc = state
        .incidents
        .acknowledge(id.into_inner(), caller.principal.actor())
        .await?;
    Ok(HttpResponse::Ok().json(inc))
}

pub async fn resolve(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let b = optional_body(&body)?;
    let inc = state
        .incidents
        .resolve(id.into_inner(), caller.principal.actor(), b.note)
        .await?;
    Ok(HttpResponse::Ok().json(inc))
}

pub async fn reopen(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let b = optional_body(&body)?;
    let inc = state
        .incidents
        .reopen(id.into_inner(), caller.principal.actor(), b.reason)
        .await?;
    Ok(HttpResponse::Ok().json(inc))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    text: String,
}

pub async fn add_note(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<NoteBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let entry = state
        .incidents
        .add_note(
            id.into_inner(),
            caller.principal.actor(),
            body.into_inner().text,
        )
        .await?;
    Ok(HttpResponse::Created().json(entry))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    assignee: Option<String>,
    commander: Option<String>,
}

pub async fn assign(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<AssignBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let b = body.into_inner();
    let inc = state
        .incidents
        .assign(
            id.into_inner(),
            caller.principal.actor(),
            b.assignee,
            b.commander,
        )
        .await?;
    Ok(HttpResponse::Ok().json(inc))
}
