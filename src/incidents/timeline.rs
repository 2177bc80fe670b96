//! The owner of the `timeline` table: what happened to an incident, in order.

use super::TimelineEntry;
use crate::db::{Conn, Row, StoreResult};

fn entry_from_row(r: &Row) -> StoreResult<TimelineEntry> {
    let details: Option<String> = r.get(5)?;
    Ok(TimelineEntry {
        id: r.get(0)?,
        at: r.get(1)?,
        kind: r.get(2)?,
        actor: r.get(3)?,
        message: r.get(4)?,
        details: details.and_then(|d| serde_json::from_str(&d).ok()),
    })
}

/// Rewrites an entry's kind and message (a notification's one line, updated at every
/// attempt); it keeps its place and its time.
pub fn update(conn: &Conn, entry_id: i64, kind: &str, message: &str) -> StoreResult<()> {
    conn.execute(
        "UPDATE timeline SET kind = ?2, message = ?3 WHERE id = ?1",
        &[&entry_id, &kind, &message],
    )?;
    Ok(())
}

/// Rewrites an entry's message and details (JSON text): a storm's line gathering the
/// alerts of the notifications that follow it; it keeps its place, kind and time.
pub fn rewrite(conn: &Conn, entry_id: i64, message: &str, details: &str) -> StoreResult<()> {
    conn.execute(
        "UPDATE timeline SET message = ?2, details = ?3 WHERE id = ?1",
        &[&entry_id, &message, &details],
    )?;
    Ok(())
}

/// An entry without its message, its details as stored (JSON text).
pub struct Recent {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub actor: String,
    pub details: Option<String>,
}

/// The incident's newest `n` entries, newest first.
pub fn newest(conn: &Conn, incident_id: i64, n: usize) -> StoreResult<Vec<Recent>> {
    conn.query_vec(
        "SELECT id, at, kind, actor, details FROM timeline \
         WHERE incident_id = ?1 ORDER BY id DESC LIMIT ?2",
        &[&incident_id, &(n as i64)],
        |r| {
            Ok(Recent {
                id: r.get(0)?,
                at: r.get(1)?,
                kind: r.get(2)?,
                actor: r.get(3)?,
                details: r.get(4)?,
            })
        },
    )
}

/// Adds one entry; returns its id.
pub fn add(
    conn: &Conn,
    incident_id: i64,
    at: i64,
    kind: &str,
    actor: &str,
    message: &str,
    details: Option<&serde_json::Value>,
) -> StoreResult<i64> {
    conn.insert_id(
        "INSERT INTO timeline (incident_id, at, kind, actor, message, details) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            &incident_id,
            &at,
            &kind,
            &actor,
            &message,
            &details.map(|d| d.to_string()),
        ],
    )
}

/// The newest entry of `kind` by `actor` among the incident's latest 50.
pub fn latest_of(
    conn: &Conn,
    incident_id: i64,
    kind: &str,
    actor: &str,
) -> StoreResult<Option<TimelineEntry>> {
    // The subquery needs a name in PostgreSQL (before 16).
    conn.query_opt(
        "SELECT id, at, kind, actor, message, details FROM \
         (SELECT * FROM timeline WHERE incident_id = ?1 ORDER BY id DESC LIMIT 50) AS latest \
         WHERE kind = ?2 AND actor = ?3 ORDER BY id DESC LIMIT 1",
        &[&incident_id, &kind, &actor],
        entry_from_row,
    )
}

/// Up to `limit` entries before entry `before` (the newest when None), oldest first, and
/// the cursor of the older ones when there are more.
pub fn page(
    conn: &Conn,
    incident_id: i64,
    before: Option<i64>,
    limit: usize,
) -> StoreResult<(Vec<TimelineEntry>, Option<i64>)> {
    let mut rows = conn.query_vec(
        "SELECT id, at, kind, actor, message, details FROM timeline \
         WHERE incident_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
        &[
            &incident_id,
            &before.unwrap_or(i64::MAX),
            &(limit as i64 + 1),
        ],
        entry_from_row,
    )?;
    let older = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|e| e.id)
    } else {
        None
    };
    rows.reverse();
    Ok((rows, older))
}
