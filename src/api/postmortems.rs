//! Post-mortems: start one for an incident, read, edit and move through the workflow,
//! export as Markdown.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Caller};
use crate::auth::Role;
use crate::postmortems::items::{ItemFields, ItemFilter, to_csv};
use crate::postmortems::service::Change;
use crate::state::AppState;

pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let p = state
        .postmortems
        .create(id.into_inner(), &caller.principal.actor())
        .await?;
    Ok(HttpResponse::Created().json(p))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    status: Option<String>,
}

pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let items = state.postmortems.list(params.status.as_deref()).await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(HttpResponse::Ok().json(state.postmortems.get(id.into_inner()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    #[serde(default)]
    sections: BTreeMap<String, String>,
    status: Option<String>,
}

pub async fn patch(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let b = body.into_inner();
    let p = state
        .postmortems
        .update(
            id.into_inner(),
            Change {
                sections: b.sections,
                status: b.status,
            },
            &caller.principal.actor(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(p))
}

pub async fn markdown(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let p = state.postmortems.get(id.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/markdown; charset=utf-8")
        .body(p.to_markdown()))
}

pub async fn add_item(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<ItemFields>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let item = state
        .postmortems
        .add_item(
            id.into_inner(),
            body.into_inner(),
            &caller.principal.actor(),
        )
        .await?;
    Ok(HttpResponse::Created().json(item))
}

pub async fn patch_item(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<ItemFields>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let item = state
        .postmortems
        .update_item(
            id.into_inner(),
            body.into_inner(),
            &caller.principal.actor(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(item))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemParams {
    status: Option<String>,
    owner: Option<String>,
    service: Option<String>,
    overdue: Option<bool>,
    format: Option<String>,
}

pub async fn items(
    caller: Caller,
    state: web::Data<AppState>,
    params: web::Query<ItemParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let p = params.into_inner();
    let filter = ItemFilter::from_params(p.status, p.owner, p.service, p.overdue.unwrap_or(false));
    let items = state.postmortems.items(filter).await?;
    match p.format.as_deref() {
        None | Some("json") => Ok(HttpResponse::Ok().json(json!({ "items": items }))),
        Some("csv") => Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                actix_web::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"action-items.csv\"",
            ))
            .body(to_csv(&items))),
        Some(other) => Err(ApiError::BadRequest(format!(
            "format: `{other}` is not json or csv"
        ))),
    }
}
