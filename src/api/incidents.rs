//! Incidents: list, detail, manual creation and the lifecycle.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Caller};
use crate::auth::Role;
use crate::incidents::alert_rows::AlertCursor;
use crate::incidents::service::{ALERTS_PAGE, ManualIncident, TIMELINE_PAGE};
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
    sort: Option<String>,
    cursor: Option<String>,
}

pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let p = params.into_inner();
    let q = ListQuery::from_params(crate::incidents::ListParams {
        status: p.status.as_deref(),
        severity: p.severity.as_deref(),
        service: p.service.as_deref(),
        q: p.q.as_deref(),
        limit: p.limit,
        sort: p.sort.as_deref(),
        cursor: p.cursor.as_deref(),
    })
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
    body["alerts_next_cursor"] = json!(d.alerts_next.map(|c| c.to_string()));
    body["timeline"] =
        serde_json::to_value(&d.timeline).map_err(|e| ApiError::Internal(e.to_string()))?;
    body["timeline_older_cursor"] = json!(d.timeline_older.map(|c| c.to_string()));
    body["postmortem_id"] = json!(state.postmortems.of_incident(d.incident.id).await?);
    Ok(HttpResponse::Ok().json(body))
}

fn page_limit(limit: Option<usize>, default: usize) -> Result<usize, ApiError> {
    match limit {
        None => Ok(default),
        Some(n @ 1..=1000) => Ok(n),
        Some(_) => Err(ApiError::BadRequest("limit: between 1 and 1000".into())),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertParams {
    status: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// An incident's alerts, firing first, a page at a time.
pub async fn alerts(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    params: web::Query<AlertParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let p = params.into_inner();
    let only = match p.status.as_deref() {
        None | Some("" | "all") => None,
        Some("firing") => Some(true),
        Some("resolved") => Some(false),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "status `{other}`: use firing, resolved or all"
            )));
        }
    };
    let after =
        match p.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(AlertCursor::parse(c).ok_or_else(|| {
                ApiError::BadRequest("cursor: not a cursor from next_cursor".into())
            })?),
        };
    let limit = page_limit(p.limit, ALERTS_PAGE)?;
    let id = id.into_inner();
    let (items, next) = state.incidents.alerts(id, only, after, limit).await?;
    Ok(HttpResponse::Ok().json(json!({
        "items": items,
        "next_cursor": next.map(|c| c.to_string()),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineParams {
    limit: Option<usize>,
    before: Option<i64>,
}

/// An incident's timeline, oldest first, a page at a time going back from the latest.
pub async fn timeline(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    params: web::Query<TimelineParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let p = params.into_inner();
    let limit = page_limit(p.limit, TIMELINE_PAGE)?;
    let (items, older) = state
        .incidents
        .timeline(id.into_inner(), p.before, limit)
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "items": items,
        "older_cursor": older.map(|c| c.to_string()),
    })))
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditBody {
    title: Option<String>,
    severity: Option<String>,
}

/// `PATCH /api/v1/incidents/{id}`: a new title and/or severity.
pub async fn edit(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<EditBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let b = body.into_inner();
    let severity = b
        .severity
        .map(|s| {
            s.parse::<Severity>()
                .map_err(|_| ApiError::Unprocessable(format!("severity: `{s}` is not P0..P4")))
        })
        .transpose()?;
    let inc = state
        .incidents
        .edit(id.into_inner(), caller.principal.actor(), b.title, severity)
        .await?;
    Ok(HttpResponse::Ok().json(inc))
}
