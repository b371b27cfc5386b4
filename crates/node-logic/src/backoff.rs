//! Exponential back-off with "equal jitter": after each failed attempt the period doubles
//! within `min..=max`, and the actual wait is between half and all of it, so nodes that lost
//! the master together do not come back in lockstep.

/// The back-off state of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    min_ms: u32,
    max_ms: u32,
    /// The current period; 0 while the last attempt succeeded.
    period_ms: u32,
}

impl Backoff {
    /// A back-off doubling from `min_ms` up to `max_ms` (`max_ms` is raised to `min_ms` if
    /// lower, and `min_ms` to 1).
    pub const fn new(min_ms: u32, max_ms: u32) -> Self {
        let min_ms = if min_ms == 0 { 1 } else { min_ms };
        let max_ms = if max_ms < min_ms { min_ms } else { max_ms };
        Self {
            min_ms,
            max_ms,
            period_ms: 0,
        }
    }

    /// Records a failure and returns how long to wait before the next attempt: a value in
    /// `period/2..=period` chosen by `random`, where the period has just doubled.
    pub fn fail(&mut self, random: u32) -> u32 {
        self.period_ms = self
            .period_ms
            .saturating_mul(2)
            .clamp(self.min_ms, self.max_ms);
        let half = self.period_ms / 2;
        let spread = self.period_ms - half;
        half + random % (spread + 1)
    }

    /// Records a success: the next failure starts again at the minimum.
    pub fn succeed(&mut self) {
        self.period_ms = 0;
    }

    /// The current period (0 after a success).
    pub const fn period_ms(&self) -> u32 {
        self.period_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_min_to_max_then_resets() {
        let mut backoff = Backoff::new(1_000, 6_000);
        let periods: [u32; 5] = core::array::from_fn(|_| {
            backoff.fail(0);
            backoff.period_ms()
        });
        assert_eq!(periods, [1_000, 2_000, 4_000, 6_000, 6_000]);
        backoff.succeed();
        backoff.fail(0);
        assert_eq!(
            backoff.period_ms(),
            1_000,
            "a success restarts at the minimum"
        );
    }

    #[test]
    fn wait_spans_half_to_all_of_the_period() {
        let mut low = Backoff::new(1_000, 60_000);
        assert_eq!(low.fail(0), 500);
        let mut high = Backoff::new(1_000, 60_000);
        assert_eq!(high.fail(500), 1_000);
        let mut wrap = Backoff::new(1_000, 60_000);
        assert_eq!(wrap.fail(501), 500, "random wraps inside the spread");
    }
}
