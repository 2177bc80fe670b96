//! Incident pages: the list, one incident with its alerts, timeline and notifications,
//! lifecycle actions, and declaring an incident by hand.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use super::session::{self, PageUser};
use super::views::{AlertView, IncidentView, TimelineView};
use super::{WebError, html, html_status, see_other};
use crate::api::ApiError;
use crate::auth::Role;
use crate::incidents::alert_rows::AlertCursor;
use crate::incidents::service::{ALERTS_PAGE, ManualIncident, TIMELINE_PAGE};
use crate::incidents::{IncidentError, Severity};
use crate::notify::outbox::{ListFilter, Notification};
use crate::state::AppState;
use crate::time::{now_ms, short};

#[derive(Template)]
#[template(path = "incidents/detail.html")]
struct DetailPage {
    user: PageUser,
    nav: &'static str,
    view: IncidentView,
    alerts: Vec<AlertView>,
    /// More alerts than shown: link to all of them.
    alerts_more: bool,
    /// Newest first.
    timeline: Vec<TimelineView>,
    timeline_older: Option<i64>,
    notifications: Vec<(Notification, String)>,
    error: Option<String>,
    /// What the action that led here did ("Acknowledged."), from a fixed set.
    done: Option<&'static str>,
    /// Failing deliveries, for the banner.
    trouble: Option<crate::notify::outbox::Trouble>,
    /// User names to pick assignee and commander from (free text still allowed).
    people: Vec<String>,
    /// Deployments of the service shortly before the incident opened, in words:
    /// (service, version, "4m before", by).
    changes: Vec<(String, String, String, String)>,
    /// The SLO page of a burn-rate incident (raised by the engine or by the generated
    /// Prometheus rules), when that SLO is evaluated here.
    slo_link: Option<(String, String)>,
    /// Runbooks that cover the incident's alerts or service: (name, title).
    runbooks: Vec<(String, String)>,
    oncall: Option<super::views::OncallView>,
    postmortem_id: Option<i64>,
}

/// `/slos/<service>-<name>` and the SLO's name for an alert whose labels name an SLO
/// (`slo`/`service` from the engine, `sloth_slo`/`sloth_service` from Sloth rules).
fn slo_link(
    state: &AppState,
    labels: &serde_json::Map<String, serde_json::Value>,
) -> Option<(String, String)> {
    let get = |k: &str| labels.get(k).and_then(|v| v.as_str());
    let (service, name) = get("sloth_service")
        .zip(get("sloth_slo"))
        .or_else(|| get("service").zip(get("slo")))?;
    let s = state.slos.find(&format!("{service}-{name}")).ok()?;
    Some((format!("/slos/{}-{}", s.service, s.name), s.name))
}

#[derive(Deserialize)]
pub struct DetailQuery {
    done: Option<String>,
}

/// The confirmation of an action, by the action's name (never text from the address).
fn done_message(action: &str) -> Option<&'static str> {
    Some(match action {
        "acknowledge" => "Acknowledged.",
        "resolve" => "Resolved.",
        "reopen" => "Reopened.",
        "notes" => "Note added.",
        "assign" => "People updated.",
        "edit" => "Incident updated.",
        _ => return None,
    })
}

pub async fn detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<DetailQuery>,
) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    let id: i64 = id
        .parse()
        .map_err(|_| WebError::NotFound("There is no such incident.".into()))?;
    let mut page = detail_page(&state, user, id, None).await?;
    page.done = query.done.as_deref().and_then(done_message);
    html(&page)
}

/// The incident page, with the error of a failed action when there is one.
async fn detail_page(
    state: &AppState,
    user: PageUser,
    id: i64,
    error: Option<String>,
) -> Result<DetailPage, WebError> {
    let d = state.incidents.detail(id).await?;
    let notifications = state
        .notifications
        .list(ListFilter {
            incident_id: Some(id),
            limit: 100,
            ..Default::default()
        })
        .await?
        .into_iter()
        .map(|n| {
            let when = short(n.delivered_at.unwrap_or(n.created_at));
            (n, when)
        })
        .collect();
    let slo_link = d.alerts.iter().find_map(|a| slo_link(state, &a.labels));
    let mut names: Vec<&str> = d.alerts.iter().map(|a| a.alertname.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let runbooks = state
        .runbooks
        .matching(&names, Some(&d.incident.service))
        .into_iter()
        .map(|r| (r.name.clone(), r.title.clone()))
        .collect();
    let changes = if d.incident.service.is_empty() {
        Vec::new()
    } else {
        let window = state.settings.deploy_window.as_millis() as i64;
        state
            .deployments
            .before(d.incident.service.clone(), d.incident.created_at, window)
            .await?
            .into_iter()
            .map(|dep| {
                let before = crate::time::human_duration(d.incident.created_at - dep.at);
                (dep.service, dep.version, before, dep.created_by)
            })
            .collect()
    };
    let mut view = [IncidentView::new(d.incident, now_ms())];
    super::views::mark_silenced(state, &mut view).await?;
    let [view] = view;
    let postmortem_id = state.postmortems.of_incident(id).await?;
    Ok(DetailPage {
        postmortem_id,
        oncall: super::views::OncallView::now(state),
        runbooks,
        notifications,
        nav: "incidents",
        view,
        alerts: d.alerts.into_iter().map(AlertView::new).collect(),
        alerts_more: d.alerts_next.is_some(),
        timeline: d
            .timeline
            .into_iter()
            .rev()
            .map(TimelineView::new)
            .collect(),
        timeline_older: d.timeline_older,
        error,
        done: None,
        trouble: state.notifications.trouble().await?,
        slo_link,
        changes,
        people: if user.can_respond() {
            state
                .accounts
                .users()
                .await?
                .into_iter()
                .filter(|u| !u.disabled)
                .map(|u| u.name)
                .collect()
        } else {
            Vec::new()
        },
        user,
    })
}

#[derive(Template)]
#[template(path = "incidents/alerts.html")]
struct AlertsPage {
    user: PageUser,
    nav: &'static str,
    view: IncidentView,
    status: &'static str,
    tabs: Vec<(&'static str, &'static str, i64)>,
    alerts: Vec<AlertView>,
    next_cursor: Option<String>,
    page_size: usize,
}

#[derive(Deserialize)]
pub struct AlertsParams {
    status: Option<String>,
    cursor: Option<String>,
}

/// All alerts of an incident, firing first, a page at a time.
pub async fn alerts(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    params: web::Query<AlertsParams>,
) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    let id: i64 = id
        .parse()
        .map_err(|_| WebError::NotFound("There is no such incident.".into()))?;
    let p = params.into_inner();
    let (status, only) = match p.status.as_deref() {
        Some("firing") => ("firing", Some(true)),
        Some("resolved") => ("resolved", Some(false)),
        _ => ("all", None),
    };
    let after = p.cursor.as_deref().and_then(AlertCursor::parse);
    let (alerts, next) = state.incidents.alerts(id, only, after, ALERTS_PAGE).await?;
    let inc = state.incidents.detail_head(id).await?;
    let (total, firing) = (inc.alert_count, inc.firing_count);
    html(&AlertsPage {
        nav: "incidents",
        tabs: vec![
            ("all", "All", total),
            ("firing", "Firing", firing),
            ("resolved", "Resolved", total - firing),
        ],
        view: IncidentView::new(inc, now_ms()),
        status,
        alerts: alerts.into_iter().map(AlertView::new).collect(),
        next_cursor: next.map(|c| c.to_string()),
        page_size: ALERTS_PAGE,
        user,
    })
}

#[derive(Template)]
#[template(path = "incidents/timeline.html")]
struct TimelinePage {
    user: PageUser,
    nav: &'static str,
    view: IncidentView,
    /// Newest first.
    timeline: Vec<TimelineView>,
    timeline_older: Option<i64>,
}

#[derive(Deserialize)]
pub struct TimelineParams {
    before: Option<i64>,
}

/// An incident's older timeline entries, newest first, a page at a time.
pub async fn timeline(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    params: web::Query<TimelineParams>,
) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    let id: i64 = id
        .parse()
        .map_err(|_| WebError::NotFound("There is no such incident.".into()))?;
    let (entries, older) = state
        .incidents
        .timeline(id, params.before, TIMELINE_PAGE)
        .await?;
    let inc = state.incidents.detail_head(id).await?;
    html(&TimelinePage {
        nav: "incidents",
        view: IncidentView::new(inc, now_ms()),
        timeline: entries.into_iter().rev().map(TimelineView::new).collect(),
        timeline_older: older,
        user,
    })
}

#[derive(Deserialize)]
pub struct ActionForm {
    csrf: String,
    text: Option<String>,
    assignee: Option<String>,
    commander: Option<String>,
    title: Option<String>,
    severity: Option<String>,
}

/// acknowledge, resolve, reopen, notes and assign. A refused action (a conflicting
/// transition, an invalid value) shows the incident page with the reason, answered with
/// the status the API gives for it (409, 422).
pub async fn action(
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
        "edit" => match form.severity.as_deref().map(str::parse).transpose() {
            Ok(severity) => inc.edit(id, actor, form.title, severity).await.map(|_| ()),
            Err(_) => Err(IncidentError::invalid("severity", "must be P0..P4")),
        },
        _ => return Err(WebError::NotFound("Unknown action.".into())),
    };
    match result {
        Ok(()) => Ok(see_other(&format!("/incidents/{id}?done={action}"))),
        Err(e @ (IncidentError::Conflict(_) | IncidentError::Invalid { .. })) => {
            let message = e.to_string();
            let status = ResponseError::status_code(&ApiError::from(e));
            html_status(&detail_page(&state, user, id, Some(message)).await?, status)
        }
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

pub async fn new(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
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

pub async fn create(
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
            let page = NewPage {
                nav: "incidents",
                error: Some(message),
                form,
                user,
            };
            html_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}
