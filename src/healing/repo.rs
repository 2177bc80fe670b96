//! The owner of `healing_actions` (the audit trail, also the source of cooldowns and
//! caps, so a restart resets neither) and `healing_state` (the kill switch).

use super::HealingAction;
use crate::db::{Conn, StoreResult};

const HOUR: i64 = 3_600_000;

/// Outcomes that count as acting (for cooldowns and caps).
const ACTED: &str = "outcome IN ('running', 'executed', 'dry_run')";

pub fn paused(conn: &Conn) -> StoreResult<bool> {
    Ok(conn
        .query_opt(
            "SELECT value FROM healing_state WHERE key = 'paused'",
            &[],
            |r| r.get::<String>(0),
        )?
        .is_some_and(|v| v == "1"))
}

pub fn set_paused(conn: &Conn, paused: bool) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO healing_state (key, value) VALUES ('paused', ?1) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&if paused { "1" } else { "0" }],
    )?;
    Ok(())
}

/// When the rule last acted on the target (None: never).
pub fn last_acted(conn: &Conn, rule: &str, target: &str) -> StoreResult<Option<i64>> {
    conn.query_one(
        &format!("SELECT MAX(at) FROM healing_actions WHERE rule = ?1 AND target = ?2 AND {ACTED}"),
        &[&rule, &target],
    )
}

/// Actions in the hour before `now`: of one rule, or of all rules.
pub fn acted_last_hour(conn: &Conn, rule: Option<&str>, now: i64) -> StoreResult<i64> {
    conn.query_one(
        &format!(
            "SELECT COUNT(*) FROM healing_actions WHERE (CAST(?1 AS TEXT) IS NULL OR rule = ?1) \
             AND at > ?2 AND {ACTED}"
        ),
        &[&rule, &(now - HOUR)],
    )
}

/// Whether the incident already has a skip of this rule whose reason starts with `kind`
/// (one timeline line per kind of reason, however many alerts of a storm are skipped).
pub fn skipped_before(conn: &Conn, rule: &str, incident: i64, kind: &str) -> StoreResult<bool> {
    conn.exists(
        "SELECT 1 FROM healing_actions WHERE incident_id = ?1 AND rule = ?2 \
         AND outcome = 'skipped' AND substr(reason, 1, length(?3)) = ?3 LIMIT 1",
        &[&incident, &rule, &kind],
    )
}

pub struct NewAction<'a> {
    pub rule: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub dry_run: bool,
    pub outcome: &'a str,
    pub reason: &'a str,
    pub incident_id: Option<i64>,
    pub at: i64,
}

pub fn insert(conn: &Conn, a: &NewAction) -> StoreResult<i64> {
    conn.insert_id(
        "INSERT INTO healing_actions (rule, action, target, dry_run, outcome, reason, \
         incident_id, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        &[
            &a.rule,
            &a.action,
            &a.target,
            &a.dry_run,
            &a.outcome,
            &a.reason,
            &a.incident_id,
            &a.at,
        ],
    )
}

pub fn finish(conn: &Conn, id: i64, outcome: &str, reason: &str) -> StoreResult<()> {
    conn.execute(
        "UPDATE healing_actions SET outcome = ?2, reason = ?3 WHERE id = ?1",
        &[&id, &outcome, &reason],
    )?;
    Ok(())
}

/// Newest first, at most `limit`, optionally of one incident or rule.
pub fn list(
    conn: &Conn,
    incident: Option<i64>,
    rule: Option<&str>,
    limit: usize,
) -> StoreResult<Vec<HealingAction>> {
    conn.query_vec(
        "SELECT id, rule, action, target, dry_run, outcome, reason, at, incident_id \
         FROM healing_actions WHERE (CAST(?1 AS BIGINT) IS NULL OR incident_id = ?1) \
         AND (CAST(?2 AS TEXT) IS NULL OR rule = ?2) ORDER BY id DESC LIMIT ?3",
        &[&incident, &rule, &(limit as i64)],
        |r| {
            Ok(HealingAction {
                id: r.get(0)?,
                rule: r.get(1)?,
                action: r.get(2)?,
                target: r.get(3)?,
                dry_run: r.get(4)?,
                outcome: r.get(5)?,
                reason: r.get(6)?,
                at: r.get(7)?,
                incident_id: r.get(8)?,
            })
        },
    )
}

/// An action whose alert is to be checked.
pub struct Pending {
    pub id: i64,
    pub rule: String,
    pub target: String,
    pub incident_id: i64,
    pub fingerprint: String,
    pub labels: String,
    pub at: i64,
    /// The action failed (then `reason` says why).
    pub failed: bool,
    pub reason: String,
}

/// Actions to verify now (their window ended), oldest first.
pub fn pending(conn: &Conn, now: i64, limit: usize) -> StoreResult<Vec<Pending>> {
    conn.query_vec(
        "SELECT id, rule, target, incident_id, fingerprint, COALESCE(labels, '{}'), at, \
         CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END, reason FROM healing_actions \
         WHERE verified = 'pending' AND verify_at <= ?1 \
         AND incident_id IS NOT NULL AND fingerprint IS NOT NULL ORDER BY verify_at LIMIT ?2",
        &[&now, &(limit as i64)],
        |r| {
            Ok(Pending {
                id: r.get(0)?,
                rule: r.get(1)?,
                target: r.get(2)?,
                incident_id: r.get(3)?,
                fingerprint: r.get(4)?,
                labels: r.get(5)?,
                at: r.get(6)?,
                failed: r.get(7)?,
                reason: r.get(8)?,
            })
        },
    )
}

/// Marks an executed action to be verified at `verify_at` against its alert.
pub fn expect_resolution(
    conn: &Conn,
    id: i64,
    fingerprint: &str,
    labels: &str,
    verify_at: i64,
) -> StoreResult<()> {
    conn.execute(
        "UPDATE healing_actions SET fingerprint = ?2, labels = ?3, verify_at = ?4, \
         verified = 'pending' WHERE id = ?1",
        &[&id, &fingerprint, &labels, &verify_at],
    )?;
    Ok(())
}

pub fn set_verified(conn: &Conn, id: i64, resolved: bool) -> StoreResult<()> {
    conn.execute(
        "UPDATE healing_actions SET verified = ?2 WHERE id = ?1",
        &[&id, &if resolved { "resolved" } else { "unresolved" }],
    )?;
    Ok(())
}

/// Unresolved actions of the rule on the target since its last resolved one.
pub fn unresolved_in_a_row(conn: &Conn, rule: &str, target: &str) -> StoreResult<i64> {
    conn.query_one(
        "SELECT COUNT(*) FROM healing_actions WHERE rule = ?1 AND target = ?2 \
         AND verified = 'unresolved' AND id > COALESCE((SELECT MAX(id) FROM healing_actions \
         WHERE rule = ?1 AND target = ?2 AND verified = 'resolved'), 0)",
        &[&rule, &target],
    )
}

fn stop_key(rule: &str, target: &str) -> String {
    format!("stopped:{rule}:{target}")
}

pub fn stopped(conn: &Conn, rule: &str, target: &str) -> StoreResult<bool> {
    conn.exists(
        "SELECT 1 FROM healing_state WHERE key = ?1",
        &[&stop_key(rule, target)],
    )
}

pub fn stop(conn: &Conn, rule: &str, target: &str) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO healing_state (key, value) VALUES (?1, '1') \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&stop_key(rule, target)],
    )?;
    Ok(())
}

/// Lets every stopped rule try its targets again.
pub fn clear_stops(conn: &Conn) -> StoreResult<usize> {
    conn.execute("DELETE FROM healing_state WHERE key LIKE 'stopped:%'", &[])
}
