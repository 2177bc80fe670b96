//! Prometheus rules, Alertmanager config and the Grafana dashboard as files.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{ApiError, Caller};
use crate::auth::Role;
use crate::generate::Artefact;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateParams {
    format: Option<String>,
}

/// Prometheus rules, Alertmanager config or the Grafana dashboard, as files.
pub async fn artefact(
    caller: Caller,
    state: web::Data<AppState>,
    artefact: web::Path<String>,
    params: web::Query<GenerateParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    file(&state, &artefact, params.format.as_deref())
}

/// The file response, shared with the Integrations page's download links.
pub fn file(
    state: &AppState,
    artefact: &str,
    format: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let (artefact, body): (Artefact, String) = crate::generate::download(
        artefact,
        format,
        state.slos.configured(),
        &state.settings.public_url(),
        &state.settings.raw.alertmanager,
    )?;
    Ok(HttpResponse::Ok()
        .content_type(artefact.content_type())
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", artefact.file_name()),
        ))
        .body(body))
}
