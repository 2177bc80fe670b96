//! The owner of the SLO history tables: `slo_samples` (one row per SLO and evaluation
//! interval, kept `evaluation.raw_history_retention`) and `slo_hourly` (hourly rollups,
//! kept `evaluation.history_retention`). Windows read whole hours from the rollups and only
//! the partial first hour from per-interval rows.

use serde::Serialize;

use super::measure::Measured;
use crate::db::{Conn, StoreResult};

const HOUR: i64 = 3_600_000;

/// Stores one interval's measurement and adds it to its hour's rollup. Recording the same
/// (slo, at) again replaces the row, and the rollup with it.
pub fn record(conn: &Conn, slo: &str, at: i64, m: &Measured) -> StoreResult<()> {
    let old: Option<(f64, f64)> = conn.query_opt(
        "SELECT bad, total FROM slo_samples WHERE slo = ?1 AND at = ?2",
        &[&slo, &at],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let [p50, p90, p99] = match m.latency {
        Some(l) => l.map(Some),
        None => [None; 3],
    };
    conn.execute(
        "INSERT INTO slo_samples (slo, at, bad, total, p50, p90, p99) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (slo, at) DO UPDATE SET \
         bad = excluded.bad, total = excluded.total, p50 = excluded.p50, \
         p90 = excluded.p90, p99 = excluded.p99",
        &[&slo, &at, &m.bad, &m.total, &p50, &p90, &p99],
    )?;
    let (old_bad, old_total) = old.unwrap_or((0.0, 0.0));
    conn.execute(
        "INSERT INTO slo_hourly (slo, hour, bad, total, samples) VALUES (?1, ?2, ?3, ?4, 1) \
         ON CONFLICT (slo, hour) DO UPDATE SET bad = slo_hourly.bad + ?3 - ?5, \
         total = slo_hourly.total + ?4 - ?6, samples = slo_hourly.samples + ?7",
        &[
            &slo,
            &(at - at.rem_euclid(HOUR)),
            &m.bad,
            &m.total,
            &old_bad,
            &old_total,
            &i64::from(old.is_none()),
        ],
    )?;
    Ok(())
}

/// Bad events, total events and the number of measured intervals after `since`, up to
/// now: whole hours from the rollups, the part before the first whole hour from the
/// per-interval rows. Exact while those rows are kept (`raw_history_retention`); once
/// they are gone the window effectively starts at the next whole hour.
pub fn sums(conn: &Conn, slo: &str, since: i64) -> StoreResult<(f64, f64, i64)> {
    let first_hour = since - since.rem_euclid(HOUR) + HOUR;
    let raw: (f64, f64, i64) = conn.query_row(
        "SELECT COALESCE(SUM(bad), 0), COALESCE(SUM(total), 0), COUNT(*) FROM slo_samples \
         WHERE slo = ?1 AND at > ?2 AND at < ?3",
        &[&slo, &since, &first_hour],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let hourly: (f64, f64, i64) = conn.query_row(
        "SELECT COALESCE(SUM(bad), 0), COALESCE(SUM(total), 0), \
         CAST(COALESCE(SUM(samples), 0) AS BIGINT) FROM slo_hourly WHERE slo = ?1 AND hour >= ?2",
        &[&slo, &first_hour],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok((raw.0 + hourly.0, raw.1 + hourly.1, raw.2 + hourly.2))
}

/// Bad and total events between `from` and `to` (ms): whole hours from the rollups, the
/// partial hours at either end from the per-interval rows (while they are kept).
pub fn between(conn: &Conn, slo: &str, from: i64, to: i64) -> StoreResult<(f64, f64)> {
    let raw = |a: i64, b: i64| -> StoreResult<(f64, f64)> {
        if b <= a {
            return Ok((0.0, 0.0));
        }
        conn.query_row(
            "SELECT COALESCE(SUM(bad), 0), COALESCE(SUM(total), 0) FROM slo_samples \
             WHERE slo = ?1 AND at >= ?2 AND at < ?3",
            &[&slo, &a, &b],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    };
    let first_hour =
        from - from.rem_euclid(HOUR) + if from.rem_euclid(HOUR) == 0 { 0 } else { HOUR };
    let last_hour = to - to.rem_euclid(HOUR);
    if first_hour >= last_hour {
        return raw(from, to);
    }
    let (b1, t1) = raw(from, first_hour)?;
    let (b2, t2): (f64, f64) = conn.query_row(
        "SELECT COALESCE(SUM(bad), 0), COALESCE(SUM(total), 0) FROM slo_hourly \
         WHERE slo = ?1 AND hour >= ?2 AND hour < ?3",
        &[&slo, &first_hour, &last_hour],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (b3, t3) = raw(last_hour, to)?;
    Ok((b1 + b2 + b3, t1 + t2 + t3))
}

/// When the SLO's stored history since `since` starts: its oldest per-interval row or
/// hourly rollup (two index seeks).
pub fn first_sample_at(conn: &Conn, slo: &str, since: i64) -> StoreResult<Option<i64>> {
    let raw: Option<i64> = conn.query_one(
        "SELECT MIN(at) FROM slo_samples WHERE slo = ?1 AND at > ?2",
        &[&slo, &since],
    )?;
    let hourly: Option<i64> = conn.query_one(
        "SELECT MIN(hour) FROM slo_hourly WHERE slo = ?1 AND hour >= ?2",
        &[&slo, &(since - since.rem_euclid(HOUR))],
    )?;
    // A rollup only tells of older data when its hour is before the first row's hour
    // (rows pruned, or back-filled rollups); the first row's own hour starts with it.
    Ok(match (raw, hourly) {
        (Some(a), Some(h)) if h < a - a.rem_euclid(HOUR) => Some(h.max(since)),
        (Some(a), _) => Some(a),
        (None, h) => h.map(|h| h.max(since)),
    })
}

/// Every SLO id with stored history, configured or not (one index seek per id).
pub fn stored_ids(conn: &Conn) -> StoreResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for table in ["slo_samples", "slo_hourly"] {
        let sql = format!(
            "WITH RECURSIVE ids(slo) AS (SELECT MIN(slo) FROM {table} UNION ALL \
             SELECT (SELECT MIN(slo) FROM {table} WHERE slo > ids.slo) FROM ids \
             WHERE ids.slo IS NOT NULL) SELECT slo FROM ids WHERE slo IS NOT NULL"
        );
        conn.for_each(&sql, &[], |r| {
            let id: String = r.get(0)?;
            if !out.contains(&id) {
                out.push(id);
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// Drops one SLO's per-interval rows before `raw_cutoff` and rollups before
/// `hourly_cutoff` (both ms; 0 keeps everything). Per SLO, so it walks the primary key.
pub fn prune(conn: &Conn, slo: &str, raw_cutoff: i64, hourly_cutoff: i64) -> StoreResult<usize> {
    let mut n = 0;
    if raw_cutoff > 0 {
        n += conn.execute(
            "DELETE FROM slo_samples WHERE slo = ?1 AND at < ?2",
            &[&slo, &raw_cutoff],
        )?;
    }
    if hourly_cutoff > 0 {
        n += conn.execute(
            "DELETE FROM slo_hourly WHERE slo = ?1 AND hour < ?2",
            &[&slo, &(hourly_cutoff - hourly_cutoff.rem_euclid(HOUR))],
        )?;
    }
    Ok(n)
}

/// A latency SLI's latest p50/p90/p99 (each row holds them over its trailing 5 minutes)
/// recorded after `since`; None when no interval measured them.
pub fn latency_since(conn: &Conn, slo: &str, since: i64) -> StoreResult<Option<[f64; 3]>> {
    conn.query_opt(
        "SELECT p50, p90, p99 FROM slo_samples \
         WHERE slo = ?1 AND at > ?2 AND p99 IS NOT NULL ORDER BY at DESC LIMIT 1",
        &[&slo, &since],
        |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?]),
    )
}

/// One point of an SLO's history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryPoint {
    #[serde(serialize_with = "crate::time::ser_ms")]
    pub at: i64,
    pub sli: Option<f64>,
    pub error_ratio: Option<f64>,
    pub events: f64,
    /// Evaluation intervals measured in the bucket (events per second are
    /// `events / (intervals × interval)`, right for a partial or gappy bucket too).
    pub intervals: i64,
    /// Latency SLIs: the event-weighted p99 of the bucket's intervals (histogram unit);
    /// null for other SLIs and for hourly steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99: Option<f64>,
}

/// History bucketed by `step_ms` between `from` and `to` (both ms). Buckets without rows
/// are left out (no data), buckets with rows but no events have `sli: null`. Steps of
/// whole hours read the hourly rollups (from the first whole hour after `from`), so
/// 30-day and longer charts stay cheap and outlive the per-interval rows.
pub fn history(
    conn: &Conn,
    slo: &str,
    from: i64,
    to: i64,
    step_ms: i64,
) -> StoreResult<Vec<HistoryPoint>> {
    let hourly = step_ms >= HOUR && step_ms % HOUR == 0;
    // Whole hours only: the hour `from` falls in is partly before the range.
    let from = if hourly && from.rem_euclid(HOUR) != 0 {
        from - from.rem_euclid(HOUR) + HOUR
    } else {
        from
    };
    let sql = if hourly {
        "SELECT (hour - ?2) / ?4 AS bucket, SUM(bad), SUM(total), \
         CAST(NULL AS DOUBLE PRECISION), CAST(SUM(samples) AS BIGINT) FROM slo_hourly \
         WHERE slo = ?1 AND hour >= ?2 AND hour < ?3 GROUP BY bucket ORDER BY bucket"
    } else {
        "SELECT (at - ?2) / ?4 AS bucket, SUM(bad), SUM(total), \
         SUM(p99 * total) / NULLIF(SUM(CASE WHEN p99 IS NULL THEN 0 ELSE total END), 0), \
         COUNT(*) \
         FROM slo_samples WHERE slo = ?1 AND at >= ?2 AND at < ?3 GROUP BY bucket ORDER BY bucket"
    };
    conn.query_vec(sql, &[&slo, &from, &to, &step_ms], |r| {
        let bucket: i64 = r.get(0)?;
        let bad: f64 = r.get(1)?;
        let total: f64 = r.get(2)?;
        let (sli, err) = if total > 0.0 {
            let e = (bad / total).clamp(0.0, 1.0);
            (Some(1.0 - e), Some(e))
        } else {
            (None, None)
        };
        Ok(HistoryPoint {
            at: from + bucket * step_ms,
            sli,
            error_ratio: err,
            events: total,
            intervals: r.get(4)?,
            p99: r.get(3)?,
        })
    })
}

/// A latency SLI's p99 bucketed by `step_ms` between `from` and `to`, from the
/// per-interval rows whatever the step (the hourly rollups keep no percentiles), so a
/// week's chart shows the p99 as far back as `raw_history_retention`. Buckets without
/// percentiles are left out.
pub fn p99_history(
    conn: &Conn,
    slo: &str,
    from: i64,
    to: i64,
    step_ms: i64,
) -> StoreResult<Vec<(i64, f64)>> {
    conn.query_vec(
        "SELECT (at - ?2) / ?4 AS bucket, \
         SUM(p99 * total) / SUM(total) FROM slo_samples \
         WHERE slo = ?1 AND at >= ?2 AND at < ?3 AND p99 IS NOT NULL AND total > 0 \
         GROUP BY bucket ORDER BY bucket",
        &[&slo, &from, &to, &step_ms],
        |r| Ok((from + r.get::<i64>(0)? * step_ms, r.get::<f64>(1)?)),
    )
}

/// When an SLO's stored history begins: its first per-interval row and its first hourly
/// rollup (ms), for the back-fill not to overwrite what Firewatch measured itself.
pub fn first_rows(conn: &Conn, slo: &str) -> StoreResult<(Option<i64>, Option<i64>)> {
    let at = conn.query_one("SELECT MIN(at) FROM slo_samples WHERE slo = ?1", &[&slo])?;
    let hour = conn.query_one("SELECT MIN(hour) FROM slo_hourly WHERE slo = ?1", &[&slo])?;
    Ok((at, hour))
}

/// Adds an hourly rollup of `samples` intervals for the hour starting at `hour`, unless
/// that hour already has one (back-fill never doubles what is there).
pub fn add_hourly_if_absent(
    conn: &Conn,
    slo: &str,
    hour: i64,
    bad: f64,
    total: f64,
    samples: i64,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO slo_hourly (slo, hour, bad, total, samples) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        &[&slo, &hour, &bad, &total, &samples],
    )?;
    Ok(())
}
