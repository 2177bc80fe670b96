//! `firewatch storage migrate --to postgres://…`: copies a SQLite installation into an
//! empty PostgreSQL database, so a team moves to replicas without losing history.
//!
//! The SQLite file is brought to this binary's schema and read in one transaction (a
//! consistent snapshot); everything is written in one PostgreSQL transaction, so the
//! target ends up with all of it or none of it. Row counts are compared per table before
//! the commit. Ids are kept (links and bookmarks stay valid), and the identity sequences
//! continue after the highest one.

use std::path::Path;

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use super::pg::{Connector, describe, migrate};
use super::{Param, PgArg, StoreError, StoreResult};
use crate::config::Synchronous;

/// Tables in an order that satisfies the foreign keys. `incident_counts` and
/// `incident_hourly` are kept by triggers as incidents are inserted, then replaced with
/// the source's rows so they are exactly what they were.
const TABLES: [&str; 21] = [
    "users",
    "sessions",
    "api_tokens",
    "settings",
    "incidents",
    "incident_counts",
    "incident_hourly",
    "alert_sets",
    "alerts",
    "timeline",
    "notifications",
    "silences",
    "deployments",
    "slo_samples",
    "slo_hourly",
    "postmortems",
    "action_items",
    "jobs",
    "reports",
    "healing_actions",
    "healing_state",
];

/// Tables replaced rather than appended to (the schema or its triggers fill them).
const REPLACED: [&str; 2] = ["incident_counts", "incident_hourly"];

/// Rows per INSERT statement (PostgreSQL takes at most 65,535 parameters).
const ROWS_PER_INSERT: usize = 500;

/// One table's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub table: &'static str,
    pub rows: u64,
}

/// Copies the SQLite database at `sqlite` into the (empty) PostgreSQL database `url`.
/// `progress` is told of each table when it is done.
pub fn sqlite_to_postgres(
    sqlite: &Path,
    url: &str,
    ca_file: Option<&Path>,
    mut progress: impl FnMut(&Copied),
) -> StoreResult<Vec<Copied>> {
    if !sqlite.exists() {
        return Err(StoreError::Open(format!(
            "no SQLite database at {}",
            sqlite.display()
        )));
    }
    let mut source = super::open_and_migrate(sqlite, Synchronous::Normal)?;
    let connector = Connector::new(url, ca_file)?;
    let session = connector.connect()?;
    migrate(&session)?;
    let mut client = session.client();
    let mut target = client.transaction()?;
    for table in TABLES {
        if REPLACED.contains(&table) {
            continue;
        }
        let n: i64 = target
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])?
            .get(0);
        if n > 0 {
            return Err(StoreError::Open(format!(
                "the PostgreSQL database already has data (table {table}: {n} rows); \
                 migrate into an empty database"
            )));
        }
    }
    let snapshot = source.transaction()?;
    let mut done = Vec::new();
    for table in TABLES {
        let copied = copy_table(&snapshot, &mut target, table)?;
        progress(&copied);
        done.push(copied);
    }
    for table in TABLES {
        let has_id: bool = target
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 \
                 AND column_name = 'id' AND is_identity = 'YES')",
                &[&table],
            )?
            .get(0);
        if has_id {
            target.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                ),
                &[],
            )?;
        }
    }
    target
        .commit()
        .map_err(|e| StoreError::Open(format!("committing the copy: {}", describe(&e))))?;
    drop(snapshot);
    Ok(done)
}

/// Copies one table's rows and checks the counts agree.
fn copy_table(
    source: &Connection,
    target: &mut postgres::Transaction<'_>,
    table: &'static str,
) -> StoreResult<Copied> {
    // The target's columns, in order; the source has them all (same schema version).
    let columns: Vec<String> = target
        .query(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            &[&table],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if REPLACED.contains(&table) {
        target.execute(&format!("DELETE FROM {table}"), &[])?;
    }
    // Columns only PostgreSQL has (the counters' shard) keep their defaults.
    let in_source: std::collections::HashSet<String> = source
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let columns: Vec<String> = columns
        .into_iter()
        .filter(|c| in_source.contains(c))
        .collect();
    let list = columns.join(", ");
    let mut stmt = source.prepare(&format!("SELECT {list} FROM {table}"))?;
    let mut rows = stmt.query([])?;
    let width = columns.len();
    let mut batch: Vec<super::Value> = Vec::with_capacity(ROWS_PER_INSERT * width);
    let mut copied = 0u64;
    let mut flush = |batch: &mut Vec<super::Value>| -> StoreResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let n = batch.len() / width;
        let values: Vec<String> = (0..n)
            .map(|r| {
                let cells: Vec<String> =
                    (1..=width).map(|c| format!("${}", r * width + c)).collect();
                format!("({})", cells.join(", "))
            })
            .collect();
        let sql = format!("INSERT INTO {table} ({list}) VALUES {}", values.join(", "));
        let args: Vec<PgArg<'_>> = batch.iter().map(|v| v.pg()).collect();
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = args
            .iter()
            .map(|a| a as &(dyn postgres::types::ToSql + Sync))
            .collect();
        target
            .execute(&sql, &refs)
            .map_err(|e| StoreError::Open(format!("copying {table}: {}", describe(&e))))?;
        batch.clear();
        Ok(())
    };
    while let Some(row) = rows.next()? {
        for i in 0..width {
            batch.push(match row.get_ref(i)? {
                ValueRef::Null => super::Value::Null,
                ValueRef::Integer(v) => super::Value::Int(v),
                ValueRef::Real(v) => super::Value::Real(v),
                ValueRef::Text(t) => super::Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => super::Value::Blob(b.to_vec()),
            });
        }
        copied += 1;
        if batch.len() >= ROWS_PER_INSERT * width {
            flush(&mut batch)?;
        }
    }
    flush(&mut batch)?;
    let source_count: i64 =
        source.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
    let target_count: i64 = target
        .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])?
        .get(0);
    if source_count != target_count || copied != source_count as u64 {
        return Err(StoreError::Open(format!(
            "table {table}: {source_count} rows in SQLite but {target_count} after the copy; \
             nothing was committed"
        )));
    }
    Ok(Copied {
        table,
        rows: copied,
    })
}
