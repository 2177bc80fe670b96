//! PostgreSQL storage, for replicas sharing one database. The owner files run the same
//! statements as on SQLite (see `sql.rs`); this file connects, migrates, and runs the
//! writer and the readers.
//!
//! Writes keep SQLite's semantics: each replica has one writer connection that commits
//! its queued jobs together (group commit), and every batch's transaction first takes a
//! transaction-scoped advisory lock, so the replicas' writers take turns and each write
//! sees everything committed before it. Idempotency (one incident for a notification
//! posted to two replicas) therefore holds across replicas as it does in one process.
//! Reads run on a pool of connections, each statement on its own snapshot.

use std::path::Path;
use std::time::Duration;

use include_dir::{Dir, include_dir};

use super::writer::{Session, Writer};
use super::{Conn, PgSession, StoreError, StoreResult};

static MIGRATIONS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/migrations/postgres");

/// Advisory lock keys (arbitrary constants: "FWWRITE" and "FWMIGRA" in ASCII).
const WRITE_LOCK: i64 = 0x0046_5757_5249_5445;
const MIGRATE_LOCK: i64 = 0x0046_574d_4947_5241;

/// How long connecting may take before it counts as the database being unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a read waits for a free pooled connection.
const READ_WAIT: Duration = Duration::from_secs(10);

/// TLS with the public roots plus `ca_file`'s certificates; the connection string's
/// `sslmode` decides whether TLS is used (prefer, the default) or insisted on (require).
pub fn tls(ca_file: Option<&Path>) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        use rustls::pki_types::pem::PemObject;
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("ca_file {}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
        }
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// A driver error in words: the server's message ("permission denied …") when there is
/// one ("db error" alone says nothing), else the chain of causes.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("PostgreSQL: {}", db.message()),
        None => {
            // "error performing TLS handshake" alone does not say what was wrong.
            let mut text = format!("PostgreSQL: {e}");
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
    }
}

/// How to open a connection: the parsed connection string and the TLS set-up.
#[derive(Clone)]
pub struct Connector {
    config: postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
}

impl Connector {
    pub fn new(url: &str, ca_file: Option<&Path>) -> StoreResult<Self> {
        let mut config: postgres::Config = url.parse().map_err(|_| {
            StoreError::Open("storage.url is not a PostgreSQL connection string".into())
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("firewatch");
        }
        let tls = tls(ca_file).map_err(|e| StoreError::Open(format!("storage.{e}")))?;
        Ok(Self { config, tls })
    }

    /// `host:port/database`, for logs and the cluster page (never the password).
    pub fn location(&self) -> String {
        let host = self
            .config
            .get_hosts()
            .first()
            .map(|h| match h {
                postgres::config::Host::Tcp(name) => name.clone(),
                postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .unwrap_or_else(|| "localhost".into());
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let db = self
            .config
            .get_dbname()
            .or(self.config.get_user())
            .unwrap_or("");
        format!("postgres://{host}:{port}/{db}")
    }

    pub fn connect(&self) -> StoreResult<PgSession> {
        let client = self.config.connect(self.tls.clone()).map_err(|e| {
            StoreError::Open(format!(
                "connecting to {}: {}",
                self.location(),
                describe(&e)
            ))
        })?;
        Ok(PgSession::new(client))
    }
}

/// Applies the migrations under `migrations/postgres/` that the database lacks, in one
/// transaction, one replica at a time. The first file brings an empty database to the
/// schema version it is numbered with (the SQLite migrations' count at that point); later
/// files follow SQLite's numbering, so both backends report the same version.
pub fn migrate(session: &PgSession) -> StoreResult<()> {
    let mut files: Vec<(i64, &str)> = MIGRATIONS
        .files()
        .filter_map(|f| {
            let name = f.path().file_name()?.to_str()?;
            let number = name.split('_').next()?.parse().ok()?;
            Some((number, f.contents_utf8()?))
        })
        .collect();
    files.sort_by_key(|(n, _)| *n);
    let known = super::schema_version() as i64;
    let mut client = session.client();
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS firewatch_schema (version BIGINT NOT NULL)")?;
    let current: Option<i64> = tx
        .query_opt("SELECT version FROM firewatch_schema", &[])?
        .map(|r| r.get(0));
    if let Some(v) = current
        && v > known
    {
        return Err(StoreError::Open(format!(
            "the PostgreSQL database has schema version {v}, but this firewatch binary only \
             knows versions up to {known}: it was written by a newer firewatch. Run that \
             newer version on every replica."
        )));
    }
    let mut version = current;
    for (number, sql) in files {
        // The first file is the whole schema at its version; later ones are steps.
        if version.is_none_or(|v| number > v) {
            tx.batch_execute(sql)
                .map_err(|e| StoreError::Open(format!("migration {number}: {}", describe(&e))))?;
            version = Some(number);
        }
    }
    let version = version.unwrap_or(0);
    if current.is_none() {
        tx.execute(
            "INSERT INTO firewatch_schema (version) VALUES ($1)",
            &[&version],
        )?;
    } else if current != Some(version) {
        tx.execute("UPDATE firewatch_schema SET version = $1", &[&version])?;
    }
    tx.commit()?;
    Ok(())
}

/// The writer's connection on PostgreSQL: reconnects when the connection was lost.
struct PgWriter {
    connector: Connector,
    session: Option<PgSession>,
}

impl PgWriter {
    fn session(&self) -> &PgSession {
        self.session
            .as_ref()
            .expect("begin() connects before a batch runs")
    }
}

impl Session for PgWriter {
    fn begin(&mut self) -> Result<(), String> {
        if self.session.as_ref().is_none_or(|s| s.client().is_closed()) {
            self.session = None;
            self.session = Some(self.connector.connect().map_err(|e| e.to_string())?);
        }
        let mut client = self.session().client();
        client
            .batch_execute("BEGIN")
            .and_then(|()| client.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK]))
            .map(|_| ())
            .map_err(|e| describe(&e))
    }
    fn conn(&self) -> Conn<'_> {
        Conn::postgres(self.session())
    }
    fn in_transaction(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| !s.client().is_closed())
    }
    fn commit(&mut self) -> Result<(), String> {
        self.session()
            .client()
            .batch_execute("COMMIT")
            .map_err(|e| describe(&e))
    }
    fn rollback(&mut self) {
        if let Some(s) = &self.session {
            let _ = s.client().batch_execute("ROLLBACK");
        }
    }
}

struct Manager(Connector);

impl r2d2::ManageConnection for Manager {
    type Connection = PgSession;
    type Error = StoreError;

    fn connect(&self) -> Result<PgSession, StoreError> {
        self.0.connect()
    }
    fn is_valid(&self, conn: &mut PgSession) -> Result<(), StoreError> {
        conn.client().simple_query("")?;
        Ok(())
    }
    fn has_broken(&self, conn: &mut PgSession) -> bool {
        conn.client().is_closed()
    }
}

/// The readers' pool.
#[derive(Clone)]
pub struct Readers(r2d2::Pool<Manager>);

impl Readers {
    /// Runs a read-only closure on a pooled connection, on a blocking thread.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Conn) -> Result<T, E> + Send + 'static,
    {
        let pool = self.0.clone();
        tokio::task::spawn_blocking(move || {
            let session = pool
                .get_timeout(READ_WAIT)
                .map_err(|e| E::from(StoreError::Pool(e.to_string())))?;
            f(&Conn::postgres(&session))
        })
        .await
        .map_err(|e| E::from(StoreError::Pool(e.to_string())))?
    }
}

/// Connects, migrates and starts the writer and the readers' pool.
pub(super) fn start(
    connector: &Connector,
    readers: usize,
    max_batch: usize,
) -> StoreResult<(Writer, Readers)> {
    let session = connector.connect()?;
    migrate(&session)?;
    let writer = Writer::start(
        PgWriter {
            connector: connector.clone(),
            session: Some(session),
        },
        max_batch,
    );
    let pool = r2d2::Pool::builder()
        .max_size(readers as u32)
        .min_idle(Some(0))
        .connection_timeout(READ_WAIT)
        .build_unchecked(Manager(connector.clone()));
    Ok((writer, Readers(pool)))
}
