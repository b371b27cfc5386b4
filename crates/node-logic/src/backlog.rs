//! Readings kept while the master is unreachable: a fixed ring of `CAPACITY` samples in RAM,
//! the oldest dropped first when full, with a count of what was dropped since boot.

/// One sampling of every sensor: `values[i]` belongs to sensor `i`, `None` when that sensor
/// had no valid value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample<const SENSORS: usize> {
    /// When the values were taken, on the node's wrapping millisecond clock.
    pub taken_at: u32,
    /// One value per sensor.
    pub values: [Option<f32>; SENSORS],
}

impl<const SENSORS: usize> Sample<SENSORS> {
    /// Whether no sensor has a finite value (such a sample is not worth keeping: a report
    /// leaves non-finite values out).
    pub fn is_empty(&self) -> bool {
        !self.values.iter().flatten().any(|value| value.is_finite())
    }
}

/// The bounded backlog.
#[derive(Debug, Clone)]
pub struct Backlog<const SENSORS: usize, const CAPACITY: usize> {
    entries: [Option<Sample<SENSORS>>; CAPACITY],
    /// Index of the oldest entry.
    start: usize,
    len: usize,
    dropped: u32,
}

impl<const SENSORS: usize, const CAPACITY: usize> Default for Backlog<SENSORS, CAPACITY> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const SENSORS: usize, const CAPACITY: usize> Backlog<SENSORS, CAPACITY> {
    /// An empty backlog.
    pub const fn new() -> Self {
        Self {
            entries: [None; CAPACITY],
            start: 0,
            len: 0,
            dropped: 0,
        }
    }

    /// Keeps `sample`, dropping the oldest entry when full; an empty sample is not kept.
    pub fn push(&mut self, sample: Sample<SENSORS>) {
        if sample.is_empty() {
            return;
        }
        if CAPACITY == 0 {
            self.dropped = self.dropped.saturating_add(1);
            return;
        }
        if self.len == CAPACITY {
            self.start = (self.start + 1) % CAPACITY;
            self.len -= 1;
            self.dropped = self.dropped.saturating_add(1);
        }
        self.entries[(self.start + self.len) % CAPACITY] = Some(sample);
        self.len += 1;
    }

    /// The kept samples, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Sample<SENSORS>> {
        (0..self.len)
            .filter_map(move |offset| self.entries[(self.start + offset) % CAPACITY].as_ref())
    }

    /// Forgets the `count` oldest samples (they were delivered); the dropped count stays.
    pub fn remove_oldest(&mut self, count: usize) {
        for _ in 0..count.min(self.len) {
            self.entries[self.start] = None;
            self.start = (self.start + 1) % CAPACITY;
            self.len -= 1;
        }
    }

    /// How many samples are kept.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether no sample is kept.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many samples were dropped since boot because the ring was full.
    pub const fn dropped(&self) -> u32 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: u32) -> Sample<1> {
        Sample {
            taken_at: at,
            values: [Some(at as f32)],
        }
    }

    #[test]
    fn keeps_the_newest_and_counts_the_dropped() {
        let mut backlog = Backlog::<1, 3>::new();
        for at in 0..5 {
            backlog.push(sample(at));
        }
        let kept: [u32; 3] =
            core::array::from_fn(|i| backlog.iter().nth(i).map_or(99, |s| s.taken_at));
        assert_eq!(kept, [2, 3, 4]);
        assert_eq!(backlog.dropped(), 2);
    }

    #[test]
    fn remove_oldest_keeps_the_rest_in_order() {
        let mut backlog = Backlog::<1, 4>::new();
        for at in 0..4 {
            backlog.push(sample(at));
        }
        backlog.remove_oldest(3);
        assert_eq!(backlog.len(), 1);
        assert_eq!(backlog.iter().next().map(|s| s.taken_at), Some(3));
        backlog.remove_oldest(10);
        assert!(backlog.is_empty());
    }

    #[test]
    fn empty_samples_and_zero_capacity() {
        let mut backlog = Backlog::<1, 2>::new();
        backlog.push(Sample {
            taken_at: 1,
            values: [None],
        });
        assert!(backlog.is_empty(), "a sample without values was kept");
        let mut none = Backlog::<1, 0>::new();
        none.push(sample(1));
        assert_eq!((none.len(), none.dropped()), (0, 1));
    }
}
