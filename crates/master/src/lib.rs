//! The PlantKeeper master: HTTP API, live control state and the ticker.

pub mod clock;
