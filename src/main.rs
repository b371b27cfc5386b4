//! The `plantkeeper` command line: thin glue over the library crates.

use std::process::ExitCode;

use clap::Parser;
use plantkeeper::cli::{Cli, run};

fn main() -> ExitCode {
    run(Cli::parse())
}
