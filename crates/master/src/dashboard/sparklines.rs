//! The overview's sparklines: the last 24 hours of every sensor in hourly averages (which
//! the store answers from its hourly rollup), kept for a minute, so refreshing the overview
//! does not query the store every time.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use plantkeeper_store::ReadingsQuery;
use tokio::sync::Mutex;

use crate::master::Master;

/// The time a sparkline covers.
pub const SPAN: SignedDuration = SignedDuration::from_hours(24);
/// Its step: whole hours, read from the store's hourly rollup.
pub const STEP: SignedDuration = SignedDuration::from_hours(1);
/// How long computed sparklines are reused.
pub const REUSE_FOR: SignedDuration = SignedDuration::from_secs(60);

/// Points (time ms, value) of every (node, sensor) that has recent readings.
pub type Sparklines = HashMap<(String, String), Vec<(i64, f64)>>;

/// The cache.
#[derive(Debug, Default)]
pub struct SparklineCache {
    cached: Mutex<Option<(Timestamp, Arc<Sparklines>)>>,
}

impl SparklineCache {
    /// The sparklines, computed at most once a minute; a store error leaves them out.
    pub async fn current(&self, master: &Master) -> Arc<Sparklines> {
        let now = master.now();
        let mut cached = self.cached.lock().await;
        if let Some((at, sparklines)) = cached.as_ref()
            && now.duration_since(*at) < REUSE_FOR
            && *at <= now
        {
            return Arc::clone(sparklines);
        }
        let sparklines = Arc::new(compute(master, now).await);
        *cached = Some((now, Arc::clone(&sparklines)));
        sparklines
    }
}

async fn compute(master: &Master, now: Timestamp) -> Sparklines {
    let sensors: Vec<(String, String)> = {
        let live = master.live();
        live.readings
            .nodes
            .iter()
            .flat_map(|(node, readings)| {
                readings
                    .readings
                    .keys()
                    .map(move |sensor| (node.clone(), sensor.clone()))
            })
            .collect()
    };
    // Whole hours, up to the end of the current one: the store answers such a range from its
    // hourly rollup alone (kept up to date in the same transaction as every raw reading), with
    // no raw readings for partial hours at either end.
    let step_ms = STEP.as_millis() as i64;
    let to_ms = (now.as_millisecond().div_euclid(step_ms) + 1) * step_ms;
    let from_ms = to_ms - SPAN.as_millis() as i64;
    let mut sparklines = Sparklines::with_capacity(sensors.len());
    for (node, sensor) in sensors {
        let query = ReadingsQuery {
            node: node.clone(),
            sensor: sensor.clone(),
            from_ms,
            to_ms,
            step_ms: Some(step_ms),
            limit: 100,
        };
        match master.store().readings(query).await {
            Ok(points) => {
                sparklines.insert((node, sensor), points);
            }
            Err(error) => {
                tracing::warn!(%error, "sparkline query failed");
                break;
            }
        }
    }
    sparklines
}
