//! Post-mortems: start one for an incident, read, edit and move through the workflow,
//! export as Markdown.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Caller};
use crate::auth::Role;
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
