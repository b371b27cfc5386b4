//! The one source of time for the master and the simulated garden.
//!
//! Everything that needs "now" takes a [`Clock`], so tests and the demo can run time faster
//! than the wall clock (`demo --speed N`) without changing any rule.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// A source of wall time (for timestamps, schedules and budgets) and of pacing (how long to
/// sleep in real time for a span of clock time).
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> jiff::Timestamp;

    /// How many times faster than real time this clock runs (1.0 for the system clock).
    fn speed(&self) -> f64;

    /// The real duration that corresponds to `clock_time` of this clock.
    fn real_duration(&self, clock_time: Duration) -> Duration {
        clock_time.div_f64(self.speed())
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }

    fn speed(&self) -> f64 {
        1.0
    }
}

/// A clock that starts at a given time and runs `speed` times faster than real time.
#[derive(Debug, Clone)]
pub struct AcceleratedClock {
    start: jiff::Timestamp,
    started: Instant,
    speed: f64,
}

impl AcceleratedClock {
    /// A clock reading `start` now and advancing `speed` clock seconds per real second.
    /// `speed` must be finite and positive (the CLI validates it); otherwise 1.0 is used.
    pub fn new(start: jiff::Timestamp, speed: f64) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        Self {
            start,
            started: Instant::now(),
            speed,
        }
    }
}

impl Clock for AcceleratedClock {
    fn now(&self) -> jiff::Timestamp {
        let elapsed = self.started.elapsed().mul_f64(self.speed);
        let elapsed = jiff::SignedDuration::try_from(elapsed).unwrap_or(jiff::SignedDuration::MAX);
        self.start
            .saturating_add(elapsed)
            .unwrap_or(jiff::Timestamp::MAX)
    }

    fn speed(&self) -> f64 {
        self.speed
    }
}

/// A clock that moves only when told to: for tests that need exact times.
#[derive(Debug)]
pub struct ManualClock {
    now: std::sync::Mutex<jiff::Timestamp>,
}

impl ManualClock {
    /// A clock reading `start` until moved.
    pub fn new(start: jiff::Timestamp) -> Self {
        Self {
            now: std::sync::Mutex::new(start),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let by = jiff::SignedDuration::try_from(by).unwrap_or(jiff::SignedDuration::MAX);
        *now = now.saturating_add(by).unwrap_or(jiff::Timestamp::MAX);
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: jiff::Timestamp) {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> jiff::Timestamp {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn speed(&self) -> f64 {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accelerated_clock_runs_faster_than_real_time() {
        let start = jiff::Timestamp::from_second(1_700_000_000).expect("valid timestamp");
        let clock = AcceleratedClock::new(start, 1000.0);
        std::thread::sleep(Duration::from_millis(20));
        let advanced = clock.now().duration_since(start);
        assert!(
            advanced >= jiff::SignedDuration::from_secs(20),
            "advanced only {advanced:?}"
        );
        assert_eq!(
            clock.real_duration(Duration::from_secs(5)),
            Duration::from_millis(5)
        );
    }
}
