//! WAL checkpoints, mostly on their own thread and connection, so that the writer does not
//! stop its batches to copy pages into the database file and sync it.
//!
//! This thread runs PASSIVE checkpoints, which wait for nobody: back to back while the
//! writer is busy, every tenth of a second when it is not. A PASSIVE checkpoint never
//! catches up with a writer that does not pause, and only a complete checkpoint lets the
//! WAL start again from its beginning; so once the WAL holds three quarters of
//! `RESTART_FRAMES` pages this thread stops and hands over: the writer, between two
//! batches, runs one RESTART checkpoint of its own (nothing can collide with it now),
//! which copies the little this thread left and waits a moment for readers still reading
//! the WAL, so that its next transaction starts the WAL again. Then this thread takes
//! over again (not at once: until the writer's next commit the WAL keeps its old size,
//! and a pass in that moment must not ask for another restart, two more syncs on the
//! writer for a WAL of a few pages). The WAL stays near `RESTART_FRAMES` pages (the rest
//! is for what is written during this thread's last pass and the hand-over), and the
//! writer's checkpoints, each two syncs and a few milliseconds, come once per 48 MiB of
//! WAL.
//!
//! Should this thread fall behind (no CPU, or a pass that copies a lot while the writer
//! writes on), the writer sees the WAL's size after each commit (SQLite's WAL hook) and,
//! at twice `RESTART_FRAMES`, runs the RESTART checkpoint itself, waiting up to 100 ms
//! for the thread's pass to end. SQLite's own auto-checkpoint, which this replaces, gave
//! up when it met this thread's pass, and the WAL grew on.

use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::{BUSY_TIMEOUT, StoreError};

const IDLE: Duration = Duration::from_millis(100);
/// Between passes while the writer is busy (a pass copied something).
const BUSY: Duration = Duration::from_millis(5);
/// The WAL's size in pages (64 MiB); a restart is handed to the writer at three quarters,
/// and the writer restarts it by itself at twice.
pub const RESTART_FRAMES: i64 = 16_384;
const HAND_OVER_FRAMES: i64 = RESTART_FRAMES / 4 * 3;
const RUNAWAY_FRAMES: i64 = 2 * RESTART_FRAMES;

thread_local! {
    /// Pages in the WAL after the writer's last commit (each writer has its own thread).
    static WAL_FRAMES: Cell<i64> = const { Cell::new(0) };
    /// Where the writer tries a restart by itself again after one failed: half as large
    /// again, so a long reader (a backup) that keeps the WAL from restarting costs the
    /// writer a few waits, not one per batch.
    static RUNAWAY_AT: Cell<i64> = const { Cell::new(RUNAWAY_FRAMES) };
    /// After a restart that waited in vain (a long reader: a backup, a large export),
    /// the next tries do not wait until then: the writer has batches to commit.
    static IMPATIENT_UNTIL: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// How long the writer does not wait for readers after waiting for them in vain.
const IMPATIENCE: Duration = Duration::from_millis(100);

/// Has the writer's connection note the WAL's size after each commit (and turns SQLite's
/// auto-checkpoint off: the WAL hook replaces it).
pub fn watch_wal(conn: &Connection) {
    fn note(_: &rusqlite::hooks::Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
        WAL_FRAMES.set(i64::from(pages));
        Ok(())
    }
    conn.wal_hook(Some(note));
}

type Stop = Arc<(Mutex<bool>, Condvar)>;

/// Set by the checkpoint thread when the WAL is due for a restart; cleared by the writer
/// once its own checkpoint is complete.
#[derive(Clone, Default)]
pub struct RestartDue(Arc<Due>);

#[derive(Default)]
struct Due {
    due: AtomicBool,
    /// Restarts the writer completed, and the WAL's size (pages) at the last one. Until
    /// the writer's next commit the WAL keeps that size (it starts again from its
    /// beginning only then), so a pass in that moment, however many come, still sees a
    /// WAL due for a restart: the thread must not ask again.
    restarts: AtomicU64,
    restarted_at: AtomicI64,
}

impl RestartDue {
    /// The writer, between batches: when a restart is due (or the WAL ran away), finish
    /// the checkpoint and hand back.
    pub fn finish(&self, conn: &Connection) {
        let due = self.0.due.load(Ordering::Acquire);
        let frames = WAL_FRAMES.get();
        if !due && frames < RUNAWAY_AT.get() {
            return;
        }
        let started = Instant::now();
        let patient = IMPATIENT_UNTIL.get().is_none_or(|until| started >= until);
        // RESTART, not PASSIVE: after copying, it waits (briefly) until no reader is
        // still reading the WAL, so the next transaction is sure to start the WAL again.
        // When the WAL ran away, the checkpoint thread may be in the middle of a pass:
        // wait for it too.
        let wait = match (patient, due) {
            (false, _) => no_wait,
            (true, true) => wait_for_readers,
            (true, false) => wait_for_the_checkpoint_thread,
        };
        let _ = conn.busy_handler(Some(wait));
        let done = restart(conn);
        let _ = conn.busy_timeout(BUSY_TIMEOUT);
        match done {
            // The next transaction starts the WAL from its beginning.
            Ok(Some((frames, copied))) => {
                self.0.restarted_at.store(frames, Ordering::Release);
                self.0.restarts.fetch_add(1, Ordering::AcqRel);
                self.0.due.store(false, Ordering::Release);
                WAL_FRAMES.set(0);
                RUNAWAY_AT.set(RUNAWAY_FRAMES);
                IMPATIENT_UNTIL.set(None);
                tracing::debug!(frames, copied, due, took = ?started.elapsed(), "WAL restarted");
            }
            // A reader still needs the WAL: try again after the next batch.
            Ok(None) => {
                if !due {
                    RUNAWAY_AT.set(frames + frames / 2);
                }
                if patient {
                    IMPATIENT_UNTIL.set(Some(Instant::now() + IMPATIENCE));
                }
                tracing::debug!(frames, due, took = ?started.elapsed(), "WAL restart waits");
            }
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }

    fn due(&self) -> bool {
        self.0.due.load(Ordering::Acquire)
    }

    fn set(&self) {
        self.0.due.store(true, Ordering::Release);
    }

    fn restarts(&self) -> u64 {
        self.0.restarts.load(Ordering::Acquire)
    }

    /// Whether a pass that saw `frames` pages in the WAL saw it as the writer's last
    /// restart left it (all copied, nothing written since).
    fn as_restarted(&self, (frames, copied): (i64, i64)) -> bool {
        frames == copied && frames == self.0.restarted_at.load(Ordering::Acquire)
    }
}

pub struct Checkpointer {
    stop: Stop,
    #[cfg(test)]
    restart: RestartDue,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    pub fn start(path: &Path, restart: RestartDue) -> Result<Self, StoreError> {
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Open(format!("cannot open {}: {e}", path.display())))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let stop: Stop = Arc::default();
        let flag = stop.clone();
        #[cfg(test)]
        let kept = restart.clone();
        let thread = std::thread::Builder::new()
            .name("firewatch-db-checkpoint".into())
            .spawn(move || run(&conn, &flag, &restart))
            .map_err(|e| StoreError::Open(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Self {
            stop,
            #[cfg(test)]
            restart: kept,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Stops the thread (the writer's final checkpoint folds the rest of the WAL in).
    pub fn stop(&self) {
        let (lock, wake) = &*self.stop;
        *lock.lock().expect("checkpoint lock") = true;
        wake.notify_all();
        if let Some(t) = self.thread.lock().expect("checkpoint lock").take() {
            let _ = t.join();
        }
    }
}

fn run(conn: &Connection, stop: &Stop, restart: &RestartDue) {
    let (lock, wake) = &**stop;
    let mut pause = IDLE;
    let mut passes = Passes::default();
    let mut stopped = lock.lock().expect("checkpoint lock");
    while !*stopped {
        stopped = wake
            .wait_timeout(stopped, pause)
            .expect("checkpoint lock")
            .0;
        if *stopped {
            break;
        }
        drop(stopped);
        pause = passes.turn(conn, restart);
        stopped = lock.lock().expect("checkpoint lock");
    }
}

/// What the thread remembers from one pass to the next.
#[derive(Default)]
struct Passes {
    /// The last pass's (frames in the WAL, frames copied).
    last: (i64, i64),
}

impl Passes {
    /// One turn of the thread: a pass, unless the writer is finishing a checkpoint; gives
    /// the pause before the next turn.
    fn turn(&mut self, conn: &Connection, restart: &RestartDue) -> Duration {
        if restart.due() {
            // The writer is finishing a checkpoint: stand by.
            return BUSY;
        }
        let before = restart.restarts();
        let pass = checkpoint(conn);
        // A pass that met a restart of the writer's (one it ran by itself when the WAL
        // ran away) may have seen the old WAL; one that came after a restart but before
        // the writer's next commit saw it as the restart left it.
        let stale = |now| restart.restarts() != before || restart.as_restarted(now);
        match pass {
            Ok(now @ (frames, _)) if frames >= HAND_OVER_FRAMES && !stale(now) => {
                restart.set();
                BUSY
            }
            // Nothing new since the last pass, and nothing left to copy.
            Ok(now) if now == self.last && now.0 == now.1 => IDLE,
            Ok(now) => {
                self.last = now;
                BUSY
            }
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                IDLE
            }
        }
    }
}

/// The writer's busy handler during a restart: readers hold the WAL for well under a
/// millisecond, so poll every 100 µs, and give up after about 2 ms (the writer has
/// batches waiting; the restart is tried again after the next one).
fn wait_for_readers(attempts: i32) -> bool {
    if attempts >= 20 {
        return false;
    }
    std::thread::sleep(Duration::from_micros(100));
    true
}

/// While the writer is impatient: try once, do not wait.
fn no_wait(_: i32) -> bool {
    false
}

/// The same when the WAL ran away: the checkpoint thread's pass may take a while longer
/// (up to 100 ms; past that, the thread hands over itself when its pass is done).
fn wait_for_the_checkpoint_thread(attempts: i32) -> bool {
    if attempts >= 100 {
        return false;
    }
    std::thread::sleep(Duration::from_millis(1));
    true
}

/// A RESTART checkpoint: `Some((frames, copied))` when the WAL was copied in full and no
/// reader still uses it, `None` when something was busy.
fn restart(conn: &Connection) -> rusqlite::Result<Option<(i64, i64)>> {
    let (busy, frames, copied) = wal_checkpoint(conn, "RESTART")?;
    Ok((busy == 0 && frames >= 0 && copied >= frames).then_some((frames, copied)))
}

/// One PASSIVE checkpoint: (frames in the WAL, frames copied into the database file).
/// A checkpoint another connection was running at the time copies nothing: (1, 0).
fn checkpoint(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    let (busy, frames, copied) = wal_checkpoint(conn, "PASSIVE")?;
    Ok(if busy != 0 || frames < 0 {
        (1, 0)
    } else {
        (frames, copied)
    })
}

/// `PRAGMA wal_checkpoint(mode)`: (busy, frames in the WAL, frames copied).
fn wal_checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(i64, i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Synchronous;
    use crate::db::Db;

    /// Writes `times` the WAL's restart size without a pause; the largest the WAL got.
    async fn largest_wal_under_continuous_writes(db: &Db, path: &Path, times: usize) -> u64 {
        db.write(|c| c.batch("CREATE TABLE IF NOT EXISTS big (b BLOB)"))
            .await
            .unwrap();
        let written = times * RESTART_FRAMES as usize * 4096;
        let mut largest = 0;
        for _ in 0..written / (ROW * 16) {
            write_rows(db, 16).await;
            largest = largest.max(wal_len(path));
        }
        largest
    }

    /// The size of the rows `write_rows` writes.
    const ROW: usize = 8 * 1024;

    /// One write of `rows` rows of 8 KiB into the table `big`.
    async fn write_rows(db: &Db, rows: usize) {
        db.write(move |c| {
            let row = vec![7u8; ROW];
            for _ in 0..rows {
                c.execute("INSERT INTO big (b) VALUES (?1)", &[&row])?;
            }
            Ok::<_, StoreError>(())
        })
        .await
        .unwrap();
    }

    /// The WAL file's size in bytes.
    fn wal_len(path: &Path) -> u64 {
        std::fs::metadata(path.with_extension("db-wal")).map_or(0, |m| m.len())
    }

    /// A store in a temporary directory (kept while the first value lives).
    fn open() -> (tempfile::TempDir, std::path::PathBuf, Db) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("firewatch.db");
        let db = Db::open_path(&path, Synchronous::Normal, 2, 64, 16).unwrap();
        (dir, path, db)
    }

    /// The WAL's size in bytes when it holds `frames` pages of 4 KiB.
    fn wal_bytes(frames: i64) -> u64 {
        frames as u64 * (4096 + 24)
    }

    /// Under writes that never pause, the WAL still starts again from its beginning: it
    /// stays near its restart size instead of growing with everything written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_bounded_under_continuous_writes() {
        let (_dir, path, db) = open();
        let largest = largest_wal_under_continuous_writes(&db, &path, 4).await;
        // Without restarts it would hold everything written (four times the restart size);
        // with them it stays near its size. When the checkpoint thread lags (the test
        // suite's threads on both cores), the writer restarts the WAL itself at twice
        // the size, after waiting up to 100 ms for the thread's pass, and tries again at
        // three times if that was not enough: that is the limit.
        let limit = wal_bytes(3 * RESTART_FRAMES + 2_048);
        eprintln!("the WAL's largest size: {largest} bytes (limit {limit})");
        assert!(largest <= limit, "the WAL grew to {largest} bytes");
        db.close().await;
    }

    /// With no checkpoint thread at all (SQLite's auto-checkpoint is off: the WAL hook
    /// replaces it), the writer restarts the WAL by itself at twice its size.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writer_bounds_the_wal_when_the_checkpoint_thread_does_not_run() {
        let (_dir, path, db) = open();
        db.checkpointer.as_ref().unwrap().stop();
        let largest = largest_wal_under_continuous_writes(&db, &path, 4).await;
        let limit = wal_bytes(RUNAWAY_FRAMES + 256);
        assert!(
            largest <= limit,
            "the WAL grew to {largest} bytes (limit {limit})"
        );
        assert!(
            largest >= wal_bytes(RUNAWAY_FRAMES),
            "restarted early: {largest}"
        );
        db.close().await;
    }

    /// Once the writer has restarted the WAL, the checkpoint thread does not ask for
    /// another restart before the new WAL has grown: until the writer's next commit the
    /// WAL keeps its old size, and a pass in that moment used to hand over again, so
    /// that under intake every other restart (two syncs on the writer) was of a WAL of
    /// a few pages. The thread's turns are taken here by hand, in that moment.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_restarted_wal_is_not_restarted_again_at_once() {
        let (_dir, path, db) = open();
        db.checkpointer.as_ref().unwrap().stop();
        let restart = db.checkpointer.as_ref().unwrap().restart.clone();
        db.write(|c| c.batch("CREATE TABLE big (b BLOB)"))
            .await
            .unwrap();
        while wal_len(&path) < wal_bytes(HAND_OVER_FRAMES) {
            write_rows(&db, 64).await;
        }
        // A reader keeps the pass from copying the last write, as the writer's commits
        // during a pass do under intake: only a restart can complete the checkpoint.
        let reader = Connection::open(&path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader
            .query_row("SELECT count(*) FROM big", [], |r| r.get(0))
            .unwrap();
        write_rows(&db, 64).await;
        let conn = Connection::open(&path).unwrap();
        let mut passes = Passes::default();
        passes.turn(&conn, &restart);
        assert!(restart.due(), "no hand-over at {HAND_OVER_FRAMES} pages");
        drop(reader);
        // The writer restarts the WAL after its next batch (having answered it)...
        write_rows(&db, 64).await;
        for _ in 0..200 {
            if !restart.due() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!restart.due(), "the writer did not restart the WAL");
        assert_eq!(restart.restarts(), 1);
        // ... and until its next commit the WAL still looks full.
        let (_, frames, _) = wal_checkpoint(&conn, "PASSIVE").unwrap();
        assert!(frames >= HAND_OVER_FRAMES, "{frames} pages");
        // However many passes come before that commit (the writer may wait for a core).
        for pass in 1..=3 {
            passes.turn(&conn, &restart);
            assert!(!restart.due(), "asked for a restart again at pass {pass}");
        }
        write_rows(&db, 64).await;
        passes.turn(&conn, &restart);
        assert!(!restart.due(), "asked for a restart of a new WAL");
        assert_eq!(restart.restarts(), 1);
        db.close().await;
    }

    /// A long reader (a backup, say) keeps the WAL from starting again; intake goes on
    /// meanwhile, and once the reader is done the WAL starts again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_again_once_a_long_reader_is_done() {
        let (_dir, path, db) = open();
        db.write(|c| c.batch("CREATE TABLE big (b BLOB)"))
            .await
            .unwrap();
        let reader = Connection::open(&path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader
            .query_row("SELECT count(*) FROM big", [], |r| r.get(0))
            .unwrap();
        let largest = largest_wal_under_continuous_writes(&db, &path, 3).await;
        assert!(
            largest > wal_bytes(2 * RESTART_FRAMES + RESTART_FRAMES / 2),
            "the WAL started again under a reader: {largest}"
        );
        drop(reader);
        largest_wal_under_continuous_writes(&db, &path, 2).await;
        let (_, frames, _) = wal_checkpoint(&Connection::open(&path).unwrap(), "PASSIVE").unwrap();
        assert!(
            frames < RUNAWAY_FRAMES,
            "the WAL did not start again: {frames} pages"
        );
        db.close().await;
    }
}
