//! Silences (maintenance windows): while one is active, matching incidents notify nobody.
//! The owner of the `silences` table.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::db::{Conn, Row, StoreResult};
use crate::severity::Severity;
use crate::time::ser_ms;

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    pub matchers: BTreeMap<String, String>,
    pub comment: String,
    /// How long from now (or from `starts_at`), e.g. "2h".
    pub duration: Option<String>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
}

/// Bounds on one silence: a silence is checked against every message, so neither its
/// matchers nor its length may grow without end.
pub const MAX_MATCHERS: usize = 32;
const MAX_NAME_BYTES: usize = 128;
const MAX_VALUE_BYTES: usize = 1024;
const MAX_COMMENT_CHARS: usize = 2000;
/// The longest a silence may last (and the furthest ahead it may start): a year. What
/// should be quiet for longer needs a route change, not a silence.
pub const MAX_SILENCE_MS: i64 = 366 * 86_400_000;
/// How many current (active or scheduled) silences there may be at once.
pub const MAX_CURRENT: usize = 1000;

/// Checks a silence against the hard limits and returns (starts_at, ends_at) in unix ms.
pub fn validate(s: &NewSilence, now: i64) -> Result<(i64, i64), String> {
    validate_within(s, now, MAX_SILENCE_MS)
}

/// `validate` with the longest silence allowed (`notify.max_silence`, at most a year).
pub fn validate_within(s: &NewSilence, now: i64, max_ms: i64) -> Result<(i64, i64), String> {
    let max_ms = max_ms.clamp(1, MAX_SILENCE_MS);
    let longest = crate::duration::format_secs((max_ms / 1000) as u64);
    if s.matchers.is_empty() {
        return Err("matchers: give at least one (severity, service or a label)".into());
    }
    if s.matchers.len() > MAX_MATCHERS {
        return Err(format!("matchers: at most {MAX_MATCHERS}"));
    }
    for (k, v) in &s.matchers {
        if k.trim().is_empty() || v.trim().is_empty() {
            return Err("matchers: names and values must not be empty".into());
        }
        if k.len() > MAX_NAME_BYTES || v.len() > MAX_VALUE_BYTES {
            return Err(format!(
                "matchers: names are at most {MAX_NAME_BYTES} bytes, values {MAX_VALUE_BYTES}"
            ));
        }
        if k == "severity" && v.parse::<Severity>().is_err() {
            return Err(format!("matchers.severity: `{v}` is not P0..P4"));
        }
    }
    if s.comment.trim().is_empty() {
        return Err("comment: say why (e.g. the maintenance ticket)".into());
    }
    if s.comment.chars().count() > MAX_COMMENT_CHARS {
        return Err(format!("comment: at most {MAX_COMMENT_CHARS} characters"));
    }
    let ts = |field: &str, v: &Option<String>| -> Result<Option<i64>, String> {
        match v {
            None => Ok(None),
            Some(t) => crate::time::parse_rfc3339(t)
                .map_err(|m| format!("{field}: {m}"))?
                .map(Some)
                .ok_or_else(|| format!("{field}: not a real time")),
        }
    };
    let starts = ts("starts_at", &s.starts_at)?.unwrap_or(now);
    if starts > now + MAX_SILENCE_MS {
        return Err("starts_at: at most a year ahead".into());
    }
    let ends = match (&s.duration, ts("ends_at", &s.ends_at)?) {
        (Some(d), None) => {
            let d = crate::duration::parse(d).map_err(|m| format!("duration: {m}"))?;
            // Compared before any arithmetic: a huge duration cannot wrap around.
            if d.as_millis() > max_ms as u128 {
                return Err(format!("duration: at most {longest} (notify.max_silence)"));
            }
            starts + d.as_millis() as i64
        }
        (None, Some(e)) => e,
        _ => return Err("give either duration or ends_at".into()),
    };
    if ends <= starts || ends <= now {
        return Err("ends_at: must be after starts_at and in the future".into());
    }
    if ends - starts > max_ms {
        return Err(format!(
            "ends_at: a silence lasts at most {longest} (notify.max_silence)"
        ));
    }
    Ok((starts, ends))
}

const COLUMNS: &str = "id, matchers, comment, created_by, starts_at, ends_at, created_at";

fn from_row(r: &Row) -> StoreResult<Silence> {
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

fn select(conn: &Conn, filter: &str, now: i64) -> StoreResult<Vec<Silence>> {
    conn.query_vec(
        &format!("SELECT {COLUMNS} FROM silences WHERE {filter}"),
        &[&now],
        from_row,
    )
}

/// Silences in force at `now`, oldest first.
pub fn active(conn: &Conn, now: i64) -> StoreResult<Vec<Silence>> {
    select(conn, "ends_at > ?1 AND starts_at <= ?1 ORDER BY id", now)
}

/// Silences that have not ended yet (active or scheduled), newest first.
pub fn current(conn: &Conn, now: i64) -> StoreResult<Vec<Silence>> {
    select(conn, "ends_at > ?1 ORDER BY id DESC", now)
}

/// How many silences have not ended yet.
pub fn count_current(conn: &Conn, now: i64) -> StoreResult<usize> {
    let n: i64 = conn.query_one("SELECT COUNT(*) FROM silences WHERE ends_at > ?1", &[&now])?;
    Ok(n as usize)
}

pub fn insert(
    conn: &Conn,
    matchers: &BTreeMap<String, String>,
    comment: &str,
    created_by: &str,
    (starts_at, ends_at): (i64, i64),
    now: i64,
) -> StoreResult<Silence> {
    let id = conn.insert_id(
        "INSERT INTO silences (matchers, comment, created_by, starts_at, ends_at, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            &serde_json::to_string(matchers).expect("matchers serialize"),
            &comment,
            &created_by,
            &starts_at,
            &ends_at,
            &now,
        ],
    )?;
    Ok(Silence {
        id,
        matchers: matchers.clone(),
        comment: comment.to_string(),
        created_by: created_by.to_string(),
        starts_at,
        ends_at,
        created_at: now,
    })
}

/// Ends a silence now; false when it does not exist or has already ended.
pub fn expire(conn: &Conn, id: i64, now: i64) -> StoreResult<bool> {
    let n = conn.execute(
        "UPDATE silences SET ends_at = ?2 WHERE id = ?1 AND ends_at > ?2",
        &[&id, &now],
    )?;
    Ok(n == 1)
}
