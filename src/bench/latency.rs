//! Latency samples and their percentiles.

use std::time::Duration;

/// Every latency of a phase, in microseconds.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    micros: Vec<u32>,
}

/// The percentiles a table shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencySummary {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest.
    pub max: Duration,
}

impl Latencies {
    /// Records one latency (saturating at about 71 minutes).
    pub fn record(&mut self, latency: Duration) {
        self.micros
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
    }

    /// Adds another worker's samples.
    pub fn merge(&mut self, other: Latencies) {
        self.micros.extend(other.micros);
    }

    /// The percentiles (nearest rank), or `None` without samples.
    pub fn summary(&self) -> Option<LatencySummary> {
        let mut sorted = self.micros.clone();
        sorted.sort_unstable();
        let rank = |fraction: f64| {
            // Nearest rank: the smallest sample with at least `fraction` of samples at or below.
            let rank = (fraction * sorted.len() as f64).ceil() as usize;
            sorted
                .get(rank.saturating_sub(1))
                .map(|micros| Duration::from_micros(u64::from(*micros)))
        };
        Some(LatencySummary {
            p50: rank(0.50)?,
            p99: rank(0.99)?,
            max: rank(1.0)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut latencies = Latencies::default();
        for millis in (1..=100).rev() {
            latencies.record(Duration::from_millis(millis));
        }
        let summary = latencies.summary().expect("100 samples give a summary");
        assert_eq!(
            summary.p50,
            Duration::from_millis(50),
            "median of 1..=100 ms"
        );
        assert_eq!(summary.p99, Duration::from_millis(99), "p99 of 1..=100 ms");
        assert_eq!(
            summary.max,
            Duration::from_millis(100),
            "slowest of 1..=100 ms"
        );
    }

    #[test]
    fn no_samples_give_no_summary() {
        assert_eq!(Latencies::default().summary(), None);
    }
}
