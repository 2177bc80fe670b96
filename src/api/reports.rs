//! Monthly SLO reports: list, generate (admin), read as JSON, Markdown or PDF.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Caller};
use crate::auth::Role;
use crate::state::AppState;

pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let items = state.reports.list().await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevisionQuery {
    revision: Option<i64>,
}

/// `{YYYY-MM}` as JSON, `{YYYY-MM}.md` as Markdown, `{YYYY-MM}.pdf` as PDF.
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    month: web::Path<String>,
    q: web::Query<RevisionQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let month = month.into_inner();
    let revision = q.revision;
    if let Some(key) = month.strip_suffix(".md") {
        let stored = state.reports.get(key, revision).await?;
        return Ok(HttpResponse::Ok()
            .content_type("text/markdown; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                format!("inline; filename=\"firewatch-slo-report-{key}.md\""),
            ))
            .body(stored.markdown));
    }
    if let Some(key) = month.strip_suffix(".pdf") {
        let pdf = state.reports.pdf(key, revision).await?;
        return Ok(HttpResponse::Ok()
            .content_type("application/pdf")
            .insert_header((
                "Content-Disposition",
                format!("inline; filename=\"firewatch-slo-report-{key}.pdf\""),
            ))
            .body(pdf));
    }
    let stored = state.reports.get(&month, revision).await?;
    let revisions = state.reports.revisions(&month).await?;
    let mut body =
        serde_json::to_value(&stored.report).map_err(|e| ApiError::Internal(e.to_string()))?;
    body["revisions"] = json!(revisions);
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateQuery {
    /// Also email it to `[reports] recipients`.
    #[serde(default)]
    email: bool,
}

/// Generates a new revision of the month's report (month to date for the current month);
/// `?email=true` also emails it to `[reports] recipients`.
pub async fn generate(
    caller: Caller,
    state: web::Data<AppState>,
    month: web::Path<String>,
    q: web::Query<GenerateQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let report = state
        .reports
        .generate(&month, &caller.principal.actor(), crate::time::now_ms())
        .await?;
    let emailed = if q.email {
        state
            .notifications
            .send_report(&report.month, report.revision)
            .await?
    } else {
        0
    };
    let mut body = serde_json::to_value(&report).map_err(|e| ApiError::Internal(e.to_string()))?;
    body["emailed_to"] = json!(emailed);
    Ok(HttpResponse::Created().json(body))
}
