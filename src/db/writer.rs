//! The single writer. Jobs queue on a channel; the writer thread takes everything that is
//! waiting (up to `max_batch`), runs each job inside its own SAVEPOINT within one
//! transaction, commits once and only then answers every job. A job that fails rolls back
//! to its savepoint without disturbing the others. Under load many requests share one
//! commit, so durability does not cost throughput.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::StoreError;
use super::checkpoint::RestartDue;

type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Completion + Send>;

#[derive(Clone)]
pub struct Writer {
    tx: Arc<Mutex<Option<mpsc::Sender<Job>>>>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Writer {
    pub fn start(conn: Connection, max_batch: usize, restart: RestartDue) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(max_batch.max(1) * 4);
        let thread = std::thread::Builder::new()
            .name("firewatch-db-writer".into())
            .spawn(move || run(conn, rx, max_batch.max(1), &restart))
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
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let sender = self
            .tx
            .lock()
            .expect("writer lock")
            .clone()
            .ok_or_else(|| E::from(StoreError::WriterGone))?;
        let (done_tx, done_rx) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |conn: &Connection| {
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

fn in_savepoint<T, E, F>(conn: &Connection, f: F) -> Result<T, E>
where
    E: From<StoreError>,
    F: FnOnce(&Connection) -> Result<T, E>,
{
    // Cached statements: parsing these two for every job was a measurable share of the
    // writer's time.
    let run = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([]));
    run("SAVEPOINT job").map_err(|e| E::from(StoreError::Sqlite(e)))?;
    match f(conn) {
        Ok(v) => {
            run("RELEASE job").map_err(|e| E::from(StoreError::Sqlite(e)))?;
            Ok(v)
        }
        Err(e) => {
            // Undo only this job's changes; the batch's other jobs stay.
            let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
            Err(e)
        }
    }
}

fn run(conn: Connection, mut rx: mpsc::Receiver<Job>, max_batch: usize, restart: &RestartDue) {
    let mut batch: Vec<Job> = Vec::with_capacity(max_batch);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let msg = e.to_string();
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
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&conn))) {
                Ok(done) => completions.push(done),
                Err(_) => broken = Some("a write job panicked".into()),
            }
            if broken.is_none() && conn.is_autocommit() {
                broken = Some("SQLite rolled the transaction back".into());
            }
        }
        let commit = match broken {
            Some(why) => {
                tracing::error!(reason = %why, "write batch abandoned");
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                Err(why)
            }
            None => conn.execute_batch("COMMIT").map_err(|e| {
                let msg = e.to_string();
                tracing::error!(error = %msg, "group commit failed");
                let _ = conn.execute_batch("ROLLBACK");
                msg
            }),
        };
        for done in completions {
            done(commit.clone());
        }
        // Between batches, after the callers have their answers.
        restart.finish(&conn);
    }
    // Queue closed: checkpoint so the WAL is folded into the main file on clean shutdown.
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
}
