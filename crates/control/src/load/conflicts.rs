//! `on_when` / `off_when` / `require` combinations that cannot work, where that is decidable.
//!
//! What is decided: conditions that are a **single comparison**, looked at together when they
//! compare the **same sensor**, within that sensor's declared `min..=max` range (valid readings
//! only; an invalid reading forces OFF anyway). Each comparison is turned into the set of values
//! where it is true (a union of intervals), and:
//! - `on_when` and `off_when` true at the same value → rejected: the output would switch ON and
//!   OFF again on every decision (flapping). `x < 30` with `x < 40` is such a pair; a working
//!   pair leaves a gap (`x < 30` / `x >= 45`) or at least touches (`x < 30` / `x >= 30`).
//! - `off_when` false at every valid value → rejected: once ON, the output would only go OFF
//!   through `max_on` or a safety rule.
//! - `on_when` false at every valid value, or at every value where a `require` on the same
//!   sensor holds → rejected: the output could never switch ON.
//!
//! What is not decided: compound conditions (`and`, `or`, `not`), comparisons of different
//! sensors (their values are independent), and output references. An `off_when` such as
//! `x == 30` is accepted although a continuous reading may never equal 30 exactly.

use super::nodes::LoadedNode;
use super::outputs::Written;
use super::reader::Reader;
use crate::condition::{CompareOp, Condition, SensorRef};
use crate::settings::SensorSettings;

/// Reports impossible or flapping condition combinations of every output.
pub(super) fn reject_conflicts(reader: &mut Reader<'_>, nodes: &[LoadedNode]) {
    let range_of = |sensor: &SensorRef| -> Interval {
        let declared = nodes
            .iter()
            .find(|node| node.settings.id == sensor.node)
            .and_then(|node| node.settings.sensors.get(&sensor.sensor));
        Interval::declared(declared)
    };
    for node in nodes {
        for output in &node.outputs {
            let settings = &output.settings;
            let on = settings
                .on_when
                .as_ref()
                .and_then(|c| single_comparison(&c.root));
            let off = settings
                .off_when
                .as_ref()
                .and_then(|c| single_comparison(&c.root));
            if let (Some(on), Some(at)) = (&on, &output.on_when_at) {
                let valid = range_of(on.sensor);
                if on
                    .region()
                    .iter()
                    .all(|part| part.intersect(&valid).is_none())
                {
                    reader.error_at(at.offset, &at.field, never_true(on, &valid));
                } else {
                    check_requirements(
                        reader,
                        on,
                        &valid,
                        settings.require.iter().map(|c| &c.root),
                        at,
                    );
                }
            }
            let (Some(off), Some(at)) = (off, &output.off_when_at) else {
                continue;
            };
            let valid = range_of(off.sensor);
            if off
                .region()
                .iter()
                .all(|part| part.intersect(&valid).is_none())
            {
                reader.error_at(at.offset, &at.field, never_true(&off, &valid));
                continue;
            }
            if let Some(on) = on.filter(|on| same_sensor(on.sensor, off.sensor))
                && let Some(value) = common_value(&[on.region(), off.region(), vec![valid]])
            {
                reader.error_at(
                    at.offset,
                    &at.field,
                    format!(
                        "`on_when` (`{on}`) and `off_when` (`{off}`) are both true at {} = {value}, so the output would flap ON and OFF; leave a gap between the thresholds, e.g. `{}`",
                        off.sensor.written,
                        suggested_off(&on)
                    ),
                );
            }
        }
    }
}

/// Reports a `require` on the same sensor as `on_when` that excludes every value where
/// `on_when` is true.
fn check_requirements<'a>(
    reader: &mut Reader<'_>,
    on: &Comparison<'_>,
    valid: &Interval,
    requirements: impl Iterator<Item = &'a Condition>,
    on_at: &Written,
) {
    for requirement in requirements {
        let Some(require) = single_comparison(requirement) else {
            continue;
        };
        if same_sensor(on.sensor, require.sensor)
            && common_value(&[on.region(), require.region(), vec![*valid]]).is_none()
        {
            reader.error_at(
                on_at.offset,
                &on_at.field,
                format!(
                    "`{on}` can never switch the output ON while `require` `{require}` must hold"
                ),
            );
        }
    }
}

fn never_true(comparison: &Comparison<'_>, valid: &Interval) -> String {
    format!(
        "`{comparison}` can never be true: valid readings of `{}` are {valid}",
        comparison.sensor.written
    )
}

/// An `off_when` that would pair well with `on`: the complement of `on` at its threshold.
fn suggested_off(on: &Comparison<'_>) -> String {
    let op = match on.op {
        CompareOp::Lt => ">=",
        CompareOp::Le => ">",
        CompareOp::Gt => "<=",
        CompareOp::Ge => "<",
        CompareOp::Eq => "!=",
        CompareOp::Ne => "==",
    };
    format!("{} {op} {}", on.sensor.written, on.value)
}

fn same_sensor(a: &SensorRef, b: &SensorRef) -> bool {
    a.node == b.node && a.sensor == b.sensor
}

/// A condition that is exactly one comparison.
#[derive(Clone, Copy)]
struct Comparison<'c> {
    sensor: &'c SensorRef,
    op: CompareOp,
    value: f64,
}

impl std::fmt::Display for Comparison<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.sensor.written, self.op, self.value)
    }
}

fn single_comparison(condition: &Condition) -> Option<Comparison<'_>> {
    match condition {
        Condition::Compare { sensor, op, value } => Some(Comparison {
            sensor,
            op: *op,
            value: *value,
        }),
        _ => None,
    }
}

impl Comparison<'_> {
    /// The values at which the comparison is true.
    fn region(&self) -> Vec<Interval> {
        let v = self.value;
        let below = |closed| Interval::new(f64::NEG_INFINITY, false, v, closed);
        let above = |closed| Interval::new(v, closed, f64::INFINITY, false);
        match self.op {
            CompareOp::Lt => vec![below(false)],
            CompareOp::Le => vec![below(true)],
            CompareOp::Gt => vec![above(false)],
            CompareOp::Ge => vec![above(true)],
            CompareOp::Eq => vec![Interval::new(v, true, v, true)],
            CompareOp::Ne => vec![below(false), above(false)],
        }
    }
}

/// A value at which every region is true, if there is one. Each region is a union of intervals.
fn common_value(regions: &[Vec<Interval>]) -> Option<f64> {
    let mut common = vec![Interval::new(
        f64::NEG_INFINITY,
        false,
        f64::INFINITY,
        false,
    )];
    for region in regions {
        common = common
            .iter()
            .flat_map(|a| region.iter().filter_map(move |b| a.intersect(b)))
            .collect();
    }
    common.first().map(Interval::witness)
}

/// An interval of the real line; infinite ends are always open.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Interval {
    low: f64,
    low_closed: bool,
    high: f64,
    high_closed: bool,
}

impl Interval {
    fn new(low: f64, low_closed: bool, high: f64, high_closed: bool) -> Self {
        Self {
            low,
            low_closed: low_closed && low.is_finite(),
            high,
            high_closed: high_closed && high.is_finite(),
        }
    }

    /// The declared valid range of a sensor (`min..=max`), unbounded where not declared or
    /// where the declaration is itself invalid (already reported, `min >= max`).
    fn declared(sensor: Option<&SensorSettings>) -> Self {
        let min = sensor.and_then(|s| s.min).unwrap_or(f64::NEG_INFINITY);
        let max = sensor.and_then(|s| s.max).unwrap_or(f64::INFINITY);
        if min < max {
            Self::new(min, true, max, true)
        } else {
            Self::new(f64::NEG_INFINITY, false, f64::INFINITY, false)
        }
    }

    fn intersect(&self, other: &Interval) -> Option<Interval> {
        let (low, low_closed) = if self.low > other.low {
            (self.low, self.low_closed)
        } else if other.low > self.low {
            (other.low, other.low_closed)
        } else {
            (self.low, self.low_closed && other.low_closed)
        };
        let (high, high_closed) = if self.high < other.high {
            (self.high, self.high_closed)
        } else if other.high < self.high {
            (other.high, other.high_closed)
        } else {
            (self.high, self.high_closed && other.high_closed)
        };
        let non_empty = low < high || (low == high && low_closed && high_closed);
        non_empty.then(|| Interval::new(low, low_closed, high, high_closed))
    }

    /// A value inside the (non-empty) interval, preferring round numbers near its ends.
    fn witness(&self) -> f64 {
        match (self.low.is_finite(), self.high.is_finite()) {
            (true, true) if self.high_closed => self.high,
            (true, true) if self.high - 1.0 > self.low => self.high - 1.0,
            (true, true) if self.low_closed => self.low,
            (true, true) => (self.low + self.high) / 2.0,
            (true, false) if self.low_closed => self.low,
            (true, false) => self.low + 1.0,
            (false, true) if self.high_closed => self.high,
            (false, true) => self.high - 1.0,
            (false, false) => 0.0,
        }
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.low.is_finite(), self.high.is_finite()) {
            (true, true) => write!(f, "{}..{}", self.low, self.high),
            (true, false) => write!(f, "at least {}", self.low),
            (false, true) => write!(f, "at most {}", self.high),
            (false, false) => write!(f, "any number"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comparison(sensor: &SensorRef, op: CompareOp, value: f64) -> Comparison<'_> {
        Comparison { sensor, op, value }
    }

    fn sensor() -> SensorRef {
        SensorRef {
            node: "bed".into(),
            sensor: "x".into(),
            written: "x".into(),
        }
    }

    #[test]
    fn overlapping_thresholds_share_a_value_and_gapped_ones_do_not() {
        let x = sensor();
        let any = vec![Interval::declared(None)];
        let overlap = common_value(&[
            comparison(&x, CompareOp::Lt, 30.0).region(),
            comparison(&x, CompareOp::Lt, 40.0).region(),
            any.clone(),
        ]);
        assert_eq!(
            overlap,
            Some(29.0),
            "x < 30 and x < 40 are both true below 30"
        );
        let touching = common_value(&[
            comparison(&x, CompareOp::Lt, 30.0).region(),
            comparison(&x, CompareOp::Ge, 30.0).region(),
            any.clone(),
        ]);
        assert_eq!(touching, None, "x < 30 and x >= 30 never hold together");
        let inclusive = common_value(&[
            comparison(&x, CompareOp::Le, 30.0).region(),
            comparison(&x, CompareOp::Ge, 30.0).region(),
            any,
        ]);
        assert_eq!(inclusive, Some(30.0), "x <= 30 and x >= 30 both hold at 30");
    }

    #[test]
    fn declared_range_limits_what_is_reachable() {
        let x = sensor();
        let percent = Interval::declared(Some(&SensorSettings {
            min: Some(0.0),
            max: Some(100.0),
            unit: None,
        }));
        let above_range = comparison(&x, CompareOp::Gt, 120.0).region();
        assert!(
            above_range
                .iter()
                .all(|part| part.intersect(&percent).is_none())
        );
        let not_equal = comparison(&x, CompareOp::Ne, 50.0).region();
        assert_eq!(
            common_value(&[not_equal, vec![percent]]),
            Some(49.0),
            "x != 50 holds at 49 within 0..100"
        );
    }
}
