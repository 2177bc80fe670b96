//! The dashboard: firing burn-rate alerts, open incidents, response times, recent
//! deployments, the SLO table with sparklines, and the panels of one SLO.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::session::{self, PageUser};
use super::views::{IncidentView, SloView, status_rank};
use super::{WebError, html};
use crate::auth::Role;
use crate::incidents::stats::ResponseStats;
use crate::incidents::{ListQuery, Severity, Sort, Status, StatusFilter};
use crate::slo::ChartRange;
use crate::state::AppState;
use crate::time::{human_duration, now_ms};

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
    /// Failing deliveries, for the banner.
    trouble: Option<crate::notify::outbox::Trouble>,
    oncall: Option<super::views::OncallView>,
    /// Post-mortems due: (severity, title, link, "due Mon 7 Dec", stage, overdue).
    due: Vec<(String, String, String, String, &'static str, bool)>,
    overdue_items: i64,
}

/// The dashboard's panels for one SLO, as on a Grafana SLO dashboard.
pub struct Focus {
    pub view: SloView,
    pub charts: super::slo_charts::SloCharts,
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
        .list(ListQuery {
            limit: 10,
            // The 3 a.m. view: the most severe first.
            sort: Sort::Severity,
            ..Default::default()
        })
        .await?;
    let (resolved, _) = state
        .incidents
        .list(ListQuery {
            status: StatusFilter::Only(Status::Resolved),
            limit: 5,
            ..Default::default()
        })
        .await?;
    let stats = state
        .incidents
        .response_stats(now - 30 * 86_400_000)
        .await?;
    let deployments = state
        .deployments
        .list(None, 5)
        .await?
        .into_iter()
        .map(|d| {
            let ago = human_duration(now - d.at);
            (d, ago)
        })
        .collect();
    let latest = state.slos.statuses();
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
    let spark_from = super::slos::spark_from(now);
    let focus = focus_status
        .as_ref()
        .map(|f| (f, latency_status.as_ref(), ChartRange::Day));
    let (hourly, data) = state.slos.panels(&latest, focus, spark_from, now).await?;

    let charts = match (&focus_status, data) {
        (Some(f), Some(data)) => Some((
            f.clone(),
            super::slo_charts::build(f, latency_status.as_ref(), &data, ChartRange::Day),
            latency_status,
        )),
        _ => None,
    };
    let slos = super::slos::table(&latest, &hourly, spark_from);
    let focus = charts.map(|(f, charts, lat)| {
        let view = SloView::new(&f);
        let (p1, p2, _, _) = crate::slo::window::factors(f.period_days);
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
                    .map(super::slo_charts::latency_words)
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
    let trouble = state.notifications.trouble().await?;
    let mut open: Vec<IncidentView> = open
        .into_iter()
        .map(|i| IncidentView::new(i, now))
        .collect();
    super::views::mark_silenced(&state, &mut open).await?;
    html(&HomePage {
        trouble,
        oncall: super::views::OncallView::now(&state),
        due: state
            .postmortems
            .due(now)
            .await?
            .into_iter()
            .map(|d| {
                let link = match d.postmortem_id {
                    Some(p) => format!("/postmortems/{p}"),
                    None => format!("/incidents/{}", d.incident_id),
                };
                let stage = d.postmortem_status.map_or("not started", |s| s.words());
                (
                    d.severity,
                    d.title,
                    link,
                    crate::time::short(d.deadline),
                    stage,
                    d.overdue,
                )
            })
            .collect(),
        overdue_items: state.postmortems.item_counts().await?.1,
        focus,
        burning,
        slos,
        deployments,
        nav: "home",
        open_by_severity,
        triggered: count(Status::Triggered, None),
        acknowledged: count(Status::Acknowledged, None),
        open,
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
