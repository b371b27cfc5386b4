//! Binding the names of a parsed condition to nodes, sensors and outputs.
//!
//! Rules (CONTRACT §2): a bare `name` is a sensor of the output's own node; `a.b` is an output
//! reference when node `a` has an output `b`, otherwise sensor `b` of node `a`, and node `a` must
//! exist. Sensor names are open (a node may report any sensor), so an undeclared sensor is not an
//! error; outputs and nodes must be configured.

use std::collections::{BTreeMap, BTreeSet};

use crate::condition::parse::{ConditionError, RawCondition, RawOperand};
use crate::condition::{Condition, OutputRef, SensorRef};
use crate::load::suggest::closest;

/// Every configured node id with the names of its outputs.
pub type OutputIndex = BTreeMap<String, BTreeSet<String>>;

/// Resolves `raw`, written in an output of `own_node`, against the configured nodes.
///
/// Every name error is returned, each with the offset of its operand.
pub fn resolve_condition(
    raw: &RawCondition,
    own_node: &str,
    outputs: &OutputIndex,
) -> Result<Condition, Vec<ConditionError>> {
    let mut errors = Vec::new();
    let resolved = Resolver {
        own_node,
        outputs,
        errors: &mut errors,
    }
    .resolve(raw);
    match resolved {
        Some(condition) if errors.is_empty() => Ok(condition),
        _ => Err(errors),
    }
}

struct Resolver<'a> {
    own_node: &'a str,
    outputs: &'a OutputIndex,
    errors: &'a mut Vec<ConditionError>,
}

impl Resolver<'_> {
    fn resolve(&mut self, raw: &RawCondition) -> Option<Condition> {
        match raw {
            RawCondition::Compare { operand, op, value } => {
                let sensor = self.sensor(operand)?;
                Some(Condition::Compare {
                    sensor,
                    op: *op,
                    value: *value,
                })
            }
            RawCondition::Bare(operand) => self.output(operand).map(Condition::Output),
            RawCondition::Not(inner) => self.resolve(inner).map(|c| Condition::Not(Box::new(c))),
            RawCondition::And(terms) => self.all(terms).map(Condition::And),
            RawCondition::Or(terms) => self.all(terms).map(Condition::Or),
        }
    }

    /// Resolves every term, so that every error is reported, not only the first.
    fn all(&mut self, terms: &[RawCondition]) -> Option<Vec<Condition>> {
        let resolved: Vec<Option<Condition>> = terms.iter().map(|t| self.resolve(t)).collect();
        resolved.into_iter().collect()
    }

    fn fail(&mut self, operand: &RawOperand, message: String) {
        self.errors.push(ConditionError {
            offset: operand.offset,
            message,
        });
    }

    /// The outputs of node `node`, or an "unknown node" error.
    fn node_outputs(&mut self, operand: &RawOperand, node: &str) -> Option<&BTreeSet<String>> {
        let outputs = self.outputs;
        if let Some(names) = outputs.get(node) {
            return Some(names);
        }
        let hint = closest(node, outputs.keys().map(String::as_str))
            .map(|near| format!("; did you mean `{near}`?"))
            .unwrap_or_default();
        self.fail(operand, format!("unknown node `{node}`{hint}"));
        None
    }

    fn sensor(&mut self, operand: &RawOperand) -> Option<SensorRef> {
        let node = match &operand.node {
            None => self.own_node.to_owned(),
            Some(node) => {
                if self.node_outputs(operand, node)?.contains(&operand.name) {
                    let written = &operand.written;
                    self.fail(
                        operand,
                        format!(
                            "`{written}` is an output (true while ON) and cannot be compared with a number; write `{written}` or `not {written}`"
                        ),
                    );
                    return None;
                }
                node.clone()
            }
        };
        Some(SensorRef {
            node,
            sensor: operand.name.clone(),
            written: operand.written.clone(),
        })
    }

    fn output(&mut self, operand: &RawOperand) -> Option<OutputRef> {
        let name = &operand.name;
        let Some(node) = &operand.node else {
            let own_outputs = self.outputs.get(self.own_node);
            let message = if own_outputs.is_some_and(|names| names.contains(name)) {
                format!(
                    "to use output `{name}` of this node, write `{}.{name}`",
                    self.own_node
                )
            } else {
                format!("`{name}` needs a comparison such as `{name} < 30`")
            };
            self.fail(operand, message);
            return None;
        };
        let names = self.node_outputs(operand, node)?;
        if names.contains(name) {
            return Some(OutputRef {
                node: node.clone(),
                output: name.clone(),
            });
        }
        let known = if names.is_empty() {
            "it has no outputs".to_owned()
        } else {
            let list: Vec<&str> = names.iter().map(String::as_str).collect();
            format!("its outputs: {}", list.join(", "))
        };
        let message = format!(
            "node `{node}` has no output `{name}` ({known}); a sensor needs a comparison such as `{node}.{name} < 30`"
        );
        self.fail(operand, message);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::CompareOp;
    use crate::condition::parse::parse_condition;

    fn index() -> OutputIndex {
        let mut index = OutputIndex::new();
        index.insert("bed-1".into(), BTreeSet::from(["valve".to_owned()]));
        index.insert("tank".into(), BTreeSet::from(["pump".to_owned()]));
        index.insert("lamp".into(), BTreeSet::new());
        index
    }

    fn resolve(text: &str) -> Result<Condition, Vec<ConditionError>> {
        let raw = parse_condition(text).expect("test conditions are syntactically valid");
        resolve_condition(&raw, "bed-1", &index())
    }

    #[test]
    fn bare_name_is_a_sensor_of_the_own_node() {
        assert_eq!(
            resolve("soil_moisture < 30"),
            Ok(Condition::Compare {
                sensor: SensorRef {
                    node: "bed-1".into(),
                    sensor: "soil_moisture".into(),
                    written: "soil_moisture".into(),
                },
                op: CompareOp::Lt,
                value: 30.0,
            })
        );
    }

    #[test]
    fn dotted_name_is_an_output_when_the_node_has_it_else_a_sensor() {
        assert_eq!(
            resolve("tank.pump"),
            Ok(Condition::Output(OutputRef {
                node: "tank".into(),
                output: "pump".into()
            }))
        );
        assert_eq!(
            resolve("tank.level >= 20"),
            Ok(Condition::Compare {
                sensor: SensorRef {
                    node: "tank".into(),
                    sensor: "level".into(),
                    written: "tank.level".into(),
                },
                op: CompareOp::Ge,
                value: 20.0,
            })
        );
    }

    #[test]
    fn reports_every_name_error_with_its_offset() {
        let errors = resolve("tnk.level > 1 or bed-1.valve < 3 or moisture or tank.pmp")
            .expect_err("four name errors");
        let found: Vec<(usize, &str)> = errors
            .iter()
            .map(|e| (e.offset, e.message.as_str()))
            .collect();
        assert_eq!(found.len(), 4, "all errors reported: {found:?}");
        assert_eq!(found[0].0, 0);
        assert!(
            found[0]
                .1
                .contains("unknown node `tnk`; did you mean `tank`?"),
            "{found:?}"
        );
        assert_eq!(found[1].0, 17);
        assert!(found[1].1.contains("is an output"), "{found:?}");
        assert_eq!(found[2].0, 36);
        assert!(
            found[2]
                .1
                .contains("`moisture` needs a comparison such as `moisture < 30`"),
            "{found:?}"
        );
        assert_eq!(found[3].0, 48);
        assert!(
            found[3]
                .1
                .contains("node `tank` has no output `pmp` (its outputs: pump)"),
            "{found:?}"
        );
    }

    #[test]
    fn bare_own_output_name_suggests_the_dotted_form() {
        let errors = resolve("valve").expect_err("bare output");
        assert!(
            errors[0].message.contains("write `bed-1.valve`"),
            "{errors:?}"
        );
    }
}
