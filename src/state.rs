//! What request handlers and jobs are handed: the services, passed explicitly.

use std::sync::Arc;
use std::time::Instant;

use crate::alerts::Intake;
use crate::auth::accounts::Accounts;
use crate::config::Resolved;
use crate::db::Db;
use crate::deployments::Deployments;
use crate::incidents::Incidents;
use crate::notify::Notifications;
use crate::slo::Slos;
use crate::telemetry::Metrics;

pub struct AppState {
    pub settings: Resolved,
    pub db: Db,
    /// This replica, its peers and whether it leads (runs the work that must run once).
    pub cluster: crate::cluster::Cluster,
    pub incidents: Incidents,
    pub intake: Intake,
    pub notifications: Notifications,
    pub slos: Slos,
    pub deployments: Deployments,
    pub runbooks: crate::runbooks::Runbooks,
    pub oncall: crate::oncall::Oncall,
    pub postmortems: crate::postmortems::Postmortems,
    pub jobs: crate::jobs::Jobs,
    pub healing: crate::healing::Healing,
    pub reports: crate::reports::Reports,
    pub accounts: Accounts,
    pub metrics: Arc<Metrics>,
    /// The bearer token Alertmanager must send.
    pub webhook_token: String,
    /// A secret made at start with which Firewatch scrapes its own /metrics (viewer
    /// rights) when `server.public_ops` is off; it never leaves the process.
    pub self_token: String,
    pub started_at: Instant,
    /// The one outgoing HTTP client (rustls, timeouts, user agent).
    pub http: reqwest::Client,
}

impl AppState {
    /// Who a bearer token belongs to: Firewatch itself, an API token, or nobody.
    pub async fn token_principal(
        &self,
        token: &str,
    ) -> Result<Option<crate::auth::Principal>, crate::auth::AuthError> {
        if crate::auth::secrets_equal(token, &self.self_token) {
            return Ok(Some(crate::auth::Principal::Token {
                name: "firewatch-self-monitoring".into(),
                role: crate::auth::Role::Viewer,
            }));
        }
        self.accounts.token_principal(token).await
    }

    /// The notification delivery worker (tests drain it with `run_until_idle`).
    pub fn notification_worker(&self) -> crate::notify::worker::Worker {
        self.notifications
            .worker(self.http.clone(), self.metrics.notifications.clone())
    }
}
