//! The action-item tracker page, and adding or changing items from the pages.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::session::{self, PageUser};
use super::{WebError, html, see_other};
use crate::auth::Role;
use crate::postmortems::PostmortemError;
use crate::postmortems::items::{ActionItem, ItemFields, ItemFilter};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "action_items.html")]
struct TrackerPage {
    user: PageUser,
    nav: &'static str,
    items: Vec<ActionItem>,
    status: String,
    owner: String,
    service: String,
    overdue: bool,
    /// The same filters for the CSV link.
    query: String,
    today: String,
}

#[derive(Deserialize)]
pub struct TrackerParams {
    status: Option<String>,
    owner: Option<String>,
    service: Option<String>,
    overdue: Option<String>,
}

impl TrackerParams {
    /// The tracker's filter from the page's query (`overdue` is a checkbox: "on" or "true").
    fn filter(self) -> ItemFilter {
        let overdue = self
            .overdue
            .as_deref()
            .is_some_and(|v| v == "true" || v == "on");
        ItemFilter::from_params(self.status, self.owner, self.service, overdue)
    }
}

/// The items matching `filter`; a bad filter value is a 400 page.
async fn items_of(state: &AppState, filter: ItemFilter) -> Result<Vec<ActionItem>, WebError> {
    match state.postmortems.items(filter).await {
        Ok(items) => Ok(items),
        Err(e @ PostmortemError::Invalid { .. }) => Err(WebError::BadRequest(e.to_string())),
        Err(e) => Err(e.into()),
    }
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<TrackerParams>,
) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    let filter = params.into_inner().filter();
    let overdue = filter.overdue;
    let mut query = String::new();
    for (k, v) in [
        ("status", &filter.status),
        ("owner", &filter.owner),
        ("service", &filter.service),
    ] {
        if let Some(v) = v {
            query.push_str(&format!("&{k}={}", session::encode_component(v)));
        }
    }
    if overdue {
        query.push_str("&overdue=true");
    }
    let (status, owner, service) = (
        filter.status.clone().unwrap_or_default(),
        filter.owner.clone().unwrap_or_default(),
        filter.service.clone().unwrap_or_default(),
    );
    let items = items_of(&state, filter).await?;
    html(&TrackerPage {
        nav: "postmortems",
        today: state.postmortems.today(),
        items,
        status,
        owner,
        service,
        overdue,
        query,
        user,
    })
}

/// The tracker's items as CSV, with the page's filters (for a spreadsheet).
pub async fn csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<TrackerParams>,
) -> Result<HttpResponse, WebError> {
    session::require(&req, &state, Role::Viewer).await?;
    let items = items_of(&state, params.into_inner().filter()).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"action-items.csv\"",
        ))
        .body(crate::postmortems::items::to_csv(&items)))
}

/// Where to go back to after a form: a post-mortem or the tracker, nothing else.
fn back_to(back: Option<&str>, fallback: &str) -> String {
    match back {
        Some(b) if b.starts_with("/action-items") || b.starts_with("/postmortems/") => {
            if b.contains("//") || b.contains('\\') {
                fallback.to_string()
            } else {
                b.to_string()
            }
        }
        _ => fallback.to_string(),
    }
}

fn fields_of(form: &mut HashMap<String, String>) -> ItemFields {
    let mut take = |k: &str| form.remove(k).filter(|v| !v.is_empty());
    ItemFields {
        title: take("title"),
        owner: take("owner"),
        kind: take("kind"),
        priority: take("priority"),
        due: take("due"),
        status: take("status"),
        url: take("url"),
    }
}

/// Adds an item from the post-mortem page.
pub async fn add(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, WebError> {
    let (user, mut form) = super::postmortems::responder_form(&req, &state, form).await?;
    let id = id.into_inner();
    let mut fields = fields_of(&mut form);
    // The form always sends these; an empty one is "required", not "keep".
    for f in [&mut fields.title, &mut fields.owner, &mut fields.due] {
        if f.is_none() {
            *f = Some(String::new());
        }
    }
    match state
        .postmortems
        .add_item(id, fields, &user.principal.actor())
        .await
    {
        Ok(_) => Ok(see_other(&format!("/postmortems/{id}#action-items"))),
        Err(e @ PostmortemError::Invalid { .. }) => {
            super::postmortems::refused(&state, user, id, e).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Changes an item's status from a page.
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, WebError> {
    let (user, mut form) = super::postmortems::responder_form(&req, &state, form).await?;
    let back = form.remove("back");
    let fields = fields_of(&mut form);
    match state
        .postmortems
        .update_item(id.into_inner(), fields, &user.principal.actor())
        .await
    {
        Ok(item) => Ok(see_other(&back_to(
            back.as_deref(),
            &format!("/postmortems/{}#action-items", item.postmortem_id),
        ))),
        Err(e @ PostmortemError::Invalid { .. }) => Err(WebError::BadRequest(e.to_string())),
        Err(e) => Err(e.into()),
    }
}
