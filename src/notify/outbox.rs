//! All notification SQL.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::incidents::Severity;
use crate::time::{ser_ms, ser_opt_ms};

#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    pub id: i64,
    pub incident_id: Option<i64>,
    pub receiver: String,
    pub channel: String,
    pub event: String,
    pub status: String,
    pub attempts: i64,
    #[serde(serialize_with = "ser_ms")]
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    #[serde(serialize_with = "ser_ms")]
    pub created_at: i64,
    #[serde(serialize_with = "ser_opt_ms")]
    pub delivered_at: Option<i64>,
}

const COLUMNS: &str = "id, incident_id, receiver, channel, event, status, attempts, \
    next_attempt_at, last_error, created_at, delivered_at";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Notification> {
    Ok(Notification {
        id: r.get(0)?,
        incident_id: r.get(1)?,
        receiver: r.get(2)?,
        channel: r.get(3)?,
        event: r.get(4)?,
        status: r.get(5)?,
        attempts: r.get(6)?,
        next_attempt_at: r.get(7)?,
        last_error: r.get(8)?,
        created_at: r.get(9)?,
        delivered_at: r.get(10)?,
    })
}

pub fn insert(
    conn: &Connection,
    incident_id: Option<i64>,
    receiver: &str,
    channel: &str,
    event: &str,
    now: i64,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO notifications (incident_id, receiver, channel, event, status, \
         next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5)",
    )?
    .execute(params![incident_id, receiver, channel, event, now])?;
    Ok(conn.last_insert_rowid())
}

/// What routing looks at: severity, service and labels.
pub type RoutingFacts = (Severity, String, BTreeMap<String, String>);

pub fn routing_facts(
    conn: &Connection,
    incident_id: i64,
) -> rusqlite::Result<Option<RoutingFacts>> {
    conn.prepare_cached("SELECT severity, service, labels FROM incidents WHERE id = ?1")?
        .query_row([incident_id], |r| {
            let sev: String = r.get(0)?;
            let labels: String = r.get(2)?;
            Ok((
                sev.parse().unwrap_or(Severity::P3),
                r.get(1)?,
                serde_json::from_str(&labels).unwrap_or_default(),
            ))
        })
        .optional()
}

/// Whether the receiver was already sent (or is sending) the incident's opening message.
pub fn has_opening_message(
    conn: &Connection,
    incident_id: i64,
    receiver: &str,
) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT 1 FROM notifications WHERE incident_id = ?1 AND receiver = ?2 \
         AND event IN ('triggered', 'reopened')",
    )?
    .exists(params![incident_id, receiver])
}

/// Due pending notifications, oldest first. A notification waits while an earlier one for
/// the same incident and receiver is still pending, so a receiver never sees "resolved"
/// before "triggered".
pub fn due(conn: &Connection, now: i64, limit: usize) -> rusqlite::Result<Vec<Notification>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM notifications n WHERE status = 'pending' AND next_attempt_at <= ?1 \
         AND NOT EXISTS (SELECT 1 FROM notifications p WHERE p.status = 'pending' \
             AND p.incident_id = n.incident_id AND p.receiver = n.receiver AND p.id < n.id) \
         ORDER BY next_attempt_at, id LIMIT ?2"
    ))?
    .query_map(params![now, limit as i64], from_row)?
    .collect()
}

pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Notification>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM notifications WHERE id = ?1"
    ))?
    .query_row([id], from_row)
    .optional()
}

pub fn mark_delivered(conn: &Connection, id: i64, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE notifications SET status = 'delivered', attempts = attempts + 1, \
         delivered_at = ?2, last_error = NULL WHERE id = ?1",
    )?
    .execute(params![id, now])?;
    Ok(())
}

pub fn mark_retry(conn: &Connection, id: i64, next_at: i64, error: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 \
         WHERE id = ?1",
    )?
    .execute(params![id, next_at, error])?;
    Ok(())
}

pub fn mark_failed(conn: &Connection, id: i64, error: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE notifications SET status = 'failed', attempts = attempts + 1, last_error = ?2 \
         WHERE id = ?1",
    )?
    .execute(params![id, error])?;
    Ok(())
}

/// Puts a dead letter back in the queue, due now. False when it is not a dead letter, or
/// when a later message to the same receiver about the same incident exists: sending an
/// old "triggered" after a "resolved" would open a page nothing ever closes.
pub fn retry_now(conn: &Connection, id: i64, now: i64) -> rusqlite::Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE notifications SET status = 'pending', attempts = 0, next_attempt_at = ?2 \
             WHERE id = ?1 AND status = 'failed' AND NOT EXISTS (SELECT 1 FROM notifications l \
               WHERE l.incident_id = notifications.incident_id \
                 AND l.receiver = notifications.receiver AND l.id > notifications.id)",
        )?
        .execute(params![id, now])?;
    Ok(n == 1)
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub incident_id: Option<i64>,
    pub status: Option<String>,
    pub receiver: Option<String>,
    pub limit: usize,
}

pub fn list(conn: &Connection, f: &ListFilter) -> rusqlite::Result<Vec<Notification>> {
    let mut sql = format!("SELECT {COLUMNS} FROM notifications WHERE 1=1");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(i) = f.incident_id {
        sql.push_str(" AND incident_id = ?");
        args.push(i.into());
    }
    if let Some(s) = &f.status {
        sql.push_str(" AND status = ?");
        args.push(s.clone().into());
    }
    if let Some(r) = &f.receiver {
        sql.push_str(" AND receiver = ?");
        args.push(r.clone().into());
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?");
    args.push((f.limit.max(1) as i64).into());
    conn.prepare_cached(&sql)?
        .query_map(rusqlite::params_from_iter(args), from_row)?
        .collect()
}

/// (pending count, age in ms of the oldest pending notification).
pub fn queue_stats(conn: &Connection, now: i64) -> rusqlite::Result<(i64, i64)> {
    conn.prepare_cached(
        "SELECT COUNT(*), COALESCE(?1 - MIN(created_at), 0) FROM notifications WHERE status = 'pending'",
    )?
    .query_row([now], |r| Ok((r.get(0)?, r.get(1)?)))
}

/// Per receiver: (last delivery time, dead letters, pending).
pub type ReceiverStats = (Option<i64>, i64, i64);

pub fn receiver_stats(conn: &Connection) -> rusqlite::Result<BTreeMap<String, ReceiverStats>> {
    let mut out = BTreeMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT receiver, MAX(delivered_at), SUM(status = 'failed'), SUM(status = 'pending') \
         FROM notifications GROUP BY receiver",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
    })?;
    for row in rows {
        let (k, v) = row?;
        out.insert(k, v);
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct Silence {
    pub id: i64,
    pub matchers: BTreeMap<String, String>,
    pub comment: String,
    pub created_by: String,
    #[serde(serialize_with = "ser_ms")]
    pub starts_at: i64,
    #[serde(serialize_with = "ser_ms")]
    pub ends_at: i64,
    #[serde(serialize_with = "ser_ms")]
    pub created_at: i64,
}

fn silence_from_row(r: &rusqlite::Row) -> rusqlite::Result<Silence> {
    let m: String = r.get(1)?;
    Ok(Silence {
        id: r.get(0)?,
        matchers: serde_json::from_str(&m).unwrap_or_default(),
        comment: r.get(2)?,
        created_by: r.get(3)?,
        starts_at: r.get(4)?,
        ends_at: r.get(5)?,
        created_at: r.get(6)?,
    })
}

pub fn active_silences(conn: &Connection, now: i64) -> rusqlite::Result<Vec<Silence>> {
    conn.prepare_cached(
        "SELECT id, matchers, comment, created_by, starts_at, ends_at, created_at FROM silences \
         WHERE ends_at > ?1 AND starts_at <= ?1 ORDER BY id",
    )?
    .query_map([now], silence_from_row)?
    .collect()
}

/// Silences that have not ended yet (active or scheduled), newest first.
pub fn current_silences(conn: &Connection, now: i64) -> rusqlite::Result<Vec<Silence>> {
    conn.prepare_cached(
        "SELECT id, matchers, comment, created_by, starts_at, ends_at, created_at FROM silences \
         WHERE ends_at > ?1 ORDER BY id DESC",
    )?
    .query_map([now], silence_from_row)?
    .collect()
}

pub fn insert_silence(
    conn: &Connection,
    matchers: &BTreeMap<String, String>,
    comment: &str,
    created_by: &str,
    starts_at: i64,
    ends_at: i64,
    now: i64,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO silences (matchers, comment, created_by, starts_at, ends_at, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        serde_json::to_string(matchers).expect("matchers serialize"),
        comment,
        created_by,
        starts_at,
        ends_at,
        now
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Ends a silence now; false when it does not exist or has already ended.
pub fn expire_silence(conn: &Connection, id: i64, now: i64) -> rusqlite::Result<bool> {
    let n = conn
        .prepare_cached("UPDATE silences SET ends_at = ?2 WHERE id = ?1 AND ends_at > ?2")?
        .execute(params![id, now])?;
    Ok(n == 1)
}

/// An open P0 incident for the service other than `except`, if any.
pub fn open_p0_for_service(
    conn: &Connection,
    service: &str,
    except: i64,
) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT id FROM incidents WHERE status != 'resolved' AND severity = 'P0' \
         AND service = ?1 AND id != ?2 ORDER BY id DESC LIMIT 1",
    )?
    .query_row(params![service, except], |r| r.get(0))
    .optional()
}

/// Open, unacknowledged P0 incidents whose last opening or reminder message (outside
/// PagerDuty, which escalates by itself) is older than `cutoff`.
pub fn reminders_due(conn: &Connection, cutoff: i64) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached(
        "SELECT i.id FROM incidents i JOIN notifications n ON n.incident_id = i.id \
         WHERE i.status = 'triggered' AND i.severity = 'P0' \
           AND n.event IN ('triggered', 'reopened', 'reminder') AND n.channel != 'pagerduty' \
         GROUP BY i.id HAVING MAX(n.created_at) < ?1",
    )?
    .query_map([cutoff], |r| r.get(0))?
    .collect()
}

/// Claims due notifications for one delivery attempt: pushes their due time past the
/// attempt's timeout, so an overlapping run cannot send them too, and a failure to record
/// the outcome does not resend them at every poll. Returns the ids actually claimed.
pub fn claim(
    conn: &Connection,
    ids: &[i64],
    now: i64,
    lease_ms: i64,
) -> rusqlite::Result<Vec<i64>> {
    let mut claimed = Vec::with_capacity(ids.len());
    let mut stmt = conn.prepare_cached(
        "UPDATE notifications SET next_attempt_at = ?2 \
         WHERE id = ?1 AND status = 'pending' AND next_attempt_at <= ?3",
    )?;
    for id in ids {
        if stmt.execute(params![id, now + lease_ms, now])? == 1 {
            claimed.push(*id);
        }
    }
    Ok(claimed)
}
