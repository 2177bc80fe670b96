//! The owner of the `incidents` table (and the `incident_counts` table its triggers keep). Functions take a [`Conn`] so the caller decides whether they run on a
//! reader or inside the writer's transaction.

use std::collections::BTreeMap;

use super::alert_rows::KnownAlert;
use super::list::{Cursor, Sort};
use super::{Drill, Incident, ListQuery, Severity, Status, StatusFilter};
use crate::db::{Conn, Param, Row, StoreResult, Value};

pub(super) const INCIDENT_COLUMNS: &str = "id, title, description, status, severity, service, source, \
    group_key, runbook_url, assignee, commander, created_by, created_at, updated_at, \
    acknowledged_at, acknowledged_by, resolved_at, resolved_by, alert_count, firing_count, drill";

pub(super) fn incident_from_row(row: &Row) -> StoreResult<Incident> {
    Ok(Incident {
        id: row.get(0)?,
        title: row.get(1)?,
        description: row.get(2)?,
        status: row.parse(3)?,
        severity: row.parse(4)?,
        service: row.get(5)?,
        source: row.get(6)?,
        group_key: row.get(7)?,
        runbook_url: row.get(8)?,
        assignee: row.get(9)?,
        commander: row.get(10)?,
        created_by: row.get(11)?,
        created_at: row.get(12)?,
        updated_at: row.get(13)?,
        acknowledged_at: row.get(14)?,
        acknowledged_by: row.get(15)?,
        resolved_at: row.get(16)?,
        resolved_by: row.get(17)?,
        alert_count: row.get(18)?,
        firing_count: row.get(19)?,
        drill: row.get::<bool>(20)?,
    })
}

pub struct NewIncident<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub severity: Severity,
    pub service: &'a str,
    /// manual, alertmanager or slo.
    pub source: &'a str,
    pub group_key: Option<&'a str>,
    pub runbook_url: Option<&'a str>,
    /// Common labels of the alert group (JSON object), for routing by label.
    pub labels: &'a str,
    pub created_by: &'a str,
    pub at: i64,
    pub drill: Drill,
}

pub fn insert_incident(conn: &Conn, n: &NewIncident) -> StoreResult<i64> {
    conn.insert_id(
        "INSERT INTO incidents (title, description, status, severity, service, source, \
         group_key, runbook_url, labels, created_by, created_at, updated_at, drill) \
         VALUES (?1, ?2, 'triggered', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)",
        &[
            &n.title,
            &n.description,
            &n.severity.as_str(),
            &n.service,
            &n.source,
            &n.group_key,
            &n.runbook_url,
            &n.labels,
            &n.created_by,
            &n.at,
            &(n.drill as i64),
        ],
    )
}

pub fn get(conn: &Conn, id: i64) -> StoreResult<Option<Incident>> {
    conn.query_opt(
        &format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1"),
        &[&id],
        incident_from_row,
    )
}

/// One page in the query's order. Returns the page and the cursor of the next page, if
/// any.
pub fn list(conn: &Conn, q: &ListQuery) -> StoreResult<(Vec<Incident>, Option<Cursor>)> {
    let mut sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE 1=1");
    let mut args: Vec<Value> = Vec::new();
    match q.status {
        StatusFilter::All => {}
        // Same expression as the partial index incidents_open_id.
        StatusFilter::Open => sql.push_str(" AND status != 'resolved'"),
        StatusFilter::Only(s) => {
            sql.push_str(" AND status = ?");
            args.push(Value::Text(s.as_str().into()));
        }
    }
    if let Some(sev) = q.severity {
        sql.push_str(" AND severity = ?");
        args.push(Value::Text(sev.as_str().into()));
    }
    if let Some(service) = &q.service {
        sql.push_str(" AND service = ?");
        args.push(Value::Text(service.clone()));
    }
    if let Some(text) = &q.text {
        // LOWER on both sides: LIKE ignores ASCII case in SQLite, not in PostgreSQL.
        sql.push_str(
            " AND (LOWER(title) LIKE LOWER(?) ESCAPE '\\' \
             OR LOWER(service) LIKE LOWER(?) ESCAPE '\\')",
        );
        let escaped = text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        args.push(Value::Text(pattern.clone()));
        args.push(Value::Text(pattern));
    }
    // Keyset pagination: after the previous page's last row in the same order.
    match (q.sort, q.cursor) {
        (_, None) => {}
        (Sort::Newest, Some(c)) => {
            sql.push_str(" AND id < ?");
            args.push(Value::Int(c.id));
        }
        (Sort::Oldest, Some(c)) => {
            sql.push_str(" AND id > ?");
            args.push(Value::Int(c.id));
        }
        (Sort::Severity, Some(c)) => {
            let sev = c.severity.map_or("P0", |s| s.as_str()).to_string();
            sql.push_str(" AND (severity > ? OR (severity = ? AND id < ?))");
            args.push(Value::Text(sev.clone()));
            args.push(Value::Text(sev));
            args.push(Value::Int(c.id));
        }
    }
    // P0 < P1 < … as text, so severity order is text order.
    sql.push_str(match q.sort {
        Sort::Newest => " ORDER BY id DESC LIMIT ?",
        Sort::Oldest => " ORDER BY id ASC LIMIT ?",
        Sort::Severity => " ORDER BY severity ASC, id DESC LIMIT ?",
    });
    args.push(Value::Int(q.limit as i64 + 1));
    let refs: Vec<&dyn Param> = args.iter().map(|a| a as &dyn Param).collect();
    let mut items = conn.query_vec(&sql, &refs, incident_from_row)?;
    let next = if items.len() > q.limit {
        items.truncate(q.limit);
        items.last().map(|i| Cursor {
            severity: (q.sort == Sort::Severity).then_some(i.severity),
            id: i.id,
        })
    } else {
        None
    };
    Ok((items, next))
}

/// Incident counts for every (status, severity) pair that has any.
pub fn counts(conn: &Conn) -> StoreResult<Vec<(Status, Severity, i64)>> {
    conn.query_vec(
        // PostgreSQL spreads each pair over several rows (see its schema): add them up.
        "SELECT status, severity, CAST(SUM(n) AS BIGINT) FROM incident_counts \
         GROUP BY status, severity HAVING SUM(n) > 0",
        &[],
        |r| Ok((r.parse(0)?, r.parse(1)?, r.get(2)?)),
    )
}

fn run(conn: &Conn, sql: &str, args: &[&dyn Param]) -> StoreResult<usize> {
    conn.execute(sql, args)
}

pub fn set_acknowledged(conn: &Conn, id: i64, at: i64, by: &str) -> StoreResult<()> {
    run(
        conn,
        "UPDATE incidents SET status = 'acknowledged', acknowledged_at = ?2, \
         acknowledged_by = ?3, updated_at = ?2 WHERE id = ?1",
        &[&id, &at, &by],
    )?;
    Ok(())
}

pub fn set_resolved(conn: &Conn, id: i64, at: i64, by: &str) -> StoreResult<()> {
    run(
        conn,
        "UPDATE incidents SET status = 'resolved', resolved_at = ?2, resolved_by = ?3, \
         updated_at = ?2 WHERE id = ?1",
        &[&id, &at, &by],
    )?;
    Ok(())
}

/// Back to triggered; acknowledgement and resolution are cleared, creation time is kept.
pub fn set_reopened(conn: &Conn, id: i64, at: i64) -> StoreResult<()> {
    run(
        conn,
        "UPDATE incidents SET status = 'triggered', acknowledged_at = NULL, \
         acknowledged_by = NULL, resolved_at = NULL, resolved_by = NULL, updated_at = ?2 \
         WHERE id = ?1",
        &[&id, &at],
    )?;
    Ok(())
}

pub fn set_severity(conn: &Conn, id: i64, sev: Severity, at: i64) -> StoreResult<()> {
    run(
        conn,
        "UPDATE incidents SET severity = ?2, updated_at = ?3 WHERE id = ?1",
        &[&id, &sev.as_str(), &at],
    )?;
    Ok(())
}

pub fn set_runbook_url(conn: &Conn, id: i64, url: &str) -> StoreResult<()> {
    run(
        conn,
        "UPDATE incidents SET runbook_url = ?2 WHERE id = ?1",
        &[&id, &url],
    )?;
    Ok(())
}

pub fn set_people(
    conn: &Conn,
    id: i64,
    assignee: Option<&str>,
    commander: Option<&str>,
    at: i64,
) -> StoreResult<()> {
    run(
        conn,
        "UPDATE incidents SET assignee = ?2, commander = ?3, updated_at = ?4 WHERE id = ?1",
        &[&id, &assignee, &commander, &at],
    )?;
    Ok(())
}

pub fn set_title_severity(
    conn: &Conn,
    id: i64,
    title: &str,
    severity: Severity,
    at: i64,
) -> StoreResult<()> {
    run(
        conn,
        "UPDATE incidents SET title = ?2, severity = ?3, updated_at = ?4 WHERE id = ?1",
        &[&id, &title, &severity.as_str(), &at],
    )?;
    Ok(())
}

pub fn touch(conn: &Conn, id: i64, at: i64) -> StoreResult<()> {
    run(
        conn,
        "UPDATE incidents SET updated_at = ?2 WHERE id = ?1",
        &[&id, &at],
    )?;
    Ok(())
}

/// The incident an Alertmanager group belongs to now: its newest one.
pub struct GroupIncident {
    pub id: i64,
    pub status: Status,
    pub severity: Severity,
    pub resolved_at: Option<i64>,
    pub runbook_url: Option<String>,
}

/// The group's newest incident, with what it knows of the alert `fingerprint` (a
/// notification's first): the two questions every notification asks first, in one
/// round trip.
pub fn latest_for_group(
    conn: &Conn,
    group_key: &str,
    fingerprint: &str,
) -> StoreResult<Option<(GroupIncident, Option<KnownAlert>)>> {
    conn.query_opt(
        "SELECT i.id, i.status, i.severity, i.resolved_at, i.runbook_url, \
                a.id, a.status, a.severity, a.starts_at \
         FROM (SELECT id, status, severity, resolved_at, runbook_url FROM incidents \
               WHERE group_key = ?1 ORDER BY id DESC LIMIT 1) i \
         LEFT JOIN alerts a ON a.incident_id = i.id AND a.fingerprint = ?2",
        &[&group_key, &fingerprint],
        |r| {
            let known = KnownAlert::from_columns(r, 5)?;
            let incident = GroupIncident {
                id: r.get(0)?,
                status: r.parse(1)?,
                severity: r.parse(2)?,
                resolved_at: r.get(3)?,
                runbook_url: r.get(4)?,
            };
            Ok((incident, known))
        },
    )
}

/// A change to an incident's alert counters: alerts added, and firing alerts gained or
/// lost per severity (P0..P4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountDelta {
    pub alerts: i64,
    pub firing: [i64; 5],
}

impl CountDelta {
    /// A new alert.
    pub fn added(&mut self, firing: bool, severity: Severity) {
        self.alerts += 1;
        self.firing[severity as usize] += i64::from(firing);
    }

    /// A known alert that changed from (`was_firing`, `was`) to (`firing`, `severity`).
    pub fn changed(&mut self, was_firing: bool, was: Severity, firing: bool, severity: Severity) {
        self.firing[was as usize] -= i64::from(was_firing);
        self.firing[severity as usize] += i64::from(firing);
    }
}

/// An incident after its counters changed.
pub struct Counted {
    pub alerts: i64,
    pub firing: i64,
    /// The most urgent severity among firing alerts (a resolved alert never raises it).
    pub most_urgent: Option<Severity>,
    pub status: Status,
    pub severity: Severity,
    pub has_runbook: bool,
}

/// Applies a change to the incident's alert counters and marks it updated at `at`, in
/// one statement whatever the number of alerts.
pub fn add_alert_counts(conn: &Conn, id: i64, d: &CountDelta, at: i64) -> StoreResult<Counted> {
    conn.query_row(
        "UPDATE incidents SET alert_count = alert_count + ?2, \
             firing_count = firing_count + ?3 + ?4 + ?5 + ?6 + ?7, \
             firing_p0 = firing_p0 + ?3, firing_p1 = firing_p1 + ?4, firing_p2 = firing_p2 + ?5, \
             firing_p3 = firing_p3 + ?6, firing_p4 = firing_p4 + ?7, updated_at = ?8 \
             WHERE id = ?1 RETURNING alert_count, firing_p0, firing_p1, firing_p2, firing_p3, \
             firing_p4, status, severity, runbook_url IS NOT NULL",
        &[
            &id,
            &d.alerts,
            &d.firing[0],
            &d.firing[1],
            &d.firing[2],
            &d.firing[3],
            &d.firing[4],
            &at,
        ],
        |r| {
            let firing: [i64; 5] = [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?];
            Ok(Counted {
                alerts: r.get(0)?,
                firing: firing.iter().sum(),
                most_urgent: Severity::ALL
                    .into_iter()
                    .zip(firing)
                    .find(|(_, n)| *n > 0)
                    .map(|(s, _)| s),
                status: r.parse(6)?,
                severity: r.parse(7)?,
                has_runbook: r.get(8)?,
            })
        },
    )
}

/// Deletes up to `limit` incidents resolved before `cutoff` (alerts and timeline cascade).
pub fn delete_resolved_before(conn: &Conn, cutoff: i64, limit: usize) -> StoreResult<usize> {
    run(
        conn,
        "DELETE FROM incidents WHERE id IN (SELECT id FROM incidents \
         WHERE status = 'resolved' AND resolved_at < ?1 LIMIT ?2)",
        &[&cutoff, &(limit as i64)],
    )
}

/// What notification routing looks at: severity, service and the group's labels.
pub struct RoutingFacts {
    pub severity: Severity,
    pub service: String,
    pub labels: BTreeMap<String, String>,
    pub drill: Drill,
}

pub fn routing_facts(conn: &Conn, incident_id: i64) -> StoreResult<Option<RoutingFacts>> {
    conn.query_opt(
        "SELECT severity, service, labels, drill FROM incidents WHERE id = ?1",
        &[&incident_id],
        |r| {
            let sev: String = r.get(0)?;
            let labels: String = r.get(2)?;
            Ok(RoutingFacts {
                severity: sev.parse().unwrap_or(Severity::P3),
                service: r.get(1)?,
                labels: serde_json::from_str(&labels).unwrap_or_default(),
                drill: Drill::from_column(r.get(3)?),
            })
        },
    )
}

/// An open P0 incident for the service other than `except`, if any.
pub fn open_p0_for_service(conn: &Conn, service: &str, except: i64) -> StoreResult<Option<i64>> {
    conn.query_opt(
        "SELECT id FROM incidents WHERE status != 'resolved' AND severity = 'P0' \
         AND service = ?1 AND id != ?2 AND drill = 0 ORDER BY id DESC LIMIT 1",
        &[&service, &except],
        |r| r.get(0),
    )
}

/// Open P0 incidents nobody has acknowledged yet.
pub fn unacknowledged_p0(conn: &Conn) -> StoreResult<Vec<i64>> {
    conn.query_vec(
        "SELECT id FROM incidents WHERE status = 'triggered' AND severity = 'P0' ORDER BY id",
        &[],
        |r| r.get(0),
    )
}
