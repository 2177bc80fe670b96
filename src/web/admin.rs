//! The admin page: users, API tokens and the Alertmanager webhook.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use super::login::CsrfForm;
use super::session::{self, PageUser};
use super::{WebError, html, see_other};
use crate::api::ApiError;
use crate::auth::repo::{ApiToken, User};
use crate::auth::{AuthError, Role};
use crate::state::AppState;
use crate::time::short;

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    user: PageUser,
    nav: &'static str,
    tokens: Vec<(ApiToken, String, Option<String>)>,
    users: Vec<(User, String)>,
    webhook_url: String,
    webhook_token: String,
    new_token: Option<String>,
    error: Option<String>,
    /// Sign-in lockouts in force: (who, failures, until).
    lockouts: Vec<(String, u32, String)>,
}

async fn admin_page(
    user: PageUser,
    state: &AppState,
    new_token: Option<String>,
    error: Option<String>,
) -> Result<HttpResponse, WebError> {
    let tokens = state
        .accounts
        .tokens()
        .await?
        .into_iter()
        .map(|t| {
            let created = short(t.created_at);
            let revoked = t.revoked_at.map(short);
            (t, created, revoked)
        })
        .collect();
    let users = state
        .accounts
        .users()
        .await?
        .into_iter()
        .map(|u| {
            let created = short(u.created_at);
            (u, created)
        })
        .collect();
    html(&AdminPage {
        nav: "admin",
        tokens,
        users,
        webhook_url: format!("{}/api/v1/alerts/alertmanager", state.settings.public_url()),
        webhook_token: state.webhook_token.clone(),
        new_token,
        error,
        lockouts: state
            .accounts
            .lockouts()
            .into_iter()
            .map(|l| (l.who, l.failures, short(l.until)))
            .collect(),
        user,
    })
}

pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Admin).await?;
    admin_page(user, &state, None, None).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    csrf: String,
    name: String,
    role: String,
}

pub async fn create_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let user = session::require_form(&req, &state, Role::Admin, &form.csrf).await?;
    let role = match role_of(&form.role) {
        Ok(r) => r,
        Err(e) => return refused(user, &state, e).await,
    };
    match state
        .accounts
        .create_token(form.name.trim(), role, &user.principal.actor())
        .await
    {
        Ok(created) => admin_page(user, &state, Some(created.token), None).await,
        Err(e @ AuthError::Invalid { .. }) => refused(user, &state, e).await,
        Err(e) => Err(e.into()),
    }
}

pub async fn revoke_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, WebError> {
    session::require_form(&req, &state, Role::Admin, &form.csrf).await?;
    state.accounts.revoke_token(id.into_inner()).await?;
    Ok(see_other("/admin"))
}

#[derive(Deserialize)]
pub struct UserForm {
    csrf: String,
    name: String,
    role: String,
    password: String,
}

pub async fn add_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<UserForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let user = session::require_form(&req, &state, Role::Admin, &form.csrf).await?;
    let role = match role_of(&form.role) {
        Ok(r) => r,
        Err(e) => return refused(user, &state, e).await,
    };
    match state
        .accounts
        .add_user(form.name.trim(), role, &form.password)
        .await
    {
        Ok(_) => Ok(see_other("/admin")),
        Err(e @ (AuthError::Invalid { .. } | AuthError::Exists(_))) => {
            refused(user, &state, e).await
        }
        Err(e) => Err(e.into()),
    }
}

fn role_of(text: &str) -> Result<Role, AuthError> {
    text.parse().map_err(|m| crate::auth::invalid("role", m))
}

/// The admin page with the reason a form was refused, at the API's status for it.
async fn refused(user: PageUser, state: &AppState, e: AuthError) -> Result<HttpResponse, WebError> {
    let message = e.to_string();
    let status = ResponseError::status_code(&ApiError::from(e));
    let mut res = admin_page(user, state, None, Some(message)).await?;
    *res.status_mut() = status;
    Ok(res)
}
