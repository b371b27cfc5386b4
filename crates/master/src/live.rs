//! The master's in-memory view of the garden: newest readings per node and sensor, when each
//! node last reported, and the decision engine's state. Decisions come from memory, so they
//! never wait for the database.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use plantkeeper_control::engine::{ControlState, Engine, Inputs, Override, Sample};

/// How many distinct sensor names one node may have in the live view. A node that invents new
/// names endlessly is refused rather than allowed to grow the master's memory.
pub const MAX_SENSORS_PER_NODE: usize = 256;

/// What the master knows about one node right now.
#[derive(Debug, Default, Clone)]
pub struct NodeLive {
    /// When its newest accepted report arrived.
    pub last_report: Option<Timestamp>,
    /// Newest sample of every sensor it reported.
    pub readings: BTreeMap<String, Sample>,
    /// The relay states the node says it has (informative; the master decides).
    pub relays: BTreeMap<String, bool>,
    /// For nodes that send no `boot`: the seq of their previous report, to spot retries.
    pub last_bootless_seq: Option<u32>,
}

impl NodeLive {
    /// Keeps `sample` as the sensor's newest unless a newer one is already known.
    pub fn observe(&mut self, sensor: &str, sample: Sample) {
        match self.readings.get_mut(sensor) {
            Some(current) if current.at > sample.at => {}
            Some(current) => *current = sample,
            None => {
                self.readings.insert(sensor.to_owned(), sample);
            }
        }
    }

    /// Whether accepting readings for `names` would take the node past
    /// [`MAX_SENSORS_PER_NODE`] distinct sensors; returns the first new name that would.
    pub fn first_sensor_over_limit<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Option<&'a str> {
        let mut count = self.readings.len();
        for name in names {
            if !self.readings.contains_key(name) {
                count += 1;
                if count > MAX_SENSORS_PER_NODE {
                    return Some(name);
                }
            }
        }
        None
    }
}

/// Newest readings of every node, as the engine's [`Inputs`].
#[derive(Debug, Default)]
pub struct LiveReadings {
    /// Per node id.
    pub nodes: BTreeMap<String, NodeLive>,
}

impl Inputs for LiveReadings {
    fn sensor(&self, node: &str, sensor: &str) -> Option<Sample> {
        self.nodes.get(node)?.readings.get(sensor).copied()
    }

    fn last_report(&self, node: &str) -> Option<Timestamp> {
        self.nodes.get(node)?.last_report
    }
}

/// Everything the master decides from, guarded by one lock in [`crate::Master`].
#[derive(Debug)]
pub struct Live {
    /// Newest readings and report times.
    pub readings: LiveReadings,
    /// The engine in force; `control` is indexed by its outputs. Replaced together with
    /// `control`, under this lock, when the settings change.
    pub engine: Arc<Engine>,
    /// The engine's per-output state.
    pub control: ControlState,
    /// Who set each output's newest override, by (node, output), with that override.
    pub override_authors: BTreeMap<(String, String), (Override, String)>,
}

impl Live {
    /// Remembers that `author` set `active` on `node`.`output`.
    pub fn record_override_author(
        &mut self,
        node: &str,
        output: &str,
        active: Override,
        author: &str,
    ) {
        self.override_authors.insert(
            (node.to_owned(), output.to_owned()),
            (active, author.to_owned()),
        );
    }

    /// Who set `active`, the override now active on `node`.`output`, if known: only when the
    /// newest override set there is this very one (not one since ended, cut or replaced).
    pub fn override_author(&self, node: &str, output: &str, active: &Override) -> Option<&str> {
        self.override_authors
            .get(&(node.to_owned(), output.to_owned()))
            .filter(|(set, _)| set == active)
            .map(|(_, author)| author.as_str())
    }
}
