//! The single writer. Jobs queue on a channel; the writer thread takes everything that is
//! waiting (up to `max_batch`), runs each job inside its own SAVEPOINT within one
//! transaction, commits once and only then answers every job. A job that fails rolls back
//! to its savepoint without disturbing the others. Under load many requests share one
//! commit, so durability does not cost throughput.
//!
//! This is SQLite's writer: the batch is a `BEGIN IMMEDIATE` transaction on the
//! [`SqliteSession`] (which also finishes WAL checkpoints between batches). PostgreSQL runs
//! each write as a transaction of its own on several connections instead (`pg.rs`).

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::checkpoint::RestartDue;
use super::{Conn, StoreError};

type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(&Conn) -> Completion + Send>;

/// The SQLite writer: one connection; between batches it finishes a WAL checkpoint when
/// one is due.
pub struct SqliteSession {
    pub conn: Connection,
    pub restart: RestartDue,
}

impl SqliteSession {
    fn begin(&mut self) -> Result<(), String> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| e.to_string())
    }
    fn conn(&self) -> Conn<'_> {
        Conn::sqlite(&self.conn)
    }
    /// Whether the transaction is still open (SQLite rolls back by itself on some errors).
    fn in_transaction(&self) -> bool {
        !self.conn.is_autocommit()
    }
    fn commit(&mut self) -> Result<(), String> {
        self.conn.execute_batch("COMMIT").map_err(|e| e.to_string())
    }
    fn rollback(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
    /// Between batches, after the callers have their answers.
    fn after_batch(&mut self) {
        self.restart.finish(&self.conn);
    }
    fn shutdown(&mut self) {
        // Fold the WAL into the main file on a clean shutdown.
        let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
    }
}

#[derive(Clone)]
pub struct Writer {
    tx: Arc<Mutex<Option<mpsc::Sender<Job>>>>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Writer {
    pub fn start(session: SqliteSession, max_batch: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(max_batch.max(1) * 4);
        let thread = std::thread::Builder::new()
            .name("firewatch-db-writer".into())
            .spawn(move || run(session, rx, max_batch.max(1)))
            .expect("spawn writer thread");
        Self {
            tx: Arc::new(Mutex::new(Some(tx))),
            thread: Arc::new(Mutex::new(Some(thread))),
        }
    }

    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Conn) -> Result<T, E> + Send + 'static,
    {
        let sender = self
            .tx
            .lock()
            .expect("writer lock")
            .clone()
            .ok_or_else(|| E::from(StoreError::WriterGone))?;
        let (done_tx, done_rx) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |conn: &Conn| {
            let result = in_savepoint(conn, f);
            Box::new(move |commit: Result<(), String>| {
                let out = match (result, commit) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(msg)) => Err(E::from(StoreError::Commit(msg))),
                };
                let _ = done_tx.send(out);
            })
        });
        sender
            .send(job)
            .await
            .map_err(|_| E::from(StoreError::WriterGone))?;
        done_rx.await.map_err(|_| E::from(StoreError::WriterGone))?
    }

    /// Closes the queue; the thread commits what is queued and exits.
    pub async fn close(&self) {
        self.tx.lock().expect("writer lock").take();
        let handle = self.thread.lock().expect("writer lock").take();
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}

fn in_savepoint<T, E, F>(conn: &Conn, f: F) -> Result<T, E>
where
    E: From<StoreError>,
    F: FnOnce(&Conn) -> Result<T, E>,
{
    // Cached statements: parsing these two for every job was a measurable share of the
    // writer's time.
    conn.execute("SAVEPOINT job", &[]).map_err(E::from)?;
    match f(conn) {
        Ok(v) => {
            conn.execute("RELEASE job", &[]).map_err(E::from)?;
            Ok(v)
        }
        Err(e) => {
            // Undo only this job's changes; the batch's other jobs stay.
            let _ = conn.batch("ROLLBACK TO job; RELEASE job");
            Err(e)
        }
    }
}

fn run(mut session: SqliteSession, mut rx: mpsc::Receiver<Job>, max_batch: usize) {
    let mut batch: Vec<Job> = Vec::with_capacity(max_batch);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(msg) = session.begin() {
            tracing::error!(error = %msg, "writer could not begin a transaction");
            for job in batch.drain(..) {
                // Jobs are not run: answer them with the error.
                drop(job);
            }
            continue;
        }
        let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
        // Set when the batch's transaction is gone: SQLite rolled it back by itself (disk
        // full, I/O error) or a job panicked. Nothing of the batch may then be reported as
        // committed, and the jobs not run yet must not run outside a transaction.
        let mut broken: Option<String> = None;
        for job in batch.drain(..) {
            if broken.is_some() {
                drop(job); // its caller gets WriterGone (503): it may retry
                continue;
            }
            let conn = session.conn();
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&conn))) {
                Ok(done) => completions.push(done),
                Err(_) => broken = Some("a write job panicked".into()),
            }
            if broken.is_none() && !session.in_transaction() {
                broken = Some("the database rolled the transaction back".into());
            }
        }
        let commit = match broken {
            Some(why) => {
                tracing::error!(reason = %why, "write batch abandoned");
                session.rollback();
                Err(why)
            }
            None => session.commit().inspect_err(|msg| {
                tracing::error!(error = %msg, "group commit failed");
                session.rollback();
            }),
        };
        for done in completions {
            done(commit.clone());
        }
        session.after_batch();
    }
    session.shutdown();
}
