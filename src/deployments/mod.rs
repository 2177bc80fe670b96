//! Deployments recorded by CI/CD (`POST /api/v1/deployments`). An incident that opens soon
//! after a deployment of its service gets a timeline entry naming it (see
//! `incidents::service::note_recent_deployments`): the first question on call is usually
//! "what changed?". Charts mark deployments too.

pub mod repo;

use serde::Serialize;

use crate::db::{Db, StoreError};
use crate::time::{now_ms, ser_ms};

#[derive(Debug, Clone, Serialize)]
pub struct Deployment {
    pub id: i64,
    pub service: String,
    pub version: String,
    pub description: String,
    #[serde(serialize_with = "ser_ms")]
    pub at: i64,
    pub created_by: String,
}

pub struct NewDeployment {
    pub service: String,
    pub version: String,
    pub description: String,
    /// When it happened; now when absent.
    pub at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &str, message: impl Into<String>) -> DeploymentError {
    DeploymentError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

#[derive(Clone)]
pub struct Deployments {
    db: Db,
}

impl Deployments {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Validates and records a deployment.
    pub async fn record(
        &self,
        d: NewDeployment,
        by: String,
    ) -> Result<Deployment, DeploymentError> {
        let field_ok = |f: &str, v: &str, max: usize| {
            if v.trim().is_empty() || v.len() > max {
                Err(invalid(f, format!("must be 1-{max} characters")))
            } else {
                Ok(())
            }
        };
        field_ok("service", &d.service, 200)?;
        field_ok("version", &d.version, 200)?;
        if d.description.len() > 5000 {
            return Err(invalid("description", "is too long"));
        }
        let now = now_ms();
        if let Some(at) = d.at
            && at > now + 300_000
        {
            return Err(invalid("at", "is in the future"));
        }
        self.db
            .write(move |c| {
                let id = repo::insert(c, &d, &by, now)?;
                Ok(Deployment {
                    id,
                    service: d.service,
                    version: d.version,
                    description: d.description,
                    at: d.at.unwrap_or(now),
                    created_by: by,
                })
            })
            .await
    }

    /// Each service's latest deployment as (service, version, at), at most `limit`
    /// services, the most recently deployed first.
    pub async fn latest_per_service(
        &self,
        limit: usize,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        self.db
            .read(move |c| repo::latest_per_service(c, limit))
            .await
    }

    /// Deployments of `service` in the `window_ms` before `at`, newest first (at most 3):
    /// "what changed" before an incident opened.
    pub async fn before(
        &self,
        service: String,
        at: i64,
        window_ms: i64,
    ) -> Result<Vec<Deployment>, StoreError> {
        self.db
            .read(move |c| repo::recent_before(c, &service, at, window_ms))
            .await
    }

    /// Newest first, optionally for one service.
    pub async fn list(
        &self,
        service: Option<String>,
        limit: usize,
    ) -> Result<Vec<Deployment>, StoreError> {
        self.db
            .read(move |c| repo::list(c, service.as_deref(), limit))
            .await
    }
}
