//! A small pool of read connections. WAL lets them read a consistent snapshot while the writer
//! commits; each query runs on a blocking thread so the async runtime never waits on SQLite.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::connection::open_reader;
use crate::StoreError;

/// Idle read connections, and as many permits as connections.
pub(crate) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl ReadPool {
    /// Opens `size` (at least one) read connections on `path` now, so that a problem shows at
    /// start rather than at the first query.
    pub(crate) fn open(path: PathBuf, size: usize) -> Result<ReadPool, StoreError> {
        let size = size.max(1);
        let idle = (0..size)
            .map(|_| open_reader(&path))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ReadPool {
            path,
            idle: Mutex::new(idle),
            permits: Semaphore::new(size),
        })
    }

    /// Runs `query` on an idle connection, waiting for one if all are busy.
    pub(crate) async fn run<T, Q>(&self, query: Q) -> Result<T, StoreError>
    where
        T: Send + 'static,
        Q: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Database("the read pool is closed".to_owned()))?;
        let connection = self.take()?;
        let (connection, result) = tokio::task::spawn_blocking(move || {
            let result = query(&connection);
            (connection, result)
        })
        .await
        .map_err(|error| StoreError::Database(format!("running a read query: {error}")))?;
        self.idle_connections().push(connection);
        result
    }

    /// An idle connection, or a new one if one was lost (a query task that panicked or whose
    /// caller was cancelled keeps its connection).
    fn take(&self) -> Result<Connection, StoreError> {
        match self.idle_connections().pop() {
            Some(connection) => Ok(connection),
            None => open_reader(&self.path),
        }
    }

    /// The idle list. A panic while it was locked cannot leave it inconsistent (it is only
    /// pushed and popped), so a poisoned lock is used as is.
    fn idle_connections(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
