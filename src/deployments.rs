//! Deployments recorded by CI/CD (`POST /api/v1/deployments`). An incident that opens soon
//! after a deployment of its service gets a timeline entry naming it: the first question
//! on call is usually "what changed?".

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::db::Db;
use crate::incidents::IncidentError;
use crate::time::{human_duration, now_ms, ser_ms};

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

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Deployment> {
    Ok(Deployment {
        id: r.get(0)?,
        service: r.get(1)?,
        version: r.get(2)?,
        description: r.get(3)?,
        at: r.get(4)?,
        created_by: r.get(5)?,
    })
}

pub fn insert(conn: &Connection, d: &NewDeployment, by: &str, now: i64) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO deployments (service, version, description, at, created_by, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        d.service,
        d.version,
        d.description,
        d.at.unwrap_or(now),
        by,
        now
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Newest first, optionally for one service.
pub fn list(
    conn: &Connection,
    service: Option<&str>,
    limit: usize,
) -> rusqlite::Result<Vec<Deployment>> {
    let cols = "id, service, version, description, at, created_by";
    match service {
        Some(s) => conn
            .prepare_cached(&format!(
                "SELECT {cols} FROM deployments WHERE service = ?1 ORDER BY at DESC, id DESC LIMIT ?2"
            ))?
            .query_map(params![s, limit as i64], from_row)?
            .collect(),
        None => conn
            .prepare_cached(&format!(
                "SELECT {cols} FROM deployments ORDER BY at DESC, id DESC LIMIT ?1"
            ))?
            .query_map(params![limit as i64], from_row)?
            .collect(),
    }
}

/// Deployments of `service` in the `window_ms` before `at`, newest first.
pub fn recent_before(
    conn: &Connection,
    service: &str,
    at: i64,
    window_ms: i64,
) -> rusqlite::Result<Vec<Deployment>> {
    conn.prepare_cached(
        "SELECT id, service, version, description, at, created_by FROM deployments \
         WHERE service = ?1 AND at <= ?2 AND at >= ?3 ORDER BY at DESC LIMIT 3",
    )?
    .query_map(params![service, at, at - window_ms], from_row)?
    .collect()
}

/// Adds "what changed" to a newly opened incident's timeline.
pub fn note_recent(
    conn: &Connection,
    incident_id: i64,
    service: &str,
    now: i64,
    window_ms: i64,
) -> rusqlite::Result<()> {
    if service.is_empty() || window_ms <= 0 {
        return Ok(());
    }
    for d in recent_before(conn, service, now, window_ms)? {
        let what = if d.description.is_empty() {
            String::new()
        } else {
            format!(": {}", d.description)
        };
        crate::incidents::repo::add_timeline(
            conn,
            incident_id,
            now,
            "deployment",
            &d.created_by,
            &format!(
                "Recent change: {} {} was deployed {} before this incident{what}",
                d.service,
                d.version,
                human_duration(now - d.at)
            ),
            Some(&serde_json::json!({ "deployment_id": d.id })),
        )?;
    }
    Ok(())
}

/// Validates and records a deployment.
pub async fn record(db: &Db, d: NewDeployment, by: String) -> Result<Deployment, IncidentError> {
    let field_ok = |f: &str, v: &str, max: usize| {
        if v.trim().is_empty() || v.len() > max {
            Err(IncidentError::invalid(
                f,
                format!("must be 1-{max} characters"),
            ))
        } else {
            Ok(())
        }
    };
    field_ok("service", &d.service, 200)?;
    field_ok("version", &d.version, 200)?;
    if d.description.len() > 5000 {
        return Err(IncidentError::invalid("description", "is too long"));
    }
    let now = now_ms();
    if let Some(at) = d.at
        && at > now + 300_000
    {
        return Err(IncidentError::invalid("at", "is in the future"));
    }
    db.write(move |c| {
        let id = insert(c, &d, &by, now)?;
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
