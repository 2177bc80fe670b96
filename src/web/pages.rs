//! Page handlers and the view models their templates read.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::session::{self, LOGIN_CSRF_COOKIE, PageUser, SESSION_COOKIE};
use super::{WebError, html, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::auth::repo::{ApiToken, User};
use crate::incidents::repo::ResponseStats;
use crate::incidents::service::ManualIncident;
use crate::incidents::{Alert, Incident, Severity, Status, TimelineEntry};
use crate::notify::outbox::{self, ListFilter, Notification, Silence};
use crate::time::{human_duration, now_ms, rfc3339, short};

/// An incident as the pages show it.
pub struct IncidentView {
    pub inc: Incident,
    pub created_iso: String,
    pub created_short: String,
    pub age: String,
    pub tta: Option<String>,
    pub ttr: Option<String>,
    pub acknowledged_short: Option<String>,
    pub resolved_short: Option<String>,
}

impl IncidentView {
    fn new(inc: Incident, now: i64) -> Self {
        let end = inc.resolved_at.unwrap_or(now);
        Self {
            created_iso: rfc3339(inc.created_at),
            created_short: short(inc.created_at),
            age: human_duration(end - inc.created_at),
            tta: inc
                .acknowledged_at
                .map(|a| human_duration(a - inc.created_at)),
            ttr: inc.resolved_at.map(|r| human_duration(r - inc.created_at)),
            acknowledged_short: inc.acknowledged_at.map(short),
            resolved_short: inc.resolved_at.map(short),
            inc,
        }
    }
    pub fn sev(&self) -> &'static str {
        self.inc.severity.as_str()
    }
    pub fn status(&self) -> &'static str {
        self.inc.status.as_str()
    }
    pub fn is_open(&self) -> bool {
        self.inc.status != Status::Resolved
    }
}

pub struct AlertView {
    pub alert: Alert,
    pub labels: Vec<(String, String)>,
    pub summary: String,
    pub starts_short: String,
    pub ends_short: Option<String>,
    pub generator_url: Option<String>,
}

impl AlertView {
    fn new(alert: Alert) -> Self {
        let text = |v: &serde_json::Value| {
            v.as_str()
                .map(String::from)
                .unwrap_or_else(|| v.to_string())
        };
        let labels = alert
            .labels
            .iter()
            .filter(|(k, _)| k.as_str() != "alertname")
            .map(|(k, v)| (k.clone(), text(v)))
            .collect();
        let summary = alert
            .annotations
            .get("summary")
            .or_else(|| alert.annotations.get("description"))
            .map(text)
            .unwrap_or_default();
        Self {
            labels,
            summary,
            starts_short: short(alert.starts_at),
            ends_short: alert.ends_at.map(short),
            generator_url: crate::incidents::service::safe_url(&alert.generator_url),
            alert,
        }
    }
    pub fn firing(&self) -> bool {
        self.alert.status == "firing"
    }
}

pub struct TimelineView {
    pub entry: TimelineEntry,
    pub at_iso: String,
    pub at_short: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    user: PageUser,
    nav: &'static str,
    open_by_severity: Vec<(&'static str, i64)>,
    triggered: i64,
    acknowledged: i64,
    open: Vec<IncidentView>,
    recent_resolved: Vec<IncidentView>,
    stats: ResponseStats,
    mtta: String,
    mttr: String,
    deployments: Vec<(crate::deployments::Deployment, String)>,
    slos: Vec<SloView>,
    /// SLOs with a burn-rate alert firing: (page|ticket, service, name).
    burning: Vec<(String, String, String)>,
    /// The panels of one SLO (chosen with ?slo=, else the one in the worst state).
    focus: Option<Focus>,
}

/// The dashboard's panels for one SLO, as on a Grafana SLO dashboard.
pub struct Focus {
    pub view: SloView,
    pub charts: crate::web::slo_charts::SloCharts,
    /// The service's latency SLO: its SLI now and over the period, and percentiles.
    pub latency: Option<(SloView, String)>,
    pub thresholds: (String, String),
    pub burn_1h_over: bool,
    pub burn_6h_over: bool,
    /// Every SLO for the selector: (id, label, selected).
    pub options: Vec<(String, String, bool)>,
}

#[derive(Deserialize)]
pub struct HomeParams {
    slo: Option<String>,
}

fn status_rank(status: &str) -> u8 {
    match status {
        "critical" => 0,
        "warning" => 1,
        "ok" => 2,
        _ => 3,
    }
}

/// One SLO row of the dashboard, with the numbers already in words.
pub struct SloView {
    /// `<service>-<name>`, the SLO page's address.
    pub id: String,
    pub name: String,
    pub service: String,
    pub status: String,
    pub objective: String,
    pub sli_1h: String,
    pub sli_period: String,
    pub budget: String,
    pub burn_1h: String,
    pub burn_6h: String,
    pub words: String,
    /// The last 24 hours as a sparkline (dashboard only).
    pub spark: String,
}

fn pct(v: Option<f64>) -> String {
    match v {
        Some(v) => {
            let p = v * 100.0;
            if p >= 99.0 {
                format!("{p:.3} %")
            } else {
                format!("{p:.1} %")
            }
        }
        None => "no data".into(),
    }
}

impl SloView {
    fn new(s: &crate::slo::engine::SloStatus) -> Self {
        let w = |k: &str| s.windows.get(k);
        let burn = |k: &str| {
            w(k).and_then(|w| w.burn_rate)
                .map(|b| format!("{b:.2}x"))
                .unwrap_or_else(|| "–".into())
        };
        let words = if let Some(e) = &s.error {
            e.clone()
        } else {
            match (s.error_budget.remaining, s.error_budget.hours_to_exhaustion) {
                (None, _) => "No data yet: no events were measured in the period.".into(),
                (Some(r), _) if r <= 0.0 => "The error budget is spent for this period.".into(),
                (Some(_), Some(h)) if h < 48.0 => {
                    format!(
                        "At this rate the budget runs out in {}.",
                        human_duration((h * 3_600_000.0) as i64)
                    )
                }
                (Some(_), Some(h)) if h > s.period_days as f64 * 24.0 => {
                    "At this rate the budget outlasts the period.".into()
                }
                (Some(_), Some(h)) => {
                    format!("At this rate the budget runs out in {:.0} days.", h / 24.0)
                }
                (Some(_), None) => "Not burning budget right now.".into(),
            }
        };
        Self {
            id: format!("{}-{}", s.service, s.name),
            name: s.name.clone(),
            service: s.service.clone(),
            status: s.status.clone(),
            objective: format!("{} %", s.objective * 100.0),
            sli_1h: pct(w("1h").and_then(|w| w.sli)),
            sli_period: pct(w("period").and_then(|w| w.sli)),
            budget: pct(s.error_budget.remaining),
            burn_1h: burn("1h"),
            burn_6h: burn("6h"),
            words,
            spark: String::new(),
        }
    }
}

pub async fn home(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<HomeParams>,
) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    let now = now_ms();
    let counts = state.incidents.counts().await?;
    let count = |st: Status, sev: Option<Severity>| -> i64 {
        counts
            .iter()
            .filter(|(s, v, _)| *s == st && sev.is_none_or(|x| x == *v))
            .map(|c| c.2)
            .sum()
    };
    let open_by_severity = Severity::ALL
        .iter()
        .map(|s| {
            (
                s.as_str(),
                count(Status::Triggered, Some(*s)) + count(Status::Acknowledged, Some(*s)),
            )
        })
        .collect();
    let (open, _) = state
        .incidents
        .list(crate::incidents::repo::ListQuery {
            limit: 10,
            ..Default::default()
        })
        .await?;
    let (resolved, _) = state
        .incidents
        .list(crate::incidents::repo::ListQuery {
            status: crate::incidents::StatusFilter::Only(Status::Resolved),
            limit: 5,
            ..Default::default()
        })
        .await?;
    let stats = state
        .incidents
        .response_stats(now - 30 * 86_400_000)
        .await?;
    let deployments = state
        .db
        .read(|c| Ok::<_, crate::incidents::IncidentError>(crate::deployments::list(c, None, 5)?))
        .await?
        .into_iter()
        .map(|d| {
            let ago = human_duration(now - d.at);
            (d, ago)
        })
        .collect();
    let latest = state.slo_engine.latest.read().expect("slo lock").clone();
    let burning = latest
        .iter()
        .filter_map(|s| {
            s.alert
                .clone()
                .map(|a| (a, s.service.clone(), s.name.clone()))
        })
        .collect();
    let wanted = params.into_inner().slo;
    let focus_status = wanted
        .as_deref()
        .and_then(|w| {
            latest
                .iter()
                .find(|s| format!("{}-{}", s.service, s.name) == w)
        })
        .or_else(|| latest.iter().min_by_key(|s| status_rank(&s.status)))
        .cloned();
    let latency_status = focus_status.as_ref().and_then(|f| {
        std::iter::once(f)
            .chain(latest.iter().filter(|s| s.service == f.service))
            .find(|s| s.latency.is_some())
            .cloned()
    });
    let all = latest.clone();
    let (sparks, charts) = state
        .db
        .read(move |c| {
            let sparks = all
                .iter()
                .map(|s| crate::web::slo_charts::sparkline(c, s, now))
                .collect::<rusqlite::Result<Vec<String>>>()?;
            let charts = match &focus_status {
                Some(f) => Some((
                    f.clone(),
                    crate::web::slo_charts::build(c, f, latency_status.as_ref(), now)?,
                    latency_status,
                )),
                None => None,
            };
            Ok::<_, crate::incidents::IncidentError>((sparks, charts))
        })
        .await?;
    let slos: Vec<SloView> = latest
        .iter()
        .zip(sparks)
        .map(|(s, spark)| SloView {
            spark,
            ..SloView::new(s)
        })
        .collect();
    let focus = charts.map(|(f, charts, lat)| {
        let view = SloView::new(&f);
        let (p1, p2, _, _) = crate::slo::engine::factors(f.period_days);
        let burn = |w: &str| f.windows.get(w).and_then(|x| x.burn_rate);
        Focus {
            options: slos
                .iter()
                .map(|o| {
                    let label = format!("{} · {}", o.service, o.name);
                    (o.id.clone(), label, o.id == view.id)
                })
                .collect(),
            latency: lat.map(|l| {
                let words = l
                    .latency
                    .as_ref()
                    .map(crate::web::slo_charts::latency_words)
                    .unwrap_or_default();
                (SloView::new(&l), words)
            }),
            thresholds: (format!("{p1:.1}x"), format!("{p2:.1}x")),
            burn_1h_over: burn("1h").is_some_and(|b| b > p1),
            burn_6h_over: burn("6h").is_some_and(|b| b > p2),
            charts,
            view,
        }
    });
    html(&HomePage {
        focus,
        burning,
        slos,
        deployments,
        nav: "home",
        open_by_severity,
        triggered: count(Status::Triggered, None),
        acknowledged: count(Status::Acknowledged, None),
        open: open
            .into_iter()
            .map(|i| IncidentView::new(i, now))
            .collect(),
        recent_resolved: resolved
            .into_iter()
            .map(|i| IncidentView::new(i, now))
            .collect(),
        mtta: stats
            .mtta_ms
            .map(human_duration)
            .unwrap_or_else(|| "–".into()),
        mttr: stats
            .mttr_ms
            .map(human_duration)
            .unwrap_or_else(|| "–".into()),
        stats,
        user,
    })
}

#[derive(Deserialize)]
pub struct ListParams {
    status: Option<String>,
    severity: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "incidents/list.html")]
struct ListPage {
    user: PageUser,
    nav: &'static str,
    items: Vec<IncidentView>,
    status: String,
    severity: String,
    q: String,
    tabs: Vec<(&'static str, &'static str, i64)>,
    next_url: Option<String>,
    first_page: bool,
    error: Option<String>,
}

fn list_url(status: &str, severity: &str, q: &str, cursor: Option<i64>) -> String {
    let mut url = format!("/incidents?status={}", session::encode_component(status));
    if !severity.is_empty() {
        url.push_str(&format!(
            "&severity={}",
            session::encode_component(severity)
        ));
    }
    if !q.is_empty() {
        url.push_str(&format!("&q={}", session::encode_component(q)));
    }
    if let Some(c) = cursor {
        url.push_str(&format!("&cursor={c}"));
    }
    url
}

pub async fn incident_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    let p = params.into_inner();
    let query = crate::api::list_query(
        p.status.as_deref(),
        p.severity.as_deref(),
        None,
        p.q.as_deref(),
        Some(50),
        p.cursor.as_deref(),
    )
    .map_err(|e| WebError::BadRequest(e.to_string()))?;
    let status = query.status.as_str().to_string();
    let severity = query.severity.map(|s| s.to_string()).unwrap_or_default();
    let q = query.text.clone().unwrap_or_default();
    let first_page = query.before_id.is_none();
    let (items, next) = state.incidents.list(query).await?;
    let counts = state.incidents.counts().await?;
    let n =
        |f: &dyn Fn(Status) -> bool| -> i64 { counts.iter().filter(|c| f(c.0)).map(|c| c.2).sum() };
    let tabs = vec![
        ("open", "Open", n(&|s| s != Status::Resolved)),
        ("triggered", "Triggered", n(&|s| s == Status::Triggered)),
        (
            "acknowledged",
            "Acknowledged",
            n(&|s| s == Status::Acknowledged),
        ),
        ("resolved", "Resolved", n(&|s| s == Status::Resolved)),
        ("all", "All", n(&|_| true)),
    ];
    let now = now_ms();
    html(&ListPage {
        nav: "incidents",
        items: items
            .into_iter()
            .map(|i| IncidentView::new(i, now))
            .collect(),
        next_url: next.map(|c| list_url(&status, &severity, &q, Some(c))),
        tabs,
        status,
        severity,
        q,
        first_page,
        error: p.error,
        user,
    })
}

#[derive(Template)]
#[template(path = "incidents/detail.html")]
struct DetailPage {
    user: PageUser,
    nav: &'static str,
    view: IncidentView,
    alerts: Vec<AlertView>,
    timeline: Vec<TimelineView>,
    notifications: Vec<(Notification, String)>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct DetailParams {
    error: Option<String>,
}

pub async fn incident_detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    params: web::Query<DetailParams>,
) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    let id: i64 = id
        .parse()
        .map_err(|_| WebError::NotFound("There is no such incident.".into()))?;
    let d = state.incidents.detail(id).await?;
    let filter = ListFilter {
        incident_id: Some(id),
        limit: 100,
        ..Default::default()
    };
    let notifications = state
        .db
        .read(move |c| Ok::<_, crate::incidents::IncidentError>(outbox::list(c, &filter)?))
        .await?
        .into_iter()
        .map(|n| {
            let when = short(n.delivered_at.unwrap_or(n.created_at));
            (n, when)
        })
        .collect();
    let now = now_ms();
    html(&DetailPage {
        notifications,
        nav: "incidents",
        view: IncidentView::new(d.incident, now),
        alerts: d.alerts.into_iter().map(AlertView::new).collect(),
        timeline: d
            .timeline
            .into_iter()
            .rev()
            .map(|entry| TimelineView {
                at_iso: rfc3339(entry.at),
                at_short: short(entry.at),
                entry,
            })
            .collect(),
        error: params.into_inner().error,
        user,
    })
}

#[derive(Deserialize)]
pub struct ActionForm {
    csrf: String,
    text: Option<String>,
    assignee: Option<String>,
    commander: Option<String>,
}

pub async fn incident_action(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, WebError> {
    let (id, action) = path.into_inner();
    let id: i64 = id
        .parse()
        .map_err(|_| WebError::NotFound("There is no such incident.".into()))?;
    let form = form.into_inner();
    let user = session::require_form(&req, &state, Role::Responder, &form.csrf).await?;
    let actor = user.principal.actor();
    let inc = &state.incidents;
    let result = match action.as_str() {
        "acknowledge" => inc.acknowledge(id, actor).await.map(|_| ()),
        "resolve" => inc.resolve(id, actor, form.text).await.map(|_| ()),
        "reopen" => inc.reopen(id, actor, form.text).await.map(|_| ()),
        "notes" => inc
            .add_note(id, actor, form.text.unwrap_or_default())
            .await
            .map(|_| ()),
        "assign" => inc
            .assign(id, actor, form.assignee, form.commander)
            .await
            .map(|_| ()),
        _ => return Err(WebError::NotFound("Unknown action.".into())),
    };
    use crate::incidents::IncidentError as E;
    match result {
        Ok(()) => Ok(see_other(&format!("/incidents/{id}"))),
        Err(e @ (E::Conflict(_) | E::Invalid { .. })) => Ok(see_other(&format!(
            "/incidents/{id}?error={}",
            session::encode_component(&e.to_string())
        ))),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "incidents/new.html")]
struct NewPage {
    user: PageUser,
    nav: &'static str,
    error: Option<String>,
    form: NewIncidentForm,
}

#[derive(Deserialize, Default)]
pub struct NewIncidentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    runbook_url: String,
}

pub async fn new_incident(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Responder).await?;
    html(&NewPage {
        nav: "incidents",
        error: None,
        form: NewIncidentForm {
            severity: "P2".into(),
            ..Default::default()
        },
        user,
    })
}

pub async fn create_incident(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<NewIncidentForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let user = session::require_form(&req, &state, Role::Responder, &form.csrf).await?;
    let severity = form.severity.parse::<Severity>();
    let result = match severity {
        Ok(severity) => state
            .incidents
            .create(
                ManualIncident {
                    title: form.title.clone(),
                    description: form.description.clone(),
                    severity,
                    service: form.service.clone(),
                    runbook_url: Some(form.runbook_url.clone()),
                },
                user.principal.actor(),
            )
            .await
            .map_err(|e| e.to_string()),
        Err(m) => Err(format!("severity: {m}")),
    };
    match result {
        Ok(inc) => Ok(see_other(&format!("/incidents/{}", inc.id))),
        Err(message) => {
            let mut res = html(&NewPage {
                nav: "incidents",
                error: Some(message),
                form,
                user,
            })?;
            *res.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
    }
}

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

pub async fn login_page(
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
        .map_err(|e| WebError::Internal(e.to_string()))?;
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
    match state
        .accounts
        .login(form.name.trim(), &form.password, state.settings.session_ttl)
        .await?
    {
        Some((user, s)) => {
            tracing::info!(user = %user.name, "login");
            let mut res = see_other(&next);
            let ttl = state.settings.session_ttl.as_secs() as i64;
            res.add_cookie(&session::cookie(
                SESSION_COOKIE,
                s.cookie_value,
                ttl,
                secure,
            ))
            .map_err(|e| WebError::Internal(e.to_string()))?;
            res.add_removal_cookie(&session::cookie(
                LOGIN_CSRF_COOKIE,
                String::new(),
                0,
                secure,
            ))
            .map_err(|e| WebError::Internal(e.to_string()))?;
            Ok(res)
        }
        None => {
            tracing::warn!(user = %form.name, "failed login");
            let mut res = html(&LoginPage {
                csrf: cookie_csrf,
                next,
                error: Some("Wrong name or password.".into()),
                no_users: false,
            })?;
            *res.status_mut() = actix_web::http::StatusCode::UNAUTHORIZED;
            Ok(res)
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
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
        .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(res)
}

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
        user,
    })
}

pub async fn admin(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Admin).await?;
    admin_page(user, &state, None, None).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    csrf: String,
    name: String,
    role: String,
}

pub async fn admin_create_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let user = session::require_form(&req, &state, Role::Admin, &form.csrf).await?;
    let role: Role = match form.role.parse() {
        Ok(r) => r,
        Err(m) => return admin_page(user, &state, None, Some(m)).await,
    };
    match state
        .accounts
        .create_token(form.name.trim(), role, &user.principal.actor())
        .await
    {
        Ok(created) => admin_page(user, &state, Some(created.token), None).await,
        Err(e @ crate::auth::AuthError::Invalid { .. }) => {
            admin_page(user, &state, None, Some(e.to_string())).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn admin_revoke_token(
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

pub async fn admin_add_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<UserForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let user = session::require_form(&req, &state, Role::Admin, &form.csrf).await?;
    let role: Role = match form.role.parse() {
        Ok(r) => r,
        Err(m) => return admin_page(user, &state, None, Some(m)).await,
    };
    match state
        .accounts
        .add_user(form.name.trim(), role, &form.password)
        .await
    {
        Ok(_) => Ok(see_other("/admin")),
        Err(e @ (crate::auth::AuthError::Invalid { .. } | crate::auth::AuthError::Exists(_))) => {
            admin_page(user, &state, None, Some(e.to_string())).await
        }
        Err(e) => Err(e.into()),
    }
}

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
    silences: Vec<(Silence, String, String)>,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub struct NoticeParams {
    notice: Option<String>,
}

pub async fn integrations(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<NoticeParams>,
) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    let (stats, dead, silences) = state
        .db
        .read(|c| {
            let silences = outbox::current_silences(c, now_ms())?;
            let stats = outbox::receiver_stats(c)?;
            let dead = outbox::list(
                c,
                &ListFilter {
                    status: Some("failed".into()),
                    limit: 100,
                    ..Default::default()
                },
            )?;
            Ok::<_, crate::incidents::IncidentError>((stats, dead, silences))
        })
        .await?;
    let silences = silences
        .into_iter()
        .map(|s| {
            let until = short(s.ends_at);
            let m = s
                .matchers
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            (s, until, m)
        })
        .collect();
    let receivers = state
        .notify
        .receivers
        .iter()
        .map(|r| {
            let (last, failed, pending) = stats.get(&r.name).cloned().unwrap_or((None, 0, 0));
            ReceiverView {
                name: r.name.clone(),
                channel: r.channel(),
                target: r.masked_target(),
                last: last.map(short),
                pending,
                failed,
            }
        })
        .collect();
    let routes = state
        .notify
        .routes
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
    html(&IntegrationsPage {
        nav: "integrations",
        receivers,
        routes,
        dead,
        silences,
        notice: params.into_inner().notice,
        user,
    })
}

pub async fn integrations_test(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, WebError> {
    session::require_form(&req, &state, Role::Admin, &form.csrf).await?;
    let receiver = state
        .notify
        .receiver(&name)
        .cloned()
        .ok_or_else(|| WebError::NotFound("There is no such receiver.".into()))?;
    let rname = receiver.name.clone();
    crate::notify::queue_test(&state.db, &receiver)
        .await
        .map_err(|e| WebError::Unavailable(e.to_string()))?;
    state.notify_wake.notify_one();
    Ok(back_with(&format!("Test notification queued for {rname}.")))
}

pub async fn integrations_retry(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, WebError> {
    session::require_form(&req, &state, Role::Responder, &form.csrf).await?;
    let id = id.into_inner();
    let queued = state
        .db
        .write(move |c| {
            Ok::<_, crate::incidents::IncidentError>(outbox::retry_now(c, id, now_ms())?)
        })
        .await?;
    if !queued {
        return Ok(back_with(&format!(
            "Notification {id} was not queued: it is not a dead letter, or a later message to \
             the same receiver exists (retrying would send events out of order)."
        )));
    }
    state.notify_wake.notify_one();
    Ok(back_with(&format!("Notification {id} queued again.")))
}

#[derive(Deserialize)]
pub struct SilenceForm {
    csrf: String,
    matchers: String,
    duration: String,
    comment: String,
}

fn back_with(notice: &str) -> HttpResponse {
    see_other(&format!(
        "/integrations?notice={}",
        session::encode_component(notice)
    ))
}

pub async fn create_silence(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SilenceForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let user = session::require_form(&req, &state, Role::Responder, &form.csrf).await?;
    // "service=checkout severity=P2": space- or comma-separated name=value pairs.
    let mut matchers = std::collections::BTreeMap::new();
    for pair in form.matchers.split([' ', ',']).filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some((k, v)) => {
                matchers.insert(k.trim().to_string(), v.trim().to_string());
            }
            None => return Ok(back_with(&format!("Matcher `{pair}` is not name=value."))),
        }
    }
    let new = crate::notify::silences::NewSilence {
        matchers,
        comment: form.comment,
        duration: Some(form.duration),
        starts_at: None,
        ends_at: None,
    };
    match crate::notify::silences::create(&state.db, new, user.principal.actor()).await {
        Ok(_) => {}
        Err(crate::notify::silences::SilenceError::Invalid(m)) => {
            return Ok(back_with(&format!("Silence not created: {m}")));
        }
        Err(crate::notify::silences::SilenceError::Store(e)) => {
            return Err(WebError::Unavailable(e.to_string()));
        }
    }
    Ok(back_with("Silence created."))
}

pub async fn expire_silence(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, WebError> {
    session::require_form(&req, &state, Role::Responder, &form.csrf).await?;
    let id = id.into_inner();
    state
        .db
        .write(move |c| {
            Ok::<_, crate::incidents::IncidentError>(outbox::expire_silence(c, id, now_ms())?)
        })
        .await?;
    Ok(back_with(&format!("Silence {id} expired.")))
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
    let source = if state.settings.slos.is_empty() {
        "Firewatch's own SLOs (no [[slo]] is configured), plus the self-monitoring alerts"
            .to_string()
    } else {
        format!(
            "the {} SLOs in the settings file",
            state.settings.slos.len()
        )
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
            "P0 to PagerDuty and Slack #incidents, P1 to #incidents, P2 to #alerts and email, \
             everything also to this Firewatch; inhibition rules; secrets read from files.",
        ),
        (
            Artefact::GrafanaDashboard,
            "Grafana dashboard",
            "The 13 SLO panels with service and SLO variables, 30 s refresh and deployment \
             annotations. Import it in Grafana 10 or newer.",
        ),
    ] {
        let text = for_server(artefact, &state.settings, RulesFormat::Prometheus)
            .map_err(|e| WebError::Internal(e.to_string()))?;
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

pub async fn prometheus_download(
    req: HttpRequest,
    state: web::Data<AppState>,
    artefact: web::Path<String>,
    params: web::Query<FormatParams>,
) -> Result<HttpResponse, WebError> {
    use crate::generate::{Artefact, RulesFormat, for_server};
    session::require(&req, &state, Role::Viewer).await?;
    let artefact: Artefact = artefact
        .parse()
        .map_err(|_| WebError::NotFound("There is no such file.".into()))?;
    let format = match params.format.as_deref() {
        Some("prometheus-operator") => RulesFormat::PrometheusOperator,
        _ => RulesFormat::Prometheus,
    };
    let body = for_server(artefact, &state.settings, format)
        .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type(artefact.content_type())
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", artefact.file_name()),
        ))
        .body(body))
}

#[derive(Template)]
#[template(path = "runbooks.html")]
struct RunbooksPage {
    user: PageUser,
    nav: &'static str,
    runbooks: Vec<(String, String)>,
}

pub async fn runbooks(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    html(&RunbooksPage {
        nav: "runbooks",
        runbooks: crate::runbooks::list(),
        user,
    })
}

#[derive(Template)]
#[template(path = "runbook.html")]
struct RunbookPage {
    user: PageUser,
    nav: &'static str,
    runbook: crate::runbooks::Runbook,
}

pub async fn runbook(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    let runbook = crate::runbooks::get(&name)
        .ok_or_else(|| WebError::NotFound("There is no runbook with this name.".into()))?;
    html(&RunbookPage {
        nav: "runbooks",
        runbook,
        user,
    })
}

/// One alert pair of the burn-rate table.
pub struct BurnRow {
    pub alert: &'static str,
    pub long: &'static str,
    pub long_burn: String,
    pub short: &'static str,
    pub short_burn: String,
    pub long_over: bool,
    pub short_over: bool,
    pub threshold: String,
}

#[derive(Template)]
#[template(path = "slo.html")]
struct SloPage {
    user: PageUser,
    nav: &'static str,
    s: crate::slo::engine::SloStatus,
    objective: String,
    words: String,
    charts: crate::web::slo_charts::SloCharts,
    latency_words: Option<String>,
    burn_rows: Vec<BurnRow>,
    windows: Vec<(String, String, String, String, String)>,
}

pub async fn slo_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    use crate::slo::engine;
    let user = session::require(&req, &state, Role::Viewer).await?;
    let name = name.into_inner();
    let s = state
        .slo_engine
        .latest
        .read()
        .expect("slo lock")
        .iter()
        .find(|x| x.name == name || format!("{}-{}", x.service, x.name) == name)
        .cloned()
        .ok_or_else(|| WebError::NotFound("There is no evaluated SLO with this name.".into()))?;
    let now = now_ms();
    let status = s.clone();
    let charts = state
        .db
        .read(move |c| {
            Ok::<_, crate::incidents::IncidentError>(crate::web::slo_charts::build(
                c,
                &status,
                Some(&status),
                now,
            )?)
        })
        .await?;
    let (p1, p2, t1, t2) = engine::factors(s.period_days);
    let burn = |w: &str| s.windows.get(w).and_then(|x| x.burn_rate);
    let fmt = |b: Option<f64>| {
        b.map(|b| format!("{b:.2}x"))
            .unwrap_or_else(|| "no data".into())
    };
    let row = |alert: &'static str, long: &'static str, short: &'static str, f: f64| BurnRow {
        alert,
        long,
        long_burn: fmt(burn(long)),
        short,
        short_burn: fmt(burn(short)),
        long_over: burn(long).is_some_and(|b| b > f),
        short_over: burn(short).is_some_and(|b| b > f),
        threshold: format!("{f:.2}x"),
    };
    let burn_rows = vec![
        row("page", "1h", "5m", p1),
        row("page", "6h", "30m", p2),
        row("ticket", "1d", "2h", t1),
        row("ticket", "3d", "6h", t2),
    ];
    let pctf = |v: Option<f64>| {
        v.map(|v| format!("{:.4}%", v * 100.0))
            .unwrap_or_else(|| "no data".into())
    };
    let windows = ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "period"]
        .iter()
        .filter_map(|w| s.windows.get(*w).map(|v| (w.to_string(), v)))
        .map(|(w, v)| {
            (
                w,
                pctf(v.sli),
                pctf(v.error_ratio),
                fmt(v.burn_rate),
                v.events
                    .map(|e| format!("{e:.0}"))
                    .unwrap_or_else(|| "–".into()),
            )
        })
        .collect();
    let view = SloView::new(&s);
    html(&SloPage {
        nav: "home",
        objective: view.objective.clone(),
        words: view.words,
        charts,
        latency_words: s
            .latency
            .as_ref()
            .map(crate::web::slo_charts::latency_words),
        burn_rows,
        windows,
        s,
        user,
    })
}
