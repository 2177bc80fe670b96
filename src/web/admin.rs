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
    /// A password just set by "Reset password": (user, password), shown once.
    new_password: Option<(String, String)>,
    /// What the last user action did.
    notice: Option<String>,
    error: Option<String>,
    /// Sign-in lockouts in force: (who, failures, until).
    lockouts: Vec<(String, u32, String)>,
    /// sqlite or postgres, and where (no password).
    backend: &'static str,
    location: String,
    instance: String,
    leader: bool,
    /// Replicas: (instance, started, last seen, leads).
    members: Vec<(String, String, String, bool)>,
}

/// What the admin page shows besides its tables.
#[derive(Default)]
struct Outcome {
    new_token: Option<String>,
    new_password: Option<(String, String)>,
    notice: Option<String>,
    error: Option<String>,
}

async fn admin_page(
    user: PageUser,
    state: &AppState,
    outcome: Outcome,
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
    let cluster = state.cluster.status().await?;
    html(&AdminPage {
        nav: "admin",
        backend: cluster.backend,
        location: state.db.location().to_string(),
        instance: cluster.instance,
        leader: cluster.leader,
        members: cluster
            .members
            .into_iter()
            .map(|m| {
                (
                    m.instance,
                    short(m.started_at),
                    short(m.last_seen),
                    m.leader,
                )
            })
            .collect(),
        tokens,
        users,
        webhook_url: format!("{}/api/v1/alerts/alertmanager", state.settings.public_url()),
        webhook_token: state.webhook_token.clone(),
        new_token: outcome.new_token,
        new_password: outcome.new_password,
        notice: outcome.notice,
        error: outcome.error,
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
    admin_page(user, &state, Outcome::default()).await
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
        Ok(created) => {
            let outcome = Outcome {
                new_token: Some(created.token),
                ..Outcome::default()
            };
            admin_page(user, &state, outcome).await
        }
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
        Ok(_) => {
            let outcome = Outcome {
                notice: Some(format!("Added user {} with role {role}.", form.name.trim())),
                ..Outcome::default()
            };
            admin_page(user, &state, outcome).await
        }
        Err(e @ (AuthError::Invalid { .. } | AuthError::Exists(_))) => {
            refused(user, &state, e).await
        }
        Err(e) => Err(e.into()),
    }
}

/// disable, enable, remove and reset-password of a user. A reset shows the generated
/// password once; the user's sessions end.
pub async fn user_action(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, WebError> {
    let user = session::require_form(&req, &state, Role::Admin, &form.csrf).await?;
    let (name, action) = path.into_inner();
    let accounts = &state.accounts;
    let mut outcome = Outcome::default();
    let result = match action.as_str() {
        "disable" => accounts
            .set_disabled(&name, true)
            .await
            .map(|()| format!("Disabled {name}: its sessions ended and it cannot sign in.")),
        "enable" => accounts
            .set_disabled(&name, false)
            .await
            .map(|()| format!("Enabled {name}.")),
        "remove" => accounts
            .remove_user(&name)
            .await
            .map(|()| format!("Removed {name}.")),
        "reset-password" => {
            let password = crate::auth::new_password();
            let done = accounts.reset_password(&name, &password).await;
            if done.is_ok() {
                outcome.new_password = Some((name.clone(), password));
            }
            done.map(|()| format!("New password for {name}; its sessions ended."))
        }
        _ => return Err(WebError::NotFound("Unknown action.".into())),
    };
    match result {
        Ok(notice) => {
            outcome.notice = Some(notice);
            admin_page(user, &state, outcome).await
        }
        Err(e @ (AuthError::NotFound(_) | AuthError::Refused(_))) => refused(user, &state, e).await,
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
    let outcome = Outcome {
        error: Some(message),
        ..Outcome::default()
    };
    let mut res = admin_page(user, state, outcome).await?;
    *res.status_mut() = status;
    Ok(res)
}
