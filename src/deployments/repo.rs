//! The owner of the `deployments` table.

use super::{Deployment, NewDeployment};
use crate::db::{Conn, Dialect, Row, StoreResult};

const COLUMNS: &str = "id, service, version, description, at, created_by";

fn from_row(r: &Row) -> StoreResult<Deployment> {
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
    conn.insert_id(
        "INSERT INTO deployments (service, version, description, at, created_by, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            &d.service,
            &d.version,
            &d.description,
            &d.at.unwrap_or(now),
            &by,
            &now,
        ],
    )
}

/// Newest first, optionally for one service.
pub fn list(conn: &Conn, service: Option<&str>, limit: usize) -> StoreResult<Vec<Deployment>> {
    let limit = limit as i64;
    match service {
        Some(s) => conn.query_vec(
            &format!(
                "SELECT {COLUMNS} FROM deployments WHERE service = ?1 ORDER BY at DESC, id DESC LIMIT ?2"
            ),
            &[&s, &limit],
            from_row,
        ),
        None => conn.query_vec(
            &format!("SELECT {COLUMNS} FROM deployments ORDER BY at DESC, id DESC LIMIT ?1"),
            &[&limit],
            from_row,
        ),
    }
}

/// Deployments of `service` in the `window_ms` before `at`, newest first (at most 3).
pub fn recent_before(
    conn: &Conn,
    service: &str,
    at: i64,
    window_ms: i64,
) -> StoreResult<Vec<Deployment>> {
    conn.query_vec(
        &format!(
            "SELECT {COLUMNS} FROM deployments \
             WHERE service = ?1 AND at <= ?2 AND at >= ?3 ORDER BY at DESC LIMIT 3"
        ),
        &[&service, &at, &(at - window_ms)],
        from_row,
    )
}

/// Each service's latest deployment (service, version, at), the most recently deployed
/// `limit` services.
pub fn latest_per_service(conn: &Conn, limit: usize) -> StoreResult<Vec<(String, String, i64)>> {
    let sql = match conn.dialect() {
        // SQLite takes the bare columns from the row holding MAX(at).
        Dialect::Sqlite => {
            "SELECT service, version, MAX(at) AS last FROM deployments \
             GROUP BY service ORDER BY last DESC LIMIT ?1"
        }
        // PostgreSQL has no bare columns: DISTINCT ON keeps each service's latest row.
        Dialect::Postgres => {
            "SELECT service, version, at FROM (SELECT DISTINCT ON (service) service, version, at \
             FROM deployments ORDER BY service, at DESC, id DESC) latest \
             ORDER BY at DESC LIMIT ?1"
        }
    };
    conn.query_vec(sql, &[&(limit as i64)], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
}
