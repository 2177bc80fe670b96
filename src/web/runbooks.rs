//! Runbooks: the list and one runbook.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::session::{self, PageUser};
use super::{WebError, html};
use crate::auth::Role;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "runbooks.html")]
struct RunbooksPage {
    user: PageUser,
    nav: &'static str,
    runbooks: Vec<(String, String)>,
}

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    html(&RunbooksPage {
        nav: "runbooks",
        runbooks: crate::runbooks::list(),
        user,
    })
}

#[derive(Template)]
#[template(path = "runbook.html")]
struct RunbookPage {
    user: PageUser,
    nav: &'static str,
    runbook: crate::runbooks::Runbook,
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    let runbook = crate::runbooks::get(&name)
        .ok_or_else(|| WebError::NotFound("There is no runbook with this name.".into()))?;
    html(&RunbookPage {
        nav: "runbooks",
        runbook,
        user,
    })
}
