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
    pub incidents: Incidents,
    pub intake: Intake,
    pub notifications: Notifications,
    pub slos: Slos,
    pub deployments: Deployments,
    pub accounts: Accounts,
    pub metrics: Arc<Metrics>,
    /// The bearer token Alertmanager must send.
    pub webhook_token: String,
    pub started_at: Instant,
    /// The one outgoing HTTP client (rustls, timeouts, user agent).
    pub http: reqwest::Client,
}

impl AppState {
    /// The notification delivery worker (tests drain it with `run_until_idle`).
    pub fn notification_worker(&self) -> crate::notify::worker::Worker {
        self.notifications
            .worker(self.http.clone(), self.metrics.notifications.clone())
    }
}
