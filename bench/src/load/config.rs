//! The load generator's settings: `tern bench smpp` flags and programmatic construction.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::tracker::IdMatch;

/// The bind the sending connections use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BindMode {
    /// bind_transceiver: submits and receipts on one connection.
    Trx,
    /// bind_transmitter: submits only (add --rx-connections for receipts).
    Tx,
}

/// Everything `tern bench smpp` can be told.
#[derive(Args, Clone, Debug)]
pub struct LoadConfig {
    /// The SMSC (or gateway) to load.
    #[arg(long)]
    pub target: SocketAddr,
    /// system_id to bind with.
    #[arg(long)]
    pub system_id: String,
    /// Password to bind with.
    #[arg(long)]
    pub password: String,
    /// system_type to bind with.
    #[arg(long, default_value = "")]
    pub system_type: String,
    /// Submit this many submit_sm PDUs in all (default 10000 unless --duration-s).
    #[arg(long, conflicts_with = "duration_s")]
    pub count: Option<u64>,
    /// Submit for this many seconds instead of a count.
    #[arg(long)]
    pub duration_s: Option<f64>,
    /// Target submit_sm per second over all connections (0: as fast as windows allow).
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Sending connections.
    #[arg(long, default_value_t = 1)]
    pub connections: usize,
    /// Extra bind_receiver connections (for receipts and MO).
    #[arg(long, default_value_t = 0)]
    pub rx_connections: usize,
    /// Executors the connections are spread over.
    #[arg(long, default_value_t = 1)]
    pub shards: usize,
    /// Pin shard i to CPU `cpu + i` (unpinned when absent).
    #[arg(long)]
    pub cpu: Option<usize>,
    /// submit_sm window per connection.
    #[arg(long, default_value_t = 256)]
    pub window: u32,
    /// Bind kind of the sending connections.
    #[arg(long, value_enum, default_value_t = BindMode::Trx)]
    pub bind: BindMode,
    /// registered_delivery of each submit_sm (1: receipt on final state).
    #[arg(long, default_value_t = 1)]
    pub registered_delivery: u8,
    /// Fraction (0..1) of messages sent as 3 concatenated parts with a UDH.
    #[arg(long, default_value_t = 0.0)]
    pub long_ratio: f64,
    /// source_addr; each `#` is replaced by a digit of the message counter.
    #[arg(long, default_value = "Tern")]
    pub source: String,
    /// destination_addr pattern; each `#` is replaced by a digit of the message counter.
    #[arg(long, default_value = "4479########")]
    pub destination: String,
    /// How ids in submit_sm_resp are read for matching.
    #[arg(long, value_enum, default_value_t = IdMatch::Text)]
    pub resp_id_format: IdMatch,
    /// How ids in receipts are read for matching.
    #[arg(long, value_enum, default_value_t = IdMatch::Text)]
    pub receipt_id_format: IdMatch,
    /// After the last submit, wait at most this long for outstanding receipts.
    #[arg(long, default_value_t = 10.0)]
    pub receipt_wait_s: f64,
    /// Most submissions awaiting a receipt at once (beyond: not tracked).
    #[arg(long, default_value_t = 1_000_000)]
    pub max_pending_receipts: usize,
    /// Most receipts parked while their submit_sm_resp is still missing.
    #[arg(long, default_value_t = 65_536)]
    pub max_parked_receipts: usize,
    /// How long a request may wait for its response, in seconds.
    #[arg(long, default_value_t = 10)]
    pub response_timeout_s: u64,
    /// Give a connection up after this many reconnects.
    #[arg(long, default_value_t = 100)]
    pub max_reconnects: u32,
    /// Seed of the long-message mix.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Do not print the summary table.
    #[arg(long)]
    pub quiet: bool,
}

impl LoadConfig {
    /// Defaults for a run against `target` (count 1000, one trx connection).
    pub fn new(target: SocketAddr, system_id: &str, password: &str) -> LoadConfig {
        LoadConfig {
            target,
            system_id: system_id.into(),
            password: password.into(),
            system_type: String::new(),
            count: Some(1000),
            duration_s: None,
            rate: 0.0,
            connections: 1,
            rx_connections: 0,
            shards: 1,
            cpu: None,
            window: 256,
            bind: BindMode::Trx,
            registered_delivery: 1,
            long_ratio: 0.0,
            source: "Tern".into(),
            destination: "4479########".into(),
            resp_id_format: IdMatch::Text,
            receipt_id_format: IdMatch::Text,
            receipt_wait_s: 10.0,
            max_pending_receipts: 1_000_000,
            max_parked_receipts: 65_536,
            response_timeout_s: 10,
            max_reconnects: 100,
            seed: 1,
            json: None,
            quiet: true,
        }
    }

    /// Checks every bound.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.long_ratio) {
            return Err(format!("long-ratio {} is outside 0..=1", self.long_ratio));
        }
        if !(self.rate >= 0.0 && self.rate.is_finite()) {
            return Err("rate must be a finite number >= 0".into());
        }
        if self.connections == 0 || self.connections > 10_000 {
            return Err("connections must be within 1..=10000".into());
        }
        if self.shards == 0 || self.shards > 256 {
            return Err("shards must be within 1..=256".into());
        }
        if self.duration_s.is_some_and(|d| !(d > 0.0 && d <= 86_400.0)) {
            return Err("duration-s must be within (0, 86400]".into());
        }
        if !(self.receipt_wait_s >= 0.0 && self.receipt_wait_s <= 86_400.0) {
            return Err("receipt-wait-s must be within 0..=86400".into());
        }
        if self.window == 0 || self.window > tern_smpp::session::WINDOW_SIZE_MAX {
            return Err("window must be within 1..=65536".into());
        }
        Ok(())
    }
}
