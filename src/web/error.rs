//! Page errors render as HTML. Domain errors take the status the API answers for them
//! (they go through [`ApiError`]), so the UI and the API cannot disagree.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::api::ApiError;

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
    /// A domain or storage error, with the API's status for it.
    #[error("{0}")]
    Api(#[from] ApiError),
}

impl WebError {
    pub fn internal(cause: impl Into<String>) -> Self {
        WebError::Api(ApiError::Internal(cause.into()))
    }
}

macro_rules! through_api {
    ($($t:ty),*) => {
        $(impl From<$t> for WebError {
            fn from(e: $t) -> Self {
                WebError::Api(ApiError::from(e))
            }
        })*
    };
}

through_api!(
    crate::db::StoreError,
    crate::incidents::IncidentError,
    crate::auth::AuthError,
    crate::notify::NotifyError,
    crate::slo::SloError,
    crate::deployments::DeploymentError,
    crate::postmortems::PostmortemError,
    crate::generate::DownloadError,
    crate::jobs::JobError,
    crate::reports::ReportError
);

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
            WebError::Api(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let WebError::Redirect(to) = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, to.as_str()))
                .finish();
        }
        let message = match self {
            WebError::Api(ApiError::Internal(cause)) => {
                tracing::error!(cause = %cause, "page failed");
                "Firewatch hit an internal error. It has been logged.".to_string()
            }
            WebError::Api(ApiError::Unavailable(cause)) => {
                tracing::warn!(cause = %cause, "page failed on storage");
                "The database is busy. Try again in a moment.".to_string()
            }
            other => other.to_string(),
        };
        let status = self.status_code();
        let body = ErrorPage {
            title: title_of(status),
            message: &message,
        }
        .render()
        .unwrap_or_else(|_| message.clone());
        let mut res = HttpResponse::build(status);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.insert_header((header::RETRY_AFTER, "1"));
        }
        res.content_type("text/html; charset=utf-8").body(body)
    }
}

/// The heading of an error page.
pub fn title_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        403 => "Not allowed",
        404 => "Not found",
        408 => "Too slow",
        409 => "Conflict",
        413 => "Too large",
        429 => "Too many attempts",
        400 | 422 => "Bad request",
        503 => "Temporarily unavailable",
        _ => "Something went wrong",
    }
}
