//! The capacitive soil sensor on an ADC1 pin: the median of a few raw samples, mapped to
//! percent by the two-point calibration.

use esp_hal::Async;
use esp_hal::analog::adc::{Adc, AdcChannel, AdcPin};
use esp_hal::peripherals::ADC1;
use log::debug;
use plantkeeper_node_logic::calibration::{TwoPoint, median};

use crate::config;

/// Raw samples per reading.
const SAMPLES: usize = 9;

/// The soil sensor on pin type `P`.
pub struct Soil<P> {
    adc: Adc<'static, ADC1<'static>, Async>,
    pin: AdcPin<P, ADC1<'static>>,
    calibration: Option<TwoPoint>,
}

impl<P: AdcChannel> Soil<P> {
    /// The sensor with the configured calibration.
    pub fn new(adc: Adc<'static, ADC1<'static>, Async>, pin: AdcPin<P, ADC1<'static>>) -> Self {
        Self {
            adc,
            pin,
            // build.rs validated the points, so this is always `Some`.
            calibration: TwoPoint::new(config::SOIL_DRY_RAW, config::SOIL_WET_RAW),
        }
    }

    /// Moisture in percent, or `None` for a faulty probe.
    pub async fn read(&mut self) -> Option<f32> {
        let mut samples = [0u16; SAMPLES];
        for sample in &mut samples {
            *sample = self.adc.read_oneshot(&mut self.pin).await;
        }
        let raw = median(&mut samples)?;
        debug!("soil raw {raw}");
        self.calibration?.percent(raw)
    }
}
