//! PlantKeeper's node protocol: the report and answer bodies (with the `alloc` feature) and the
//! node's lease rule as a small state machine that needs neither `std` nor an allocator.
#![cfg_attr(not(feature = "std"), no_std)]
