//! The on-call card: a page that prints on one A4 sheet, and the same card as PDF and
//! Markdown.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::session::{self, PageUser};
use super::{WebError, html};
use crate::auth::Role;
use crate::oncall::card::Card;
use crate::state::AppState;

fn card(state: &AppState) -> Card {
    let notify = state.notifications.config();
    Card::build(
        &state.oncall,
        &state.runbooks,
        |sev| notify.reaches(sev),
        &state.settings.public_url(),
        crate::time::now_ms(),
    )
}

#[derive(Template)]
#[template(path = "oncall.html")]
struct OncallPage {
    user: PageUser,
    nav: &'static str,
    card: Card,
    contacts_html: String,
}

pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    html(&OncallPage {
        nav: "oncall",
        card: card(&state),
        contacts_html: super::views::contacts_table(state.oncall.contacts()),
        user,
    })
}

pub async fn pdf(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    session::require(&req, &state, Role::Viewer).await?;
    let card = card(&state);
    let bytes = web::block(move || crate::oncall::pdf::render(&card))
        .await
        .map_err(|e| WebError::internal(e.to_string()))?
        .map_err(WebError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "inline; filename=\"oncall-card.pdf\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(bytes))
}

pub async fn markdown(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    session::require(&req, &state, Role::Viewer).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/markdown; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "inline; filename=\"oncall-card.md\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(card(&state).to_markdown()))
}
