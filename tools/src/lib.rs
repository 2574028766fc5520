//! Operator tools for Tern.
//!
//! `tern-wal inspect DIR [--records]` prints a WAL data directory: each segment (file,
//! id, first/last LSN, bytes used, records, tombstones, checkpoint parts, live records),
//! spare and leftover files, the latest checkpoint, a torn tail recovery would cut, and
//! corruption recovery would refuse. The logic is [`tern_wal::inspect()`], so the engine's
//! `tern wal inspect` can reuse it. Exit status: 0 clean, 2 corruption found, 1 error.
#![warn(missing_docs)]

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tern_wal::{InspectOptions, inspect};

/// Exit status when the directory holds corruption.
pub const EXIT_CORRUPTION: u8 = 2;
/// Exit status when the directory could not be read.
pub const EXIT_ERROR: u8 = 1;

/// Command line of the `tern-wal` tool.
#[derive(Debug, Parser)]
#[command(
    name = "tern-wal",
    about = "Inspect a Tern write-ahead log data directory"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `tern-wal` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print segments, live counts, torn tail and corruption of a data directory.
    Inspect {
        /// The data directory.
        dir: PathBuf,
        /// Also list every record.
        #[arg(long)]
        records: bool,
    },
}

/// Runs the tool, writing the report to `out`; returns the exit status.
pub fn run(cli: Cli, out: &mut impl Write) -> ExitCode {
    let Command::Inspect { dir, records } = cli.command;
    match inspect(&dir, InspectOptions { records }) {
        Ok(report) => {
            let written = write!(out, "{report}");
            match (written, report.is_clean()) {
                (Err(_), _) => ExitCode::from(EXIT_ERROR),
                (Ok(()), true) => ExitCode::SUCCESS,
                (Ok(()), false) => ExitCode::from(EXIT_CORRUPTION),
            }
        }
        Err(error) => {
            let _ = writeln!(out, "tern-wal: cannot inspect {}: {error}", dir.display());
            ExitCode::from(EXIT_ERROR)
        }
    }
}
