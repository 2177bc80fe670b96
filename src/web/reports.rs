//! Monthly SLO report pages: the list (with "Generate" for admins) and one report, its
//! stored rendering inside the layout, printable on A4.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::session::{self, PageUser};
use super::{WebError, html, html_status, see_other};
use crate::auth::Role;
use crate::reports::{ReportError, ReportListing};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "reports.html")]
struct ListPage {
    user: PageUser,
    nav: &'static str,
    /// Who "Email it" reaches (empty: no recipients configured).
    recipients: String,
    items: Vec<(ReportListing, String)>,
    this_month: String,
    last_month: String,
    error: Option<String>,
}

async fn list_page(
    user: PageUser,
    state: &AppState,
    error: Option<String>,
) -> Result<HttpResponse, WebError> {
    let now = crate::time::now_ms();
    let items = with_times(state, state.reports.list().await?);
    let last_month = state.reports.last_month(now)?.key;
    let this_month = crate::reports::Month::containing(now, &state.jobs.tz())
        .map(|m| m.key)
        .unwrap_or_default();
    let status = if error.is_some() {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        actix_web::http::StatusCode::OK
    };
    html_status(
        &ListPage {
            user,
            nav: "reports",
            recipients: state.settings.raw.reports.recipients.join(", "),
            items,
            this_month,
            last_month,
            error,
        },
        status,
    )
}

/// Each revision with its generation time in the configured zone.
fn with_times(state: &AppState, items: Vec<ReportListing>) -> Vec<(ReportListing, String)> {
    items
        .into_iter()
        .map(|r| {
            let at = state.jobs.local(r.generated_at);
            (r, at)
        })
        .collect()
}

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    list_page(user, &state, None).await
}

#[derive(Deserialize)]
pub struct GenerateForm {
    csrf: String,
    month: String,
    /// "on" when "Email it" is ticked.
    email: Option<String>,
}

pub async fn generate(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<GenerateForm>,
) -> Result<HttpResponse, WebError> {
    let user = session::require_form(&req, &state, Role::Admin, &form.csrf).await?;
    match state
        .reports
        .generate(
            form.month.trim(),
            &user.principal.actor(),
            crate::time::now_ms(),
        )
        .await
    {
        Ok(r) => {
            if form.email.is_some() {
                state
                    .notifications
                    .send_report(&r.month, r.revision)
                    .await?;
            }
            Ok(see_other(&format!("/reports/{}", r.month)))
        }
        Err(e @ ReportError::Invalid(_)) => list_page(user, &state, Some(e.to_string())).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    user: PageUser,
    nav: &'static str,
    month: String,
    label: String,
    body: String,
    revision: i64,
    revisions: Vec<(ReportListing, String)>,
}

#[derive(Deserialize)]
pub struct PageQuery {
    revision: Option<i64>,
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    month: web::Path<String>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    // A month that is not one has no report either: 404, as for a month without one.
    let stored = state
        .reports
        .get(&month, q.revision)
        .await
        .map_err(|e| match e {
            ReportError::Invalid(m) => ReportError::NotFound(m),
            e => e,
        })?;
    let revisions = with_times(&state, state.reports.revisions(&month).await?);
    html(&ReportPage {
        user,
        nav: "reports",
        month: stored.report.month.clone(),
        label: stored.report.label.clone(),
        revision: stored.report.revision,
        body: stored.html,
        revisions,
    })
}

/// `/reports/{month}.pdf` and `.md` for people (same as the API's, with a session).
pub async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, WebError> {
    session::require(&req, &state, Role::Viewer).await?;
    let (month, ext) = path.into_inner();
    match ext.as_str() {
        "md" => Ok(HttpResponse::Ok()
            .content_type("text/markdown; charset=utf-8")
            .body(state.reports.get(&month, q.revision).await?.markdown)),
        "pdf" => Ok(HttpResponse::Ok()
            .content_type("application/pdf")
            .body(state.reports.pdf(&month, q.revision).await?)),
        _ => Ok(see_other(&format!("/reports/{month}"))),
    }
}
