//! Two-point calibration of a capacitive soil moisture sensor.
//!
//! A capacitive probe gives a *higher* voltage in dry soil than in wet soil. The grower
//! measures the raw ADC value with the probe in air or dry soil (`dry`, 0 %) and in water or
//! soaked soil (`wet`, 100 %); readings in between are mapped linearly and clamped to
//! 0..=100 %. Either direction works: a probe whose value rises with moisture simply has
//! `wet > dry`.
//!
//! Like the MicroPython client, a value more than a tenth of the span past either
//! point is a sensor fault and gives no reading: a disconnected probe must not read as "bone
//! dry" and open the valve; the master then sees the input go stale and switches OFF.

/// The two calibration points of one probe, as raw ADC values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwoPoint {
    dry: u16,
    wet: u16,
}

/// The smallest distance between the two points: closer points make the reading mostly noise.
pub const MIN_SPAN: u16 = 100;

impl TwoPoint {
    /// A calibration from the raw values read dry (0 %) and wet (100 %), or `None` when they
    /// are less than [`MIN_SPAN`] apart.
    pub const fn new(dry: u16, wet: u16) -> Option<Self> {
        if dry.abs_diff(wet) < MIN_SPAN {
            None
        } else {
            Some(Self { dry, wet })
        }
    }

    /// The raw value read dry (0 %).
    pub const fn dry(&self) -> u16 {
        self.dry
    }

    /// The raw value read wet (100 %).
    pub const fn wet(&self) -> u16 {
        self.wet
    }

    /// Moisture in percent (0.0..=100.0) for a raw ADC value, or `None` when the value is
    /// more than a tenth of the span past a calibration point (a faulty or disconnected
    /// probe).
    pub fn percent(&self, raw: u16) -> Option<f32> {
        let (low, high) = (self.dry.min(self.wet), self.dry.max(self.wet));
        let past = low.saturating_sub(raw).max(raw.saturating_sub(high));
        if u32::from(past) * 10 > u32::from(high - low) {
            return None;
        }
        let fraction =
            (f32::from(raw) - f32::from(self.dry)) / (f32::from(self.wet) - f32::from(self.dry));
        Some((fraction * 100.0).clamp(0.0, 100.0))
    }
}

/// The median of `samples` (sorted in place), to drop the odd spike of a noisy ADC; `None`
/// for no samples.
pub fn median(samples: &mut [u16]) -> Option<u16> {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_map_to_zero_and_hundred() {
        let cal = TwoPoint::new(2800, 1200).expect("valid points");
        assert_eq!(cal.percent(2800), Some(0.0));
        assert_eq!(cal.percent(1200), Some(100.0));
        assert_eq!(cal.percent(2000), Some(50.0));
    }

    #[test]
    fn values_slightly_beyond_the_points_are_clamped_far_beyond_are_faults() {
        let cal = TwoPoint::new(2800, 1200).expect("valid points");
        assert_eq!(cal.percent(2900), Some(0.0), "a little drier than dry");
        assert_eq!(cal.percent(1100), Some(100.0), "a little wetter than wet");
        assert_eq!(
            cal.percent(4095),
            None,
            "a disconnected probe is not bone dry"
        );
        assert_eq!(cal.percent(0), None, "a shorted probe is not soaked");
    }

    #[test]
    fn rising_probes_work_too() {
        let cal = TwoPoint::new(1000, 3000).expect("valid points");
        assert_eq!(cal.percent(1500), Some(25.0));
    }

    #[test]
    fn points_too_close_are_refused() {
        assert_eq!(TwoPoint::new(2000, 2000), None);
        assert_eq!(TwoPoint::new(2000, 2099), None);
        assert!(TwoPoint::new(2000, 2100).is_some());
    }

    #[test]
    fn median_drops_a_spike() {
        assert_eq!(median(&mut [1500, 1510, 4095, 1505, 1490]), Some(1505));
        assert_eq!(median(&mut []), None);
    }
}
