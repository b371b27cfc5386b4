//! The alert channels' counters in `/metrics`: read at scrape time from each channel's own
//! atomics ([`ChannelStats`]), so the alerts code keeps a single source of truth.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;

use crate::alerts::channel::{ChannelHandle, ChannelStats};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabel {
    channel: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DropLabel {
    channel: String,
    reason: &'static str,
}

/// `plantkeeper_alerts_{sent,failed,dropped}_total` by channel (`channels[0] (webhook)`).
#[derive(Debug)]
pub struct AlertChannelCounters {
    channels: Vec<(String, Arc<ChannelStats>)>,
}

impl AlertChannelCounters {
    /// Reads the counters of `channels`.
    pub fn new(channels: &[ChannelHandle]) -> AlertChannelCounters {
        AlertChannelCounters {
            channels: channels
                .iter()
                .map(|channel| (channel.name.clone(), Arc::clone(&channel.stats)))
                .collect(),
        }
    }
}

fn read(counter: &AtomicU64) -> ConstCounter {
    ConstCounter::new(counter.load(Ordering::Relaxed))
}

impl Collector for AlertChannelCounters {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        type Read = fn(&ChannelStats) -> &AtomicU64;
        let per_channel: [(&str, &str, Read); 2] = [
            (
                "alerts_sent",
                "Alert notifications delivered, by channel",
                |stats| &stats.sent,
            ),
            (
                "alerts_failed",
                "Alert notifications given up after every retry, by channel",
                |stats| &stats.failed,
            ),
        ];
        for (name, help, counter) in per_channel {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (channel, stats) in &self.channels {
                let labels = ChannelLabel {
                    channel: channel.clone(),
                };
                read(counter(stats)).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut dropped = encoder.encode_descriptor(
            "alerts_dropped",
            "Alert notifications dropped before any attempt, by channel and reason (queue_full, rate_limited)",
            None,
            MetricType::Counter,
        )?;
        for (channel, stats) in &self.channels {
            for (reason, counter) in [
                ("queue_full", &stats.dropped_queue_full),
                ("rate_limited", &stats.dropped_rate_limited),
            ] {
                let labels = DropLabel {
                    channel: channel.clone(),
                    reason,
                };
                read(counter).encode(dropped.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}
