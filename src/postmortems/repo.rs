//! The owner of the `postmortems` and `action_items` tables.

use super::items::{ActionItem, ItemFilter};
use super::{Postmortem, Status};
use crate::db::{Conn, Param, Row, StoreResult, Value};

const COLUMNS: &str = "id, incident_id, status, title, sections, metrics, slo_impact, \
    created_by, created_at, updated_at, published_at";

fn from_row(r: &Row) -> StoreResult<Postmortem> {
    let json = |i: usize| -> StoreResult<serde_json::Value> {
        let text: String = r.get(i)?;
        Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
    };
    let status: String = r.get(2)?;
    Ok(Postmortem {
        id: r.get(0)?,
        incident_id: r.get(1)?,
        status: status.parse().unwrap_or(Status::Draft),
        title: r.get(3)?,
        sections: {
            let mut s: std::collections::BTreeMap<String, String> =
                serde_json::from_value(json(4)?).unwrap_or_default();
            for (k, _, _) in super::SECTIONS {
                s.entry(k.to_string()).or_default();
            }
            s
        },
        metrics: serde_json::from_value(json(5)?).unwrap_or_default(),
        slo_impact: serde_json::from_value(json(6)?).unwrap_or_default(),
        action_items: None,
        created_by: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        published_at: r.get(10)?,
    })
}

/// Stores a new post-mortem; returns its id.
pub fn insert(conn: &Conn, p: &Postmortem) -> StoreResult<i64> {
    conn.insert_id(
        "INSERT INTO postmortems (incident_id, status, title, sections, metrics, slo_impact, \
         created_by, created_at, updated_at, published_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, NULL)",
        &[
            &p.incident_id,
            &p.status.as_str(),
            &p.title,
            &serde_json::to_string(&p.sections).unwrap_or_default(),
            &serde_json::to_string(&p.metrics).unwrap_or_default(),
            &serde_json::to_string(&p.slo_impact).unwrap_or_default(),
            &p.created_by,
            &p.created_at,
        ],
    )
}

pub fn get(conn: &Conn, id: i64) -> StoreResult<Option<Postmortem>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM postmortems WHERE id = ?1"),
        &[&id],
        from_row,
    )
}

/// The post-mortem of an incident, if it has one.
pub fn of_incident(conn: &Conn, incident_id: i64) -> StoreResult<Option<i64>> {
    conn.query_opt(
        "SELECT id FROM postmortems WHERE incident_id = ?1",
        &[&incident_id],
        |r| r.get(0),
    )
}

/// Newest first, optionally of one status; at most `limit`.
pub fn list(conn: &Conn, status: Option<Status>, limit: usize) -> StoreResult<Vec<Postmortem>> {
    conn.query_vec(
        &format!(
            "SELECT {COLUMNS} FROM postmortems WHERE (CAST(?1 AS TEXT) IS NULL OR status = ?1) \
             ORDER BY id DESC LIMIT ?2"
        ),
        &[&status.map(Status::as_str), &(limit as i64)],
        from_row,
    )
}

/// Writes the sections, the status and when it was published.
pub fn update(conn: &Conn, p: &Postmortem) -> StoreResult<()> {
    conn.execute(
        "UPDATE postmortems SET status = ?2, sections = ?3, updated_at = ?4, \
         published_at = ?5 WHERE id = ?1",
        &[
            &p.id,
            &p.status.as_str(),
            &serde_json::to_string(&p.sections).unwrap_or_default(),
            &p.updated_at,
            &p.published_at,
        ],
    )?;
    Ok(())
}

const ITEM_COLUMNS: &str = "a.id, a.postmortem_id, a.title, a.owner, a.kind, a.priority, a.due, \
    a.status, a.url, a.created_by, a.created_at, a.updated_at, p.incident_id, i.service";
const ITEM_FROM: &str = "action_items a JOIN postmortems p ON p.id = a.postmortem_id \
    JOIN incidents i ON i.id = p.incident_id";

/// An action item; `today` (YYYY-MM-DD) decides whether it is overdue.
fn item_from_row(r: &Row, today: &str) -> StoreResult<ActionItem> {
    let due: String = r.get(6)?;
    let status: String = r.get(7)?;
    Ok(ActionItem {
        id: r.get(0)?,
        postmortem_id: r.get(1)?,
        title: r.get(2)?,
        owner: r.get(3)?,
        kind: r.get(4)?,
        priority: r.get(5)?,
        overdue: super::items::overdue(&due, &status, today),
        due,
        status,
        url: r.get(8)?,
        created_by: r.get(9)?,
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
        incident_id: r.get(12)?,
        service: r.get(13)?,
    })
}

/// Stores a new action item; returns its id.
pub fn insert_item(conn: &Conn, a: &ActionItem) -> StoreResult<i64> {
    conn.insert_id(
        "INSERT INTO action_items (postmortem_id, title, owner, kind, priority, due, status, \
         url, created_by, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
        &[
            &a.postmortem_id,
            &a.title,
            &a.owner,
            &a.kind,
            &a.priority,
            &a.due,
            &a.status,
            &a.url,
            &a.created_by,
            &a.created_at,
        ],
    )
}

pub fn get_item(conn: &Conn, id: i64, today: &str) -> StoreResult<Option<ActionItem>> {
    conn.query_opt(
        &format!("SELECT {ITEM_COLUMNS} FROM {ITEM_FROM} WHERE a.id = ?1"),
        &[&id],
        |r| item_from_row(r, today),
    )
}

pub fn update_item(conn: &Conn, a: &ActionItem) -> StoreResult<()> {
    conn.execute(
        "UPDATE action_items SET title = ?2, owner = ?3, kind = ?4, priority = ?5, due = ?6, \
         status = ?7, url = ?8, updated_at = ?9 WHERE id = ?1",
        &[
            &a.id,
            &a.title,
            &a.owner,
            &a.kind,
            &a.priority,
            &a.due,
            &a.status,
            &a.url,
            &a.updated_at,
        ],
    )?;
    Ok(())
}

/// The tracker: items matching `f`, overdue ones first, then by due date; at most 1,000.
pub fn list_items(conn: &Conn, f: &ItemFilter, today: &str) -> StoreResult<Vec<ActionItem>> {
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM {ITEM_FROM} \
         WHERE (CAST(?1 AS TEXT) IS NULL OR a.status = ?1) \
         AND (CAST(?2 AS TEXT) IS NULL OR a.owner = ?2) \
         AND (CAST(?3 AS TEXT) IS NULL OR i.service = ?3) \
         AND (CAST(?4 AS BIGINT) = 0 OR (a.status IN ('open', 'in_progress') AND a.due < ?5)) \
         AND (CAST(?6 AS BIGINT) IS NULL OR a.postmortem_id = ?6) \
         ORDER BY (a.status IN ('open', 'in_progress') AND a.due < ?5) DESC, a.due, a.id \
         LIMIT 1000"
    );
    conn.query_vec(
        &sql,
        &[
            &f.status,
            &f.owner,
            &f.service,
            &f.overdue,
            &today,
            &f.postmortem_id,
        ],
        |r| item_from_row(r, today),
    )
}

/// A resolved incident that needs a post-mortem not yet published.
pub struct DueRow {
    pub incident_id: i64,
    pub title: String,
    pub severity: String,
    pub service: String,
    pub resolved_at: i64,
    pub postmortem: Option<(i64, String)>,
}

/// Incidents of `severities` resolved since `since` without a published post-mortem,
/// oldest first (at most 200).
pub fn due(conn: &Conn, severities: &[&str], since: i64) -> StoreResult<Vec<DueRow>> {
    if severities.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; severities.len()].join(", ");
    let sql = format!(
        "SELECT i.id, i.title, i.severity, i.service, i.resolved_at, p.id, p.status \
         FROM incidents i LEFT JOIN postmortems p ON p.incident_id = i.id \
         WHERE i.resolved_at >= ? AND i.status = 'resolved' AND i.drill = 0 \
         AND i.severity IN ({marks}) \
         AND (p.id IS NULL OR p.status != 'published') ORDER BY i.resolved_at LIMIT 200"
    );
    let mut args: Vec<Value> = vec![Value::Int(since)];
    args.extend(severities.iter().map(|s| Value::Text(s.to_string())));
    let refs: Vec<&dyn Param> = args.iter().map(|a| a as &dyn Param).collect();
    conn.query_vec(&sql, &refs, |r| {
        let pid: Option<i64> = r.get(5)?;
        let status: Option<String> = r.get(6)?;
        Ok(DueRow {
            incident_id: r.get(0)?,
            title: r.get(1)?,
            severity: r.get(2)?,
            service: r.get(3)?,
            resolved_at: r.get(4)?,
            postmortem: pid.zip(status),
        })
    })
}

/// Action items per status, and how many are overdue on `today`.
pub fn item_counts(conn: &Conn, today: &str) -> StoreResult<(Vec<(String, i64)>, i64)> {
    let counts = conn.query_vec(
        "SELECT status, COUNT(*) FROM action_items GROUP BY status",
        &[],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let overdue = conn.query_one(
        "SELECT COUNT(*) FROM action_items WHERE status IN ('open', 'in_progress') AND due < ?1",
        &[&today],
    )?;
    Ok((counts, overdue))
}
