//! `tern run`: logging, the configuration, the start-up banner, a clean stop on SIGTERM or
//! SIGINT, and a configuration reload on SIGHUP.
//!
//! SIGHUP re-reads `--config FILE` with the same command-line overrides, validates it
//! (an error names the file, line and field) and hands it to
//! [`GatewayHandle::reload`], which refuses changes that need a restart (listing the
//! fields) and otherwise publishes the new snapshot for the shards to swap in within one
//! housekeeping tick. A refused reload leaves the configuration in force untouched.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tern_engine::config::RunArgs;
use tern_engine::gateway::{Gateway, GatewayHandle};

/// How often the main thread looks at the signal flags.
const SIGNAL_POLL_MS: u64 = 50;

/// Runs the gateway until SIGTERM or SIGINT.
pub fn run(args: RunArgs) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
    let demo = args.config.is_none() && args.connectors.is_empty();
    let loaded = args.clone().resolve().map_err(|e| e.to_string())?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(|e| e.to_string())?;
    }
    let hangup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hangup))
        .map_err(|e| e.to_string())?;
    let data_dir = loaded.config.node.data_dir.clone();
    let gateway = Gateway::start(loaded.config).map_err(|e| e.to_string())?;
    banner(demo, gateway.smpp_addr, gateway.http_addr, &data_dir);
    while !stop.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(SIGNAL_POLL_MS));
        // Several SIGHUPs before this look are one reload: each reads the file anew.
        if hangup.swap(false, Ordering::AcqRel) {
            reload(&args, &gateway);
        }
    }
    tracing::info!("stopping: unbinding sessions and connectors, flushing the WAL");
    gateway.stop();
    tracing::info!("stopped");
    Ok(())
}

/// Re-reads the configuration file with the command line's overrides and publishes it;
/// anything wrong is logged and the configuration in force stays.
fn reload(args: &RunArgs, gateway: &GatewayHandle) {
    let Some(path) = &args.config else {
        tracing::info!("SIGHUP: started without --config, there is nothing to reload");
        return;
    };
    let path = path.display();
    let loaded = match args.clone().resolve() {
        Ok(loaded) => loaded,
        Err(e) => {
            tracing::error!("reload refused, the configuration in force stays:\n{e}");
            return;
        }
    };
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    match gateway.reload(loaded.config) {
        Ok(reloaded) => tracing::info!(
            generation = reloaded.generation,
            users_added = ?reloaded.users_added,
            users_retired = ?reloaded.users_retired,
            "configuration reloaded from {path}"
        ),
        Err(e) => {
            tracing::error!("reload of {path} refused, the configuration in force stays: {e}")
        }
    }
}

fn banner(
    demo: bool,
    smpp: std::net::SocketAddr,
    http: std::net::SocketAddr,
    data_dir: &std::path::Path,
) {
    tracing::info!(
        "tern gateway up: SMPP on {smpp}, HTTP on http://{http}, data in {}",
        data_dir.display()
    );
    if demo {
        tracing::info!(
            "demo mode: user demo/demo, every message routed to an embedded SMSC simulator \
             that sends receipts. Try: tern bench smpp --target {smpp} --system-id demo \
             --password demo --count 1000 --registered-delivery 1"
        );
        tracing::info!(
            "or over HTTP: curl -u demo:demo -H 'Content-Type: application/json' \
             -d '{{\"to\":\"447700900123\",\"from\":\"Tern\",\"text\":\"Hello\"}}' \
             http://{http}/v1/messages  then  curl -u demo:demo http://{http}/v1/messages/ID"
        );
    }
}
