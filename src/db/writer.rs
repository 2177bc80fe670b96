//! The single writer. Jobs queue on a channel; the writer thread takes everything that is
//! waiting (up to `max_batch`), runs it in one transaction, commits once and only then
//! answers every job. A job that fails is undone without disturbing the others. Under
//! load many requests share one commit, so durability does not cost throughput.
//!
//! Most jobs run inside a SAVEPOINT of their own, which is what lets one be undone alone.
//! A savepoint is not free: SQLite copies every page a job changes that an earlier job of
//! the batch had changed too, and under intake that is every hot page (the incident's
//! row, the last pages of the alert and timeline tables) for every notification. So jobs
//! that may safely run twice (alert intake: [`Writer::write_repeatable`]) run in a
//! transaction of their own without savepoints, after the batch's other jobs (callers
//! that wait side by side have no order among them); should one fail, that transaction
//! is rolled back and its jobs all run again, each in a savepoint. A failure costs a
//! replay, which is rare; every notification saves the copies.
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
/// A job that runs once; gives what answers its caller after commit.
type OnceJob = Box<dyn FnOnce(&Conn) -> Completion + Send>;

enum Job {
    /// Runs once, in a savepoint of its own.
    Once(OnceJob),
    /// May run again (see the module's doc).
    Repeatable(Box<dyn Repeatable>),
}

/// A job that may run more than once; the last run's result is its answer.
trait Repeatable: Send {
    /// Runs it; false when it failed (its changes, if any, are still in the transaction).
    fn run(&mut self, conn: &Conn) -> bool;
    /// Forgets the last run's result (its changes were rolled back).
    fn forget(&mut self);
    /// Answers the caller once the batch is committed (or not).
    fn finish(self: Box<Self>, commit: Result<(), String>);
}

struct Replayable<T, E, F> {
    f: F,
    result: Option<Result<T, E>>,
    done: oneshot::Sender<Result<T, E>>,
}

impl<T, E, F> Repeatable for Replayable<T, E, F>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
    F: Fn(&Conn) -> Result<T, E> + Send + 'static,
{
    fn run(&mut self, conn: &Conn) -> bool {
        let result = (self.f)(conn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn forget(&mut self) {
        self.result = None;
    }

    fn finish(self: Box<Self>, commit: Result<(), String>) {
        let result = self
            .result
            .unwrap_or_else(|| Err(E::from(StoreError::WriterGone)));
        let _ = self.done.send(answer(result, commit));
    }
}

/// A job's answer: its own error, or the commit's.
fn answer<T, E: From<StoreError>>(
    result: Result<T, E>,
    commit: Result<(), String>,
) -> Result<T, E> {
    match (result, commit) {
        (Ok(v), Ok(())) => Ok(v),
        (Err(e), _) => Err(e),
        (Ok(_), Err(msg)) => Err(E::from(StoreError::Commit(msg))),
    }
}

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
    /// An error when the transaction is gone (SQLite rolls back by itself on some
    /// errors).
    fn still_open(&self) -> Result<(), String> {
        if self.conn.is_autocommit() {
            Err("the database rolled the transaction back".into())
        } else {
            Ok(())
        }
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
        let (done_tx, done_rx) = oneshot::channel::<Result<T, E>>();
        let job = Job::Once(Box::new(move |conn: &Conn| {
            let result = in_savepoint(conn, f);
            Box::new(move |commit: Result<(), String>| {
                let _ = done_tx.send(answer(result, commit));
            })
        }));
        self.queue(job, done_rx).await
    }

    /// Like [`Writer::write`] for a job that may run more than once (when another job of
    /// its batch fails): it must only change the database, and the last run's result is
    /// the answer. Such jobs run without savepoints (see the module's doc).
    pub async fn write_repeatable<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: Fn(&Conn) -> Result<T, E> + Send + 'static,
    {
        let (done, done_rx) = oneshot::channel::<Result<T, E>>();
        let job = Job::Repeatable(Box::new(Replayable {
            f,
            result: None,
            done,
        }));
        self.queue(job, done_rx).await
    }

    async fn queue<T, E: From<StoreError>>(
        &self,
        job: Job,
        done: oneshot::Receiver<Result<T, E>>,
    ) -> Result<T, E> {
        let sender = self
            .tx
            .lock()
            .expect("writer lock")
            .clone()
            .ok_or_else(|| E::from(StoreError::WriterGone))?;
        sender
            .send(job)
            .await
            .map_err(|_| E::from(StoreError::WriterGone))?;
        done.await.map_err(|_| E::from(StoreError::WriterGone))?
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
    let mut once = Vec::with_capacity(max_batch);
    let mut repeatable = Vec::with_capacity(max_batch);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // The batch's jobs came from callers waiting side by side, so their order is
        // free: the one-off jobs commit first, then the repeatable ones.
        for job in batch.drain(..) {
            match job {
                Job::Once(job) => once.push(job),
                Job::Repeatable(job) => repeatable.push(job),
            }
        }
        if !once.is_empty() {
            run_once(&mut session, &mut once);
        }
        if !repeatable.is_empty() {
            run_repeatable(&mut session, &mut repeatable);
        }
        session.after_batch();
    }
    session.shutdown();
}

/// One-off jobs, each in a savepoint of its own, in one transaction.
fn run_once(session: &mut SqliteSession, jobs: &mut Vec<OnceJob>) {
    let mut done: Vec<Completion> = Vec::with_capacity(jobs.len());
    let commit = transaction(session, |session| {
        for job in jobs.drain(..) {
            let conn = session.conn();
            done.push(guarded(|| job(&conn))?);
            session.still_open()?;
        }
        Ok(true)
    });
    // Jobs not run (the transaction broke first) are dropped: their callers get
    // WriterGone (503) and may retry.
    jobs.clear();
    for done in done {
        done(commit.clone());
    }
}

/// Repeatable jobs in one transaction, without savepoints; should one fail, the
/// transaction is rolled back and all of them run again, each in a savepoint of its own.
fn run_repeatable(session: &mut SqliteSession, jobs: &mut Vec<Box<dyn Repeatable>>) {
    let mut failed = false;
    let mut commit = transaction(session, |session| {
        let conn = session.conn();
        for job in jobs.iter_mut() {
            if !guarded(|| job.run(&conn))? {
                failed = true;
                return Ok(false);
            }
            session.still_open()?;
        }
        Ok(true)
    });
    if failed {
        commit = transaction(session, |session| {
            let conn = session.conn();
            for job in jobs.iter_mut() {
                // Its answer is this run's (none, WriterGone, should it not get to run);
                // on failure only its own changes are undone.
                job.forget();
                let _ =
                    guarded(|| in_savepoint(&conn, |c| job.run(c).then_some(()).ok_or(Failed)))?;
                session.still_open()?;
            }
            Ok(true)
        });
    }
    for job in jobs.drain(..) {
        job.finish(commit.clone());
    }
}

/// A repeatable job failed (its own error is kept by the job).
struct Failed;

impl From<StoreError> for Failed {
    fn from(_: StoreError) -> Self {
        Failed
    }
}

/// Runs a job; a panic breaks the batch's transaction.
fn guarded<T>(job: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))
        .map_err(|_| "a write job panicked".to_string())
}

/// Begins a transaction and runs `body`, which says whether to commit (`Ok(false)`: roll
/// back, nothing is reported as committed). `Err` says the transaction broke: SQLite
/// rolled it back by itself (disk full, an I/O error) or a job panicked; nothing of it may
/// then be reported as committed either. Returns what the callers are told.
fn transaction(
    session: &mut SqliteSession,
    body: impl FnOnce(&mut SqliteSession) -> Result<bool, String>,
) -> Result<(), String> {
    if let Err(msg) = session.begin() {
        tracing::error!(error = %msg, "writer could not begin a transaction");
        return Err(msg);
    }
    match body(session) {
        Ok(true) => session.commit().inspect_err(|msg| {
            tracing::error!(error = %msg, "group commit failed");
            session.rollback();
        }),
        Ok(false) => {
            session.rollback();
            Err("rolled back".into())
        }
        Err(why) => {
            tracing::error!(reason = %why, "write batch abandoned");
            session.rollback();
            Err(why)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::super::{Db, StoreResult, Synchronous};
    use super::*;

    /// Jobs queued behind one that holds the writer, so that they all run in its next
    /// batch: `hold` is released once they are all queued.
    async fn one_batch(db: &Db) -> std::sync::mpsc::Sender<()> {
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let (started, running) = oneshot::channel::<()>();
        let db = db.clone();
        tokio::spawn(async move {
            db.write(move |_| {
                let _ = started.send(());
                let _ = hold.recv();
                Ok::<_, StoreError>(())
            })
            .await
        });
        running.await.unwrap();
        release
    }

    fn rows(c: &Conn) -> StoreResult<Vec<String>> {
        let mut out = Vec::new();
        c.for_each("SELECT v FROM t ORDER BY v", &[], |r| {
            out.push(r.get(0)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// A failing job among repeatable ones changes nothing and gets its error; the others
    /// (run again, each in its own savepoint) and a one-off job queued between them
    /// commit their changes exactly once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_job_among_repeatable_ones_is_undone_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_path(&dir.path().join("w.db"), Synchronous::Normal, 1, 64, 2).unwrap();
        db.write(|c| c.batch("CREATE TABLE t (v TEXT NOT NULL UNIQUE)"))
            .await
            .unwrap();
        let runs: Arc<[AtomicUsize; 6]> = Arc::default();
        let release = one_batch(&db).await;
        let mut jobs = Vec::new();
        for (i, v) in ["a", "b", "x", "c", "bad", "d"].into_iter().enumerate() {
            let (db, runs) = (db.clone(), runs.clone());
            jobs.push(tokio::spawn(async move {
                if v == "x" {
                    // A one-off job between the repeatable ones.
                    return db
                        .write(move |c| c.execute("INSERT INTO t (v) VALUES ('x')", &[]))
                        .await;
                }
                db.write_for("k", move |c| {
                    runs[i].fetch_add(1, Ordering::SeqCst);
                    c.execute("INSERT INTO t (v) VALUES (?1)", &[&v])?;
                    if v == "bad" {
                        // Changed something, then failed: must be undone.
                        c.execute("INSERT INTO t (v) VALUES ('a')", &[])?;
                    }
                    Ok::<_, StoreError>(1)
                })
                .await
            }));
            // Queued in this order.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        release.send(()).unwrap();
        let mut answers = Vec::new();
        for job in jobs {
            answers.push(job.await.unwrap().map_err(|e| e.to_string()));
        }
        assert!(answers[4].as_ref().is_err_and(|e| e.contains("UNIQUE")));
        for i in [0, 1, 2, 3, 5] {
            assert_eq!(answers[i], Ok(1), "job {i}");
        }
        assert_eq!(db.read(rows).await.unwrap(), ["a", "b", "c", "d", "x"]);
        let runs: Vec<usize> = runs.iter().map(|r| r.load(Ordering::SeqCst)).collect();
        // The repeatable jobs up to the failing one ran in the rolled back transaction and
        // again; "d" only in the second.
        assert_eq!(runs, [2, 2, 0, 2, 2, 1]);
        db.close().await;
    }
}
