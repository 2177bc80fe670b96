//! The incident list page: status tabs with counts, severity and text filters, sorting
//! and keyset pages.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::session::{self, PageUser};
use super::views::IncidentView;
use super::{WebError, html};
use crate::auth::Role;
use crate::incidents::{ListQuery, Sort, Status};
use crate::state::AppState;
use crate::time::now_ms;

#[derive(Deserialize)]
pub struct ListParams {
    status: Option<String>,
    severity: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "incidents/list.html")]
struct ListPage {
    user: PageUser,
    nav: &'static str,
    items: Vec<IncidentView>,
    status: String,
    severity: String,
    q: String,
    sort: &'static str,
    /// The filters as query parameters (`&severity=…&q=…&sort=…`), for tabs and pages.
    keep: String,
    tabs: Vec<(&'static str, &'static str, i64)>,
    next_url: Option<String>,
    first_page: bool,
    error: Option<String>,
}

/// The filters other than the status tab as query parameters: `&severity=…&q=…&sort=…`
/// (empty values and the default order left out).
fn filter_params(severity: &str, q: &str, sort: Sort) -> String {
    let mut out = String::new();
    if !severity.is_empty() {
        out.push_str(&format!(
            "&severity={}",
            session::encode_component(severity)
        ));
    }
    if !q.is_empty() {
        out.push_str(&format!("&q={}", session::encode_component(q)));
    }
    if sort != Sort::Newest {
        out.push_str(&format!("&sort={}", sort.as_str()));
    }
    out
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    let p = params.into_inner();
    let query = ListQuery::from_params(crate::incidents::ListParams {
        status: p.status.as_deref(),
        severity: p.severity.as_deref(),
        q: p.q.as_deref(),
        limit: Some(50),
        sort: p.sort.as_deref(),
        cursor: p.cursor.as_deref(),
        ..crate::incidents::ListParams::default()
    })
    .map_err(|e| WebError::BadRequest(e.to_string()))?;
    let status = query.status.as_str().to_string();
    let severity = query.severity.map(|s| s.to_string()).unwrap_or_default();
    let q = query.text.clone().unwrap_or_default();
    let sort = query.sort;
    let first_page = query.cursor.is_none();
    let keep = filter_params(&severity, &q, sort);
    let (items, next) = state.incidents.list(query).await?;
    let counts = state.incidents.counts().await?;
    let n =
        |f: &dyn Fn(Status) -> bool| -> i64 { counts.iter().filter(|c| f(c.0)).map(|c| c.2).sum() };
    let tabs = vec![
        ("open", "Open", n(&|s| s != Status::Resolved)),
        ("triggered", "Triggered", n(&|s| s == Status::Triggered)),
        (
            "acknowledged",
            "Acknowledged",
            n(&|s| s == Status::Acknowledged),
        ),
        ("resolved", "Resolved", n(&|s| s == Status::Resolved)),
        ("all", "All", n(&|_| true)),
    ];
    let now = now_ms();
    let mut items: Vec<IncidentView> = items
        .into_iter()
        .map(|i| IncidentView::new(i, now))
        .collect();
    super::views::mark_silenced(&state, &mut items).await?;
    html(&ListPage {
        nav: "incidents",
        items,
        next_url: next.map(|c| {
            format!(
                "/incidents?status={}{keep}&cursor={}",
                session::encode_component(&status),
                session::encode_component(&c.to_string())
            )
        }),
        sort: sort.as_str(),
        keep,
        tabs,
        status,
        severity,
        q,
        first_page,
        error: p.error,
        user,
    })
}
