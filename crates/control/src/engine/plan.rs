//! The compiled plan: outputs in evaluation (topological) order, their inputs resolved, and
//! which outputs a node's report can affect.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::condition::{ConditionInput, OutputRef, SensorRef};
use crate::settings::{OutputSettings, Settings};

use super::{OutputId, OutputKey};

/// Everything the engine needs about one output, precomputed.
#[derive(Debug, Clone)]
pub(super) struct PlannedOutput {
    /// The output's name.
    pub key: OutputKey,
    /// Its node's `stale_after` (rule 6).
    pub node_stale_after: Duration,
    /// Its rules.
    pub settings: OutputSettings,
    /// Every sensor its conditions read, each once, in the order first written.
    pub sensors: Vec<PlannedSensor>,
    /// Every output its conditions read, each once, with its id (`None` if it does not exist).
    pub outputs: Vec<(OutputRef, Option<OutputId>)>,
}

/// A sensor input with the freshness and range rules of the node that reports it.
#[derive(Debug, Clone)]
pub(super) struct PlannedSensor {
    /// The sensor as referenced.
    pub reference: SensorRef,
    /// The reporting node's `stale_after`.
    pub stale_after: Duration,
    /// Lowest valid value, inclusive.
    pub min: Option<f64>,
    /// Highest valid value, inclusive.
    pub max: Option<f64>,
}

/// Per node: its outputs by name, its own outputs, and the outputs its reports affect.
#[derive(Debug, Clone, Default)]
pub(super) struct NodePlan {
    pub by_name: BTreeMap<String, OutputId>,
    pub own: Vec<OutputId>,
    pub affected: Vec<OutputId>,
}

/// The compiled plan of one [`Settings`].
#[derive(Debug, Clone)]
pub(super) struct Plan {
    /// Indexed by [`OutputId`]; ids are in evaluation order.
    pub outputs: Vec<PlannedOutput>,
    /// The same keys, for [`super::Engine::outputs`].
    pub keys: Vec<OutputKey>,
    /// Keyed by node id.
    pub nodes: BTreeMap<String, NodePlan>,
}

impl Plan {
    pub(super) fn compile(settings: &Settings) -> Plan {
        let order = evaluation_order(settings);
        let ids: BTreeMap<OutputKey, OutputId> = order
            .iter()
            .enumerate()
            .map(|(index, key)| (key.clone(), OutputId(index)))
            .collect();
        let outputs: Vec<PlannedOutput> = order
            .iter()
            .filter_map(|key| plan_output(settings, key, &ids))
            .collect();
        let keys = outputs.iter().map(|output| output.key.clone()).collect();
        let mut nodes: BTreeMap<String, NodePlan> = settings
            .nodes
            .keys()
            .map(|node| (node.clone(), NodePlan::default()))
            .collect();
        for (index, output) in outputs.iter().enumerate() {
            let node = nodes.entry(output.key.node.clone()).or_default();
            node.by_name
                .insert(output.key.output.clone(), OutputId(index));
            node.own.push(OutputId(index));
        }
        for (node_id, node) in &mut nodes {
            node.affected = affected_by(&outputs, node_id);
        }
        Plan {
            outputs,
            keys,
            nodes,
        }
    }
}

/// The inputs `output` reads, each once, in the order first written.
fn inputs_of(output: &OutputSettings) -> (Vec<SensorRef>, Vec<OutputRef>) {
    let mut sensors: Vec<SensorRef> = Vec::new();
    let mut outputs: Vec<OutputRef> = Vec::new();
    let conditions = output
        .on_when
        .iter()
        .chain(output.off_when.iter())
        .chain(output.require.iter());
    for condition in conditions {
        condition.root.visit_inputs(&mut |input| match input {
            ConditionInput::Sensor(sensor) => {
                let known = sensors
                    .iter()
                    .any(|seen| seen.node == sensor.node && seen.sensor == sensor.sensor);
                if !known {
                    sensors.push(sensor.clone());
                }
            }
            ConditionInput::Output(reference) => {
                if !outputs.contains(reference) {
                    outputs.push(reference.clone());
                }
            }
        });
    }
    (sensors, outputs)
}

fn plan_output(
    settings: &Settings,
    key: &OutputKey,
    ids: &BTreeMap<OutputKey, OutputId>,
) -> Option<PlannedOutput> {
    let node = settings.nodes.get(&key.node)?;
    let output = node.outputs.get(&key.output)?;
    let (sensors, outputs) = inputs_of(output);
    let sensors = sensors
        .into_iter()
        .map(|reference| {
            let reporter = settings.nodes.get(&reference.node);
            let stale_after = reporter.map_or(settings.defaults.stale_after, |n| n.stale_after);
            let range = reporter.and_then(|n| n.sensors.get(&reference.sensor));
            PlannedSensor {
                stale_after,
                min: range.and_then(|r| r.min),
                max: range.and_then(|r| r.max),
                reference,
            }
        })
        .collect();
    let outputs = outputs
        .into_iter()
        .map(|reference| {
            let id = ids
                .get(&OutputKey::new(&reference.node, &reference.output))
                .copied();
            (reference, id)
        })
        .collect();
    Some(PlannedOutput {
        key: key.clone(),
        node_stale_after: node.stale_after,
        settings: output.clone(),
        sensors,
        outputs,
    })
}

/// Every output, referenced outputs before the outputs that read them; ties (and, should
/// unvalidated settings contain one, a cycle) are broken by name so the order is deterministic.
fn evaluation_order(settings: &Settings) -> Vec<OutputKey> {
    let mut dependencies: BTreeMap<OutputKey, BTreeSet<OutputKey>> = BTreeMap::new();
    for (node_id, node) in &settings.nodes {
        for (name, output) in &node.outputs {
            let (_, references) = inputs_of(output);
            let known = references
                .iter()
                .map(|r| OutputKey::new(&r.node, &r.output))
                .filter(|key| {
                    settings
                        .nodes
                        .get(&key.node)
                        .is_some_and(|n| n.outputs.contains_key(&key.output))
                })
                .collect();
            dependencies.insert(OutputKey::new(node_id, name), known);
        }
    }
    let mut order = Vec::with_capacity(dependencies.len());
    let mut placed: BTreeSet<OutputKey> = BTreeSet::new();
    while placed.len() < dependencies.len() {
        let ready: Vec<OutputKey> = dependencies
            .iter()
            .filter(|(key, deps)| !placed.contains(*key) && deps.iter().all(|d| placed.contains(d)))
            .map(|(key, _)| key.clone())
            .collect();
        let batch = if ready.is_empty() {
            // Only a reference cycle gets here (validation rejects them): place the first
            // remaining output by name so the plan still covers every output.
            dependencies
                .keys()
                .find(|key| !placed.contains(*key))
                .cloned()
                .into_iter()
                .collect()
        } else {
            ready
        };
        for key in batch {
            placed.insert(key.clone());
            order.push(key);
        }
    }
    order
}

/// Outputs whose decision can change when `node` reports: its own outputs, outputs reading
/// its sensors, and outputs reading any of those, in evaluation order.
fn affected_by(outputs: &[PlannedOutput], node: &str) -> Vec<OutputId> {
    let mut affected: BTreeSet<OutputId> = outputs
        .iter()
        .enumerate()
        .filter(|(_, output)| {
            output.key.node == node || output.sensors.iter().any(|s| s.reference.node == node)
        })
        .map(|(index, _)| OutputId(index))
        .collect();
    loop {
        let before = affected.len();
        for (index, output) in outputs.iter().enumerate() {
            let reads_affected = output
                .outputs
                .iter()
                .any(|(_, id)| id.is_some_and(|id| affected.contains(&id)));
            if reads_affected {
                affected.insert(OutputId(index));
            }
        }
        if affected.len() == before {
            return affected.into_iter().collect();
        }
    }
}
