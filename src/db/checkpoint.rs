//! WAL checkpoints mostly on their own thread and connection. This thread runs PASSIVE
//! checkpoints, which wait for nobody, copying what the writer appended to the WAL into
//! the database file and syncing it: back to back while the writer is busy, every tenth
//! of a second when it is not. The writer still checkpoints by itself once the WAL holds
//! `WRITER_CHECKPOINT_FRAMES` pages (SQLite's auto-checkpoint), which is what lets the WAL
//! start again from its beginning; by then this thread has copied and synced nearly
//! everything, so the writer's own checkpoint takes a millisecond or two instead of
//! tens of milliseconds of copying and syncing.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::StoreError;

const IDLE: Duration = Duration::from_millis(100);
/// Between passes while the writer is busy (a pass copied something).
const BUSY: Duration = Duration::from_millis(5);
/// The writer checkpoints (and so restarts the WAL) past this many pages: 64 MiB.
pub const WRITER_CHECKPOINT_FRAMES: i64 = 16_384;

type Stop = Arc<(Mutex<bool>, Condvar)>;

pub struct Checkpointer {
    stop: Stop,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    pub fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Open(format!("cannot open {}: {e}", path.display())))?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let stop: Stop = Arc::default();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("firewatch-db-checkpoint".into())
            .spawn(move || run(&conn, &flag))
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

fn run(conn: &Connection, stop: &Stop) {
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
        pause = match checkpoint(conn) {
            // Nothing new since the last pass, and nothing left to copy: the writer rests.
            Ok(now) if now == last && now.0 == now.1 => IDLE,
            Ok(now) => {
                last = now;
                BUSY
            }
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                IDLE
            }
        };
        stopped = lock.lock().expect("checkpoint lock");
    }
}

/// One PASSIVE checkpoint: (frames in the WAL, frames copied into the database file).
fn checkpoint(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })
}
