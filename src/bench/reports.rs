//! What the simulated nodes send: each node's route and bearer token, and report bodies with
//! an increasing `seq` per node and a fixed `boot`, so no report is a retry and every one must
//! be stored.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use hyper::body::Bytes;
use hyper::header::HeaderValue;

use super::settings_file::{node_id, node_token};

/// Sensor names of the readings, in order; reports with more readings add `extra_N`. The first
/// drives each node's valve.
const SENSOR_NAMES: [&str; 4] = ["soil_moisture", "temperature", "humidity", "light"];
/// The `boot` of every simulated node in this run.
const BOOT: u32 = 0x00be_7c40;

/// One simulated node's identity on the wire.
pub struct NodeWire {
    /// `/api/v1/nodes/{id}/report`.
    pub path: String,
    /// `Bearer <token>`.
    pub authorization: HeaderValue,
    next_seq: AtomicU32,
}

/// One report ready to send.
pub struct Report<'a> {
    /// The node's route.
    pub path: &'a str,
    /// The node's authorization header.
    pub authorization: &'a HeaderValue,
    /// The JSON body.
    pub body: Bytes,
}

/// The reports of every simulated node.
pub struct Reports {
    nodes: Vec<NodeWire>,
    readings: u32,
    next_node: AtomicUsize,
}

impl Reports {
    /// Nodes `0..nodes` (as written by [`super::settings_file`]), `readings` readings each.
    pub fn new(nodes: u32, readings: u32) -> Reports {
        let nodes = (0..nodes)
            .map(|index| NodeWire {
                path: format!("/api/v1/nodes/{}/report", node_id(index)),
                authorization: HeaderValue::from_str(&format!("Bearer {}", node_token(index)))
                    .expect("node tokens are printable ASCII, so a valid header value"),
                next_seq: AtomicU32::new(1),
            })
            .collect();
        Reports {
            nodes,
            readings,
            next_node: AtomicUsize::new(0),
        }
    }

    /// How many nodes there are.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The next report of the next node in turn (maximum-throughput phase).
    pub fn next_in_rotation(&self) -> Report<'_> {
        let index = self.next_node.fetch_add(1, Ordering::Relaxed) % self.nodes.len();
        self.next_of(index)
    }

    /// The next report of node `index` (paced phase).
    ///
    /// # Panics
    /// If `index` is not below [`node_count`](Self::node_count).
    pub fn next_of(&self, index: usize) -> Report<'_> {
        let node = &self.nodes[index];
        let seq = node.next_seq.fetch_add(1, Ordering::Relaxed);
        Report {
            path: &node.path,
            authorization: &node.authorization,
            body: self.body(index, seq),
        }
    }

    /// A body whose soil moisture sits still per node (10 … 69 %, plus < 1 % of wobble), so
    /// about a third of the valves are ON and none flaps between the 30/45 thresholds.
    fn body(&self, index: usize, seq: u32) -> Bytes {
        let soil_moisture = 10.0 + (index % 60) as f64 + f64::from(seq % 10) * 0.05;
        let mut body = format!(r#"{{"seq":{seq},"boot":{BOOT},"readings":{{"#);
        for reading in 0..self.readings {
            let separator = if reading == 0 { "" } else { "," };
            let value = if reading == 0 {
                soil_moisture
            } else {
                20.0 + f64::from(reading) + f64::from(seq % 7) * 0.1
            };
            let _ = match SENSOR_NAMES.get(reading as usize) {
                Some(name) => write!(body, r#"{separator}"{name}":{value}"#),
                None => write!(body, r#"{separator}"extra_{reading}":{value}"#),
            };
        }
        body.push_str(r#"},"outputs":{"valve":false}}"#);
        Bytes::from(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_node_counts_its_own_seq_and_sends_every_reading() {
        let reports = Reports::new(2, 6);
        let first = reports.next_of(1);
        let second = reports.next_of(1);
        let other = reports.next_of(0);
        let parse = |body: &Bytes| -> serde_json::Value {
            serde_json::from_slice(body).expect("the body is JSON")
        };
        assert_eq!(parse(&first.body)["seq"], 1, "a node's first seq is 1");
        assert_eq!(parse(&second.body)["seq"], 2, "seq increases per node");
        assert_eq!(parse(&other.body)["seq"], 1, "another node counts alone");
        let readings = parse(&first.body)["readings"]
            .as_object()
            .map(|readings| readings.len());
        assert_eq!(readings, Some(6), "six readings asked, six sent");
        assert_eq!(first.path, "/api/v1/nodes/node-00001/report");
    }

    #[test]
    fn rotation_visits_every_node_in_turn() {
        let reports = Reports::new(3, 4);
        let paths: Vec<String> = (0..4)
            .map(|_| reports.next_in_rotation().path.to_owned())
            .collect();
        assert_eq!(
            paths,
            [
                "/api/v1/nodes/node-00000/report",
                "/api/v1/nodes/node-00001/report",
                "/api/v1/nodes/node-00002/report",
                "/api/v1/nodes/node-00000/report",
            ]
        );
    }
}
