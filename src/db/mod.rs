//! Storage. SQLite (the default): one dedicated writer thread that commits concurrent
//! writes together (group commit) and a small pool of read-only connections; reads run
//! through deadpool-sqlite's blocking `interact`. PostgreSQL (replicas, `pg.rs`): writer
//! connections that run each write as a transaction under advisory locks, and a pool of
//! readers. Blocking database calls never run on the async executor.
//!
//! Domain code never sees an engine's type: read and write closures get a [`Conn`], which
//! only the owner files of the tables (`incidents/repo.rs`, `slo/store.rs`,
//! `notify/outbox.rs`, …) use to run their SQL, written once for both engines.

pub mod backups;
mod checkpoint;
pub mod copy;
pub mod pg;
mod sql;
mod values;
mod writer;

use std::path::Path;

use deadpool_sqlite::{Hook, HookError, Pool, Runtime};
use include_dir::{Dir, include_dir};
use rusqlite::Connection;
use rusqlite::config::DbConfig;
use rusqlite_migration::{M, Migrations};

use crate::config::{Resolved, Synchronous};
pub use sql::{Conn, Dialect, PgSession, Row};
pub use values::{Column, Param, PgArg, Value};
pub use writer::Writer;

static MIGRATIONS_DIR: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/migrations");

/// Prepared statements kept per connection: rusqlite keeps 16 by default, and the writer
/// runs more than that between two notifications (intake, routing, the outbox, SLO
/// history, jobs).
const STATEMENT_CACHE: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("could not commit: {0}")]
    Commit(String),
    #[error("the database writer has stopped")]
    WriterGone,
    #[error("no database connection available: {0}")]
    Pool(String),
    #[error("{0}")]
    Open(String),
    #[error("database error: {}", pg::describe(.0))]
    Postgres(#[from] ::postgres::Error),
    #[error("the query returned no row")]
    NoRow,
    #[error("unexpected value in the database: {0}")]
    Decode(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// Trouble that passes (busy, locked, disk full, I/O, the writer restarting): the
    /// client may retry (HTTP 503 with Retry-After).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy
                    | rusqlite::ErrorCode::DatabaseLocked
                    | rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::SystemIoFailure
            ),
            StoreError::Postgres(e) => {
                e.is_closed()
                    || e.code().is_some_and(|c| {
                        let c = c.code();
                        // connection exceptions, serialization failures and deadlocks,
                        // too many connections, the server shutting down
                        c.starts_with("08")
                            || c.starts_with("40")
                            || c.starts_with("53")
                            || c.starts_with("57P")
                    })
            }
            StoreError::Commit(_) | StoreError::WriterGone | StoreError::Pool(_) => true,
            StoreError::Sqlite(_)
            | StoreError::Open(_)
            | StoreError::NoRow
            | StoreError::Decode(_) => false,
        }
    }
}

/// Handles to the database: clone freely.
#[derive(Clone)]
pub struct Db {
    writer: Writers,
    readers: Readers,
    /// SQLite's checkpoint thread (none on PostgreSQL).
    checkpointer: Option<std::sync::Arc<checkpoint::Checkpointer>>,
    /// The SQLite file, or the PostgreSQL server and database (no password).
    location: String,
    dialect: Dialect,
}

#[derive(Clone)]
enum Writers {
    Sqlite(Writer),
    Postgres(pg::Writers),
}

#[derive(Clone)]
enum Readers {
    Sqlite(Pool),
    Postgres(pg::Readers),
}

fn migrations() -> Migrations<'static> {
    let mut files: Vec<_> = MIGRATIONS_DIR
        .files()
        .filter(|f| f.path().extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort_by_key(|f| f.path().to_path_buf());
    Migrations::new(
        files
            .into_iter()
            .map(|f| M::up(f.contents_utf8().expect("migrations are UTF-8")))
            .collect(),
    )
}

/// Number of migrations compiled into this binary (the schema version it writes).
pub fn schema_version() -> usize {
    MIGRATIONS_DIR
        .files()
        .filter(|f| f.path().extension().is_some_and(|e| e == "sql"))
        .count()
}

/// How long a connection waits for a lock another one holds before it gives up.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// What every connection, writer or reader, gets.
fn plan_once(conn: &Connection) -> rusqlite::Result<()> {
    // Without the query planner stability guarantee, SQLite (3.4x) marks a statement whose
    // plan a bound value might change — any `LIMIT ?` — as expired at every new binding,
    // so each run parsed and planned it again (2 % of the writer's time when the intake
    // looked up an incident's latest timeline lines). No plan here needs a bound value:
    // Firewatch keeps no statistics (no ANALYZE), and its queries spell the conditions
    // of partial indexes as literals (`status != 'resolved'`, `status = 'pending'`).
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// A reader connection's settings.
fn reader_settings(conn: &Connection) -> rusqlite::Result<()> {
    plan_once(conn)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "query_only", "ON")
}

fn apply_pragmas(conn: &Connection, sync: Synchronous) -> rusqlite::Result<()> {
    plan_once(conn)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(
        None,
        "synchronous",
        match sync {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        },
    )?;
    Ok(())
}

/// Creates the data folder (and missing parents) readable by the owner only (0700). An
/// existing folder is left as the operator made it.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes sure the database file exists readable and writable by the owner only (0600):
/// it holds sessions, token hashes and every alert. SQLite gives its -wal and -shm files
/// the same mode. A database left readable by others is tightened.
fn private_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let mode = std::fs::metadata(path)?.permissions().mode();
                if mode & 0o077 != 0 {
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
                    tracing::info!(path = %path.display(), "database made readable by its owner only (0600)");
                }
            }
            Err(e) => return Err(e),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Opens the database file, creating it and its directory when missing, switches it to
/// WAL and applies the migrations. Refuses a database written by a newer Firewatch.
pub fn open_and_migrate(path: &Path, sync: Synchronous) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        private_dir(dir)
            .map_err(|e| StoreError::Open(format!("cannot create {}: {e}", dir.display())))?;
    }
    private_file(path)
        .map_err(|e| StoreError::Open(format!("cannot create {}: {e}", path.display())))?;
    let mut conn = Connection::open(path)
        .map_err(|e| StoreError::Open(format!("cannot open {}: {e}", path.display())))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    apply_pragmas(&conn, sync)?;
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let current = current.max(0) as usize;
    let known = schema_version();
    if current > known {
        return Err(StoreError::Open(format!(
            "{} has schema version {current}, but this firewatch binary only knows versions up \
             to {known}: it was written by a newer firewatch. Run that newer version, or \
             restore a backup taken before the upgrade.",
            path.display()
        )));
    }
    migrations()
        .to_latest(&mut conn)
        .map_err(|e| StoreError::Open(format!("migrating {}: {e}", path.display())))?;
    Ok(conn)
}

impl Db {
    /// Opens the database named by the settings (SQLite or PostgreSQL), applies the
    /// migrations and starts the writer thread.
    pub fn open(settings: &Resolved) -> Result<Self, StoreError> {
        if let Some(url) = &settings.storage_url {
            let storage = &settings.raw.storage;
            let connector = pg::Connector::new(url, storage.ca_file.as_deref())?;
            let (writers, readers) = pg::start(&connector, storage.readers)?;
            return Ok(Self {
                writer: Writers::Postgres(writers),
                readers: Readers::Postgres(readers),
                checkpointer: None,
                location: connector.location(),
                dialect: Dialect::Postgres,
            });
        }
        Self::open_path(
            &settings.db_path(),
            settings.raw.storage.synchronous,
            settings.raw.storage.readers,
            settings.raw.storage.max_batch,
            settings.raw.storage.cache_mib,
        )
    }

    pub fn open_path(
        path: &Path,
        sync: Synchronous,
        readers: usize,
        max_batch: usize,
        cache_mib: u32,
    ) -> Result<Self, StoreError> {
        let conn = open_and_migrate(path, sync)?;
        // The checkpoint thread copies the WAL into the database file while the writer
        // goes on; the writer only finishes a checkpoint when the WAL is due for a
        // restart, or when it has grown to twice its size because that thread fell
        // behind (see checkpoint.rs). This replaces SQLite's own auto-checkpoint.
        checkpoint::watch_wal(&conn);
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        // The writer looks alerts up by fingerprint all over the index: keep more of it
        // (a negative cache_size is in KiB).
        conn.pragma_update(None, "cache_size", -(i64::from(cache_mib) * 1024))?;
        let restart = checkpoint::RestartDue::default();
        let checkpointer =
            std::sync::Arc::new(checkpoint::Checkpointer::start(path, restart.clone())?);
        let writer = Writer::start(writer::SqliteSession { conn, restart }, max_batch);
        let cfg = deadpool_sqlite::Config::new(path);
        let readers = cfg
            .builder(Runtime::Tokio1)
            .map_err(|e| StoreError::Pool(e.to_string()))?
            .max_size(readers)
            .post_create(Hook::async_fn(|conn, _| {
                Box::pin(async move {
                    conn.interact(|c| reader_settings(c))
                        .await
                        .map_err(|e| HookError::message(e.to_string()))?
                        .map_err(HookError::Backend)
                })
            }))
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        Ok(Self {
            writer: Writers::Sqlite(writer),
            readers: Readers::Sqlite(readers),
            checkpointer: Some(checkpointer),
            location: path.display().to_string(),
            dialect: Dialect::Sqlite,
        })
    }

    /// The SQLite file, or the PostgreSQL server and database (without credentials).
    pub fn location(&self) -> &str {
        &self.location
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Runs a read-only closure on a pooled connection, on a blocking thread.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Conn) -> Result<T, E> + Send + 'static,
    {
        match &self.readers {
            Readers::Sqlite(pool) => {
                let conn = pool
                    .get()
                    .await
                    .map_err(|e| E::from(StoreError::Pool(e.to_string())))?;
                conn.interact(move |c| f(&Conn::sqlite(c)))
                    .await
                    .map_err(|e| E::from(StoreError::Pool(e.to_string())))?
            }
            Readers::Postgres(pool) => pool.read(f).await,
        }
    }

    /// Runs a closure inside the writer's next group-commit transaction and returns its
    /// value once that transaction is durably committed.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Conn) -> Result<T, E> + Send + 'static,
    {
        match &self.writer {
            Writers::Sqlite(w) => w.write(f).await,
            Writers::Postgres(w) => w.write(pg::Scope::Global, f).await,
        }
    }

    /// Like [`Db::write`] for a write that touches only what belongs to `key` (and rows
    /// every such write only adds to or counts up): on PostgreSQL, writes of different
    /// keys run side by side. Alert intake, keyed by the group.
    ///
    /// The closure may run more than once (on SQLite, when another write of its batch
    /// fails): it must do nothing but change the database, and the last run's result is
    /// the answer. That spares it a savepoint (see `writer.rs`).
    pub async fn write_for<T, E, F>(&self, key: &str, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: Fn(&Conn) -> Result<T, E> + Send + 'static,
    {
        match &self.writer {
            Writers::Sqlite(w) => w.write_repeatable(f).await,
            Writers::Postgres(w) => w.write(pg::Scope::key(key), f).await,
        }
    }

    /// Whether a reader answers and the writer commits (readiness).
    /// Gives up after 3 s (a probe's answer must come in time; a PostgreSQL server that
    /// does not answer is as unreachable as one that refuses).
    pub async fn ping(&self) -> StoreResult<()> {
        let both = async {
            self.read(|c| c.query_one::<i64>("SELECT 1", &[])).await?;
            self.write(|_| Ok::<_, StoreError>(())).await
        };
        tokio::time::timeout(std::time::Duration::from_secs(3), both)
            .await
            .map_err(|_| StoreError::Pool("the database did not answer within 3 s".into()))?
    }

    /// Stops accepting writes, commits what is queued and waits for the writer thread.
    pub async fn close(&self) {
        if let Some(checkpointer) = self.checkpointer.clone() {
            let _ = tokio::task::spawn_blocking(move || checkpointer.stop()).await;
        }
        match &self.writer {
            Writers::Sqlite(w) => w.close().await,
            Writers::Postgres(w) => w.close().await,
        }
        if let Readers::Sqlite(pool) = &self.readers {
            pool.close();
        }
    }
}

/// Writes a consistent copy of a live database to `dest` (`VACUUM INTO`): safe while the
/// server is running, and the copy is a compact, standalone SQLite file.
pub fn backup_to(db_path: &Path, dest: &Path) -> Result<(), StoreError> {
    if dest.exists() {
        return Err(StoreError::Open(format!(
            "{} already exists; choose a new file name",
            dest.display()
        )));
    }
    if !db_path.exists() {
        return Err(StoreError::Open(format!(
            "no database at {} (check storage.data_dir)",
            db_path.display()
        )));
    }
    let conn = Connection::open_with_flags(
        db_path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Open(format!("cannot open {}: {e}", db_path.display())))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let dest_str = dest
        .to_str()
        .ok_or_else(|| StoreError::Open("backup path must be valid UTF-8".into()))?;
    // Created empty first, owner-only, so the copy is as private as the database
    // (VACUUM INTO fills an empty file).
    private_file(dest)
        .map_err(|e| StoreError::Open(format!("cannot create {}: {e}", dest.display())))?;
    if let Err(e) = conn.execute("VACUUM INTO ?1", [dest_str]) {
        let _ = std::fs::remove_file(dest);
        return Err(e.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `storage.cache_mib` sizes the writer's page cache; readers keep SQLite's default.
    #[tokio::test]
    async fn the_writer_cache_is_the_configured_size() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_path(&dir.path().join("f.db"), Synchronous::Normal, 1, 8, 3).unwrap();
        let pragma = |c: &Conn| c.query_one::<i64>("PRAGMA cache_size", &[]);
        assert_eq!(db.write(pragma).await.unwrap(), -3 * 1024);
        assert_eq!(db.read(pragma).await.unwrap(), -2000);
        db.close().await;
    }

    /// A statement with a bound LIMIT runs again without being prepared again, on the
    /// writer's connection and on a reader's.
    #[test]
    fn a_bound_limit_does_not_prepare_its_statement_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.db");
        let writer = open_and_migrate(&path, Synchronous::Normal).unwrap();
        let reader = Connection::open(&path).unwrap();
        reader_settings(&reader).unwrap();
        let sql = "SELECT id FROM timeline WHERE incident_id = ?1 ORDER BY id DESC LIMIT ?2";
        for conn in [&writer, &reader] {
            for n in 1..=3_i64 {
                let mut stmt = conn.prepare_cached(sql).unwrap();
                let rows: Vec<i64> = stmt
                    .query_map([n, n], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                assert!(rows.is_empty());
            }
            let stmt = conn.prepare_cached(sql).unwrap();
            assert_eq!(
                stmt.get_status(rusqlite::StatementStatus::RePrepare),
                0,
                "prepared again"
            );
        }
    }
}
