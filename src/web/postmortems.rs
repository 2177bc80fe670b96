//! Post-mortem pages: the list, one post-mortem (read, and for responders edit and move
//! through the workflow), and starting one from an incident.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use super::login::CsrfForm;
use super::session::{self, PageUser};
use super::{WebError, html, html_status, see_other};
use crate::api::ApiError;
use crate::auth::Role;
use crate::postmortems::service::Change;
use crate::postmortems::{Postmortem, PostmortemError, SECTIONS, Status};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "postmortems.html")]
struct ListPage {
    user: PageUser,
    nav: &'static str,
    items: Vec<Postmortem>,
    status: String,
}

#[derive(Deserialize)]
pub struct ListParams {
    status: Option<String>,
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    let status = params.status.clone().unwrap_or_default();
    html(&ListPage {
        nav: "postmortems",
        items: state.postmortems.list(Some(&status)).await?,
        status,
        user,
    })
}

/// One section as the page shows it.
pub struct SectionView {
    pub key: &'static str,
    pub heading: &'static str,
    pub hint: &'static str,
    pub text: String,
    pub html: String,
}

#[derive(Template)]
#[template(path = "postmortem.html")]
pub(super) struct Page {
    user: PageUser,
    nav: &'static str,
    p: Postmortem,
    sections: Vec<SectionView>,
    /// (label, value) of the durations.
    metrics: Vec<(&'static str, String)>,
    error: Option<String>,
    items: Vec<crate::postmortems::items::ActionItem>,
}

pub(super) fn page_of(user: PageUser, p: Postmortem, error: Option<String>) -> Page {
    let d = |s: Option<i64>| {
        s.map(|s| crate::time::human_duration(s * 1000))
            .unwrap_or_else(|| "–".into())
    };
    let metrics = vec![
        ("Time to detect", d(p.metrics.time_to_detect_s)),
        ("Time to acknowledge", d(p.metrics.time_to_acknowledge_s)),
        ("Time to resolve", d(p.metrics.time_to_resolve_s)),
        ("Duration", d(p.metrics.duration_s)),
    ];
    let sections = SECTIONS
        .iter()
        .map(|(key, heading, hint)| {
            let text = p.sections.get(*key).cloned().unwrap_or_default();
            SectionView {
                key,
                heading,
                hint,
                html: crate::markdown::to_html(&text),
                text,
            }
        })
        .collect();
    Page {
        nav: "postmortems",
        items: p.action_items.clone().unwrap_or_default(),
        sections,
        metrics,
        p,
        error,
        user,
    }
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    let p = state.postmortems.get(id.into_inner()).await?;
    html(&page_of(user, p, None))
}

/// The post-mortem as Markdown (for a wiki or Google Docs).
pub async fn markdown(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    session::require(&req, &state, Role::Viewer).await?;
    let p = state.postmortems.get(id.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/markdown; charset=utf-8")
        .body(p.to_markdown()))
}

/// Starts the post-mortem of an incident (or opens the one it has).
pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, WebError> {
    let user = session::require_form(&req, &state, Role::Responder, &form.csrf).await?;
    let id = id.into_inner();
    match state.postmortems.create(id, &user.principal.actor()).await {
        Ok(p) => Ok(see_other(&format!("/postmortems/{}", p.id))),
        Err(PostmortemError::Conflict(_)) => match state.postmortems.of_incident(id).await? {
            Some(p) => Ok(see_other(&format!("/postmortems/{p}"))),
            None => Err(WebError::NotFound("There is no such incident.".into())),
        },
        Err(e) => Err(e.into()),
    }
}

/// A responder's form: its fields without the CSRF token, once the token is checked.
pub(super) async fn responder_form(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    form: web::Form<HashMap<String, String>>,
) -> Result<(PageUser, HashMap<String, String>), WebError> {
    let mut form = form.into_inner();
    let csrf = form.remove("csrf").unwrap_or_default();
    let user = session::require_form(req, state, Role::Responder, &csrf).await?;
    Ok((user, form))
}

/// The post-mortem page again with why a change was refused, answered with the status
/// the API gives for it (409, 422).
pub(super) async fn refused(
    state: &AppState,
    user: PageUser,
    id: i64,
    e: PostmortemError,
) -> Result<HttpResponse, WebError> {
    let message = e.to_string();
    let status = ResponseError::status_code(&ApiError::from(e));
    let p = state.postmortems.get(id).await?;
    html_status(&page_of(user, p, Some(message)), status)
}

/// Saves the sections of the form and, when a workflow button was pressed, the status.
pub async fn save(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, WebError> {
    let (user, mut form) = responder_form(&req, &state, form).await?;
    let id = id.into_inner();
    let status = form.remove("status").filter(|s| !s.is_empty());
    let sections = form
        .into_iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("s_")
                .map(|k| (k.to_string(), v.replace("\r\n", "\n")))
        })
        .collect();
    let change = Change { sections, status };
    match state
        .postmortems
        .update(id, change, &user.principal.actor())
        .await
    {
        Ok(p) => Ok(see_other(&format!("/postmortems/{}", p.id))),
        Err(e @ (PostmortemError::Conflict(_) | PostmortemError::Invalid { .. })) => {
            refused(&state, user, id, e).await
        }
        Err(e) => Err(e.into()),
    }
}

impl Page {
    fn published(&self) -> bool {
        self.p.status == Status::Published
    }
}
