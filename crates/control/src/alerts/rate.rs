//! [`RateLimit`]: at most N notifications in any sliding hour.

use std::collections::VecDeque;
use std::time::Duration;

use jiff::Timestamp;

use crate::engine::time::elapsed;

const HOUR: Duration = Duration::from_secs(3600);

/// A sliding-window limit of `max_per_hour` sends.
#[derive(Debug, Clone)]
pub struct RateLimit {
    max_per_hour: u32,
    sent: VecDeque<Timestamp>,
}

impl RateLimit {
    /// A limit of `max_per_hour` sends in any hour.
    pub fn new(max_per_hour: u32) -> RateLimit {
        RateLimit {
            max_per_hour,
            sent: VecDeque::new(),
        }
    }

    /// Whether one more send is allowed at `now`; when it is, it is counted.
    pub fn try_take(&mut self, now: Timestamp) -> bool {
        while let Some(first) = self.sent.front() {
            if elapsed(*first, now) >= HOUR {
                self.sent.pop_front();
            } else {
                break;
            }
        }
        if self.sent.len() >= self.max_per_hour as usize {
            return false;
        }
        self.sent.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_n_per_sliding_hour() {
        let start = Timestamp::from_second(1_700_000_000).expect("valid timestamp");
        let mut limit = RateLimit::new(2);
        assert!(limit.try_take(start));
        assert!(limit.try_take(start));
        assert!(!limit.try_take(start));
        let later = start.checked_add(Duration::from_secs(3599)).expect("valid");
        assert!(!limit.try_take(later));
        let hour = start.checked_add(HOUR).expect("valid");
        assert!(limit.try_take(hour));
        assert!(limit.try_take(hour));
        assert!(!limit.try_take(hour));
    }
}
