//! The scheduled jobs page (admins): schedules, last runs, "Run now".

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::login::CsrfForm;
use super::session::{self, PageUser};
use super::{WebError, html, see_other};
use crate::auth::Role;
use crate::jobs::JobState;
use crate::state::AppState;

/// A job with its times in the schedules' zone.
pub struct JobRow {
    pub job: JobState,
    pub next: String,
    pub last: String,
    pub took: String,
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    user: PageUser,
    nav: &'static str,
    jobs: Vec<JobRow>,
    notice: Option<String>,
    zone: String,
}

#[derive(Deserialize)]
pub struct PageQuery {
    notice: Option<String>,
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Admin).await?;
    let jobs = state
        .jobs
        .list(crate::time::now_ms())
        .await?
        .into_iter()
        .map(|job| JobRow {
            next: job.next_run.map_or("—".into(), |t| state.jobs.local(t)),
            last: job.last_run.map_or("never".into(), |t| state.jobs.local(t)),
            took: job
                .last_duration_ms
                .map_or(String::new(), |d| format!("{:.1} s", d as f64 / 1000.0)),
            job,
        })
        .collect();
    html(&JobsPage {
        user,
        nav: "admin",
        jobs,
        notice: q.into_inner().notice,
        zone: state.settings.raw.evaluation.time_zone.clone(),
    })
}

pub async fn run(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, WebError> {
    session::require_form(&req, &state, Role::Admin, &form.csrf).await?;
    let job = crate::scheduler::run_now(&state, &name).await?;
    let notice = match job.last_outcome.as_deref() {
        Some("ok") => format!("{} ran: {}", job.name, job.last_detail),
        _ => format!("{} failed: {}", job.name, job.last_detail),
    };
    Ok(see_other(&format!(
        "/admin/jobs?notice={}",
        session::encode_component(&notice)
    )))
}
