//! [`MeteredStore`]: a [`Store`] wrapper that feeds the write metrics (latency until commit,
//! writes in flight) for whichever engine it wraps, so the store crate needs no metrics code.

use std::sync::Arc;

use async_trait::async_trait;
use plantkeeper_store::{
    EventRow, EventsQuery, ExportQuery, ExportRow, Point, ReadingsQuery, StateChange, Store,
    StoreError, WriteBatch, WriteReceipt,
};

use crate::metrics::Metrics;

/// Passes every call to the inner store, timing writes.
pub struct MeteredStore {
    inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl MeteredStore {
    /// Wraps `inner`, recording into `metrics`.
    pub fn new(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> MeteredStore {
        MeteredStore { inner, metrics }
    }
}

#[async_trait]
impl Store for MeteredStore {
    async fn write(&self, batch: WriteBatch) -> Result<WriteReceipt, StoreError> {
        let timer = self.metrics.store_write_started();
        let receipt = self.inner.write(batch).await?;
        timer.committed();
        Ok(receipt)
    }

    async fn begin_epoch(&self) -> Result<u64, StoreError> {
        self.inner.begin_epoch().await
    }

    async fn readings(&self, query: ReadingsQuery) -> Result<Vec<Point>, StoreError> {
        self.inner.readings(query).await
    }

    async fn events(&self, query: EventsQuery) -> Result<Vec<EventRow>, StoreError> {
        self.inner.events(query).await
    }

    async fn state_changes_since(&self, from_ms: i64) -> Result<Vec<StateChange>, StoreError> {
        self.inner.state_changes_since(from_ms).await
    }

    async fn last_report_at(&self, node: &str) -> Result<Option<i64>, StoreError> {
        self.inner.last_report_at(node).await
    }

    async fn export(
        &self,
        query: ExportQuery,
        sink: tokio::sync::mpsc::Sender<Vec<ExportRow>>,
    ) -> Result<u64, StoreError> {
        self.inner.export(query, sink).await
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        self.inner.check_writable().await
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.inner.close().await
    }
}
