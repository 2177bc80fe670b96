//! The healing page: the rules with their state, the kill switch (admins), and the
//! recent decisions.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::login::CsrfForm;
use super::session::{self, PageUser};
use super::{WebError, html, see_other};
use crate::auth::Role;
use crate::healing::{HealingAction, RuleState};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "healing.html")]
struct Page {
    user: PageUser,
    nav: &'static str,
    enabled: bool,
    dry_run: bool,
    paused: bool,
    rules: Vec<(RuleState, String)>,
    actions: Vec<(HealingAction, String)>,
}

pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    let h = &state.healing;
    let rules = h
        .rules()
        .await?
        .into_iter()
        .map(|r| {
            let when = r
                .when
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ");
            (r, when)
        })
        .collect();
    let actions = h
        .actions(None, None, 100)
        .await?
        .into_iter()
        .map(|a| {
            let at = state.jobs.local(a.at);
            (a, at)
        })
        .collect();
    html(&Page {
        user,
        nav: "healing",
        enabled: h.enabled(),
        dry_run: h.dry_run(),
        paused: h.paused().await?,
        rules,
        actions,
    })
}

/// The kill switch from the page (admins).
pub async fn switch(
    req: HttpRequest,
    state: web::Data<AppState>,
    what: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, WebError> {
    let user = session::require_form(&req, &state, Role::Admin, &form.csrf).await?;
    let paused = what.as_str() == "pause";
    state.healing.set_paused(paused).await?;
    tracing::warn!(by = %user.principal.actor(), paused, "healing kill switch");
    Ok(see_other("/healing"))
}
