//! The chip-independent part of the PlantKeeper ESP32-C3 firmware (`firmware/esp32c3`).
//!
//! Everything here is `no_std` without an allocator, reads no clock and touches no hardware,
//! so the host runs it under unit and property tests while the firmware binary stays thin
//! glue (Wi-Fi, sockets, GPIO, ADC, watchdog) over it.
//!
//! - [`config`]: the build-time configuration (`PK_*` environment variables), validated with
//!   errors naming the variable; the firmware's `build.rs` calls it.
//! - [`json`]: a bounded writer into a fixed buffer and a small reader for the answer.
//! - [`report`]: the report body of CONTRACT §4 encoded into a fixed buffer.
//! - [`answer`]: the master's answer parsed without an allocator and applied to the
//!   [`LeaseKeeper`](plantkeeper_protocol::LeaseKeeper).
//! - [`calibration`]: two-point calibration of a capacitive soil sensor.
//! - [`backoff`]: exponential back-off with "equal jitter".
//! - [`backlog`]: the bounded ring of readings kept while the master is unreachable.
//! - [`node`]: one node's report cycle (seq, boot, lease keeper, backlog, back-off) tying
//!   the above together.
#![no_std]

pub mod answer;
pub mod backlog;
pub mod backoff;
pub mod calibration;
pub mod config;
pub mod json;
pub mod node;
pub mod report;
