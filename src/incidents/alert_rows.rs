//! The owner of the `alerts` table: the alerts of each incident, one row per fingerprint.

use rusqlite::{OptionalExtension, params};

use super::repo::parse_col;
use super::{Alert, Severity};
use crate::db::{Conn, StoreResult};

fn json_map(text: &str) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(text).unwrap_or_default()
}

const ALERT_COLUMNS: &str = "id, fingerprint, status, alertname, severity, labels, \
    annotations, starts_at, ends_at, generator_url, first_seen_at, last_seen_at";

fn alert_from_row(r: &rusqlite::Row) -> rusqlite::Result<Alert> {
    Ok(Alert {
        id: r.get(0)?,
        fingerprint: r.get(1)?,
        status: r.get(2)?,
        alertname: r.get(3)?,
        severity: parse_col(r, 4)?,
        labels: json_map(&r.get::<_, String>(5)?),
        annotations: json_map(&r.get::<_, String>(6)?),
        starts_at: r.get(7)?,
        ends_at: r.get(8)?,
        generator_url: r.get(9)?,
        first_seen_at: r.get(10)?,
        last_seen_at: r.get(11)?,
    })
}

/// Where a page of an incident's alerts goes on from: firing alerts come first, each
/// state by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertCursor {
    pub firing: bool,
    pub after_id: i64,
}

impl AlertCursor {
    /// `firing.123` or `resolved.456`.
    pub fn parse(text: &str) -> Option<Self> {
        let (state, id) = text.split_once('.')?;
        Some(Self {
            firing: match state {
                "firing" => true,
                "resolved" => false,
                _ => return None,
            },
            after_id: id.parse().ok()?,
        })
    }
}

impl std::fmt::Display for AlertCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.firing { "firing" } else { "resolved" };
        write!(f, "{state}.{}", self.after_id)
    }
}

/// Up to `limit` alerts of an incident, firing first, from `after` on; `only` keeps one
/// state. Returns the page and where the next one starts.
pub fn page(
    conn: &Conn,
    incident_id: i64,
    only: Option<bool>,
    after: Option<AlertCursor>,
    limit: usize,
) -> StoreResult<(Vec<Alert>, Option<AlertCursor>)> {
    let mut stmt = conn.sqlite().prepare_cached(&format!(
        "SELECT {ALERT_COLUMNS} FROM alerts WHERE incident_id = ?1 AND status = ?2 AND id > ?3 \
         ORDER BY id LIMIT ?4"
    ))?;
    let mut out: Vec<Alert> = Vec::with_capacity(limit.min(1024));
    let mut next = None;
    for firing in [true, false] {
        if only.is_some_and(|o| o != firing) || after.is_some_and(|a| a.firing != firing && firing)
        {
            continue;
        }
        let from = after
            .filter(|a| a.firing == firing)
            .map_or(0, |a| a.after_id);
        let want = limit + 1 - out.len();
        let state = if firing { "firing" } else { "resolved" };
        let rows = stmt
            .query_map(
                params![incident_id, state, from, want as i64],
                alert_from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        out.extend(rows);
        if out.len() > limit {
            out.truncate(limit);
            let last = out.last().expect("a full page");
            next = Some(AlertCursor {
                firing: last.status == "firing",
                after_id: last.id,
            });
            break;
        }
    }
    Ok((out, next))
}

pub struct KnownAlert {
    pub id: i64,
    pub firing: bool,
    pub severity: Severity,
    pub starts_at: i64,
}

pub fn find(conn: &Conn, incident_id: i64, fingerprint: &str) -> StoreResult<Option<KnownAlert>> {
    Ok(conn
        .sqlite()
        .prepare_cached(
            "SELECT id, status, severity, starts_at FROM alerts \
             WHERE incident_id = ?1 AND fingerprint = ?2",
        )?
        .query_row(params![incident_id, fingerprint], |r| {
            Ok(KnownAlert {
                id: r.get(0)?,
                firing: r.get::<_, String>(1)? == "firing",
                severity: parse_col(r, 2)?,
                starts_at: r.get(3)?,
            })
        })
        .optional()?)
}

pub struct AlertRow<'a> {
    pub fingerprint: &'a str,
    pub firing: bool,
    pub alertname: &'a str,
    pub severity: Severity,
    pub labels: &'a str,
    pub annotations: &'a str,
    pub starts_at: i64,
    pub ends_at: Option<i64>,
    pub generator_url: &'a str,
}

pub fn insert(conn: &Conn, incident_id: i64, a: &AlertRow, now: i64) -> StoreResult<()> {
    conn.sqlite()
        .prepare_cached(
            "INSERT INTO alerts (incident_id, fingerprint, status, alertname, severity, \
             labels, annotations, starts_at, ends_at, generator_url, first_seen_at, \
             last_seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
        )?
        .execute(params![
            incident_id,
            a.fingerprint,
            if a.firing { "firing" } else { "resolved" },
            a.alertname,
            a.severity.as_str(),
            a.labels,
            a.annotations,
            a.starts_at,
            a.ends_at,
            a.generator_url,
            now
        ])?;
    Ok(())
}

/// A known alert changed state (resolved, or fired again): take the new values. A
/// resolution keeps the start of the firing it ends, so a late copy of that firing is
/// recognised as old.
pub fn update(conn: &Conn, alert_id: i64, a: &AlertRow, now: i64) -> StoreResult<()> {
    conn.sqlite()
        .prepare_cached(
            "UPDATE alerts SET status = ?2, severity = ?3, labels = ?4, annotations = ?5, \
             starts_at = CASE WHEN ?2 = 'resolved' THEN starts_at ELSE ?6 END, ends_at = ?7, \
             generator_url = ?8, last_seen_at = ?9 WHERE id = ?1",
        )?
        .execute(params![
            alert_id,
            if a.firing { "firing" } else { "resolved" },
            a.severity.as_str(),
            a.labels,
            a.annotations,
            a.starts_at,
            a.ends_at,
            a.generator_url,
            now
        ])?;
    Ok(())
}
