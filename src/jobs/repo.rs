//! The owner of the `jobs` table: each job's claimed slot, lease and last run.

use crate::db::{Conn, StoreResult};

/// A job's row.
#[derive(Debug, Clone, Default)]
pub struct JobRow {
    pub last_slot: i64,
    pub lease_until: Option<i64>,
    pub last_started_at: Option<i64>,
    pub last_trigger: Option<String>,
    pub last_outcome: Option<String>,
    pub last_detail: String,
    pub last_duration_ms: Option<i64>,
}

pub fn get(conn: &Conn, name: &str) -> StoreResult<Option<JobRow>> {
    conn.query_opt(
        "SELECT last_slot, lease_until, last_started_at, last_trigger, last_outcome, \
         last_detail, last_duration_ms FROM jobs WHERE name = ?1",
        &[&name],
        |r| {
            Ok(JobRow {
                last_slot: r.get(0)?,
                lease_until: r.get(1)?,
                last_started_at: r.get(2)?,
                last_trigger: r.get(3)?,
                last_outcome: r.get(4)?,
                last_detail: r.get(5)?,
                last_duration_ms: r.get(6)?,
            })
        },
    )
}

/// A job seen for the first time starts at `slot` (slots before it are not caught up).
pub fn init(conn: &Conn, name: &str, slot: i64) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO jobs (name, last_slot) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        &[&name, &slot],
    )?;
    Ok(())
}

/// Claims a scheduled slot: only if no later-or-equal slot was claimed and nobody holds
/// the lease. Whoever claims it runs it; nobody else ever will.
pub fn claim_slot(
    conn: &Conn,
    name: &str,
    slot: i64,
    owner: &str,
    now: i64,
    lease_ms: i64,
) -> StoreResult<bool> {
    let n = conn.execute(
        "UPDATE jobs SET last_slot = ?2, lease_owner = ?3, lease_until = CAST(?4 AS BIGINT) + ?5 \
         WHERE name = ?1 AND last_slot < ?2 AND (lease_until IS NULL OR lease_until < ?4)",
        &[&name, &slot, &owner, &now, &lease_ms],
    )?;
    Ok(n == 1)
}

/// Claims the lease for a run outside the schedule ("run now").
pub fn claim_lease(
    conn: &Conn,
    name: &str,
    owner: &str,
    now: i64,
    lease_ms: i64,
) -> StoreResult<bool> {
    conn.execute(
        "INSERT INTO jobs (name, last_slot) VALUES (?1, 0) ON CONFLICT DO NOTHING",
        &[&name],
    )?;
    let n = conn.execute(
        "UPDATE jobs SET lease_owner = ?2, lease_until = CAST(?3 AS BIGINT) + ?4 \
         WHERE name = ?1 AND (lease_until IS NULL OR lease_until < ?3)",
        &[&name, &owner, &now, &lease_ms],
    )?;
    Ok(n == 1)
}

/// Records how a run went and lets go of the lease.
#[allow(clippy::too_many_arguments)]
pub fn finish(
    conn: &Conn,
    name: &str,
    owner: &str,
    started: i64,
    finished: i64,
    trigger: &str,
    ok: bool,
    detail: &str,
) -> StoreResult<()> {
    conn.execute(
        "UPDATE jobs SET last_started_at = ?2, last_finished_at = ?3, last_trigger = ?4, \
         last_outcome = ?5, last_detail = ?6, last_duration_ms = CAST(?3 AS BIGINT) - ?2, \
         lease_owner = CASE WHEN lease_owner = ?7 THEN NULL ELSE lease_owner END, \
         lease_until = CASE WHEN lease_owner = ?7 THEN NULL ELSE lease_until END \
         WHERE name = ?1",
        &[
            &name,
            &started,
            &finished,
            &trigger,
            &if ok { "ok" } else { "failed" },
            &detail,
            &owner,
        ],
    )?;
    Ok(())
}
