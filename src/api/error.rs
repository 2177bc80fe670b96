//! The one place where errors become HTTP statuses: every domain error maps to an
//! [`ApiError`] here, which the API answers as `{"error": {"code", "message"}}` and the
//! pages render as HTML (`web::error`) with the same status. 5xx bodies never carry
//! internal details; the cause chain goes to the log.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::alerts::PayloadError;
use crate::auth::AuthError;
use crate::db::StoreError;
use crate::deployments::DeploymentError;
use crate::generate::DownloadError;
use crate::incidents::IncidentError;
use crate::notify::NotifyError;
use crate::slo::SloError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    LengthRequired(String),
    #[error("{0}")]
    Unprocessable(String),
    /// Locked out for this many seconds (Retry-After).
    #[error("too many failed sign-ins: try again in {0} s")]
    TooManyRequests(u64),
    /// The body did not arrive in time (`server.body_timeout`).
    #[error("{0}")]
    Timeout(String),
    /// Transient storage trouble: clients (Alertmanager) should retry.
    #[error("storage is temporarily unavailable, retry later")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::LengthRequired(_) => "length_required",
            ApiError::Unprocessable(_) => "invalid",
            ApiError::Timeout(_) => "timeout",
            ApiError::TooManyRequests(_) => "too_many_requests",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::LengthRequired(_) => StatusCode::LENGTH_REQUIRED,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Unavailable(cause) => {
                tracing::warn!(cause = %cause, "request failed on storage; client may retry");
            }
            ApiError::Internal(cause) => tracing::error!(cause = %cause, "internal error"),
            _ => {}
        }
        let mut res = HttpResponse::build(self.status_code());
        if matches!(self, ApiError::Unauthorized(_)) {
            res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if matches!(self, ApiError::Unavailable(_)) {
            res.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
        }
        if let ApiError::TooManyRequests(secs) = self {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        res.json(json!({ "error": { "code": self.code(), "message": self.to_string() } }))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            ApiError::Unavailable(e.to_string())
        } else {
            ApiError::Internal(e.to_string())
        }
    }
}

impl From<IncidentError> for ApiError {
    fn from(e: IncidentError) -> Self {
        match e {
            IncidentError::NotFound(_) => ApiError::NotFound(e.to_string()),
            IncidentError::Conflict(m) => ApiError::Conflict(m),
            IncidentError::Invalid { .. } => ApiError::Unprocessable(e.to_string()),
            IncidentError::Store(s) => s.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Invalid { .. } => ApiError::Unprocessable(e.to_string()),
            AuthError::Exists(_) => ApiError::Conflict(e.to_string()),
            AuthError::NotFound(_) => ApiError::NotFound(e.to_string()),
            AuthError::Refused(_) => ApiError::Conflict(e.to_string()),
            AuthError::Hash(m) => ApiError::Internal(m),
            AuthError::Throttled(s) => ApiError::TooManyRequests(s),
            AuthError::Store(s) => s.into(),
        }
    }
}

impl From<crate::reports::ReportError> for ApiError {
    fn from(e: crate::reports::ReportError) -> Self {
        use crate::reports::ReportError;
        match e {
            ReportError::NotFound(m) => ApiError::NotFound(m),
            ReportError::Invalid(m) => ApiError::Unprocessable(m),
            ReportError::Render(m) => ApiError::Internal(m),
            ReportError::Store(s) => s.into(),
        }
    }
}

impl From<crate::jobs::JobError> for ApiError {
    fn from(e: crate::jobs::JobError) -> Self {
        use crate::jobs::JobError;
        match e {
            JobError::NotFound(_) => ApiError::NotFound(e.to_string()),
            JobError::Running(_) => ApiError::Conflict(e.to_string()),
            JobError::Store(s) => s.into(),
        }
    }
}

impl From<PayloadError> for ApiError {
    fn from(e: PayloadError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

impl From<NotifyError> for ApiError {
    fn from(e: NotifyError) -> Self {
        match e {
            NotifyError::NotFound(m) => ApiError::NotFound(m),
            NotifyError::Conflict(m) => ApiError::Conflict(m),
            NotifyError::Invalid(m) => ApiError::Unprocessable(m),
            NotifyError::Store(s) => s.into(),
        }
    }
}

impl From<SloError> for ApiError {
    fn from(e: SloError) -> Self {
        match e {
            SloError::NotFound(m) => ApiError::NotFound(m),
            // Only query parameters (range, step) are invalid here.
            SloError::Invalid(m) => ApiError::BadRequest(m),
            // Not 409: the gate answers 409 for "do not deploy".
            SloError::Ambiguous(m) => ApiError::BadRequest(m),
            SloError::Store(s) => s.into(),
        }
    }
}

impl From<crate::postmortems::PostmortemError> for ApiError {
    fn from(e: crate::postmortems::PostmortemError) -> Self {
        use crate::postmortems::PostmortemError as E;
        match e {
            E::NotFound(m) => ApiError::NotFound(m),
            E::Conflict(m) => ApiError::Conflict(m),
            E::Invalid { .. } => ApiError::Unprocessable(e.to_string()),
            E::Store(s) => s.into(),
        }
    }
}

impl From<DeploymentError> for ApiError {
    fn from(e: DeploymentError) -> Self {
        match e {
            DeploymentError::Invalid { .. } => ApiError::Unprocessable(e.to_string()),
            DeploymentError::Store(s) => s.into(),
        }
    }
}

impl From<DownloadError> for ApiError {
    fn from(e: DownloadError) -> Self {
        match e {
            DownloadError::UnknownArtefact => ApiError::NotFound(e.to_string()),
            DownloadError::UnknownFormat(_) => ApiError::BadRequest(e.to_string()),
            DownloadError::Generate(g) => ApiError::Internal(g.to_string()),
        }
    }
}
