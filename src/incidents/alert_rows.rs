//! The owner of the `alerts` table: the alerts of each incident, one row per fingerprint.

use super::shared_sets::{self, SharedSet};
use super::{Alert, Severity};
use crate::db::{Conn, Param, Row, StoreResult};

/// An alert's columns with its shared set's (alerts of older versions have none).
const ALERT_COLUMNS: &str = "a.id, a.fingerprint, a.status, a.alertname, a.severity, \
    a.labels, a.annotations, a.starts_at, a.ends_at, a.generator_url, a.first_seen_at, \
    a.last_seen_at, s.labels, s.annotations, s.templates, s.generator_url \
    FROM alerts a LEFT JOIN alert_sets s ON s.id = a.set_id";

fn alert_from_row(r: &Row) -> StoreResult<Alert> {
    let own_url: String = r.get(9)?;
    let set: Option<(String, String, String, String)> = match r.get::<Option<String>>(12)? {
        Some(labels) => Some((labels, r.get(13)?, r.get(14)?, r.get(15)?)),
        None => None,
    };
    let (labels, annotations) = shared_sets::join(
        set.as_ref()
            .map(|(l, a, t, _)| (l.as_str(), a.as_str(), t.as_str())),
        &r.get::<String>(5)?,
        &r.get::<String>(6)?,
    );
    Ok(Alert {
        id: r.get(0)?,
        fingerprint: r.get(1)?,
        status: r.get(2)?,
        alertname: r.get(3)?,
        severity: r.parse(4)?,
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
    let sql = format!(
        "SELECT {ALERT_COLUMNS} WHERE a.incident_id = ?1 AND a.status = ?2 AND a.id > ?3 \
         ORDER BY a.id LIMIT ?4"
    );
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
        let want = (limit + 1 - out.len()) as i64;
        let state = STATE_TEXT[usize::from(firing)];
        conn.for_each(&sql, &[&incident_id, &state, &from, &want], |r| {
            out.push(alert_from_row(r)?);
            Ok(())
        })?;
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

impl KnownAlert {
    /// From the row's columns `at..at + 4`: id, status, severity, starts_at. A NULL id
    /// (a LEFT JOIN that found no such alert) is None.
    pub fn from_columns(r: &Row, at: usize) -> StoreResult<Option<Self>> {
        let Some(id) = r.get::<Option<i64>>(at)? else {
            return Ok(None);
        };
        Ok(Some(KnownAlert {
            id,
            firing: r.get::<String>(at + 1)? == "firing",
            severity: r.parse(at + 2)?,
            starts_at: r.get(at + 3)?,
        }))
    }
}

pub fn find(conn: &Conn, incident_id: i64, fingerprint: &str) -> StoreResult<Option<KnownAlert>> {
    let found = conn.query_opt(
        "SELECT id, status, severity, starts_at FROM alerts \
         WHERE incident_id = ?1 AND fingerprint = ?2",
        &[&incident_id, &fingerprint],
        |r| KnownAlert::from_columns(r, 0),
    )?;
    Ok(found.flatten())
}

/// The incident's set with this content, stored now if it has none.
pub fn set_id(conn: &Conn, incident_id: i64, set: &SharedSet) -> StoreResult<i64> {
    let hash: &[u8] = &set.hash;
    let found = conn.query_opt(
        "SELECT id FROM alert_sets WHERE incident_id = ?1 AND hash = ?2",
        &[&incident_id, &hash],
        |r| r.get::<i64>(0),
    )?;
    match found {
        Some(id) => Ok(id),
        None => add_set(conn, incident_id, set),
    }
}

/// Stores the set for an incident known not to have it (one just opened).
pub fn add_set(conn: &Conn, incident_id: i64, set: &SharedSet) -> StoreResult<i64> {
    let hash: &[u8] = &set.hash;
    conn.insert_id(
        "INSERT INTO alert_sets (incident_id, hash, labels, annotations, templates, \
         generator_url) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            &incident_id,
            &hash,
            &set.labels,
            &set.annotations,
            &set.templates,
            &set.generator_url,
        ],
    )
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

/// An alert's `status` column, indexed by whether it fires: `'static` text the
/// parameters of a whole batch can point at.
static STATE_TEXT: [&str; 2] = ["resolved", "firing"];

/// Each severity's text, indexed by the severity (same reason).
static SEVERITY_TEXT: std::sync::LazyLock<[&str; 5]> =
    std::sync::LazyLock::new(|| Severity::ALL.map(Severity::as_str));

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
    let mut inserted = vec![false; rows.len()];
    let severities: &[&'static str; 5] = &SEVERITY_TEXT;
    // One parameter list for every chunk: its entries point at the rows and at static
    // text, so it is only cleared between chunks.
    let mut params: Vec<&dyn Param> = Vec::with_capacity(2 + rows.len().min(INSERT_CHUNK) * 10);
    for (c, chunk) in rows.chunks(INSERT_CHUNK).enumerate() {
        params.clear();
        params.push(&incident_id);
        params.push(&now);
        for a in chunk {
            params.extend([
                &a.fingerprint as &dyn Param,
                &STATE_TEXT[usize::from(a.firing)],
                &a.alertname,
                &severities[a.severity as usize],
                &a.labels,
                &a.annotations,
                &a.starts_at,
                &a.ends_at,
                &a.generator_url,
                &a.set_id,
            ]);
        }
        conn.for_each(insert_new_sql(chunk.len()), &params, |r| {
            let fp: String = r.get(0)?;
            if let Some(i) = chunk.iter().position(|a| a.fingerprint == fp) {
                inserted[c * INSERT_CHUNK + i] = true;
            }
            Ok(())
        })?;
    }
    Ok(inserted)
}

/// A known alert changed state (resolved, or fired again): take the new values. A
/// resolution keeps the start of the firing it ends, so a late copy of that firing is
/// recognised as old.
pub fn update(conn: &Conn, alert_id: i64, a: &AlertRow, now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE alerts SET status = ?2, severity = ?3, labels = ?4, annotations = ?5, \
         starts_at = CASE WHEN ?2 = 'resolved' THEN starts_at ELSE ?6 END, ends_at = ?7, \
         generator_url = ?8, last_seen_at = ?9, set_id = ?10 WHERE id = ?1",
        &[
            &alert_id,
            &STATE_TEXT[usize::from(a.firing)],
            &a.severity.as_str(),
            &a.labels,
            &a.annotations,
            &a.starts_at,
            &a.ends_at,
            &a.generator_url,
            &now,
            &a.set_id,
        ],
    )?;
    Ok(())
}
