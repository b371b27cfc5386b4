//! `bench --database postgres://…`: the master on PostgreSQL, in a schema of the run's own,
//! and its ceiling measured in the same run — raw binary `COPY` of the same rows (one `reports`
//! row and N readings rows per report, into tables of the same shape and indexes), committed
//! in transactions of the master's largest group.

use std::time::{Duration, Instant};

use anyhow::Context;
use plantkeeper_store::postgres::redacted_url;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls};

use super::settings_file::node_id;

/// Reports per `COPY` transaction: 400 reports × (1 + 4 readings) = 2 000 rows, the master's
/// largest group (`PostgresOptions::max_batch`).
const REPORTS_PER_COPY: u32 = 400;
/// The `boot` the COPY rows carry (any fixed value: the rows only need to be distinct).
const BOOT: i64 = 0x00be_7c40;

/// The benchmark's own schema on the server, dropped by [`BenchDatabase::drop_schema`].
pub struct BenchDatabase {
    client: Client,
    /// The schema's name, `pk_bench_<pid>`.
    pub schema: String,
    url: String,
}

/// What the `COPY` ceiling wrote.
#[derive(Debug, Clone, Copy)]
pub struct CopyResult {
    /// Reports (one `reports` row and its readings each) committed.
    pub reports: u64,
    /// Rows committed, both tables.
    pub rows: u64,
    /// Time spent.
    pub elapsed: Duration,
}

impl CopyResult {
    /// Reports per second.
    pub fn reports_per_second(&self) -> f64 {
        self.reports as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// Rows per second.
    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

impl BenchDatabase {
    /// Connects to `url` and creates an empty schema for this run.
    pub async fn create(url: &str) -> anyhow::Result<BenchDatabase> {
        let shown = redacted_url(url);
        let (client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .with_context(|| format!("connecting to PostgreSQL at {shown}"))?;
        tokio::spawn(connection);
        let schema = format!("pk_bench_{}", std::process::id());
        client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
            ))
            .await
            .with_context(|| format!("creating the schema {schema} at {shown}"))?;
        Ok(BenchDatabase {
            client,
            schema,
            url: url.to_owned(),
        })
    }

    /// The URL the master gets: the server's, with its `search_path` set to the schema.
    pub fn master_url(&self) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!(
            "{}{separator}options=-c%20search_path%3D{}%2Cpublic",
            self.url, self.schema
        )
    }

    /// Readings the master stored.
    pub async fn count_readings(&self) -> anyhow::Result<u64> {
        let count: i64 = self
            .client
            .query_one(
                &format!("SELECT count(*) FROM {}.readings", self.schema),
                &[],
            )
            .await
            .context("counting the stored readings")?
            .get(0);
        u64::try_from(count).context("PostgreSQL counted a negative number of readings")
    }

    /// Writes reports of `nodes` nodes with `readings` readings each with raw binary `COPY`
    /// for `duration`, [`REPORTS_PER_COPY`] reports per committed transaction.
    pub async fn copy_ceiling(
        &mut self,
        nodes: u32,
        readings: u32,
        duration: Duration,
    ) -> anyhow::Result<CopyResult> {
        let schema = &self.schema;
        self.client
            .batch_execute(&format!(
                "CREATE TABLE {schema}.copy_reports (node TEXT NOT NULL, boot BIGINT, \
                     seq BIGINT NOT NULL, received_at BIGINT NOT NULL, UNIQUE (node, boot, seq)); \
                 CREATE INDEX ON {schema}.copy_reports (received_at); \
                 CREATE INDEX ON {schema}.copy_reports (node, received_at); \
                 CREATE TABLE {schema}.copy_readings (series_id BIGINT NOT NULL, \
                     ts BIGINT NOT NULL, value DOUBLE PRECISION NOT NULL); \
                 CREATE INDEX ON {schema}.copy_readings (series_id, ts);"
            ))
            .await
            .context("creating the COPY ceiling's tables")?;
        let copy_reports = format!(
            "COPY {schema}.copy_reports (node, boot, seq, received_at) FROM STDIN (FORMAT binary)"
        );
        let copy_readings = format!(
            "COPY {schema}.copy_readings (series_id, ts, value) FROM STDIN (FORMAT binary)"
        );
        let node_ids: Vec<String> = (0..nodes).map(node_id).collect();
        let started = Instant::now();
        let mut next: u64 = 0;
        let mut rows: u64 = 0;
        while started.elapsed() < duration {
            let transaction = self.client.transaction().await.context("COPY: BEGIN")?;
            let now_ms = jiff::Timestamp::now().as_millisecond();
            let batch: Vec<u64> = (next..next + u64::from(REPORTS_PER_COPY)).collect();
            next += u64::from(REPORTS_PER_COPY);
            let sink = transaction
                .copy_in(&copy_reports)
                .await
                .context("COPY reports")?;
            let writer =
                BinaryCopyInWriter::new(sink, &[Type::TEXT, Type::INT8, Type::INT8, Type::INT8]);
            let mut writer = std::pin::pin!(writer);
            for &report in &batch {
                let node = &node_ids[(report % u64::from(nodes)) as usize];
                let seq = (report / u64::from(nodes)) as i64;
                writer
                    .as_mut()
                    .write(&[node, &BOOT, &seq, &now_ms])
                    .await
                    .context("COPY a report row")?;
            }
            rows += writer.finish().await.context("finishing COPY reports")?;
            let sink = transaction
                .copy_in(&copy_readings)
                .await
                .context("COPY readings")?;
            let writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::INT8, Type::FLOAT8]);
            let mut writer = std::pin::pin!(writer);
            for &report in &batch {
                let node = i64::from((report % u64::from(nodes)) as u32);
                for reading in 0..i64::from(readings) {
                    let series = node * i64::from(readings) + reading;
                    let value = 20.0 + (report % 50) as f64;
                    writer
                        .as_mut()
                        .write(&[&series, &now_ms, &value])
                        .await
                        .context("COPY a reading row")?;
                }
            }
            rows += writer.finish().await.context("finishing COPY readings")?;
            transaction.commit().await.context("COPY: COMMIT")?;
        }
        Ok(CopyResult {
            reports: next,
            rows,
            elapsed: started.elapsed(),
        })
    }

    /// Drops the schema and everything in it.
    pub async fn drop_schema(&self) -> anyhow::Result<()> {
        self.client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .await
            .with_context(|| format!("dropping the schema {}", self.schema))
    }
}
