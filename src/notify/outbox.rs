//! The owner of the `notifications` table: the durable outbox. A message is queued in
//! the transaction of the incident change that causes it, claimed by the worker for one
//! attempt, and marked delivered, retried or failed (a dead letter).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::db::{Conn, Param, Row, StoreResult, Value};
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

fn from_row(r: &Row) -> StoreResult<Notification> {
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
    conn.insert_id(
        "INSERT INTO notifications (incident_id, receiver, channel, event, status, \
         next_attempt_at, created_at, message) VALUES (?6, ?1, ?2, ?3, 'pending', ?4, ?4, ?5)",
        &[&receiver, &channel, &event, &now, &message, &incident_id],
    )
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
    conn.exists(
        "SELECT 1 FROM notifications WHERE incident_id = ?1 AND receiver = ?2 \
         AND message = ?3 AND created_at >= ?4",
        &[&incident_id, &receiver, &message, &since],
    )
}

pub fn insert(
    conn: &Conn,
    incident_id: Option<i64>,
    receiver: &str,
    channel: &str,
    event: &str,
    now: i64,
) -> StoreResult<i64> {
    conn.insert_id(
        "INSERT INTO notifications (incident_id, receiver, channel, event, status, \
         next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5)",
        &[&incident_id, &receiver, &channel, &event, &now],
    )
}

/// Whether the receiver was already sent (or is sending) the incident's opening message.
pub fn has_opening_message(conn: &Conn, incident_id: i64, receiver: &str) -> StoreResult<bool> {
    conn.exists(
        "SELECT 1 FROM notifications WHERE incident_id = ?1 AND receiver = ?2 \
         AND event IN ('triggered', 'reopened')",
        &[&incident_id, &receiver],
    )
}

/// When the incident's last opening or reminder message was queued, outside PagerDuty
/// (which escalates by itself); None when there was none.
pub fn last_opening_at(conn: &Conn, incident_id: i64) -> StoreResult<Option<i64>> {
    conn.query_one(
        "SELECT MAX(created_at) FROM notifications WHERE incident_id = ?1 \
         AND event IN ('triggered', 'reopened', 'reminder') AND channel != 'pagerduty'",
        &[&incident_id],
    )
}

/// Due pending notifications, oldest first. A notification waits while an earlier one for
/// the same incident and receiver is still pending, so a receiver never sees "resolved"
/// before "triggered".
pub fn due(conn: &Conn, now: i64, limit: usize) -> StoreResult<Vec<Notification>> {
    conn.query_vec(
        &format!(
            "SELECT {COLUMNS} FROM notifications n WHERE status = 'pending' \
             AND next_attempt_at <= ?1 AND NOT EXISTS (SELECT 1 FROM notifications p \
             WHERE p.status = 'pending' AND p.incident_id = n.incident_id \
             AND p.receiver = n.receiver AND p.id < n.id) \
             ORDER BY next_attempt_at, id LIMIT ?2"
        ),
        &[&now, &(limit as i64)],
        from_row,
    )
}

pub fn get(conn: &Conn, id: i64) -> StoreResult<Option<Notification>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM notifications WHERE id = ?1"),
        &[&id],
        from_row,
    )
}

/// The timeline entry that tells a message's story, once it has one.
pub fn timeline_id(conn: &Conn, id: i64) -> StoreResult<Option<i64>> {
    Ok(conn
        .query_opt(
            "SELECT timeline_id FROM notifications WHERE id = ?1",
            &[&id],
            |r| r.get::<Option<i64>>(0),
        )?
        .flatten())
}

pub fn set_timeline_id(conn: &Conn, id: i64, entry_id: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE notifications SET timeline_id = ?2 WHERE id = ?1",
        &[&id, &entry_id],
    )?;
    Ok(())
}

pub fn mark_delivered(conn: &Conn, id: i64, now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE notifications SET status = 'delivered', attempts = attempts + 1, \
         delivered_at = ?2, last_error = NULL WHERE id = ?1",
        &[&id, &now],
    )?;
    Ok(())
}

pub fn mark_retry(conn: &Conn, id: i64, next_at: i64, error: &str) -> StoreResult<()> {
    conn.execute(
        "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 \
         WHERE id = ?1",
        &[&id, &next_at, &error],
    )?;
    Ok(())
}

pub fn mark_failed(conn: &Conn, id: i64, error: &str) -> StoreResult<()> {
    conn.execute(
        "UPDATE notifications SET status = 'failed', attempts = attempts + 1, last_error = ?2 \
         WHERE id = ?1",
        &[&id, &error],
    )?;
    Ok(())
}

/// Puts a dead letter back in the queue, due now. False when it is not a dead letter, or
/// when a later message to the same receiver about the same incident exists: sending an
/// old "triggered" after a "resolved" would open a page nothing ever closes.
pub fn retry_now(conn: &Conn, id: i64, now: i64) -> StoreResult<bool> {
    let n = conn.execute(
        "UPDATE notifications SET status = 'pending', attempts = 0, next_attempt_at = ?2 \
         WHERE id = ?1 AND status = 'failed' AND NOT EXISTS (SELECT 1 FROM notifications l \
           WHERE l.incident_id = notifications.incident_id \
             AND l.receiver = notifications.receiver AND l.id > notifications.id)",
        &[&id, &now],
    )?;
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
    let mut args: Vec<Value> = Vec::new();
    if let Some(i) = f.incident_id {
        sql.push_str(" AND incident_id = ?");
        args.push(Value::Int(i));
    }
    if let Some(s) = &f.status {
        sql.push_str(" AND status = ?");
        args.push(Value::Text(s.clone()));
    }
    if let Some(r) = &f.receiver {
        sql.push_str(" AND receiver = ?");
        args.push(Value::Text(r.clone()));
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?");
    args.push(Value::Int(f.limit.max(1) as i64));
    let refs: Vec<&dyn Param> = args.iter().map(|a| a as &dyn Param).collect();
    conn.query_vec(&sql, &refs, from_row)
}

/// (pending count, age in ms of the oldest pending notification).
pub fn queue_stats(conn: &Conn, now: i64) -> StoreResult<(i64, i64)> {
    conn.query_row(
        "SELECT COUNT(*), COALESCE(?1 - MIN(created_at), 0) FROM notifications \
         WHERE status = 'pending'",
        &[&now],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
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
    let (dead, dead_latest): (i64, Option<i64>) = conn.query_row(
        "SELECT COUNT(*), MAX(id) FROM notifications \
         WHERE status = 'failed' AND created_at >= ?1",
        &[&since],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (retrying, retry_latest): (i64, Option<i64>) = conn.query_row(
        "SELECT COUNT(*), MAX(id) FROM notifications \
         WHERE status = 'pending' AND next_attempt_at > 0 AND attempts > 0",
        &[],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let latest = match dead_latest.max(retry_latest) {
        Some(id) => conn.query_opt(
            "SELECT receiver, COALESCE(last_error, '') FROM notifications WHERE id = ?1",
            &[&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?,
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
    conn.for_each(
        "SELECT receiver, MAX(delivered_at), \
         CAST(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS BIGINT) \
         FROM notifications GROUP BY receiver",
        &[],
        |r| {
            out.insert(r.get::<String>(0)?, (r.get(1)?, r.get(2)?, r.get(3)?));
            Ok(())
        },
    )?;
    Ok(out)
}

/// Claims due notifications for one delivery attempt: pushes their due time past the
/// attempt's timeout, so an overlapping run cannot send them too, and a failure to record
/// the outcome does not resend them at every poll. Returns the ids actually claimed.
pub fn claim(conn: &Conn, ids: &[i64], now: i64, lease_ms: i64) -> StoreResult<Vec<i64>> {
    let mut claimed = Vec::with_capacity(ids.len());
    let until = now + lease_ms;
    for id in ids {
        let n = conn.execute(
            "UPDATE notifications SET next_attempt_at = ?2 \
             WHERE id = ?1 AND status = 'pending' AND next_attempt_at <= ?3",
            &[id, &until, &now],
        )?;
        if n == 1 {
            claimed.push(*id);
        }
    }
    Ok(claimed)
}
