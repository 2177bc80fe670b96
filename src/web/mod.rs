//! Server-rendered HTML pages (askama) and embedded static assets.

mod charts;
mod pages;
pub mod session;
mod slo_charts;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(pages::home))
        .route("/incidents", web::get().to(pages::incident_list))
        .route("/incidents", web::post().to(pages::create_incident))
        .route("/incidents/new", web::get().to(pages::new_incident))
        .route("/incidents/{id}", web::get().to(pages::incident_detail))
        .route(
            "/incidents/{id}/{action}",
            web::post().to(pages::incident_action),
        )
        .route("/login", web::get().to(pages::login_page))
        .route("/login", web::post().to(pages::login))
        .route("/logout", web::post().to(pages::logout))
        .route("/integrations", web::get().to(pages::integrations))
        .route(
            "/integrations/{name}/test",
            web::post().to(pages::integrations_test),
        )
        .route(
            "/integrations/notifications/{id}/retry",
            web::post().to(pages::integrations_retry),
        )
        .route(
            "/integrations/silences",
            web::post().to(pages::create_silence),
        )
        .route(
            "/integrations/silences/{id}/expire",
            web::post().to(pages::expire_silence),
        )
        .route("/integrations/prometheus", web::get().to(pages::prometheus))
        .route(
            "/integrations/prometheus/{artefact}",
            web::get().to(pages::prometheus_download),
        )
        .route("/slos/{name}", web::get().to(pages::slo_page))
        .route("/runbooks", web::get().to(pages::runbooks))
        .route("/runbooks/{name}", web::get().to(pages::runbook))
        .route("/admin", web::get().to(pages::admin))
        .route("/admin/tokens", web::post().to(pages::admin_create_token))
        .route(
            "/admin/tokens/{id}/revoke",
            web::post().to(pages::admin_revoke_token),
        )
        .route("/admin/users", web::post().to(pages::admin_add_user))
        .route("/static/{path:.*}", web::get().to(asset))
        .route("/favicon.ico", web::get().to(favicon))
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(WebError::NotFound(
                "There is no page at this address.".into(),
            ))
        }));
}

async fn asset(path: web::Path<String>) -> HttpResponse {
    serve_asset(&path)
}

async fn favicon() -> HttpResponse {
    serve_asset("favicon.svg")
}

fn serve_asset(path: &str) -> HttpResponse {
    match Assets::get(path) {
        Some(file) => HttpResponse::Ok()
            .content_type(file.metadata.mimetype())
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .insert_header((
                header::ETAG,
                format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..8])),
            ))
            .body(file.data.into_owned()),
        None => HttpResponse::NotFound().finish(),
    }
}

/// Page errors render as HTML (the API has its own JSON errors).
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("redirect to {0}")]
    Redirect(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::Redirect(_) => StatusCode::SEE_OTHER,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let WebError::Redirect(to) = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, to.as_str()))
                .finish();
        }
        if let WebError::Internal(cause) | WebError::Unavailable(cause) = self {
            tracing::error!(cause = %cause, "page failed");
        }
        let title = match self {
            WebError::Forbidden(_) => "Not allowed",
            WebError::NotFound(_) => "Not found",
            WebError::BadRequest(_) => "Bad request",
            WebError::Unavailable(_) => "Temporarily unavailable",
            _ => "Something went wrong",
        };
        let message = match self {
            WebError::Internal(_) => {
                "Firewatch hit an internal error. It has been logged.".to_string()
            }
            WebError::Unavailable(_) => "The database is busy. Try again in a moment.".to_string(),
            other => other.to_string(),
        };
        let body = ErrorPage {
            title,
            message: &message,
        }
        .render()
        .unwrap_or_else(|_| message.clone());
        HttpResponse::build(self.status_code())
            .content_type("text/html; charset=utf-8")
            .body(body)
    }
}

impl From<crate::incidents::IncidentError> for WebError {
    fn from(e: crate::incidents::IncidentError) -> Self {
        use crate::incidents::IncidentError as E;
        match e {
            E::NotFound(_) => WebError::NotFound(e.to_string()),
            E::Conflict(m) => WebError::BadRequest(m),
            E::Invalid { .. } => WebError::BadRequest(e.to_string()),
            E::Store(s) => WebError::Unavailable(s.to_string()),
        }
    }
}

impl From<crate::auth::AuthError> for WebError {
    fn from(e: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError as E;
        match e {
            E::Invalid { .. } | E::Exists(_) => WebError::BadRequest(e.to_string()),
            E::NotFound(_) => WebError::NotFound(e.to_string()),
            E::Hash(m) => WebError::Internal(m),
            E::Store(s) => WebError::Unavailable(s.to_string()),
        }
    }
}

pub(crate) fn html<T: Template>(t: &T) -> Result<HttpResponse, WebError> {
    let body = t.render().map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

pub(crate) fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}
