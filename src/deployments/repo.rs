//! The owner of the `deployments` table.

use rusqlite::params;

use super::{Deployment, NewDeployment};
use crate::db::{Conn, StoreResult};

const COLUMNS: &str = "id, service, version, description, at, created_by";

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

pub fn insert(conn: &Conn, d: &NewDeployment, by: &str, now: i64) -> StoreResult<i64> {
    let c = conn.sqlite();
    c.prepare_cached(
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
    Ok(c.last_insert_rowid())
}

/// Newest first, optionally for one service.
pub fn list(conn: &Conn, service: Option<&str>, limit: usize) -> StoreResult<Vec<Deployment>> {
    let c = conn.sqlite();
    let rows = match service {
        Some(s) => c
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM deployments WHERE service = ?1 ORDER BY at DESC, id DESC LIMIT ?2"
            ))?
            .query_map(params![s, limit as i64], from_row)?
            .collect::<rusqlite::Result<_>>()?,
        None => c
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM deployments ORDER BY at DESC, id DESC LIMIT ?1"
            ))?
            .query_map(params![limit as i64], from_row)?
            .collect::<rusqlite::Result<_>>()?,
    };
    Ok(rows)
}

/// Deployments of `service` in the `window_ms` before `at`, newest first (at most 3).
pub fn recent_before(
    conn: &Conn,
    service: &str,
    at: i64,
    window_ms: i64,
) -> StoreResult<Vec<Deployment>> {
    let rows = conn
        .sqlite()
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM deployments \
             WHERE service = ?1 AND at <= ?2 AND at >= ?3 ORDER BY at DESC LIMIT 3"
        ))?
        .query_map(params![service, at, at - window_ms], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Each service's latest deployment (service, version, at), the most recently deployed
/// `limit` services.
pub fn latest_per_service(conn: &Conn, limit: usize) -> StoreResult<Vec<(String, String, i64)>> {
    // SQLite takes the bare columns from the row holding MAX(at).
    let rows = conn
        .sqlite()
        .prepare_cached(
            "SELECT service, version, MAX(at) AS last FROM deployments \
             GROUP BY service ORDER BY last DESC LIMIT ?1",
        )?
        .query_map(params![limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}
