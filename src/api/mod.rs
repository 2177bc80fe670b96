//! JSON API under /api/v1 plus the operational endpoints (/healthz, /readyz, /metrics).
//! One file per resource; handlers only translate HTTP to service calls, and every error
//! becomes a response in one place (`error.rs`).

mod accounts;
mod alerts;
mod cluster;
pub mod connection_rate;
mod deployments;
pub mod error;
pub mod generate;
mod healing;
mod incidents;
mod jobs;
pub mod json_text;
pub mod middleware;
mod notifications;
mod oncall;
mod ops;
mod postmortems;
mod reports;
mod runbooks;
mod slos;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use futures_util::future::LocalBoxFuture;

use crate::auth::{Principal, Role};
use crate::state::AppState;
pub use error::ApiError;

/// A route for GET that answers HEAD too (same headers, no body), as clients expect.
pub fn get() -> actix_web::Route {
    use actix_web::guard;
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// The route table. `webhook_limit` is the webhook's body limit
/// (`alertmanager.max_body_bytes`); the other routes take `server.max_body_bytes`.
pub fn configure(cfg: &mut web::ServiceConfig, webhook_limit: usize) {
    cfg.route("/healthz", get().to(ops::healthz))
        .route("/readyz", get().to(ops::readyz))
        .route("/metrics", get().to(ops::metrics))
        .service(
            web::scope("/api/v1")
                .wrap(actix_web::middleware::from_fn(middleware::authenticate))
                .service(
                    web::resource("/alerts/alertmanager")
                        .app_data(json_text::TextLimit {
                            limit: webhook_limit,
                            setting: "alertmanager.max_body_bytes",
                        })
                        .route(web::post().to(alerts::alertmanager_webhook)),
                )
                .route("/incidents", get().to(incidents::list))
                .route("/incidents", web::post().to(incidents::create))
                .route("/incidents/{id}", get().to(incidents::get))
                .route("/incidents/{id}", web::patch().to(incidents::edit))
                .route("/incidents/{id}/alerts", get().to(incidents::alerts))
                .route("/incidents/{id}/timeline", get().to(incidents::timeline))
                .route(
                    "/incidents/{id}/acknowledge",
                    web::post().to(incidents::acknowledge),
                )
                .route(
                    "/incidents/{id}/resolve",
                    web::post().to(incidents::resolve),
                )
                .route("/incidents/{id}/reopen", web::post().to(incidents::reopen))
                .route("/incidents/{id}/notes", web::post().to(incidents::add_note))
                .route("/incidents/{id}/assign", web::post().to(incidents::assign))
                .route("/tokens", get().to(accounts::list_tokens))
                .route("/tokens", web::post().to(accounts::create_token))
                .route("/tokens/{id}", web::delete().to(accounts::revoke_token))
                .route("/me", get().to(accounts::me))
                .route("/notifications", get().to(notifications::list))
                .route(
                    "/notifications/{id}/retry",
                    web::post().to(notifications::retry),
                )
                .route("/receivers", get().to(notifications::receivers))
                .route(
                    "/receivers/{name}/test",
                    web::post().to(notifications::test_receiver),
                )
                .route("/silences", get().to(notifications::list_silences))
                .route("/silences", web::post().to(notifications::create_silence))
                .route(
                    "/silences/{id}",
                    web::delete().to(notifications::expire_silence),
                )
                .route("/generate/{artefact}", get().to(generate::artefact))
                .route("/slos", get().to(slos::list))
                .route("/slos/{name}", get().to(slos::get))
                .route("/slos/{name}/history", get().to(slos::history))
                .route("/slos/{name}/gate", get().to(slos::gate))
                .route("/targets", get().to(slos::targets))
                .route("/deployments", get().to(deployments::list))
                .route("/deployments", web::post().to(deployments::create))
                .route(
                    "/incidents/{id}/postmortem",
                    web::post().to(postmortems::create),
                )
                .route("/postmortems", get().to(postmortems::list))
                .route("/postmortems/{id}", get().to(postmortems::get))
                .route("/postmortems/{id}", web::patch().to(postmortems::patch))
                .route(
                    "/postmortems/{id}/markdown",
                    get().to(postmortems::markdown),
                )
                .route(
                    "/postmortems/{id}/action-items",
                    web::post().to(postmortems::add_item),
                )
                .route("/action-items", get().to(postmortems::items))
                .route(
                    "/action-items/{id}",
                    web::patch().to(postmortems::patch_item),
                )
                .route("/runbooks", get().to(runbooks::list))
                .route("/cluster", get().to(cluster::status))
                .route("/jobs", get().to(jobs::list))
                .route("/healing", get().to(healing::overview))
                .route("/healing/actions", get().to(healing::actions))
                .route("/healing/{switch}", web::post().to(healing::switch))
                .route("/reports", get().to(reports::list))
                .route("/reports/{month}", get().to(reports::get))
                .route("/reports/{month}", web::post().to(reports::generate))
                .route("/jobs/{name}/run", web::post().to(jobs::run))
                .route("/oncall", get().to(oncall::get))
                .route("/contacts", get().to(oncall::contacts))
                .route("/runbooks/{name}", get().to(runbooks::get))
                .route("/openapi.json", get().to(ops::openapi))
                .default_service(web::to(|req: HttpRequest| async move {
                    Err::<HttpResponse, _>(ApiError::NotFound(format!(
                        "no API route {} {}",
                        req.method(),
                        req.path()
                    )))
                })),
        );
}

/// JSON bodies up to `limit` bytes (the setting named `setting`), errors in the API's shape.
pub fn json_config(limit: usize, setting: &'static str) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, _req| json_error(&err, setting).into())
}

/// A JSON body's failure as the API answers it; `setting` names the body limit.
fn json_error(err: &JsonPayloadError, setting: &str) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { length, limit } => ApiError::PayloadTooLarge(
            format!("body is {length} bytes; the limit is {limit} ({setting})"),
        ),
        JsonPayloadError::Overflow { limit } => {
            ApiError::PayloadTooLarge(format!("body is larger than {limit} bytes ({setting})"))
        }
        JsonPayloadError::ContentType => {
            ApiError::UnsupportedMediaType("send the body as Content-Type: application/json".into())
        }
        JsonPayloadError::Deserialize(e) => ApiError::BadRequest(format!("invalid JSON body: {e}")),
        JsonPayloadError::Payload(actix_web::error::PayloadError::Io(e))
            if e.kind() == std::io::ErrorKind::TimedOut =>
        {
            ApiError::Timeout(e.to_string())
        }
        other => ApiError::BadRequest(format!("could not read the body: {other}")),
    }
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _| {
        ApiError::BadRequest(format!("invalid query string: {err}")).into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, _| {
        ApiError::NotFound(format!("no such resource: {err}")).into()
    })
}

/// The caller of an API request, from `Authorization: Bearer TOKEN`. Anonymous callers get
/// read access only when `auth.anonymous_read` is on.
pub struct Caller {
    pub principal: Principal,
    anonymous_read: bool,
}

impl Caller {
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.principal.can(role) {
            return Ok(());
        }
        match self.principal {
            Principal::Anonymous if role == Role::Viewer && self.anonymous_read => Ok(()),
            Principal::Anonymous => Err(ApiError::Unauthorized(
                "send an API token as Authorization: Bearer TOKEN".into(),
            )),
            _ => Err(ApiError::Forbidden(format!("this needs the {role} role"))),
        }
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        // Under /api/v1 the middleware has authenticated the request already.
        if let Some(principal) = req.extensions().get::<Principal>().cloned() {
            return Box::pin(async move {
                let state = state.ok_or_else(|| ApiError::Internal("no app state".into()))?;
                Ok(Caller {
                    principal,
                    anonymous_read: state.settings.raw.auth.anonymous_read,
                })
            });
        }
        let token = bearer(req);
        let has_auth_header = req.headers().contains_key(header::AUTHORIZATION);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("no app state".into()))?;
            let anonymous_read = state.settings.raw.auth.anonymous_read;
            let principal = match token {
                Some(t) => state
                    .token_principal(&t)
                    .await?
                    .ok_or_else(|| ApiError::Unauthorized("unknown or revoked API token".into()))?,
                None if has_auth_header => {
                    return Err(ApiError::Unauthorized(
                        "the Authorization header must be `Bearer TOKEN`".into(),
                    ));
                }
                None => Principal::Anonymous,
            };
            Ok(Caller {
                principal,
                anonymous_read,
            })
        })
    }
}
