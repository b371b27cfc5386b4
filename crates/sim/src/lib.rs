//! The simulated garden, simulated nodes over real HTTP, and the load generator.
