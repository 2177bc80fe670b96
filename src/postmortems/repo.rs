//! The owner of the `postmortems` table.

use rusqlite::{OptionalExtension, params};

use super::{Postmortem, Status};
use crate::db::{Conn, StoreResult};

const COLUMNS: &str = "id, incident_id, status, title, sections, metrics, slo_impact, \
    created_by, created_at, updated_at, published_at";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Postmortem> {
    let json = |i: usize| -> rusqlite::Result<serde_json::Value> {
        let text: String = r.get(i)?;
        Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
    };
    let status: String = r.get(2)?;
    Ok(Postmortem {
        id: r.get(0)?,
        incident_id: r.get(1)?,
        status: status.parse().unwrap_or(Status::Draft),
        title: r.get(3)?,
        sections: serde_json::from_value(json(4)?).unwrap_or_default(),
        metrics: serde_json::from_value(json(5)?).unwrap_or_default(),
        slo_impact: serde_json::from_value(json(6)?).unwrap_or_default(),
        created_by: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        published_at: r.get(10)?,
    })
}

/// Stores a new post-mortem; returns its id.
pub fn insert(conn: &Conn, p: &Postmortem) -> StoreResult<i64> {
    conn.sqlite()
        .prepare_cached(
            "INSERT INTO postmortems (incident_id, status, title, sections, metrics, slo_impact, \
             created_by, created_at, updated_at, published_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, NULL)",
        )?
        .execute(params![
            p.incident_id,
            p.status.as_str(),
            p.title,
            serde_json::to_string(&p.sections).unwrap_or_default(),
            serde_json::to_string(&p.metrics).unwrap_or_default(),
            serde_json::to_string(&p.slo_impact).unwrap_or_default(),
            p.created_by,
            p.created_at,
        ])?;
    Ok(conn.sqlite().last_insert_rowid())
}

pub fn get(conn: &Conn, id: i64) -> StoreResult<Option<Postmortem>> {
    Ok(conn
        .sqlite()
        .prepare_cached(&format!("SELECT {COLUMNS} FROM postmortems WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

/// The post-mortem of an incident, if it has one.
pub fn of_incident(conn: &Conn, incident_id: i64) -> StoreResult<Option<i64>> {
    Ok(conn
        .sqlite()
        .prepare_cached("SELECT id FROM postmortems WHERE incident_id = ?1")?
        .query_row([incident_id], |r| r.get(0))
        .optional()?)
}

/// Newest first, optionally of one status; at most `limit`.
pub fn list(conn: &Conn, status: Option<Status>, limit: usize) -> StoreResult<Vec<Postmortem>> {
    let mut stmt = conn.sqlite().prepare_cached(&format!(
        "SELECT {COLUMNS} FROM postmortems WHERE (?1 IS NULL OR status = ?1) \
         ORDER BY id DESC LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![status.map(Status::as_str), limit as i64], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Writes the sections, the status and when it was published.
pub fn update(conn: &Conn, p: &Postmortem) -> StoreResult<()> {
    conn.sqlite()
        .prepare_cached(
            "UPDATE postmortems SET status = ?2, sections = ?3, updated_at = ?4, \
             published_at = ?5 WHERE id = ?1",
        )?
        .execute(params![
            p.id,
            p.status.as_str(),
            serde_json::to_string(&p.sections).unwrap_or_default(),
            p.updated_at,
            p.published_at,
        ])?;
    Ok(())
}
