//! The SMPP load generator: `tern bench smpp` as a library.
//!
//! [`run`] spreads `connections` ESME binds (plus `rx_connections` receivers) over
//! `shards` glommio executors. Each sender paces its submit_sm open-loop: message k is
//! *intended* at `start + k × period`, and both latencies are measured from that
//! intended time, so a stalled peer shows up as latency instead of silently lowering the
//! offered load (coordinated omission). Receipts are matched by message id through the
//! shared [`tracker::Tracker`], whichever bind they arrive on; a receipt that beats its
//! submit_sm_resp is parked, not dropped. After the last submit the run waits (at most
//! `receipt_wait_s`) for outstanding receipts, unbinds, and reports.

pub mod config;
pub mod handler;
pub mod report;
pub mod tracker;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::net::TcpStream;
use glommio::timer::Timer;
use glommio::{LocalExecutorBuilder, Placement};
use tern_smpp::session::{BindKind, Config};

pub use config::{BindMode, LoadConfig};
pub use report::LoadReport;
pub use tracker::IdMatch;

use crate::run_clock::RunClock;
use handler::{LoadConn, ShardResults};
use report::{Counts, Latency, Percentiles, new_histogram, status_name};
use tern_smpp_io::{self as conn, ConnConfig, ConnError, Start};

/// Count used when neither --count nor --duration-s is given.
pub const DEFAULT_COUNT: u64 = 10_000;
/// Pause before reconnect attempt n is `RECONNECT_BACKOFF × min(n, 50)`.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(20);

/// Why a load run could not be done.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A bad setting.
    #[error("config: {0}")]
    Config(String),
    /// An executor could not be started or failed.
    #[error("executor: {0}")]
    Executor(String),
    /// The results could not be written.
    #[error("writing results: {0}")]
    Output(#[from] std::io::Error),
}

/// State shared by every connection of a run, across shards.
#[derive(Debug)]
pub struct Shared {
    /// The settings.
    pub config: LoadConfig,
    /// The run's time origin.
    pub base: Instant,
    /// Receipt matching.
    pub tracker: tracker::Tracker,
    clock: RunClock,
}

impl Shared {
    /// A sender has sent everything and has nothing outstanding.
    pub fn sender_finished(&self, now: Instant) {
        self.clock.sender_finished(now);
    }

    /// True once every sender is done and receipts are in (or their wait has passed).
    pub fn run_over(&self, now: Instant) -> bool {
        self.clock.run_over(now, self.tracker.pending())
    }
}

/// Runs the load and returns its results (also written to `--json` and printed unless
/// `--quiet`).
pub fn run(config: LoadConfig) -> Result<LoadReport, LoadError> {
    config.validate().map_err(LoadError::Config)?;
    let clock = RunClock::new(config.connections, config.receipt_wait_s);
    let shared = Arc::new(Shared {
        tracker: tracker::Tracker::new(config.max_pending_receipts, config.max_parked_receipts),
        base: clock.base,
        clock,
        config,
    });
    let mut handles = Vec::new();
    for shard in 0..shared.config.shards {
        handles.push(start_shard(shard, &shared)?);
    }
    let mut counts = Counts::default();
    let mut resp_us = new_histogram();
    let mut receipt_us = new_histogram();
    for handle in handles {
        let part = handle
            .join()
            .map_err(|e| LoadError::Executor(e.to_string()))?;
        counts.merge(&part.counts);
        let _ = resp_us.add(&part.resp_us);
        let _ = receipt_us.add(&part.receipt_us);
    }
    let report = build_report(&shared, &counts, &resp_us, &receipt_us);
    if let Some(path) = &shared.config.json {
        let json = serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?;
        std::fs::write(path, json)?;
    }
    if !shared.config.quiet {
        print!("{}", report.table());
    }
    Ok(report)
}

fn build_report(
    shared: &Shared,
    counts: &Counts,
    resp_us: &hdrhistogram::Histogram<u64>,
    receipt_us: &hdrhistogram::Histogram<u64>,
) -> LoadReport {
    let (send_elapsed_s, total_elapsed_s) = shared.clock.elapsed_s();
    let unmatched = counts
        .receipts_received
        .saturating_sub(counts.receipts_matched);
    LoadReport {
        sent: counts.sent,
        acked: counts.acked,
        failed: counts
            .failed
            .iter()
            .map(|(status, n)| (status_name(*status), *n))
            .collect(),
        lost: counts.lost,
        long_messages: counts.long_messages,
        receipts_received: counts.receipts_received,
        receipts_matched: counts.receipts_matched,
        receipts_unmatched: unmatched,
        receipts_missing: shared.tracker.pending(),
        receipt_states: counts.receipt_states.clone(),
        mo_received: counts.mo_received,
        mo_parts: counts.mo_parts,
        reconnects: counts.reconnects,
        bind_failures: counts.bind_failures,
        send_elapsed_s,
        total_elapsed_s,
        throughput_msg_s: if send_elapsed_s > 0.0 {
            counts.acked as f64 / send_elapsed_s
        } else {
            0.0
        },
        latency: Latency {
            submit_resp: Percentiles::of(resp_us),
            submit_receipt: Percentiles::of(receipt_us),
        },
    }
}

fn start_shard(
    shard: usize,
    shared: &Arc<Shared>,
) -> Result<glommio::ExecutorJoinHandle<ShardResults>, LoadError> {
    let config = &shared.config;
    let placement = match config.cpu {
        Some(cpu) => Placement::Fixed(cpu + shard),
        None => Placement::Unbound,
    };
    let shared = Arc::clone(shared);
    LocalExecutorBuilder::new(placement)
        .name(&format!("load-{shard}"))
        .spawn(move || run_shard(shard, shared))
        .map_err(|e| LoadError::Executor(e.to_string()))
}

/// PDUs connection `index` of `connections` sends out of `total`.
fn quota_of(total: u64, connections: usize, index: usize) -> u64 {
    let n = connections.max(1) as u64;
    total / n + u64::from((index as u64) < total % n)
}

async fn run_shard(shard: usize, shared: Arc<Shared>) -> ShardResults {
    let results = Rc::new(RefCell::new(ShardResults {
        counts: Counts::default(),
        resp_us: new_histogram(),
        receipt_us: new_histogram(),
    }));
    let config = &shared.config;
    let total = match (config.count, config.duration_s) {
        (Some(count), _) => count,
        (None, Some(_)) => u64::MAX,
        (None, None) => DEFAULT_COUNT,
    };
    let all = config.connections + config.rx_connections;
    let mut tasks = Vec::new();
    for index in (shard..all).step_by(config.shards) {
        let sender = index < config.connections;
        let quota = if !sender {
            0
        } else if total == u64::MAX {
            u64::MAX
        } else {
            quota_of(total, config.connections, index)
        };
        let handler = LoadConn::new(
            Arc::clone(&shared),
            Rc::clone(&results),
            index,
            sender,
            quota,
        );
        let kind = match (sender, config.bind) {
            (false, _) => BindKind::Receiver,
            (true, BindMode::Trx) => BindKind::Transceiver,
            (true, BindMode::Tx) => BindKind::Transmitter,
        };
        tasks.push(glommio::spawn_local(connection(
            Arc::clone(&shared),
            Rc::clone(&results),
            handler,
            kind,
        )));
    }
    for task in tasks {
        task.await;
    }
    Rc::try_unwrap(results).map_or_else(
        |rc| {
            let r = rc.borrow();
            ShardResults {
                counts: r.counts.clone(),
                resp_us: r.resp_us.clone(),
                receipt_us: r.receipt_us.clone(),
            }
        },
        RefCell::into_inner,
    )
}

/// One connection: connect, bind, run; reconnect after a loss until the run is over.
async fn connection(
    shared: Arc<Shared>,
    results: Rc<RefCell<ShardResults>>,
    mut handler: LoadConn,
    kind: BindKind,
) {
    let config = &shared.config;
    let conn_config = ConnConfig {
        session: Config {
            window_size: config.window,
            inbound_window_size: tern_smpp::session::WINDOW_SIZE_MAX.min(config.window.max(1024)),
            response_timeout: Duration::from_secs(config.response_timeout_s.clamp(1, 3600)),
            ..Config::default()
        },
        ..ConnConfig::default()
    };
    let start = Start::Esme {
        kind,
        system_id: config.system_id.clone(),
        password: config.password.clone(),
        system_type: config.system_type.clone(),
    };
    let mut attempts: u32 = 0;
    while !handler.finished {
        let outcome = match TcpStream::connect(config.target).await {
            Ok(stream) => Some(conn::run(stream, start.clone(), &conn_config, &mut handler).await),
            Err(_) => None,
        };
        if handler.finished {
            break;
        }
        if let Some(Err(ConnError::BindRefused(_))) = outcome {
            results.borrow_mut().counts.bind_failures += 1;
        }
        attempts += 1;
        if attempts > config.max_reconnects {
            handler.give_up();
            break;
        }
        results.borrow_mut().counts.reconnects += 1;
        Timer::new(RECONNECT_BACKOFF * attempts.min(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_add_up_to_the_count() {
        for (total, conns) in [(10u64, 3usize), (2, 5), (1000, 7)] {
            let sum: u64 = (0..conns).map(|i| quota_of(total, conns, i)).sum();
            assert_eq!(sum, total);
        }
    }
}
