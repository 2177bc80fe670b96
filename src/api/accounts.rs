//! API tokens and who the caller is.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Caller};
use crate::auth::{Principal, Role};
use crate::state::AppState;

pub async fn list_tokens(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    Ok(HttpResponse::Ok().json(json!({ "items": state.accounts.tokens().await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    name: String,
    role: Role,
}

pub async fn create_token(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<CreateToken>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let b = body.into_inner();
    let created = state
        .accounts
        .create_token(&b.name, b.role, &caller.principal.actor())
        .await?;
    Ok(HttpResponse::Created().json(created))
}

pub async fn revoke_token(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    state.accounts.revoke_token(id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn me(caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let (kind, name) = match &caller.principal {
        Principal::User { name, .. } => ("user", name.as_str()),
        Principal::Token { name, .. } => ("token", name.as_str()),
        Principal::Anonymous => ("anonymous", ""),
    };
    Ok(HttpResponse::Ok().json(json!({
        "kind": kind,
        "name": name,
        "role": caller.principal.role(),
    })))
}
