//! Runbooks: the list (with files that could not be read), and one runbook — opened from
//! an incident (`?incident=ID`), its `{{label}}` placeholders are filled from the
//! incident's labels and the incident's timeline records who opened it.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::session::{self, PageUser};
use super::{WebError, html};
use crate::auth::Role;
use crate::runbooks::{Broken, Runbook};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "runbooks.html")]
struct RunbooksPage {
    user: PageUser,
    nav: &'static str,
    runbooks: Vec<Arc<Runbook>>,
    broken: Vec<Broken>,
    dir: Option<String>,
}

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    html(&RunbooksPage {
        nav: "runbooks",
        runbooks: state.runbooks.list(),
        broken: state.runbooks.broken(),
        dir: state
            .settings
            .raw
            .runbooks
            .dir
            .as_ref()
            .map(|d| d.display().to_string()),
        user,
    })
}

#[derive(Template)]
#[template(path = "runbook.html")]
struct RunbookPage {
    user: PageUser,
    nav: &'static str,
    runbook: Arc<Runbook>,
    html: String,
    /// Opened from this incident.
    incident: Option<OpenedFrom>,
}

/// The incident a runbook was opened from, and the labels filled in.
struct OpenedFrom {
    id: i64,
    title: String,
    labels: Vec<(String, String)>,
}

#[derive(Deserialize)]
pub struct RunbookParams {
    incident: Option<String>,
}

/// What a runbook's placeholders are filled with from an incident: the labels of its
/// first alert (firing first), the incident's service, and `incident` (its number).
pub fn incident_labels(d: &crate::incidents::service::IncidentDetail) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = d
        .alerts
        .first()
        .map(|a| {
            a.labels
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    if !d.incident.service.is_empty() {
        labels.insert("service".into(), d.incident.service.clone());
    }
    labels.insert("incident".into(), d.incident.id.to_string());
    labels
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    params: web::Query<RunbookParams>,
) -> Result<HttpResponse, WebError> {
    let user = session::require(&req, &state, Role::Viewer).await?;
    let runbook = state
        .runbooks
        .get(&name)
        .ok_or_else(|| WebError::NotFound("There is no runbook with this name.".into()))?;
    let incident = match params.incident.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(id) => {
            let id: i64 = id
                .parse()
                .map_err(|_| WebError::BadRequest("incident: not an incident number".into()))?;
            let d = state.incidents.detail(id).await?;
            state
                .incidents
                .runbook_opened(id, user.name().clone(), runbook.name.clone())
                .await?;
            Some((d.incident.id, d.incident.title.clone(), incident_labels(&d)))
        }
    };
    let labels = incident.as_ref().map(|i| i.2.clone()).unwrap_or_default();
    html(&RunbookPage {
        nav: "runbooks",
        html: crate::runbooks::render_with(
            &runbook,
            &labels,
            &BTreeMap::from([(
                "contacts",
                super::views::contacts_table(state.oncall.contacts()),
            )]),
        ),
        incident: incident.map(|(id, title, labels)| OpenedFrom {
            id,
            title,
            labels: labels.into_iter().collect(),
        }),
        runbook,
        user,
    })
}
