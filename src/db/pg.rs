//! PostgreSQL storage, for replicas sharing one database. The owner files run the same
//! statements as on SQLite (see `sql.rs`); this file connects, migrates, and runs the
//! writer and the readers.
//!
//! Writes keep SQLite's semantics where they matter: every write is a transaction that
//! first takes a cluster-wide advisory lock. Most take it exclusively, so they run one
//! at a time across all replicas and each sees everything committed before it. The
//! intake of an Alertmanager group takes it shared plus an exclusive lock on its group
//! key: notifications of different groups go in side by side on the replicas' writer
//! connections, and those of one group one after the other (one incident for a
//! notification posted to two replicas). Reads run on a pool of connections, each
//! statement on its own snapshot.

use std::path::Path;
use std::time::Duration;

use include_dir::{Dir, include_dir};

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

/// What a write may touch, and so which locks its transaction takes. Every write takes
/// the cluster-wide write lock: exclusively ([`Scope::Global`]), or shared together with
/// an exclusive lock on one key ([`Scope::Key`], the intake of one Alertmanager group).
/// Keyed writes to different keys run at the same time; everything else runs alone.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    Global,
    Key(i32),
}

impl Scope {
    /// The scope of writes about `key` (a group key).
    pub fn key(key: &str) -> Self {
        use sha2::{Digest, Sha256};
        let h = Sha256::digest(key.as_bytes());
        Scope::Key(i32::from_le_bytes([h[0], h[1], h[2], h[3]]))
    }

    /// `BEGIN` and the locks, in one round trip (integers only: nothing to escape).
    fn begin(self) -> String {
        match self {
            Scope::Global => format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"),
            Scope::Key(k) => format!(
                "BEGIN; SELECT pg_advisory_xact_lock_shared({WRITE_LOCK}), \
                 pg_advisory_xact_lock({KEY_SPACE}, {k})"
            ),
        }
    }
}

/// Keyed locks live in the two-integer space, apart from the one-bigint locks above.
const KEY_SPACE: i32 = 0x4657;
/// Writer connections per replica: while one waits for the server, others work.
pub const WRITERS: usize = 16;

type PgJob = Box<dyn FnOnce(&PgSession) + Send>;
type Queue = std::sync::Arc<std::sync::Mutex<tokio::sync::mpsc::Receiver<(Scope, PgJob)>>>;
type Sender = std::sync::Arc<std::sync::Mutex<Option<tokio::sync::mpsc::Sender<(Scope, PgJob)>>>>;

/// The writers of one replica: each job is its own transaction (there is no batch to
/// share a savepoint with), on one of [`WRITERS`] connections.
#[derive(Clone)]
pub struct Writers {
    tx: Sender,
    threads: std::sync::Arc<std::sync::Mutex<Vec<std::thread::JoinHandle<()>>>>,
}

impl Writers {
    fn start(connector: &Connector, first: PgSession) -> Self {
        let (tx, rx) = tokio::sync::mpsc::channel::<(Scope, PgJob)>(WRITERS * 64);
        let queue: Queue = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let mut first = Some(first);
        let threads = (0..WRITERS)
            .map(|i| {
                let (queue, connector, session) = (queue.clone(), connector.clone(), first.take());
                std::thread::Builder::new()
                    .name(format!("firewatch-pg-writer-{i}"))
                    .spawn(move || run_writer(&queue, &connector, session))
                    .expect("spawn a writer thread")
            })
            .collect();
        Self {
            tx: std::sync::Arc::new(std::sync::Mutex::new(Some(tx))),
            threads: std::sync::Arc::new(std::sync::Mutex::new(threads)),
        }
    }

    /// Runs `f` in a transaction of its own under `scope`'s locks; its value once
    /// committed.
    pub async fn write<T, E, F>(&self, scope: Scope, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Conn) -> Result<T, E> + Send + 'static,
    {
        let sender = self
            .tx
            .lock()
            .expect("writers lock")
            .clone()
            .ok_or_else(|| E::from(StoreError::WriterGone))?;
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let job: PgJob = Box::new(move |session: &PgSession| {
            let result = f(&Conn::postgres(session));
            let end =
                session
                    .client()
                    .batch_execute(if result.is_ok() { "COMMIT" } else { "ROLLBACK" });
            let out = match (result, end) {
                (Ok(v), Ok(())) => Ok(v),
                (Err(e), _) => Err(e),
                (Ok(_), Err(e)) => Err(E::from(StoreError::Commit(describe(&e)))),
            };
            let _ = done_tx.send(out);
        });
        sender
            .send((scope, job))
            .await
            .map_err(|_| E::from(StoreError::WriterGone))?;
        done_rx.await.map_err(|_| E::from(StoreError::WriterGone))?
    }

    /// Closes the queue; the threads finish what is queued and exit.
    pub async fn close(&self) {
        self.tx.lock().expect("writers lock").take();
        let threads: Vec<_> = self
            .threads
            .lock()
            .expect("writers lock")
            .drain(..)
            .collect();
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }
}

/// One writer thread: takes the next job, opens its transaction with its locks, runs it.
/// A lost connection is made again before the next job; a job that cannot start is
/// dropped, and its caller gets a retryable error.
fn run_writer(queue: &Queue, connector: &Connector, mut session: Option<PgSession>) {
    loop {
        let next = queue.lock().expect("writer queue").blocking_recv();
        let Some((scope, job)) = next else { return };
        // A connection the server closed (a restart) shows only when used: the job has
        // not run yet, so beginning again on a new connection is safe.
        let mut began = false;
        for _ in 0..2 {
            if session.as_ref().is_none_or(|s| s.client().is_closed()) {
                session = match connector.connect() {
                    Ok(s) => Some(s),
                    Err(e) => {
                        tracing::error!(error = %e, "the database writer cannot connect");
                        None
                    }
                };
            }
            let Some(s) = session.as_ref() else { break };
            let result = s.client().batch_execute(&scope.begin());
            match result {
                Ok(()) => {
                    began = true;
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %describe(&e), "the database writer could not begin");
                    let _ = s.client().batch_execute("ROLLBACK");
                    session = None;
                }
            }
        }
        let Some(s) = session.as_ref().filter(|_| began) else {
            continue; // the job is dropped: its caller gets WriterGone (503, retry)
        };
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(s))).is_err() {
            tracing::error!("a write job panicked");
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

/// Connects, migrates and starts the writers and the readers' pool.
pub(super) fn start(connector: &Connector, readers: usize) -> StoreResult<(Writers, Readers)> {
    let session = connector.connect()?;
    migrate(&session)?;
    let writers = Writers::start(connector, session);
    // No test query before each read (a round trip per page's every read): a connection
    // the server closed fails its read once (503, retried) and is then replaced.
    let pool = r2d2::Pool::builder()
        .max_size(readers as u32)
        .min_idle(Some(0))
        .test_on_check_out(false)
        .connection_timeout(READ_WAIT)
        .build_unchecked(Manager(connector.clone()));
    Ok((writers, Readers(pool)))
}
