//! The `plantkeeper` command line.
fn main() {}
