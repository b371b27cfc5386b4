//! The running demo garden: six simulated nodes talking to a master over HTTP, and the
//! physics stepped by clock time with the relays the nodes actually have.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use plantkeeper_master::clock::SharedClock;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::demo_config::DemoTokens;
use crate::garden::{
    BED_1, BED_2, ENCLOSURE, Garden, GardenState, HEATER, LAMP, RelayStates, TANK,
};
use crate::node::{
    NodeContext, NodeSpec, NodeStats, OutputSpec, RelayView, RunningNode, spawn_node,
};
use crate::shutdown::Shutdown;

/// How often the physics is stepped, in clock time.
pub const PHYSICS_STEP: Duration = Duration::from_secs(1);
/// The seed of the demo garden's sensor noise.
pub const DEMO_SEED: u64 = 2020;

const MINUTE: Duration = Duration::from_secs(60);

/// Why the garden could not start.
#[derive(Debug, thiserror::Error)]
pub enum GardenError {
    /// A demo node has no token in the [`DemoTokens`] given.
    #[error("no token for demo node {0}")]
    MissingToken(&'static str),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// What the garden looks like right now, for the demo's summary and for tests.
#[derive(Debug, Clone, PartialEq)]
pub struct GardenSnapshot {
    /// The true physical state.
    pub state: GardenState,
    /// The relays as the nodes physically have them now.
    pub relays: RelayStates,
    /// Report counters per node id.
    pub nodes: BTreeMap<String, NodeStats>,
}

/// Every node's relays, by node id.
type RelayViews = Vec<(String, Arc<dyn RelayView>)>;

/// A running garden. Dropping it stops every task too (their stop signal's sender is gone),
/// but [`stop`](Self::stop) also waits for them to finish.
pub struct GardenHandle {
    garden: Arc<Mutex<Garden>>,
    nodes: Vec<RunningNode>,
    views: RelayViews,
    physics: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl GardenHandle {
    /// The garden's state, relays and report counters now.
    pub fn snapshot(&self) -> GardenSnapshot {
        let relays = relay_states(&self.views);
        let state = self
            .garden
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .state()
            .clone();
        let nodes = self
            .nodes
            .iter()
            .map(|node| (node.id.clone(), node.stats()))
            .collect();
        GardenSnapshot {
            state,
            relays,
            nodes,
        }
    }

    /// Stops every node and the physics, and waits for them.
    pub async fn stop(self) {
        // Sending fails only when no task listens any more, which is what we want anyway.
        let _ = self.stop.send(true);
        for node in self.nodes {
            node.join().await;
        }
        if let Err(error) = self.physics.await {
            tracing::error!(%error, "garden physics task failed");
        }
    }
}

/// Starts the demo garden against the master at `base_url` (e.g. `http://127.0.0.1:8001`):
/// the six nodes of [`crate::garden::NODE_IDS`] with their `tokens`, and the physics stepped
/// every [`PHYSICS_STEP`] of `clock` time. It runs until `shutdown` becomes `true` or
/// [`GardenHandle::stop`] is called; dropping `shutdown`'s sender does not stop it.
pub async fn run_garden(
    base_url: &str,
    tokens: DemoTokens,
    clock: SharedClock,
    shutdown: watch::Receiver<bool>,
) -> Result<GardenHandle, GardenError> {
    let token = |id: &'static str| {
        tokens
            .node(id)
            .map(str::to_owned)
            .ok_or(GardenError::MissingToken(id))
    };
    let valve = OutputSpec {
        name: "valve",
        local_max_on: Some(10 * MINUTE),
    };
    let (stop, stop_rx) = watch::channel(false);
    let shutdown = Shutdown::new(shutdown, stop_rx);
    let garden = Arc::new(Mutex::new(Garden::new(DEMO_SEED)));
    let context = NodeContext {
        client: reqwest::Client::builder().build()?,
        base_url: base_url.to_owned(),
        clock: clock.clone(),
        garden: Arc::clone(&garden),
        shutdown: shutdown.clone(),
    };
    let spec = |id: &'static str| -> Result<NodeSpec<1>, GardenError> {
        Ok(NodeSpec {
            id: id.to_owned(),
            token: token(id)?,
            outputs: [valve],
        })
    };
    let nodes = vec![
        spawn_node(
            NodeSpec {
                id: ENCLOSURE.to_owned(),
                token: token(ENCLOSURE)?,
                outputs: [],
            },
            context.clone(),
        ),
        spawn_node(spec(BED_1)?, context.clone()),
        spawn_node(spec(BED_2)?, context.clone()),
        spawn_node(
            NodeSpec {
                outputs: [OutputSpec {
                    name: "pump",
                    local_max_on: Some(30 * MINUTE),
                }],
                ..spec(TANK)?
            },
            context.clone(),
        ),
        spawn_node(
            NodeSpec {
                outputs: [OutputSpec {
                    name: "heater",
                    local_max_on: Some(120 * MINUTE),
                }],
                ..spec(HEATER)?
            },
            context.clone(),
        ),
        spawn_node(
            NodeSpec {
                outputs: [OutputSpec {
                    name: "light",
                    local_max_on: None,
                }],
                ..spec(LAMP)?
            },
            context,
        ),
    ];
    let views: RelayViews = nodes
        .iter()
        .map(|node| (node.id.clone(), Arc::clone(&node.relays)))
        .collect();
    let physics = tokio::spawn(run_physics(
        Arc::clone(&garden),
        views.clone(),
        clock,
        shutdown,
    ));
    Ok(GardenHandle {
        garden,
        nodes,
        views,
        physics,
        stop,
    })
}

/// Steps the garden every [`PHYSICS_STEP`] of clock time by the clock time actually elapsed.
async fn run_physics(
    garden: Arc<Mutex<Garden>>,
    views: RelayViews,
    clock: SharedClock,
    mut shutdown: Shutdown,
) {
    let mut last = clock.now();
    loop {
        tokio::select! {
            () = tokio::time::sleep(clock.real_duration(PHYSICS_STEP)) => {}
            () = shutdown.fired() => break,
        }
        let now = clock.now();
        let dt = Duration::try_from(now.duration_since(last)).unwrap_or(Duration::ZERO);
        last = now;
        let relays = relay_states(&views);
        garden
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .step(dt, &relays);
    }
}

/// The relays the physics responds to, read from the nodes that have them.
fn relay_states(views: &[(String, Arc<dyn RelayView>)]) -> RelayStates {
    let on = |id: &str, output: &str| {
        views
            .iter()
            .any(|(node, relays)| node == id && relays.relay_on(output))
    };
    RelayStates {
        bed_1_valve: on(BED_1, "valve"),
        bed_2_valve: on(BED_2, "valve"),
        pump: on(TANK, "pump"),
        heater: on(HEATER, "heater"),
        lamp: on(LAMP, "light"),
    }
}
