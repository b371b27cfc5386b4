//! Sentences that say why a condition is true or false, e.g. `soil_moisture 28.1 < 30`.

use crate::condition::{Condition, ConditionExpr, ConditionInput, ConditionInputs};

use super::reason::{number, reading};

/// Why `condition` has the truth value `truth` with these inputs.
///
/// A comparison names its reading (`soil_moisture 28.1 < 30`, or with the negated operator when
/// false: `soil_moisture 35.0 >= 30`); an output reference says `bed-1.valve is ON`. A true
/// `and` and a false `or` list every term; a false `and` and a true `or` name the first term
/// that decided.
pub(crate) fn explain(condition: &Condition, inputs: &dyn ConditionInputs, truth: bool) -> String {
    match condition {
        Condition::Compare { sensor, op, value } => {
            let shown_op = if truth { *op } else { op.negated() };
            let current = inputs
                .sensor_value(sensor)
                .map_or_else(|| "?".to_owned(), reading);
            format!(
                "{} {current} {} {}",
                sensor.written,
                shown_op.symbol(),
                number(*value)
            )
        }
        Condition::Output(output) => {
            let power = if truth { "ON" } else { "OFF" };
            format!("{}.{} is {power}", output.node, output.output)
        }
        Condition::Not(inner) => explain(inner, inputs, !truth),
        Condition::And(terms) => explain_terms(terms, inputs, truth, true),
        Condition::Or(terms) => explain_terms(terms, inputs, truth, false),
    }
}

/// For `and` (`all_needed`) or `or`: when every term had to have `truth`, list them all;
/// otherwise name the first term with `truth`.
fn explain_terms(
    terms: &[Condition],
    inputs: &dyn ConditionInputs,
    truth: bool,
    all_needed: bool,
) -> String {
    let matching = terms
        .iter()
        .filter(|term| term.evaluate(inputs) == Some(truth));
    if truth == all_needed {
        matching
            .map(|term| explain(term, inputs, truth))
            .collect::<Vec<_>>()
            .join(" and ")
    } else {
        matching
            .map(|term| explain(term, inputs, truth))
            .next()
            .unwrap_or_else(|| "?".to_owned())
    }
}

/// `tank.level 12.0, bed-1.valve OFF`: the current value of every input `condition` reads,
/// each named once.
pub(crate) fn input_values(condition: &ConditionExpr, inputs: &dyn ConditionInputs) -> String {
    let mut shown: Vec<String> = Vec::new();
    condition.root.visit_inputs(&mut |input| {
        let text = match input {
            ConditionInput::Sensor(sensor) => {
                let current = inputs
                    .sensor_value(sensor)
                    .map_or_else(|| "?".to_owned(), reading);
                format!("{} {current}", sensor.written)
            }
            ConditionInput::Output(output) => {
                let power = match inputs.output_power(output) {
                    Some(true) => "ON",
                    Some(false) => "OFF",
                    None => "?",
                };
                format!("{}.{} {power}", output.node, output.output)
            }
        };
        if !shown.contains(&text) {
            shown.push(text);
        }
    });
    shown.join(", ")
}
