//! The incidents' numbers (an owner of reads on `incidents` and `incident_hourly`): MTTA
//! and MTTR for the dashboard, and the incidents of a period for the monthly report.
//! Drills are left out of both.

use super::Incident;
use crate::db::{Conn, Row, StoreResult};

/// The five sums of a row of `response_stats`.
fn sums(r: &Row) -> StoreResult<[i64; 5]> {
    Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?])
}

/// Response numbers for incidents created since `since`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ResponseStats {
    pub created: i64,
    pub acknowledged: i64,
    pub resolved: i64,
    /// Mean time to acknowledge, ms (acknowledged incidents only).
    pub mtta_ms: Option<i64>,
    /// Mean time to resolve, ms (resolved incidents only).
    pub mttr_ms: Option<i64>,
}

/// From the hourly sums (`incident_hourly`, kept by triggers) for whole hours, and from
/// the incidents themselves for the part of an hour before the first whole one.
pub fn response_stats(conn: &Conn, since: i64) -> StoreResult<ResponseStats> {
    const HOUR: i64 = 3_600_000;
    let first_hour =
        since - since.rem_euclid(HOUR) + if since.rem_euclid(HOUR) == 0 { 0 } else { HOUR };
    // SUM of BIGINT is NUMERIC in PostgreSQL: cast back.
    let whole = conn.query_row(
        "SELECT CAST(COALESCE(SUM(created), 0) AS BIGINT), \
         CAST(COALESCE(SUM(acknowledged), 0) AS BIGINT), \
         CAST(COALESCE(SUM(resolved), 0) AS BIGINT), CAST(COALESCE(SUM(tta_ms), 0) AS BIGINT), \
         CAST(COALESCE(SUM(ttr_ms), 0) AS BIGINT) \
         FROM incident_hourly WHERE hour >= ?1",
        &[&first_hour],
        sums,
    )?;
    let part = conn.query_row(
        "SELECT COUNT(*), COUNT(acknowledged_at), COUNT(resolved_at), \
         CAST(COALESCE(SUM(acknowledged_at - created_at), 0) AS BIGINT), \
         CAST(COALESCE(SUM(resolved_at - created_at), 0) AS BIGINT) \
         FROM incidents WHERE created_at >= ?1 AND created_at < ?2 AND drill = 0",
        &[&since, &first_hour],
        sums,
    )?;
    let t: Vec<i64> = whole.iter().zip(part).map(|(a, b)| a + b).collect();
    let mean = |sum: i64, n: i64| (n > 0).then(|| sum / n);
    Ok(ResponseStats {
        created: t[0],
        acknowledged: t[1],
        resolved: t[2],
        mtta_ms: mean(t[3], t[1]),
        mttr_ms: mean(t[4], t[2]),
    })
}

/// Real incidents (not drills) created in `from..to`, oldest first, at most `limit`.
pub fn created_between(
    conn: &Conn,
    from: i64,
    to: i64,
    limit: usize,
) -> StoreResult<Vec<Incident>> {
    conn.query_vec(
        &format!(
            "SELECT {} FROM incidents WHERE created_at >= ?1 AND created_at < ?2 AND drill = 0 \
             ORDER BY created_at, id LIMIT ?3",
            super::repo::INCIDENT_COLUMNS
        ),
        &[&from, &to, &(limit as i64)],
        super::repo::incident_from_row,
    )
}
