//! Signing in and out.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::session::{self, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use super::{WebError, html, html_status, see_other};
use crate::auth::Role;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    next: String,
    error: Option<String>,
    no_users: bool,
}

#[derive(Deserialize)]
pub struct LoginParams {
    next: Option<String>,
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<LoginParams>,
) -> Result<HttpResponse, WebError> {
    let next = session::safe_next(params.next.as_deref());
    if session::current(&req, &state).await?.is_some() {
        return Ok(see_other(&next));
    }
    let csrf = crate::auth::new_secret();
    let no_users = state.accounts.user_count().await? == 0;
    let mut res = html(&LoginPage {
        csrf: csrf.clone(),
        next,
        error: None,
        no_users,
    })?;
    let secure = session::secure_cookies(&req, &state);
    res.add_cookie(&session::cookie(LOGIN_CSRF_COOKIE, csrf, 3600, secure))
        .map_err(|e| WebError::internal(e.to_string()))?;
    Ok(res)
}

#[derive(Deserialize)]
pub struct LoginForm {
    csrf: String,
    name: String,
    password: String,
    next: Option<String>,
}

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let cookie_csrf = req
        .cookie(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    if cookie_csrf.is_empty() || !crate::auth::secrets_equal(&cookie_csrf, &form.csrf) {
        return Err(WebError::Forbidden(
            "The login form expired. Reload the page and sign in again.".into(),
        ));
    }
    let next = session::safe_next(form.next.as_deref());
    let secure = session::secure_cookies(&req, &state);
    let client = req.peer_addr().map(|a| a.ip());
    let outcome = state
        .accounts
        .login(
            form.name.trim(),
            &form.password,
            state.settings.session_ttl,
            client,
        )
        .await;
    let outcome = match outcome {
        Err(crate::auth::AuthError::Throttled(wait)) => {
            tracing::debug!(user = ?form.name, client = ?client, "sign-in refused: locked out");
            let page = LoginPage {
                csrf: cookie_csrf,
                next,
                error: Some(format!(
                    "Too many failed sign-ins. Try again in {}.",
                    crate::time::human_duration(wait as i64 * 1000)
                )),
                no_users: false,
            };
            let mut res = html_status(&page, StatusCode::TOO_MANY_REQUESTS)?;
            res.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(wait),
            );
            return Ok(res);
        }
        other => other?,
    };
    match outcome {
        Some((user, s)) => {
            tracing::info!(user = ?user.name, "login");
            let mut res = see_other(&next);
            let ttl = state.settings.session_ttl.as_secs() as i64;
            res.add_cookie(&session::cookie(
                SESSION_COOKIE,
                s.cookie_value,
                ttl,
                secure,
            ))
            .map_err(|e| WebError::internal(e.to_string()))?;
            res.add_removal_cookie(&session::cookie(
                LOGIN_CSRF_COOKIE,
                String::new(),
                0,
                secure,
            ))
            .map_err(|e| WebError::internal(e.to_string()))?;
            Ok(res)
        }
        None => {
            tracing::warn!(user = ?form.name, client = ?client, "failed login");
            let page = LoginPage {
                csrf: cookie_csrf,
                next,
                error: Some("Wrong name or password.".into()),
                no_users: false,
            };
            html_status(&page, StatusCode::UNAUTHORIZED)
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, WebError> {
    session::require_form(&req, &state, Role::Viewer, &form.csrf).await?;
    if let Some(c) = req.cookie(SESSION_COOKIE) {
        state.accounts.logout(c.value()).await?;
    }
    let mut res = see_other("/login");
    let secure = session::secure_cookies(&req, &state);
    res.add_removal_cookie(&session::cookie(SESSION_COOKIE, String::new(), 0, secure))
        .map_err(|e| WebError::internal(e.to_string()))?;
    Ok(res)
}
