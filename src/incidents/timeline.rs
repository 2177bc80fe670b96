//! The owner of the `timeline` table: what happened to an incident, in order.

use rusqlite::params;

use super::TimelineEntry;
use crate::db::{Conn, StoreResult};

/// An incident's timeline, oldest first.
pub fn list(conn: &Conn, incident_id: i64) -> StoreResult<Vec<TimelineEntry>> {
    let mut stmt = conn.sqlite().prepare_cached(
        "SELECT id, at, kind, actor, message, details FROM timeline \
         WHERE incident_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([incident_id], |r| {
        let details: Option<String> = r.get(5)?;
        Ok(TimelineEntry {
            id: r.get(0)?,
            at: r.get(1)?,
            kind: r.get(2)?,
            actor: r.get(3)?,
            message: r.get(4)?,
            details: details.and_then(|d| serde_json::from_str(&d).ok()),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Adds one entry.
pub fn add(
    conn: &Conn,
    incident_id: i64,
    at: i64,
    kind: &str,
    actor: &str,
    message: &str,
    details: Option<&serde_json::Value>,
) -> StoreResult<()> {
    conn.sqlite()
        .prepare_cached(
            "INSERT INTO timeline (incident_id, at, kind, actor, message, details) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            incident_id,
            at,
            kind,
            actor,
            message,
            details.map(|d| d.to_string())
        ])?;
    Ok(())
}
