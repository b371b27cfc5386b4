//! `GET /metrics` (no auth, CONTRACT §4): the Prometheus text exposition, with the garden
//! gauges computed from the live view at scrape time.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use crate::master::Master;
use crate::metrics::{self, NodeCounts};
use crate::read_api::NodeStatus;

/// Answers the scrape.
pub async fn get_metrics(State(master): State<Arc<Master>>) -> impl IntoResponse {
    let (nodes, outputs_on) = garden_gauges(&master);
    let text = master.metrics().encode(nodes, outputs_on);
    ([(CONTENT_TYPE, metrics::CONTENT_TYPE)], text)
}

/// Nodes by status and outputs ON, from the live view now.
fn garden_gauges(master: &Master) -> (NodeCounts, i64) {
    let now = master.now();
    let settings = master.settings();
    let live = master.live();
    let mut counts = NodeCounts::default();
    for node in settings.nodes.values() {
        let last_report = live
            .readings
            .nodes
            .get(&node.id)
            .and_then(|node_live| node_live.last_report);
        match NodeStatus::of(last_report, node.stale_after, now) {
            NodeStatus::Online => counts.online += 1,
            NodeStatus::Stale => counts.stale += 1,
            NodeStatus::NeverSeen => counts.never_seen += 1,
        }
    }
    let on = live
        .control
        .outputs()
        .iter()
        .filter(|output| output.power)
        .count();
    (counts, i64::try_from(on).unwrap_or(i64::MAX))
}
