//! The `tern` binary: one subcommand per tool.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tern: a thread-per-core SMS gateway.
#[derive(Parser, Debug)]
#[command(name = "tern", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// A fast SMPP SMSC simulator (receipts, MO, throttling, failures, disconnects).
    SmscSim(tern_bench::sim::SimConfig),
    /// Load generators.
    #[command(subcommand)]
    Bench(Bench),
}

#[derive(Subcommand, Debug)]
enum Bench {
    /// An SMPP ESME load generator with HDR latency histograms and JSON results.
    Smpp(tern_bench::load::LoadConfig),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::SmscSim(config) => tern_bench::sim::run(config)
            .map(drop)
            .map_err(|e| e.to_string()),
        Command::Bench(Bench::Smpp(config)) => tern_bench::load::run(config)
            .map(drop)
            .map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tern: {e}");
            ExitCode::FAILURE
        }
    }
}
