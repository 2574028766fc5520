//! The `tern` binary: one subcommand per tool.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod run;

/// mimalloc: per-thread free lists suit one executor per core (glibc's malloc showed up at
/// ~10% of the gateway's profile under HTTP load, with its arena locks and consolidation).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tern: a thread-per-core SMS gateway.
#[derive(Parser, Debug)]
#[command(name = "tern", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs the gateway; with no arguments, the demo (SMPP on 127.0.0.1:2775, user
    /// demo/demo, an embedded SMSC simulator).
    Run(tern_engine::config::RunArgs),
    /// A fast SMPP SMSC simulator (receipts, MO, throttling, failures, disconnects).
    SmscSim(tern_bench::sim::SimConfig),
    /// Load generators.
    #[command(subcommand)]
    Bench(Bench),
    /// Reads a password on standard input (one line) and prints its Argon2id hash for a
    /// user's `password_hash` in the configuration. Not an argument: `ps` would show it.
    HashPassword,
}

#[derive(Subcommand, Debug)]
enum Bench {
    /// An SMPP ESME load generator with HDR latency histograms and JSON results.
    Smpp(tern_bench::load::LoadConfig),
    /// An HTTP API load generator (pipelined keep-alive POSTs, receipt callbacks) with
    /// HDR latency histograms and JSON results.
    Http(tern_bench::http::HttpLoadConfig),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Run(args) => run::run(args),
        Command::SmscSim(config) => tern_bench::sim::run(config)
            .map(drop)
            .map_err(|e| e.to_string()),
        Command::Bench(Bench::Smpp(config)) => tern_bench::load::run(config)
            .map(drop)
            .map_err(|e| e.to_string()),
        Command::Bench(Bench::Http(config)) => tern_bench::http::run(config)
            .map(drop)
            .map_err(|e| e.to_string()),
        Command::HashPassword => hash_password(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tern: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `tern hash-password`: one line of standard input in, its PHC string out.
fn hash_password() -> Result<(), String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("reading the password from standard input: {e}"))?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err("no password on standard input".into());
    }
    let phc = tern_engine::users::hash_password(password.as_bytes()).map_err(|e| e.to_string())?;
    println!("{phc}");
    Ok(())
}
