//! Evaluating a resolved condition against input values.

use super::{CompareOp, Condition, OutputRef, SensorRef};

/// Where a condition's inputs come from when it is evaluated.
pub trait ConditionInputs {
    /// The value of `sensor`, or `None` when it is not available.
    fn sensor_value(&self, sensor: &SensorRef) -> Option<f64>;
    /// Whether `output` is ON, or `None` when it is not known.
    fn output_power(&self, output: &OutputRef) -> Option<bool>;
}

/// One input a condition reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionInput<'a> {
    /// A sensor reading.
    Sensor(&'a SensorRef),
    /// The power of an output.
    Output(&'a OutputRef),
}

impl Condition {
    /// The truth of this condition, or `None` when any input it reads is not available.
    pub fn evaluate(&self, inputs: &dyn ConditionInputs) -> Option<bool> {
        match self {
            Condition::Compare { sensor, op, value } => {
                Some(op.holds(inputs.sensor_value(sensor)?, *value))
            }
            Condition::Output(output) => inputs.output_power(output),
            Condition::Not(inner) => inner.evaluate(inputs).map(|truth| !truth),
            Condition::And(terms) => terms
                .iter()
                .try_fold(true, |all, term| Some(term.evaluate(inputs)? && all)),
            Condition::Or(terms) => terms
                .iter()
                .try_fold(false, |any, term| Some(term.evaluate(inputs)? || any)),
        }
    }

    /// Calls `visit` for every input this condition reads, in the order written (repeats
    /// included).
    pub fn visit_inputs<'a>(&'a self, visit: &mut dyn FnMut(ConditionInput<'a>)) {
        match self {
            Condition::Compare { sensor, .. } => visit(ConditionInput::Sensor(sensor)),
            Condition::Output(output) => visit(ConditionInput::Output(output)),
            Condition::Not(inner) => inner.visit_inputs(visit),
            Condition::And(terms) | Condition::Or(terms) => {
                for term in terms {
                    term.visit_inputs(visit);
                }
            }
        }
    }
}

impl CompareOp {
    /// Whether `left OP right` holds.
    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            CompareOp::Lt => left < right,
            CompareOp::Le => left <= right,
            CompareOp::Gt => left > right,
            CompareOp::Ge => left >= right,
            CompareOp::Eq => left == right,
            CompareOp::Ne => left != right,
        }
    }

    /// The operator that holds exactly when this one does not (for finite numbers):
    /// `<` ↔ `>=`, `<=` ↔ `>`, `==` ↔ `!=`.
    pub fn negated(self) -> CompareOp {
        match self {
            CompareOp::Lt => CompareOp::Ge,
            CompareOp::Le => CompareOp::Gt,
            CompareOp::Gt => CompareOp::Le,
            CompareOp::Ge => CompareOp::Lt,
            CompareOp::Eq => CompareOp::Ne,
            CompareOp::Ne => CompareOp::Eq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed {
        moisture: Option<f64>,
        valve: Option<bool>,
    }

    impl ConditionInputs for Fixed {
        fn sensor_value(&self, _: &SensorRef) -> Option<f64> {
            self.moisture
        }
        fn output_power(&self, _: &OutputRef) -> Option<bool> {
            self.valve
        }
    }

    fn moisture_below(threshold: f64) -> Condition {
        Condition::Compare {
            sensor: SensorRef {
                node: "bed-1".to_owned(),
                sensor: "soil_moisture".to_owned(),
                written: "soil_moisture".to_owned(),
            },
            op: CompareOp::Lt,
            value: threshold,
        }
    }

    fn valve() -> Condition {
        Condition::Output(OutputRef {
            node: "bed-1".to_owned(),
            output: "valve".to_owned(),
        })
    }

    #[test]
    fn combines_terms_with_and_or_not() {
        let dry_and_valve = Condition::And(vec![moisture_below(30.0), valve()]);
        let wet_or_valve = Condition::Or(vec![
            Condition::Not(Box::new(moisture_below(30.0))),
            valve(),
        ]);
        let inputs = Fixed {
            moisture: Some(20.0),
            valve: Some(false),
        };
        assert_eq!(dry_and_valve.evaluate(&inputs), Some(false));
        assert_eq!(wet_or_valve.evaluate(&inputs), Some(false));
        let inputs = Fixed {
            moisture: Some(40.0),
            valve: Some(false),
        };
        assert_eq!(wet_or_valve.evaluate(&inputs), Some(true));
    }

    #[test]
    fn a_missing_input_makes_the_whole_condition_unknown() {
        let either = Condition::Or(vec![valve(), moisture_below(30.0)]);
        let inputs = Fixed {
            moisture: None,
            valve: Some(true),
        };
        assert_eq!(
            either.evaluate(&inputs),
            None,
            "an unknown input must never be guessed"
        );
    }

    #[test]
    fn negated_operator_is_the_complement() {
        let ops = [
            CompareOp::Lt,
            CompareOp::Le,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Eq,
            CompareOp::Ne,
        ];
        for op in ops {
            for (left, right) in [(1.0, 2.0), (2.0, 2.0), (3.0, 2.0)] {
                assert_ne!(
                    op.holds(left, right),
                    op.negated().holds(left, right),
                    "{op:?} on {left} {right}"
                );
            }
        }
    }
}
