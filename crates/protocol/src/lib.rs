//! PlantKeeper's node protocol: the report and answer bodies (with the `alloc` feature) and the
//! node's lease rule as a small state machine that needs neither `std` nor an allocator.
//!
//! - [`lease`]: [`LeaseKeeper`], the node's rule of CONTRACT §4 (always available, `no_std`).
//! - [`limits`]: validation limits and the node id / sensor name rules (always available).
//! - `wire` (feature `alloc`): [`ReportBody`], [`AnswerBody`], [`ErrorBody`] and their parts.
//! - `validation` (feature `alloc`): [`ReportBody::validate`] and [`ReportError`].
#![cfg_attr(not(feature = "std"), no_std)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod lease;
pub mod limits;
#[cfg(feature = "alloc")]
pub mod validation;
#[cfg(feature = "alloc")]
pub mod wire;

pub use lease::{AnswerOutcome, LeaseKeeper, MAX_SPAN_MS};
pub use limits::{
    MAX_BACKLOG_ENTRIES, MAX_BODY_BYTES, MAX_NODE_ID_LEN, MAX_READINGS_PER_REPORT,
    MAX_SENSOR_NAME_LEN, is_valid_node_id, is_valid_sensor_name,
};
#[cfg(feature = "alloc")]
pub use validation::ReportError;
#[cfg(feature = "alloc")]
pub use wire::{AnswerBody, BacklogEntry, ErrorBody, ErrorDetail, OutputCommand, ReportBody};
