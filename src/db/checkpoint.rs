//! WAL checkpoints, mostly on their own thread and connection, so that the writer does not
//! stop its batches to copy pages into the database file and sync it.
//!
//! This thread runs PASSIVE checkpoints, which wait for nobody: back to back while the
//! writer is busy, every tenth of a second when it is not. A PASSIVE checkpoint never
//! catches up with a writer that does not pause, and only a complete checkpoint lets the
//! WAL start again from its beginning; so once the WAL holds three quarters of
//! `RESTART_FRAMES` pages this thread runs one more, short, pass and hands over: the
//! writer, between two batches, runs one PASSIVE checkpoint of its own (nothing can
//! collide with it now), which copies the little this thread left and is complete, and
//! its next transaction restarts the WAL. Then this thread takes over again. The WAL
//! stays under `RESTART_FRAMES` pages (the rest is for what is written during the
//! hand-over). The writer's checkpoint holds up every caller waiting on the writer (it
//! copies a batch's pages and syncs both files: a few milliseconds), so it comes as
//! seldom as the WAL's size allows, once per hand-over. Should this thread get no
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
/// The WAL's size in pages (64 MiB); a restart is handed to the writer at three quarters.
pub const RESTART_FRAMES: i64 = 16_384;
const HANDOVER_FRAMES: i64 = RESTART_FRAMES * 3 / 4;

/// When to hand a restart over: every `HANDOVER_FRAMES` pages written.
#[derive(Default)]
struct Handover {
    /// The WAL's pages at the last hand-over: after the writer's checkpoint the WAL only
    /// starts again with the writer's next transaction, and until then this thread still
    /// sees the old WAL, complete, which must not be handed over a second time (that
    /// cost the writer a second checkpoint, of the new WAL's first pages, each time).
    last: i64,
}

impl Handover {
    fn due(&mut self, frames: i64) -> bool {
        if frames < self.last {
            // The WAL started again.
            self.last = 0;
        }
        let due = frames - self.last >= HANDOVER_FRAMES;
        if due {
            self.last = frames;
        }
        due
    }
}

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
    let mut handover = Handover::default();
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
                Ok((frames, _)) if handover.due(frames) => {
                    // One more pass first: it only copies what the writer wrote during
                    // the last one, so the writer's own checkpoint, which holds up every
                    // caller waiting on it, is left with only what comes after.
                    let _ = checkpoint(conn);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_is_handed_over_once_per_wal() {
        let mut h = Handover::default();
        assert!(!h.due(HANDOVER_FRAMES - 1));
        assert!(h.due(HANDOVER_FRAMES + 10));
        // The writer's checkpoint is complete but the WAL has not started again yet:
        // this thread still sees it, whole, and does not hand it over a second time.
        assert!(!h.due(HANDOVER_FRAMES + 10));
        assert!(!h.due(HANDOVER_FRAMES + 500));
        // The WAL started again: the next hand-over comes when it has grown as far.
        assert!(!h.due(300));
        assert!(!h.due(HANDOVER_FRAMES - 1));
        assert!(h.due(HANDOVER_FRAMES));
        // Should it not start again (readers still on it when the writer's transaction
        // began), it is handed over again once as much more has been written.
        assert!(!h.due(2 * HANDOVER_FRAMES - 1));
        assert!(h.due(2 * HANDOVER_FRAMES));
    }
}
