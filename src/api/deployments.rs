//! Deployments recorded by CI/CD.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Caller};
use crate::auth::Role;
use crate::deployments::NewDeployment;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentBody {
    service: String,
    version: String,
    #[serde(default)]
    description: String,
    /// RFC 3339; now when absent.
    at: Option<String>,
}

pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<DeploymentBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let b = body.into_inner();
    let at = match b.at.as_deref() {
        None => None,
        Some(t) => Some(
            crate::time::parse_rfc3339(t)
                .map_err(|m| ApiError::Unprocessable(format!("at: {m}")))?
                .ok_or_else(|| ApiError::Unprocessable("at: not a real time".into()))?,
        ),
    };
    let d = state
        .deployments
        .record(
            NewDeployment {
                service: b.service,
                version: b.version,
                description: b.description,
                at,
            },
            caller.principal.actor(),
        )
        .await?;
    state
        .metrics
        .record_deployment(&d.service, &d.version, d.at);
    Ok(HttpResponse::Created().json(d))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentParams {
    service: Option<String>,
    limit: Option<usize>,
}

pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    params: web::Query<DeploymentParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let p = params.into_inner();
    let limit = p.limit.unwrap_or(50).clamp(1, 1000);
    let items = state.deployments.list(p.service, limit).await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}
