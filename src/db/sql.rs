//! The one SQL surface the owner files use, for both backends: SQLite (the embedded
//! default) and PostgreSQL (replicas). Owner files write their statements once, in the
//! SQL both engines understand, with `?1`-style placeholders; PostgreSQL gets them as
//! `$1`. Where the dialects differ, [`Conn::dialect`] tells which one is running.
//!
//! Portable SQL here means: `INSERT … ON CONFLICT … DO NOTHING/UPDATE` (no `INSERT OR
//! IGNORE/REPLACE`), `COALESCE` (no `IFNULL`), `CASE` (no two-argument `MAX`/`MIN`),
//! `SUM(CASE WHEN … THEN 1 ELSE 0 END)` (no sums of comparisons), `CAST(SUM(x) AS BIGINT)`
//! for sums of columns, booleans stored as integers 0/1, and new ids through
//! [`Conn::insert_id`] (no `last_insert_rowid`). Every integer column is 64-bit on both.
//! Statements are prepared once per connection and cached.

use std::cell::RefCell;
use std::collections::HashMap;

use postgres::types::ToSql as PgToSql;
use rusqlite::Connection;

use super::values::{Column, Param, PgArg};
use super::{StoreError, StoreResult};

/// Which SQL engine a [`Conn`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Statements prepared on one PostgreSQL connection are kept up to this many; past it
/// the cache starts again (dynamic statements, such as filtered lists, vary a little).
const PG_STATEMENT_CACHE: usize = 512;

/// A PostgreSQL connection with its prepared statements.
pub struct PgSession {
    /// Always `Some` until dropped.
    client: RefCell<Option<postgres::Client>>,
    statements: RefCell<HashMap<String, postgres::Statement>>,
}

impl Drop for PgSession {
    fn drop(&mut self) {
        // The synchronous client closes its connection with a `block_on` of its own,
        // which must not run on a thread that drives async tasks (a pool is dropped
        // wherever its last handle goes).
        if let Some(client) = self.client.get_mut().take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            std::thread::spawn(move || drop(client));
        }
    }
}

impl PgSession {
    pub fn new(client: postgres::Client) -> Self {
        Self {
            client: RefCell::new(Some(client)),
            statements: RefCell::new(HashMap::new()),
        }
    }

    pub(super) fn client(&self) -> std::cell::RefMut<'_, postgres::Client> {
        std::cell::RefMut::map(self.client.borrow_mut(), |c| {
            c.as_mut().expect("a session has its client until dropped")
        })
    }

    fn prepare(&self, sql: &str, returning_id: bool) -> StoreResult<postgres::Statement> {
        let key_owned;
        let key = if returning_id {
            key_owned = format!("{sql}\u{1}id");
            key_owned.as_str()
        } else {
            sql
        };
        if let Some(s) = self.statements.borrow().get(key) {
            return Ok(s.clone());
        }
        let mut text = to_dollar_placeholders(sql);
        if returning_id {
            text.push_str(" RETURNING id");
        }
        let stmt = self.client().prepare(&text)?;
        let mut cache = self.statements.borrow_mut();
        if cache.len() >= PG_STATEMENT_CACHE {
            cache.clear();
        }
        cache.insert(key.to_string(), stmt.clone());
        Ok(stmt)
    }

    fn query(
        &self,
        sql: &str,
        params: &[&dyn Param],
        returning_id: bool,
    ) -> StoreResult<Vec<postgres::Row>> {
        let stmt = self.prepare(sql, returning_id)?;
        let args: Vec<PgArg<'_>> = params.iter().map(|p| p.pg()).collect();
        let refs: Vec<&(dyn PgToSql + Sync)> =
            args.iter().map(|a| a as &(dyn PgToSql + Sync)).collect();
        Ok(self.client().query(&stmt, &refs)?)
    }

    fn execute(&self, sql: &str, params: &[&dyn Param]) -> StoreResult<usize> {
        let stmt = self.prepare(sql, false)?;
        let args: Vec<PgArg<'_>> = params.iter().map(|p| p.pg()).collect();
        let refs: Vec<&(dyn PgToSql + Sync)> =
            args.iter().map(|a| a as &(dyn PgToSql + Sync)).collect();
        Ok(self.client().execute(&stmt, &refs)? as usize)
    }
}

/// `?1` → `$1` and a bare `?` → the next number, outside quoted text.
pub fn to_dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    let mut next = 0usize;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                out.push('$');
                if digits.is_empty() {
                    next += 1;
                    out.push_str(&next.to_string());
                } else {
                    out.push_str(&digits);
                }
            }
            None => out.push(c),
        }
    }
    out
}

/// A connection as the owner files see it: a pooled reader, or the writer inside its
/// transaction, on either backend.
#[derive(Clone, Copy)]
pub struct Conn<'a>(Backend<'a>);

#[derive(Clone, Copy)]
enum Backend<'a> {
    Sqlite(&'a Connection),
    Postgres(&'a PgSession),
}

/// Raises the borrowed parameters to what rusqlite binds.
fn sqlite_params<'p>(
    params: &'p [&'p dyn Param],
) -> rusqlite::ParamsFromIter<impl Iterator<Item = &'p dyn rusqlite::ToSql>> {
    rusqlite::params_from_iter(params.iter().map(|p| *p as &dyn rusqlite::ToSql))
}

impl<'a> Conn<'a> {
    pub(super) fn sqlite(c: &'a Connection) -> Self {
        Self(Backend::Sqlite(c))
    }

    pub(super) fn postgres(s: &'a PgSession) -> Self {
        Self(Backend::Postgres(s))
    }

    pub fn dialect(&self) -> Dialect {
        match self.0 {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs a statement; returns the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[&dyn Param]) -> StoreResult<usize> {
        match self.0 {
            Backend::Sqlite(c) => Ok(c.prepare_cached(sql)?.execute(sqlite_params(params))?),
            Backend::Postgres(s) => s.execute(sql, params),
        }
    }

    /// Runs an `INSERT` into a table with an `id` key and returns the new row's id.
    pub fn insert_id(&self, sql: &str, params: &[&dyn Param]) -> StoreResult<i64> {
        match self.0 {
            Backend::Sqlite(c) => {
                c.prepare_cached(sql)?.execute(sqlite_params(params))?;
                Ok(c.last_insert_rowid())
            }
            Backend::Postgres(s) => {
                let rows = s.query(sql, params, true)?;
                let row = rows.first().ok_or(StoreError::NoRow)?;
                Row(RowRef::Postgres(row)).get(0)
            }
        }
    }

    /// Calls `f` for every row, in order.
    pub fn for_each(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut f: impl FnMut(&Row) -> StoreResult<()>,
    ) -> StoreResult<()> {
        match self.0 {
            Backend::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(sqlite_params(params))?;
                while let Some(r) = rows.next()? {
                    f(&Row(RowRef::Sqlite(r)))?;
                }
                Ok(())
            }
            Backend::Postgres(s) => {
                for r in &s.query(sql, params, false)? {
                    f(&Row(RowRef::Postgres(r)))?;
                }
                Ok(())
            }
        }
    }

    /// Every row, each made into a `T` by `f`.
    pub fn query_vec<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut f: impl FnMut(&Row) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let mut out = Vec::new();
        self.for_each(sql, params, |r| {
            out.push(f(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The first row, if there is one.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        match self.0 {
            Backend::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(sqlite_params(params))?;
                match rows.next()? {
                    Some(r) => Ok(Some(f(&Row(RowRef::Sqlite(r)))?)),
                    None => Ok(None),
                }
            }
            Backend::Postgres(s) => match s.query(sql, params, false)?.first() {
                Some(r) => Ok(Some(f(&Row(RowRef::Postgres(r)))?)),
                None => Ok(None),
            },
        }
    }

    /// The first row; [`StoreError::NoRow`] when there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.query_opt(sql, params, f)?.ok_or(StoreError::NoRow)
    }

    /// The first column of the first row (a count, a sum, …).
    pub fn query_one<T: Column>(&self, sql: &str, params: &[&dyn Param]) -> StoreResult<T> {
        self.query_row(sql, params, |r| r.get(0))
    }

    /// Whether the query returns any row.
    pub fn exists(&self, sql: &str, params: &[&dyn Param]) -> StoreResult<bool> {
        Ok(self.query_opt(sql, params, |_| Ok(()))?.is_some())
    }

    /// Runs several statements without parameters (not cached).
    pub fn batch(&self, sql: &str) -> StoreResult<()> {
        match self.0 {
            Backend::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Backend::Postgres(s) => Ok(s.client().batch_execute(sql)?),
        }
    }
}

/// One row of a result.
pub struct Row<'r>(RowRef<'r>);

enum RowRef<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r postgres::Row),
}

impl Row<'_> {
    /// Column `idx` (from 0) as a `T`.
    pub fn get<T: Column>(&self, idx: usize) -> StoreResult<T> {
        match &self.0 {
            RowRef::Sqlite(r) => Ok(T::from_sqlite(r, idx)?),
            RowRef::Postgres(r) => T::from_pg(r, idx),
        }
    }

    /// Column `idx` as text parsed into a `T` (a status, a role, …).
    pub fn parse<T: std::str::FromStr<Err = String>>(&self, idx: usize) -> StoreResult<T> {
        let text: String = self.get(idx)?;
        text.parse()
            .map_err(|e: String| StoreError::Decode(format!("column {idx}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Value;

    #[test]
    fn placeholders_become_numbered_outside_quotes() {
        assert_eq!(
            to_dollar_placeholders("SELECT ?1, ?12 WHERE a = '?' AND b = ? AND c = ?"),
            "SELECT $1, $12 WHERE a = '?' AND b = $1 AND c = $2"
        );
        assert_eq!(
            to_dollar_placeholders("SELECT 'it''s ?', ?2"),
            "SELECT 'it''s ?', $2"
        );
    }

    #[test]
    fn sqlite_round_trips_every_column_type() {
        let c = Connection::open_in_memory().unwrap();
        let conn = Conn::sqlite(&c);
        conn.batch("CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, r REAL, s TEXT, b BLOB)")
            .unwrap();
        let blob = vec![0u8, 1, 2];
        let id = conn
            .insert_id(
                "INSERT INTO t (i, r, s, b) VALUES (?1, ?2, ?3, ?4)",
                &[&7i64, &1.5f64, &"text", &blob],
            )
            .unwrap();
        assert_eq!(id, 1);
        let none: Option<String> = None;
        conn.execute("INSERT INTO t (i, s) VALUES (?1, ?2)", &[&true, &none])
            .unwrap();
        let rows = conn
            .query_vec("SELECT i, r, s, b FROM t ORDER BY id", &[], |r| {
                Ok((
                    r.get::<i64>(0)?,
                    r.get::<Option<f64>>(1)?,
                    r.get::<Option<String>>(2)?,
                    r.get::<Option<Vec<u8>>>(3)?,
                ))
            })
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (7, Some(1.5), Some("text".into()), Some(blob)),
                (1, None, None, None)
            ]
        );
        assert!(
            conn.exists("SELECT 1 FROM t WHERE i = ?1", &[&7i64])
                .unwrap()
        );
        assert!(matches!(
            conn.query_row("SELECT i FROM t WHERE i = 99", &[], |r| r.get::<i64>(0)),
            Err(StoreError::NoRow)
        ));
        let args = [Value::Int(7), Value::Text("text".into())];
        let refs: Vec<&dyn Param> = args.iter().map(|a| a as &dyn Param).collect();
        let n: i64 = conn
            .query_one("SELECT COUNT(*) FROM t WHERE i = ? AND s = ?", &refs)
            .unwrap();
        assert_eq!(n, 1);
    }
}
