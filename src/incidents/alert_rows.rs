//! The owner of the `alerts` table: the alerts of each incident, one row per fingerprint.

use rusqlite::{OptionalExtension, params};

use super::repo::parse_col;
use super::shared_sets::{self, SharedSet};
use super::{Alert, Severity};
use crate::db::{Conn, StoreResult};

/// An alert's columns with its shared set's (alerts of older versions have none).
const ALERT_COLUMNS: &str = "a.id, a.fingerprint, a.status, a.alertname, a.severity, \
    a.labels, a.annotations, a.starts_at, a.ends_at, a.generator_url, a.first_seen_at, \
    a.last_seen_at, s.labels, s.annotations, s.templates, s.generator_url \
    FROM alerts a LEFT JOIN alert_sets s ON s.id = a.set_id";

fn alert_from_row(r: &rusqlite::Row) -> rusqlite::Result<Alert> {
    let own_url: String = r.get(9)?;
    let set: Option<(String, String, String, String)> = match r.get::<_, Option<String>>(12)? {
        Some(labels) => Some((labels, r.get(13)?, r.get(14)?, r.get(15)?)),
        None => None,
    };
    let (labels, annotations) = shared_sets::join(
        set.as_ref()
            .map(|(l, a, t, _)| (l.as_str(), a.as_str(), t.as_str())),
        &r.get::<_, String>(5)?,
        &r.get::<_, String>(6)?,
    );
    Ok(Alert {
        id: r.get(0)?,
        fingerprint: r.get(1)?,
        status: r.get(2)?,
        alertname: r.get(3)?,
        severity: parse_col(r, 4)?,
        labels,
        annotations,
        starts_at: r.get(7)?,
        ends_at: r.get(8)?,
        generator_url: match set {
            Some((_, _, _, shared)) if own_url.is_empty() => shared,
            _ => own_url,
        },
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
        "SELECT {ALERT_COLUMNS} WHERE a.incident_id = ?1 AND a.status = ?2 AND a.id > ?3 \
         ORDER BY a.id LIMIT ?4"
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

/// The incident's set with this content, stored now if it has none.
pub fn set_id(conn: &Conn, incident_id: i64, set: &SharedSet) -> StoreResult<i64> {
    let c = conn.sqlite();
    let found = c
        .prepare_cached("SELECT id FROM alert_sets WHERE incident_id = ?1 AND hash = ?2")?
        .query_row(params![incident_id, &set.hash[..]], |r| r.get(0))
        .optional()?;
    if let Some(id) = found {
        return Ok(id);
    }
    c.prepare_cached(
        "INSERT INTO alert_sets (incident_id, hash, labels, annotations, templates, \
         generator_url) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        incident_id,
        &set.hash[..],
        set.labels,
        set.annotations,
        set.templates,
        set.generator_url
    ])?;
    Ok(c.last_insert_rowid())
}

pub struct AlertRow<'a> {
    /// The shared set holding the rest of its labels, annotations and link.
    pub set_id: Option<i64>,
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

/// Rows per statement of `insert_new`.
const INSERT_CHUNK: usize = 16;

/// `INSERT … VALUES (…), (…) ON CONFLICT DO NOTHING RETURNING fingerprint` for 1..=16 rows.
fn insert_new_sql(rows: usize) -> &'static str {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    &SQL.get_or_init(|| {
        (0..=INSERT_CHUNK)
            .map(|n| {
                let values: Vec<String> = (0..n)
                    .map(|i| {
                        let b = i * 10;
                        format!(
                            "(?1, ?{}, ?{}, ?{}, ?{}, ?{}, ?{}, ?{}, ?{}, ?{}, ?2, ?2, ?{})",
                            b + 3,
                            b + 4,
                            b + 5,
                            b + 6,
                            b + 7,
                            b + 8,
                            b + 9,
                            b + 10,
                            b + 11,
                            b + 12,
                        )
                    })
                    .collect();
                format!(
                    "INSERT INTO alerts (incident_id, fingerprint, status, alertname, severity, \
                     labels, annotations, starts_at, ends_at, generator_url, first_seen_at, \
                     last_seen_at, set_id) VALUES {} \
                     ON CONFLICT (incident_id, fingerprint) DO NOTHING RETURNING fingerprint",
                    values.join(", ")
                )
            })
            .collect()
    })[rows]
}

/// Inserts the alerts the incident does not have yet, several rows per statement (the
/// hot path of intake: one index probe per new alert instead of a lookup and an insert).
/// Returns, for each row, whether it was new.
pub fn insert_new(
    conn: &Conn,
    incident_id: i64,
    rows: &[AlertRow],
    now: i64,
) -> StoreResult<Vec<bool>> {
    use rusqlite::types::ToSql;
    let mut inserted = vec![false; rows.len()];
    for (c, chunk) in rows.chunks(INSERT_CHUNK).enumerate() {
        let mut stmt = conn.sqlite().prepare_cached(insert_new_sql(chunk.len()))?;
        let states: Vec<&str> = chunk
            .iter()
            .map(|a| if a.firing { "firing" } else { "resolved" })
            .collect();
        let severities: Vec<&str> = chunk.iter().map(|a| a.severity.as_str()).collect();
        let mut params: Vec<&dyn ToSql> = Vec::with_capacity(2 + chunk.len() * 11);
        params.push(&incident_id);
        params.push(&now);
        for (i, a) in chunk.iter().enumerate() {
            params.extend([
                &a.fingerprint as &dyn ToSql,
                &states[i],
                &a.alertname,
                &severities[i],
                &a.labels,
                &a.annotations,
                &a.starts_at,
                &a.ends_at,
                &a.generator_url,
                &a.set_id,
            ]);
        }
        let mut returned = stmt.query(params.as_slice())?;
        while let Some(r) = returned.next()? {
            let fp = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
            if let Some(i) = chunk.iter().position(|a| a.fingerprint == fp) {
                inserted[c * INSERT_CHUNK + i] = true;
            }
        }
    }
    Ok(inserted)
}

/// A known alert changed state (resolved, or fired again): take the new values. A
/// resolution keeps the start of the firing it ends, so a late copy of that firing is
/// recognised as old.
pub fn update(conn: &Conn, alert_id: i64, a: &AlertRow, now: i64) -> StoreResult<()> {
    conn.sqlite()
        .prepare_cached(
            "UPDATE alerts SET status = ?2, severity = ?3, labels = ?4, annotations = ?5, \
             starts_at = CASE WHEN ?2 = 'resolved' THEN starts_at ELSE ?6 END, ends_at = ?7, \
             generator_url = ?8, last_seen_at = ?9, set_id = ?10 WHERE id = ?1",
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
            now,
            a.set_id
        ])?;
    Ok(())
}
