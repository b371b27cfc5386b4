//! Two-point calibration of a capacitive soil moisture sensor.
//!
//! A capacitive probe gives a *higher* voltage in dry soil than in wet soil. The grower
//! measures the raw ADC value with the probe in air or dry soil (`dry`, 0 %) and in water or
//! soaked soil (`wet`, 100 %); readings in between are mapped linearly and clamped to
//! 0..=100 %. Either direction works: a probe whose value rises with moisture simply has
//! `wet > dry`.

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

    /// Moisture in percent (0.0..=100.0) for a raw ADC value.
    pub fn percent(&self, raw: u16) -> f32 {
        let dry = f32::from(self.dry);
        let wet = f32::from(self.wet);
        let fraction = (f32::from(raw) - dry) / (wet - dry);
        (fraction * 100.0).clamp(0.0, 100.0)
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
        assert_eq!(cal.percent(2800), 0.0);
        assert_eq!(cal.percent(1200), 100.0);
        assert_eq!(cal.percent(2000), 50.0);
    }

    #[test]
    fn values_beyond_the_points_are_clamped() {
        let cal = TwoPoint::new(2800, 1200).expect("valid points");
        assert_eq!(cal.percent(4095), 0.0, "drier than dry");
        assert_eq!(cal.percent(0), 100.0, "wetter than wet");
    }

    #[test]
    fn rising_probes_work_too() {
        let cal = TwoPoint::new(1000, 3000).expect("valid points");
        assert_eq!(cal.percent(1500), 25.0);
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
