//! The Integrations page: receivers with their delivery state, routes, dead letters and
//! silences; test messages and retries; the Prometheus integration and its downloads.
//! Every action calls the same `Notifications` method as the API; a refused action shows
//! the page with the reason, at the status the API answers for it.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use super::login::CsrfForm;
use super::session::{self, PageUser};
use super::{WebError, html, html_status, see_other};
use crate::api::ApiError;
use crate::auth::Role;
use crate::notify::NotifyError;
use crate::notify::outbox::{ListFilter, Notification};
use crate::notify::silences::{NewSilence, Silence};
use crate::state::AppState;
use crate::time::short;

pub struct ReceiverView {
    pub name: String,
    pub channel: &'static str,
    pub target: String,
    pub last: Option<String>,
    pub pending: i64,
    pub failed: i64,
}

#[derive(Template)]
#[template(path = "integrations.html")]
struct IntegrationsPage {
    user: PageUser,
    nav: &'static str,
    receivers: Vec<ReceiverView>,
    routes: Vec<(String, String, bool)>,
    dead: Vec<Notification>,
    /// (silence, when in words, matchers, "long: 10d" when longer than notify.long_silence).
    silences: Vec<(Silence, String, String, Option<String>)>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NoticeParams {
    notice: Option<String>,
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<NoticeParams>,
) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    html(&integrations_page(&state, user, params.into_inner().notice, None).await?)
}

async fn integrations_page(
    state: &AppState,
    user: PageUser,
    notice: Option<String>,
    error: Option<String>,
) -> Result<IntegrationsPage, WebError> {
    let n = &state.notifications;
    let silences = n
        .silences()
        .await?
        .into_iter()
        .map(|s| {
            let now = crate::time::now_ms();
            let when = if s.starts_at > now {
                format!("from {} until {}", short(s.starts_at), short(s.ends_at))
            } else {
                format!("until {}", short(s.ends_at))
            };
            let m = s
                .matchers
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            let long = long_silence(state, &s);
            (s, when, m, long)
        })
        .collect();
    let dead = n
        .list(ListFilter {
            status: Some("failed".into()),
            limit: 100,
            ..Default::default()
        })
        .await?;
    let receivers = n
        .receivers()
        .await?
        .into_iter()
        .map(|r| ReceiverView {
            name: r.name,
            channel: r.channel,
            target: r.target,
            last: r.last_delivered_at.map(short),
            pending: r.pending,
            failed: r.failed,
        })
        .collect();
    let routes = n
        .routes()
        .iter()
        .map(|r| {
            let m = if r.matchers.is_empty() {
                "(everything)".to_string()
            } else {
                r.matchers
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let to = if r.receivers.is_empty() {
                "(nobody: the UI only)".to_string()
            } else {
                r.receivers.join(", ")
            };
            (m, to, r.continue_matching)
        })
        .collect();
    Ok(IntegrationsPage {
        nav: "integrations",
        receivers,
        routes,
        dead,
        silences,
        notice,
        error,
        user,
    })
}

/// After an action: back to the page with what happened (success), or the page with the
/// reason and the API's status for a refused action.
async fn done(
    state: &AppState,
    user: PageUser,
    result: Result<String, NotifyError>,
) -> Result<HttpResponse, WebError> {
    match result {
        Ok(notice) => Ok(see_other(&format!(
            "/integrations?notice={}",
            session::encode_component(&notice)
        ))),
        Err(NotifyError::Store(e)) => Err(e.into()),
        Err(e) => {
            let message = e.to_string();
            let status = ResponseError::status_code(&ApiError::from(e));
            html_status(
                &integrations_page(state, user, None, Some(message)).await?,
                status,
            )
        }
    }
}

pub async fn test(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, WebError> {
    let user = session::require_form(&req, &state, Role::Admin, &form.csrf).await?;
    let result = state.notifications.test(&name).await;
    let notice = result.map(|_| format!("Test notification queued for {name}."));
    done(&state, user, notice).await
}

pub async fn retry(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, WebError> {
    let user = session::require_form(&req, &state, Role::Responder, &form.csrf).await?;
    let id = id.into_inner();
    let result = state.notifications.retry(id).await;
    done(
        &state,
        user,
        result.map(|_| format!("Notification {id} queued again.")),
    )
    .await
}

#[derive(Deserialize)]
pub struct SilenceForm {
    csrf: String,
    matchers: String,
    duration: String,
    comment: String,
    /// Start later: a delay such as "2h" (empty: now).
    #[serde(default)]
    starts_in: String,
}

/// "long: 10d" for a silence longer than `notify.long_silence`.
fn long_silence(state: &AppState, s: &Silence) -> Option<String> {
    let span = s.ends_at - s.starts_at;
    (span > state.notifications.config().long_silence.as_millis() as i64)
        .then(|| format!("long: {}", crate::time::human_duration(span)))
}

/// The start of a silence `starts_in` from now, as RFC 3339 (None: now).
fn starts_at(starts_in: &str) -> Result<Option<String>, String> {
    let text = starts_in.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let d = crate::duration::parse(text).map_err(|m| format!("starts in: {m}"))?;
    let at = crate::time::now_ms().saturating_add(d.as_millis().min(i64::MAX as u128) as i64);
    Ok(Some(crate::time::rfc3339(at)))
}

/// "service=checkout severity=P2": space- or comma-separated name=value pairs.
fn parse_matchers(text: &str) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut matchers = std::collections::BTreeMap::new();
    for pair in text.split([' ', ',']).filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some((k, v)) => {
                matchers.insert(k.trim().to_string(), v.trim().to_string());
            }
            None => return Err(format!("matchers: `{pair}` is not name=value")),
        }
    }
    Ok(matchers)
}

pub async fn create_silence(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SilenceForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let user = session::require_form(&req, &state, Role::Responder, &form.csrf).await?;
    let result = match parse_matchers(&form.matchers) {
        Ok(matchers) => match starts_at(&form.starts_in) {
            Ok(starts_at) => {
                let new = NewSilence {
                    matchers,
                    comment: form.comment,
                    duration: Some(form.duration),
                    starts_at,
                    ends_at: None,
                };
                let created = state
                    .notifications
                    .create_silence(new, user.principal.actor())
                    .await;
                created.map(|s| {
                    let mut notice = format!(
                        "Silence {} created: matching incidents notify nobody {}until {}.",
                        s.id,
                        if s.starts_at > s.created_at {
                            format!("from {} ", short(s.starts_at))
                        } else {
                            String::new()
                        },
                        short(s.ends_at)
                    );
                    if let Some(long) = long_silence(&state, &s) {
                        notice.push_str(&format!(
                            " Careful, it is {long}: expire it when the work is done."
                        ));
                    }
                    notice
                })
            }
            Err(m) => Err(NotifyError::Invalid(m)),
        },
        Err(m) => Err(NotifyError::Invalid(m)),
    };
    let result = result.map_err(|e| match e {
        NotifyError::Invalid(m) => NotifyError::Invalid(format!("Silence not created: {m}")),
        other => other,
    });
    done(&state, user, result).await
}

pub async fn expire_silence(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, WebError> {
    let user = session::require_form(&req, &state, Role::Responder, &form.csrf).await?;
    let id = id.into_inner();
    let result = state.notifications.expire_silence(id).await;
    done(
        &state,
        user,
        result.map(|_| format!("Silence {id} expired.")),
    )
    .await
}

pub struct ArtefactView {
    pub key: &'static str,
    pub title: &'static str,
    pub file: &'static str,
    pub about: &'static str,
    pub preview: String,
    pub lines: usize,
}

#[derive(Template)]
#[template(path = "prometheus.html")]
struct PrometheusPage {
    user: PageUser,
    nav: &'static str,
    source: String,
    artefacts: Vec<ArtefactView>,
}

pub async fn prometheus(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    use crate::generate::{Artefact, RulesFormat, for_server};
    let user = session::require(&req, &state, Role::Viewer).await?;
    let configured = state.slos.configured();
    let source = if configured.is_empty() {
        "Firewatch's own SLOs (no [[slo]] is configured), plus the self-monitoring alerts"
            .to_string()
    } else {
        format!("the {} SLOs in the settings file", configured.len())
    };
    let mut artefacts = Vec::new();
    for (artefact, title, about) in [
        (
            Artefact::PrometheusRules,
            "Recording and alerting rules",
            "Sloth-compatible SLI, error-budget and burn-rate recording rules with multi-window \
             page (P0) and ticket (P2) alerts for every SLO. Load with rule_files in prometheus.yml.",
        ),
        (
            Artefact::AlertmanagerConfig,
            "Alertmanager configuration",
            "Every alert to this Firewatch, which pages and posts once per incident; \
             FirewatchDown straight to PagerDuty and Slack; inhibition on the severity \
             labels your alerts carry; secrets read from files.",
        ),
        (
            Artefact::GrafanaDashboard,
            "Grafana dashboard",
            "The 13 SLO panels with service and SLO variables, 30 s refresh and deployment \
             annotations. Import it in Grafana 10 or newer.",
        ),
    ] {
        let text = for_server(
            artefact,
            configured,
            &state.settings.public_url(),
            &state.settings.raw.alertmanager,
            RulesFormat::Prometheus,
        )
        .map_err(|e| WebError::internal(e.to_string()))?;
        artefacts.push(ArtefactView {
            key: artefact.as_str(),
            title,
            file: artefact.file_name(),
            about,
            lines: text.lines().count(),
            preview: text,
        });
    }
    html(&PrometheusPage {
        nav: "integrations",
        source,
        artefacts,
        user,
    })
}

#[derive(Deserialize)]
pub struct FormatParams {
    format: Option<String>,
}

/// The same file as `GET /api/v1/generate/{artefact}`, with the same answers to an
/// unknown artefact (404) or format (400).
pub async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    artefact: web::Path<String>,
    params: web::Query<FormatParams>,
) -> Result<HttpResponse, WebError> {
    session::require(&req, &state, Role::Viewer).await?;
    Ok(crate::api::generate::file(
        &state,
        &artefact,
        params.format.as_deref(),
    )?)
}
