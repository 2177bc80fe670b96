//! WAL checkpoints, mostly on their own thread and connection, so that the writer does not
//! stop its batches to copy pages into the database file and sync it.
//!
//! This thread runs PASSIVE checkpoints, which wait for nobody: back to back while the
//! writer is busy, every tenth of a second when it is not. A PASSIVE checkpoint never
//! catches up with a writer that does not pause, and only a complete checkpoint lets the
//! WAL start again from its beginning; so once the WAL holds a quarter of
//! `RESTART_FRAMES` pages this thread stops and hands over: the writer, between two batches, runs one PASSIVE
//! checkpoint of its own (nothing can collide with it now), which copies the little this
//! thread left and is complete, and its next transaction restarts the WAL. Then this
//! thread takes over again. The WAL stays near `RESTART_FRAMES` pages (the rest is for
//! what is written during this thread's last pass and the hand-over) and the writer's
//! own checkpoint only copies what that last pass could not. Should this thread get no
//! CPU at all, SQLite's own auto-checkpoint on the writer, at twice that size, still
//! bounds the WAL.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::StoreError;

const IDLE: Duration = Duration::from_millis(100);
/// Between passes while the writer is busy (a pass copied something).
const BUSY: Duration = Duration::from_millis(5);
/// The WAL's size in pages (64 MiB); a restart is handed to the writer at a quarter.
pub const RESTART_FRAMES: i64 = 16_384;

type Stop = Arc<(Mutex<bool>, Condvar)>;

/// Set by the checkpoint thread when the WAL is due for a restart; cleared by the writer
/// once its own checkpoint is complete.
#[derive(Clone, Default)]
pub struct RestartDue(Arc<AtomicBool>);

impl RestartDue {
    /// The writer, between batches: when a restart is due, finish the checkpoint (the
    /// checkpoint thread is standing by, so nothing collides) and hand back.
    pub fn finish(&self, conn: &Connection) {
        if !self.0.load(Ordering::Acquire) {
            return;
        }
        match checkpoint(conn) {
            // Complete: the next transaction starts the WAL from its beginning.
            Ok((frames, copied)) if copied >= frames => self.0.store(false, Ordering::Release),
            // A reader still needs the end of the WAL: try again after the next batch.
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }

    fn due(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

pub struct Checkpointer {
    stop: Stop,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    pub fn start(path: &Path, restart: RestartDue) -> Result<Self, StoreError> {
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Open(format!("cannot open {}: {e}", path.display())))?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let stop: Stop = Arc::default();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("firewatch-db-checkpoint".into())
            .spawn(move || run(&conn, &flag, &restart))
            .map_err(|e| StoreError::Open(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Self {
            stop,
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
    let mut last = (0, 0);
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
        pause = if restart.due() {
            // The writer is finishing a checkpoint: stand by.
            BUSY
        } else {
            match checkpoint(conn) {
                Ok((frames, _)) if frames >= RESTART_FRAMES / 4 => {
                    restart.set();
                    BUSY
                }
                // Nothing new since the last pass, and nothing left to copy.
                Ok(now) if now == last && now.0 == now.1 => IDLE,
                Ok(now) => {
                    last = now;
                    BUSY
                }
                Err(e) => {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                    IDLE
                }
            }
        };
        stopped = lock.lock().expect("checkpoint lock");
    }
}

/// One PASSIVE checkpoint: (frames in the WAL, frames copied into the database file).
/// A checkpoint another connection was running at the time copies nothing: (1, 0).
fn checkpoint(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    let (busy, frames, copied): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    Ok(if busy != 0 || frames < 0 {
        (1, 0)
    } else {
        (frames, copied)
    })
}
