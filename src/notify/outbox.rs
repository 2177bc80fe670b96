//! The owner of the `notifications` table: the durable outbox. A message is queued in
//! the transaction of the incident change that causes it, claimed by the worker for one
//! attempt, and marked delivered, retried or failed (a dead letter).

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::db::{Conn, StoreResult};
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
    /// The text of a message without an incident (an on-call handover).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

const COLUMNS: &str = "id, incident_id, receiver, channel, event, status, attempts, \
    next_attempt_at, last_error, created_at, delivered_at, message";

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
        message: r.get(11)?,
    })
}

/// Queues a message with its own text: without an incident (an on-call handover) or
/// about one (a post-mortem or action item overdue).
pub fn insert_message(
    conn: &Conn,
    incident_id: Option<i64>,
    receiver: &str,
    channel: &str,
    event: &str,
    message: &str,
    now: i64,
) -> StoreResult<i64> {
    conn.sqlite()
        .prepare_cached(
            "INSERT INTO notifications (incident_id, receiver, channel, event, status, \
         next_attempt_at, created_at, message) VALUES (?6, ?1, ?2, ?3, 'pending', ?4, ?4, ?5)",
        )?
        .execute(params![receiver, channel, event, now, message, incident_id])?;
    Ok(conn.sqlite().last_insert_rowid())
}

/// Whether `receiver` was sent (or is sending) this message about the incident since
/// `since`: follow-ups go out at most once a day.
pub fn sent_since(
    conn: &Conn,
    incident_id: i64,
    receiver: &str,
    message: &str,
    since: i64,
) -> StoreResult<bool> {
    Ok(conn
        .sqlite()
        .prepare_cached(
            "SELECT 1 FROM notifications WHERE incident_id = ?1 AND receiver = ?2 \
             AND message = ?3 AND created_at >= ?4",
        )?
        .exists(params![incident_id, receiver, message, since])?)
}

pub fn insert(
    conn: &Conn,
    incident_id: Option<i64>,
    receiver: &str,
    channel: &str,
    event: &str,
    now: i64,
) -> StoreResult<i64> {
    conn.sqlite()
        .prepare_cached(
            "INSERT INTO notifications (incident_id, receiver, channel, event, status, \
         next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5)",
        )?
        .execute(params![incident_id, receiver, channel, event, now])?;
    Ok(conn.sqlite().last_insert_rowid())
}

/// Whether the receiver was already sent (or is sending) the incident's opening message.
pub fn has_opening_message(conn: &Conn, incident_id: i64, receiver: &str) -> StoreResult<bool> {
    Ok(conn
        .sqlite()
        .prepare_cached(
            "SELECT 1 FROM notifications WHERE incident_id = ?1 AND receiver = ?2 \
             AND event IN ('triggered', 'reopened')",
        )?
        .exists(params![incident_id, receiver])?)
}

/// When the incident's last opening or reminder message was queued, outside PagerDuty
/// (which escalates by itself); None when there was none.
pub fn last_opening_at(conn: &Conn, incident_id: i64) -> StoreResult<Option<i64>> {
    Ok(conn
        .sqlite()
        .prepare_cached(
            "SELECT MAX(created_at) FROM notifications WHERE incident_id = ?1 \
             AND event IN ('triggered', 'reopened', 'reminder') AND channel != 'pagerduty'",
        )?
        .query_row([incident_id], |r| r.get(0))?)
}

/// Due pending notifications, oldest first. A notification waits while an earlier one for
/// the same incident and receiver is still pending, so a receiver never sees "resolved"
/// before "triggered".
pub fn due(conn: &Conn, now: i64, limit: usize) -> StoreResult<Vec<Notification>> {
    let rows = conn
        .sqlite()
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM notifications n WHERE status = 'pending' \
             AND next_attempt_at <= ?1 AND NOT EXISTS (SELECT 1 FROM notifications p \
             WHERE p.status = 'pending' AND p.incident_id = n.incident_id \
             AND p.receiver = n.receiver AND p.id < n.id) \
             ORDER BY next_attempt_at, id LIMIT ?2"
        ))?
        .query_map(params![now, limit as i64], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn get(conn: &Conn, id: i64) -> StoreResult<Option<Notification>> {
    Ok(conn
        .sqlite()
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM notifications WHERE id = ?1"
        ))?
        .query_row([id], from_row)
        .optional()?)
}

/// The timeline entry that tells a message's story, once it has one.
pub fn timeline_id(conn: &Conn, id: i64) -> StoreResult<Option<i64>> {
    Ok(conn
        .sqlite()
        .prepare_cached("SELECT timeline_id FROM notifications WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .flatten())
}

pub fn set_timeline_id(conn: &Conn, id: i64, entry_id: i64) -> StoreResult<()> {
    conn.sqlite()
        .prepare_cached("UPDATE notifications SET timeline_id = ?2 WHERE id = ?1")?
        .execute(params![id, entry_id])?;
    Ok(())
}

pub fn mark_delivered(conn: &Conn, id: i64, now: i64) -> StoreResult<()> {
    conn.sqlite()
        .prepare_cached(
            "UPDATE notifications SET status = 'delivered', attempts = attempts + 1, \
         delivered_at = ?2, last_error = NULL WHERE id = ?1",
        )?
        .execute(params![id, now])?;
    Ok(())
}

pub fn mark_retry(conn: &Conn, id: i64, next_at: i64, error: &str) -> StoreResult<()> {
    conn.sqlite().prepare_cached(
        "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 \
         WHERE id = ?1",
    )?
    .execute(params![id, next_at, error])?;
    Ok(())
}

pub fn mark_failed(conn: &Conn, id: i64, error: &str) -> StoreResult<()> {
    conn.sqlite()
        .prepare_cached(
            "UPDATE notifications SET status = 'failed', attempts = attempts + 1, last_error = ?2 \
         WHERE id = ?1",
        )?
        .execute(params![id, error])?;
    Ok(())
}

/// Puts a dead letter back in the queue, due now. False when it is not a dead letter, or
/// when a later message to the same receiver about the same incident exists: sending an
/// old "triggered" after a "resolved" would open a page nothing ever closes.
pub fn retry_now(conn: &Conn, id: i64, now: i64) -> StoreResult<bool> {
    let n = conn
        .sqlite()
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

pub fn list(conn: &Conn, f: &ListFilter) -> StoreResult<Vec<Notification>> {
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
    let rows = conn
        .sqlite()
        .prepare_cached(&sql)?
        .query_map(rusqlite::params_from_iter(args), from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// (pending count, age in ms of the oldest pending notification).
pub fn queue_stats(conn: &Conn, now: i64) -> StoreResult<(i64, i64)> {
    Ok(conn
        .sqlite()
        .prepare_cached(
            "SELECT COUNT(*), COALESCE(?1 - MIN(created_at), 0) FROM notifications \
             WHERE status = 'pending'",
        )?
        .query_row([now], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Per receiver: (last delivery time, dead letters, pending).
/// Deliveries in trouble: what the banner on the dashboard and incident pages says.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Trouble {
    /// Messages given up on (dead letters) created since the cut-off.
    pub dead: i64,
    /// Messages that failed at least once and wait for another attempt.
    pub retrying: i64,
    /// The receiver and error of the newest of those.
    pub latest: Option<(String, String)>,
}

/// Dead letters created since `since` and messages being retried now (both through
/// partial indexes: cheap on every page view).
pub fn trouble(conn: &Conn, since: i64) -> StoreResult<Trouble> {
    let c = conn.sqlite();
    let (dead, dead_latest): (i64, Option<i64>) = c
        .prepare_cached(
            "SELECT COUNT(*), MAX(id) FROM notifications \
             WHERE status = 'failed' AND created_at >= ?1",
        )?
        .query_row([since], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (retrying, retry_latest): (i64, Option<i64>) = c
        .prepare_cached(
            "SELECT COUNT(*), MAX(id) FROM notifications \
             WHERE status = 'pending' AND next_attempt_at > 0 AND attempts > 0",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let latest = match dead_latest.max(retry_latest) {
        Some(id) => c
            .prepare_cached(
                "SELECT receiver, COALESCE(last_error, '') FROM notifications WHERE id = ?1",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?,
        None => None,
    };
    Ok(Trouble {
        dead,
        retrying,
        latest,
    })
}

pub type ReceiverStats = (Option<i64>, i64, i64);

pub fn receiver_stats(conn: &Conn) -> StoreResult<BTreeMap<String, ReceiverStats>> {
    let mut out = BTreeMap::new();
    let mut stmt = conn.sqlite().prepare_cached(
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

/// Claims due notifications for one delivery attempt: pushes their due time past the
/// attempt's timeout, so an overlapping run cannot send them too, and a failure to record
/// the outcome does not resend them at every poll. Returns the ids actually claimed.
pub fn claim(conn: &Conn, ids: &[i64], now: i64, lease_ms: i64) -> StoreResult<Vec<i64>> {
    let mut claimed = Vec::with_capacity(ids.len());
    let mut stmt = conn.sqlite().prepare_cached(
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
