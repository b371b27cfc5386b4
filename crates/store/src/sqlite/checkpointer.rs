//! Checkpoints off the commit path: a thread with its own connection copies the write-ahead
//! log into the database file every [`CHECKPOINT_EVERY`], so the writer's commits never wait for
//! that copy (and its `fsync`). SQLite's own automatic checkpoint stays as a backstop at
//! [`super::connection::AUTOCHECKPOINT_PAGES`], reached only if this thread falls far behind.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use tracing::warn;

use super::connection;
use crate::StoreError;

/// Time between two checkpoints.
pub(crate) const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// The running checkpoint thread; dropping [`Checkpointer::stop`]'s sender ends it.
pub(crate) struct Checkpointer {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    /// Opens a connection on the (already migrated) database and starts the thread.
    pub(crate) fn start(path: &Path) -> Result<Checkpointer, StoreError> {
        let connection = connection::open_checkpointer(path)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".to_owned())
            .spawn(move || run(&connection, &stopped))
            .map_err(|error| {
                StoreError::Database(format!("starting the checkpoint thread: {error}"))
            })?;
        Ok(Checkpointer { stop, thread })
    }

    /// Stops the thread and waits for it (at most one checkpoint long).
    pub(crate) fn stop(self) {
        drop(self.stop);
        if self.thread.join().is_err() {
            warn!("the SQLite checkpoint thread panicked");
        }
    }
}

fn run(connection: &Connection, stopped: &mpsc::Receiver<()>) {
    loop {
        match stopped.recv_timeout(CHECKPOINT_EVERY) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        // PASSIVE never blocks the writer or the readers; frames still in use by a reader are
        // copied at a later round.
        if let Err(error) = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            warn!(%error, "SQLite checkpoint failed; the next round tries again");
        }
    }
}
