//! `tern-wal`: inspect a Tern WAL data directory.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tern_tools::run(tern_tools::Cli::parse(), &mut std::io::stdout().lock())
}
