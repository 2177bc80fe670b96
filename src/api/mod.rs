//! JSON API under /api/v1 plus the operational endpoints (/healthz, /readyz, /metrics).
//! Handlers only translate HTTP to service calls; rules live in the domain modules.

pub mod error;
mod ops;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;
use serde_json::json;

use crate::alerts::WebhookMessage;
use crate::alerts::ingest;
use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::incidents::repo::ListQuery;
use crate::incidents::service::ManualIncident;
use crate::incidents::{IncidentError, Severity, StatusFilter};
use crate::time::now_ms;
pub use error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(ops::healthz))
        .route("/readyz", web::get().to(ops::readyz))
        .route("/metrics", web::get().to(ops::metrics))
        .service(
            web::scope("/api/v1")
                .route("/alerts/alertmanager", web::post().to(alertmanager_webhook))
                .route("/incidents", web::get().to(list_incidents))
                .route("/incidents", web::post().to(create_incident))
                .route("/incidents/{id}", web::get().to(get_incident))
                .route("/incidents/{id}/acknowledge", web::post().to(acknowledge))
                .route("/incidents/{id}/resolve", web::post().to(resolve))
                .route("/incidents/{id}/reopen", web::post().to(reopen))
                .route("/incidents/{id}/notes", web::post().to(add_note))
                .route("/incidents/{id}/assign", web::post().to(assign))
                .route("/tokens", web::get().to(list_tokens))
                .route("/tokens", web::post().to(create_token))
                .route("/tokens/{id}", web::delete().to(revoke_token))
                .route("/me", web::get().to(me))
                .route("/notifications", web::get().to(list_notifications))
                .route(
                    "/notifications/{id}/retry",
                    web::post().to(retry_notification),
                )
                .route("/receivers", web::get().to(list_receivers))
                .route("/generate/{artefact}", web::get().to(generate_artefact))
                .route("/slos", web::get().to(list_slos))
                .route("/slos/{name}", web::get().to(get_slo))
                .route("/slos/{name}/history", web::get().to(slo_history))
                .route("/slos/{name}/gate", web::get().to(slo_gate))
                .route("/targets", web::get().to(list_targets))
                .route("/deployments", web::get().to(list_deployments))
                .route("/deployments", web::post().to(create_deployment))
                .route("/silences", web::get().to(list_silences))
                .route("/silences", web::post().to(create_silence))
                .route("/silences/{id}", web::delete().to(expire_silence))
                .route("/receivers/{name}/test", web::post().to(test_receiver))
                .route("/openapi.json", web::get().to(ops::openapi))
                .default_service(web::to(|req: HttpRequest| async move {
                    Err::<HttpResponse, _>(ApiError::NotFound(format!(
                        "no API route {} {}",
                        req.method(),
                        req.path()
                    )))
                })),
        );
}

/// JSON bodies: size limit and errors in the API's error format.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _req| {
            let api = match &err {
                JsonPayloadError::OverflowKnownLength { length, limit } => {
                    ApiError::PayloadTooLarge(format!(
                        "body is {length} bytes; the limit is {limit} (server.max_body_bytes)"
                    ))
                }
                JsonPayloadError::Overflow { limit } => ApiError::PayloadTooLarge(format!(
                    "body is larger than {limit} bytes (server.max_body_bytes)"
                )),
                JsonPayloadError::ContentType => ApiError::UnsupportedMediaType(
                    "send the body as Content-Type: application/json".into(),
                ),
                JsonPayloadError::Deserialize(e) => {
                    ApiError::BadRequest(format!("invalid JSON body: {e}"))
                }
                other => ApiError::BadRequest(format!("could not read the body: {other}")),
            };
            api.into()
        })
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
        let token = bearer(req);
        let has_auth_header = req.headers().contains_key(header::AUTHORIZATION);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("no app state".into()))?;
            let anonymous_read = state.settings.raw.auth.anonymous_read;
            let principal =
                match token {
                    Some(t) => state.accounts.token_principal(&t).await?.ok_or_else(|| {
                        ApiError::Unauthorized("unknown or revoked API token".into())
                    })?,
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

async fn alertmanager_webhook(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<WebhookMessage>,
) -> Result<HttpResponse, ApiError> {
    let outcome = |o: &str| {
        state
            .metrics
            .webhook_requests
            .get_or_create(&crate::telemetry::OutcomeLabel { outcome: o.into() })
            .inc();
    };
    let authorized =
        bearer(&req).is_some_and(|t| crate::auth::secrets_equal(&t, &state.webhook_token));
    if !authorized {
        outcome("rejected");
        return Err(ApiError::Unauthorized(
            "missing or wrong webhook token (alertmanager.webhook_token)".into(),
        ));
    }
    let mut msg = body.into_inner();
    let alerts = match msg.validate() {
        Ok(a) => a,
        Err(e) => {
            outcome("rejected");
            return Err(e.into());
        }
    };
    let firing = alerts.iter().filter(|a| a.firing).count() as u64;
    let resolved = alerts.len() as u64 - firing;
    let rules = state.severity_rules.clone();
    let notify_cfg = state.notify.clone();
    let result = state
        .db
        .write(move |c| ingest::apply(c, &msg, &alerts, &rules, &notify_cfg, now_ms()))
        .await;
    state.notify_wake.notify_one();
    match result {
        Ok(o) => {
            outcome("accepted");
            let m = &state.metrics.alerts_received;
            m.get_or_create(&crate::telemetry::StatusLabel {
                status: "firing".into(),
            })
            .inc_by(firing);
            m.get_or_create(&crate::telemetry::StatusLabel {
                status: "resolved".into(),
            })
            .inc_by(resolved);
            Ok(HttpResponse::Ok().json(json!({
                "status": "accepted",
                "incident_id": o.incident_id,
                "created": o.created,
                "reopened": o.reopened,
                "resolved": o.auto_resolved,
                "alerts_fired": o.alerts_fired,
                "alerts_resolved": o.alerts_resolved,
            })))
        }
        Err(e) => {
            outcome("error");
            Err(e.into())
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    status: Option<String>,
    severity: Option<String>,
    service: Option<String>,
    q: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

pub fn list_query(
    status: Option<&str>,
    severity: Option<&str>,
    service: Option<&str>,
    q: Option<&str>,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<ListQuery, IncidentError> {
    let nonempty = |v: Option<&str>| v.map(str::trim).filter(|s| !s.is_empty()).map(String::from);
    Ok(ListQuery {
        status: status
            .unwrap_or("open")
            .parse::<StatusFilter>()
            .map_err(|m| IncidentError::invalid("status", m))?,
        severity: nonempty(severity)
            .map(|s| s.parse::<Severity>())
            .transpose()
            .map_err(|m| IncidentError::invalid("severity", m))?,
        service: nonempty(service),
        text: nonempty(q),
        limit: match limit {
            None => 50,
            Some(n @ 1..=500) => n,
            Some(_) => return Err(IncidentError::invalid("limit", "must be between 1 and 500")),
        },
        before_id: nonempty(cursor)
            .map(|c| c.parse::<i64>())
            .transpose()
            .map_err(|_| IncidentError::invalid("cursor", "is not a cursor from next_cursor"))?,
    })
}

async fn list_incidents(
    caller: Caller,
    state: web::Data<AppState>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let p = params.into_inner();
    let q = list_query(
        p.status.as_deref(),
        p.severity.as_deref(),
        p.service.as_deref(),
        p.q.as_deref(),
        p.limit,
        p.cursor.as_deref(),
    )
    .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let (items, next) = state.incidents.list(q).await?;
    Ok(HttpResponse::Ok().json(json!({
        "items": items,
        "next_cursor": next.map(|n| n.to_string()),
    })))
}

async fn get_incident(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let d = state.incidents.detail(id.into_inner()).await?;
    let mut body =
        serde_json::to_value(&d.incident).map_err(|e| ApiError::Internal(e.to_string()))?;
    body["alerts"] =
        serde_json::to_value(&d.alerts).map_err(|e| ApiError::Internal(e.to_string()))?;
    body["timeline"] =
        serde_json::to_value(&d.timeline).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateIncident {
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    service: String,
    #[serde(default)]
    runbook_url: Option<String>,
}

async fn create_incident(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<CreateIncident>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let b = body.into_inner();
    let severity = match b.severity.as_deref() {
        None => Severity::P3,
        Some(s) => s
            .parse()
            .map_err(|m: String| ApiError::Unprocessable(format!("severity: {m}")))?,
    };
    let inc = state
        .incidents
        .create(
            ManualIncident {
                title: b.title,
                description: b.description,
                severity,
                service: b.service,
                runbook_url: b.runbook_url,
            },
            caller.principal.actor(),
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/incidents/{}", inc.id)))
        .json(inc))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// Lifecycle actions take an optional JSON body; an empty body is fine.
fn optional_body(body: &web::Bytes) -> Result<ActionBody, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ActionBody::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

async fn acknowledge(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let inc = state
        .incidents
        .acknowledge(id.into_inner(), caller.principal.actor())
        .await?;
    Ok(HttpResponse::Ok().json(inc))
}

async fn resolve(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let b = optional_body(&body)?;
    let inc = state
        .incidents
        .resolve(id.into_inner(), caller.principal.actor(), b.note)
        .await?;
    Ok(HttpResponse::Ok().json(inc))
}

async fn reopen(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let b = optional_body(&body)?;
    let inc = state
        .incidents
        .reopen(id.into_inner(), caller.principal.actor(), b.reason)
        .await?;
    Ok(HttpResponse::Ok().json(inc))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: String,
}

async fn add_note(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<NoteBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let entry = state
        .incidents
        .add_note(
            id.into_inner(),
            caller.principal.actor(),
            body.into_inner().text,
        )
        .await?;
    Ok(HttpResponse::Created().json(entry))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    assignee: Option<String>,
    commander: Option<String>,
}

async fn assign(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<AssignBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let b = body.into_inner();
    let inc = state
        .incidents
        .assign(
            id.into_inner(),
            caller.principal.actor(),
            b.assignee,
            b.commander,
        )
        .await?;
    Ok(HttpResponse::Ok().json(inc))
}

async fn list_tokens(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    Ok(HttpResponse::Ok().json(json!({ "items": state.accounts.tokens().await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    name: String,
    role: Role,
}

async fn create_token(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<CreateToken>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let b = body.into_inner();
    let created = state
        .accounts
        .create_token(&b.name, b.role, &caller.principal.actor())
        .await?;
    Ok(HttpResponse::Created().json(created))
}

async fn revoke_token(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    state.accounts.revoke_token(id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn me(caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let (kind, name) = match &caller.principal {
        Principal::User { name, .. } => ("user", name.as_str()),
        Principal::Token { name, .. } => ("token", name.as_str()),
        Principal::Anonymous => ("anonymous", ""),
    };
    Ok(HttpResponse::Ok().json(json!({
        "kind": kind,
        "name": name,
        "role": caller.principal.role(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationParams {
    incident: Option<i64>,
    status: Option<String>,
    receiver: Option<String>,
    limit: Option<usize>,
}

async fn list_notifications(
    caller: Caller,
    state: web::Data<AppState>,
    params: web::Query<NotificationParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let p = params.into_inner();
    if let Some(s) = &p.status
        && !["pending", "delivered", "failed"].contains(&s.as_str())
    {
        return Err(ApiError::BadRequest(
            "status must be pending, delivered or failed".into(),
        ));
    }
    let filter = crate::notify::outbox::ListFilter {
        incident_id: p.incident,
        status: p.status,
        receiver: p.receiver,
        limit: p.limit.unwrap_or(100).min(1000),
    };
    let items = state
        .db
        .read(move |c| Ok::<_, ApiError>(crate::notify::outbox::list(c, &filter)?))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

async fn retry_notification(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let id = id.into_inner();
    let done = state
        .db
        .write(move |c| Ok::<_, ApiError>(crate::notify::outbox::retry_now(c, id, now_ms())?))
        .await?;
    if !done {
        return Err(ApiError::Conflict(format!(
            "notification {id} is not a dead letter, or a later message to the same receiver \
             about the same incident exists (retrying would send events out of order)"
        )));
    }
    state.notify_wake.notify_one();
    Ok(HttpResponse::Accepted().json(json!({ "status": "pending" })))
}

async fn list_receivers(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let stats = state
        .db
        .read(|c| Ok::<_, ApiError>(crate::notify::outbox::receiver_stats(c)?))
        .await?;
    let items: Vec<_> = state
        .notify
        .receivers
        .iter()
        .map(|r| {
            let (last, failed, pending) = stats.get(&r.name).cloned().unwrap_or((None, 0, 0));
            json!({
                "name": r.name,
                "channel": r.channel(),
                "target": r.masked_target(),
                "last_delivered_at": last.map(crate::time::rfc3339),
                "pending": pending,
                "failed": failed,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

async fn test_receiver(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let name = name.into_inner();
    let receiver = state
        .notify
        .receiver(&name)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("no receiver named {name}")))?;
    let id = crate::notify::queue_test(&state.db, &receiver).await?;
    state.notify_wake.notify_one();
    Ok(HttpResponse::Accepted().json(json!({ "notification_id": id, "status": "pending" })))
}

async fn list_silences(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let items = state
        .db
        .read(|c| Ok::<_, ApiError>(crate::notify::outbox::current_silences(c, now_ms())?))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

async fn create_silence(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<crate::notify::silences::NewSilence>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let silence =
        crate::notify::silences::create(&state.db, body.into_inner(), caller.principal.actor())
            .await
            .map_err(|e| match e {
                crate::notify::silences::SilenceError::Invalid(m) => ApiError::Unprocessable(m),
                crate::notify::silences::SilenceError::Store(s) => s.into(),
            })?;
    Ok(HttpResponse::Created().json(silence))
}

async fn expire_silence(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let id = id.into_inner();
    let done = state
        .db
        .write(move |c| Ok::<_, ApiError>(crate::notify::outbox::expire_silence(c, id, now_ms())?))
        .await?;
    if done {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound(format!("no active silence {id}")))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenerateParams {
    format: Option<String>,
}

/// Prometheus rules, Alertmanager config or the Grafana dashboard, as files.
async fn generate_artefact(
    caller: Caller,
    state: web::Data<AppState>,
    artefact: web::Path<String>,
    params: web::Query<GenerateParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let artefact: crate::generate::Artefact = artefact.parse().map_err(|_| {
        ApiError::NotFound(
            "artefacts are prometheus-rules, alertmanager-config and grafana-dashboard".into(),
        )
    })?;
    let format = match params.format.as_deref() {
        None | Some("prometheus") => crate::generate::RulesFormat::Prometheus,
        Some("prometheus-operator") => crate::generate::RulesFormat::PrometheusOperator,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "format `{other}`: use prometheus or prometheus-operator"
            )));
        }
    };
    let body = crate::generate::for_server(artefact, &state.settings, format)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type(artefact.content_type())
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", artefact.file_name()),
        ))
        .body(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeploymentBody {
    service: String,
    version: String,
    #[serde(default)]
    description: String,
    /// RFC 3339; now when absent.
    at: Option<String>,
}

async fn create_deployment(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<DeploymentBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Responder)?;
    let b = body.into_inner();
    let at = match b.at.as_deref() {
        None => None,
        Some(t) => Some(
            crate::time::parse_rfc3339(t)
                .map_err(|m| ApiError::Unprocessable(format!("at: {m}")))?
                .ok_or_else(|| ApiError::Unprocessable("at: not a real time".into()))?,
        ),
    };
    let d = crate::deployments::record(
        &state.db,
        crate::deployments::NewDeployment {
            service: b.service,
            version: b.version,
            description: b.description,
            at,
        },
        caller.principal.actor(),
    )
    .await?;
    state
        .metrics
        .deployments
        .get_or_create(&crate::telemetry::ServiceLabel {
            service: d.service.clone(),
        })
        .inc();
    Ok(HttpResponse::Created().json(d))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeploymentParams {
    service: Option<String>,
    limit: Option<usize>,
}

async fn list_deployments(
    caller: Caller,
    state: web::Data<AppState>,
    params: web::Query<DeploymentParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let p = params.into_inner();
    let limit = p.limit.unwrap_or(50).clamp(1, 1000);
    let items = state
        .db
        .read(move |c| Ok::<_, ApiError>(crate::deployments::list(c, p.service.as_deref(), limit)?))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

async fn list_slos(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let items = state.slo_engine.latest.read().expect("slo lock").clone();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

fn find_slo(state: &AppState, name: &str) -> Result<crate::slo::engine::SloStatus, ApiError> {
    state
        .slo_engine
        .latest
        .read()
        .expect("slo lock")
        .iter()
        .find(|s| s.name == name || format!("{}-{}", s.service, s.name) == name)
        .cloned()
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no evaluated SLO named {name} (SLOs appear after their first evaluation)"
            ))
        })
}

/// One SLO by name (or `service-name` when two services share a name).
async fn get_slo(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(HttpResponse::Ok().json(find_slo(&state, &name)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryParams {
    from: Option<String>,
    to: Option<String>,
    step: Option<String>,
}

/// SLI history from Firewatch's own store (both sources record into it).
async fn slo_history(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
    params: web::Query<HistoryParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let s = find_slo(&state, &name)?;
    let p = params.into_inner();
    let now = now_ms();
    let ts = |field: &str, v: &Option<String>, default: i64| -> Result<i64, ApiError> {
        match v {
            None => Ok(default),
            // Unix seconds, as Prometheus's query_range also accepts.
            Some(t) if t.parse::<f64>().is_ok_and(|v| v.is_finite() && v >= 0.0) => {
                Ok((t.parse::<f64>().unwrap_or(0.0) * 1000.0) as i64)
            }
            Some(t) => crate::time::parse_rfc3339(t)
                .map_err(|m| ApiError::BadRequest(format!("{field}: {m}")))?
                .ok_or_else(|| ApiError::BadRequest(format!("{field}: not a real time"))),
        }
    };
    let to = ts("to", &p.to, now)?;
    let from = ts("from", &p.from, to - 86_400_000)?;
    if from >= to {
        return Err(ApiError::BadRequest("from must be before to".into()));
    }
    let step = match &p.step {
        Some(v) => crate::config::parse_duration(v)
            .map_err(|m| ApiError::BadRequest(format!("step: {m}")))?
            .as_millis() as i64,
        // About 300 points whatever the range.
        None => ((to - from) / 300).max(state.settings.evaluation_interval.as_millis() as i64),
    };
    // Steps of an hour or more read the hourly rollups, which reach further back than
    // the per-interval rows: round them to whole hours.
    let hour = 3_600_000;
    let step = if step > hour && step % hour != 0 {
        (step / hour + 1) * hour
    } else {
        step
    };
    if step <= 0 || (to - from) / step > 11_000 {
        return Err(ApiError::BadRequest(
            "step: too small for the range (at most 11,000 points)".into(),
        ));
    }
    let id = format!("{}-{}", s.service, s.name);
    let points = state
        .db
        .read(move |c| Ok::<_, ApiError>(crate::slo::engine::history(c, &id, from, to, step)?))
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "slo": s.name,
        "from": crate::time::rfc3339(from),
        "to": crate::time::rfc3339(to),
        "step_seconds": step / 1000,
        "points": points,
    })))
}

/// Error-budget gate for CI/CD: 200 when deploying is allowed, 409 with the reason when
/// the budget policy says stop.
async fn slo_gate(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    let s = find_slo(&state, &name)?;
    let ev = &state.settings.raw.evaluation;
    let (allowed, reason) =
        crate::slo::engine::gate(&s, ev.gate_min_budget, ev.gate_allow_without_data);
    let body = json!({
        "slo": s.name,
        "allowed": allowed,
        "reason": reason,
        "error_budget_remaining": s.error_budget.remaining,
        "status": s.status,
    });
    Ok(if allowed {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::Conflict().json(body)
    })
}

async fn list_targets(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(HttpResponse::Ok().json(json!({ "items": state.scraped.health() })))
}
