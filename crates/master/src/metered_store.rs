//! [`MeteredStore`]: a [`Store`] wrapper that feeds the write metrics (latency until commit,
//! writes in flight) for whichever engine it wraps, so the store crate needs no metrics code.

use std::sync::Arc;

use async_trait::async_trait;
use plantkeeper_store::{
    EventRow, EventsQuery, ExportQuery, ExportRow, NewSettingsVersion, Point, ReadingsQuery,
    SettingsSource, SettingsVersion, SettingsVersionInfo, StateChange, Store, StoreError,
    WriteBatch, WriteReceipt,
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

    async fn add_settings_version(&self, version: NewSettingsVersion) -> Result<u64, StoreError> {
        self.inner.add_settings_version(version).await
    }

    async fn settings_versions(
        &self,
        limit: usize,
    ) -> Result<Vec<SettingsVersionInfo>, StoreError> {
        self.inner.settings_versions(limit).await
    }

    async fn settings_version(&self, version: u64) -> Result<Option<SettingsVersion>, StoreError> {
        self.inner.settings_version(version).await
    }

    async fn newest_settings_version(
        &self,
        source: Option<SettingsSource>,
    ) -> Result<Option<SettingsVersion>, StoreError> {
        self.inner.newest_settings_version(source).await
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        self.inner.check_writable().await
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.inner.close().await
    }
}
