//! The SMSC simulator: `tern smsc-sim` as a library.
//!
//! [`spawn`] starts `shards` glommio executors, each with its own SO_REUSEPORT listener
//! on the same address, and returns a [`SimHandle`]; [`run`] does the same and blocks,
//! printing stats. Each accepted connection runs the shared pump ([`crate::conn`]) with a
//! [`handler::SimConn`]; each shard also runs one timer task that releases due receipts
//! from the bounded [`store::ReceiptStore`] to the binds that take them.

pub mod config;
pub mod handler;
pub mod shard;
pub mod stats;
pub mod store;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use glommio::net::TcpListener;
use glommio::timer::Timer;
use glommio::{LocalExecutorBuilder, Placement};
use tern_smpp::session::Config;

pub use config::{DelayRange, FinalState, IdFormat, ReceiptMix, SimConfig, User};
pub use stats::SimStats;

use crate::stop::StopSignal;
use shard::{Global, HELD_RETRY, ShardState};
use stats::ShardStats;
use tern_smpp_io::{self as conn, ConnConfig, Start};

/// How long a stopping shard waits for its connections to finish.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// An executor could not be created.
    #[error("executor: {0}")]
    Executor(String),
    /// The listener could not be bound.
    #[error("listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// What failed.
        reason: String,
    },
    /// A bad setting.
    #[error("config: {0}")]
    Config(String),
}

/// A running simulator.
#[derive(Debug)]
pub struct SimHandle {
    /// The address it listens on (the real port when 0 was asked for).
    pub addr: SocketAddr,
    shard_stats: Vec<Arc<ShardStats>>,
    stop: Arc<StopSignal>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl SimHandle {
    /// The counters summed over shards, now.
    pub fn stats(&self) -> SimStats {
        SimStats::sum(&self.shard_stats)
    }

    /// Stops every shard and waits for them; returns the final counters.
    pub fn stop(mut self) -> SimStats {
        self.shutdown();
        self.stats()
    }

    fn shutdown(&mut self) {
        self.stop.raise();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn validate(config: &SimConfig) -> Result<(), SimError> {
    let ratio = |name: &str, v: f64| {
        if (0.0..=1.0).contains(&v) {
            Ok(())
        } else {
            Err(SimError::Config(format!("{name} {v} is outside 0..=1")))
        }
    };
    ratio("early-receipt-ratio", config.early_receipt_ratio)?;
    ratio("fail-ratio", config.fail_ratio)?;
    ratio("mo-long-ratio", config.mo_long_ratio)?;
    if !(config.mo_rate >= 0.0 && config.mo_rate <= 1e6) {
        return Err(SimError::Config("mo-rate must be within 0..=1e6".into()));
    }
    if config.shards == 0 || config.shards > 256 {
        return Err(SimError::Config("shards must be within 1..=256".into()));
    }
    if config.error_codes.is_empty() {
        return Err(SimError::Config(
            "error-codes needs at least one code".into(),
        ));
    }
    session_config(config)
        .validate()
        .map_err(|e| SimError::Config(e.to_string()))
}

fn session_config(config: &SimConfig) -> Config {
    Config {
        window_size: config.window,
        inbound_window_size: config.inbound_window,
        ..Config::default()
    }
}

/// Starts the simulator on its own threads.
pub fn spawn(config: SimConfig) -> Result<SimHandle, SimError> {
    validate(&config)?;
    let config = Arc::new(config);
    let stop = StopSignal::new(config.shards);
    let global = Global::new(config.shards, Arc::clone(&stop));
    let mut handle = SimHandle {
        addr: config.listen,
        shard_stats: Vec::new(),
        stop: Arc::clone(&stop),
        threads: Vec::new(),
    };
    for index in 0..config.shards {
        let stats = Arc::new(ShardStats::default());
        let (ready_tx, ready_rx) = mpsc::channel();
        let listen = handle.addr;
        let thread = start_shard(index, listen, &config, &stats, &global, ready_tx)?;
        handle.threads.push(thread);
        handle.shard_stats.push(stats);
        // Shard 0 picks the port when 0 was asked; the others share it (SO_REUSEPORT).
        match ready_rx.recv() {
            Ok(Ok(addr)) => handle.addr = addr,
            Ok(Err(reason)) => {
                return Err(SimError::Listen {
                    addr: listen,
                    reason,
                });
            }
            Err(_) => return Err(SimError::Executor("shard exited before listening".into())),
        }
    }
    Ok(handle)
}

fn start_shard(
    index: usize,
    listen: SocketAddr,
    config: &Arc<SimConfig>,
    stats: &Arc<ShardStats>,
    global: &Arc<Global>,
    ready: mpsc::Sender<Result<SocketAddr, String>>,
) -> Result<thread::JoinHandle<()>, SimError> {
    let placement = match config.cpu {
        Some(cpu) => Placement::Fixed(cpu + index),
        None => Placement::Unbound,
    };
    let (config, stats, global) = (Arc::clone(config), Arc::clone(stats), Arc::clone(global));
    LocalExecutorBuilder::new(placement)
        .name(&format!("sim-{index}"))
        .spawn(move || async move {
            let state = ShardState::new(index, config, stats, global);
            serve(Rc::new(RefCell::new(state)), listen, ready).await;
        })
        .map(|h| {
            thread::spawn(move || {
                let _ = h.join();
            })
        })
        .map_err(|e| SimError::Executor(e.to_string()))
}

async fn serve(
    shard: Rc<RefCell<ShardState>>,
    listen: SocketAddr,
    ready: mpsc::Sender<Result<SocketAddr, String>>,
) {
    let listener = match TcpListener::bind(listen).and_then(|l| l.local_addr().map(|a| (l, a))) {
        Ok((listener, addr)) => {
            let _ = ready.send(Ok(addr));
            listener
        }
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            return;
        }
    };
    let timer_task = glommio::spawn_local(release_receipts(Rc::clone(&shard)));
    let (index, stop) = {
        let state = shard.borrow();
        (state.index, Arc::clone(&state.global.stop))
    };
    let conn_config = ConnConfig {
        session: session_config(&shard.borrow().config),
        ..ConnConfig::default()
    };
    let conn_config = Rc::new(conn_config);
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            stop.wait(index).await;
            None
        })
        .await;
        match accepted {
            Some(Ok(stream)) => {
                let shard = Rc::clone(&shard);
                let conn_config = Rc::clone(&conn_config);
                glommio::spawn_local(async move {
                    let system_id = shard.borrow().config.smsc_id.clone();
                    let mut handler = handler::SimConn::new(shard);
                    let _ = conn::run(
                        stream,
                        Start::Smsc { system_id },
                        &conn_config,
                        &mut handler,
                    )
                    .await;
                })
                .detach();
            }
            // Out of descriptors or a reset before accept: keep serving the others.
            Some(Err(_)) => {
                Timer::new(Duration::from_millis(10)).await;
            }
            None => break,
        }
    }
    drain_connections(&shard).await;
    drop(timer_task);
}

/// Asks every connection to go and waits (bounded) until they have.
async fn drain_connections(shard: &Rc<RefCell<ShardState>>) {
    shard.borrow_mut().stopping = true;
    shard.borrow().wake_all();
    let deadline = Instant::now() + STOP_GRACE;
    while shard.borrow().live_conns > 0 && Instant::now() < deadline {
        Timer::new(Duration::from_millis(5)).await;
    }
}

/// The shard's clock: releases due receipts, takes other shards' receipts, retries held.
async fn release_receipts(shard: Rc<RefCell<ShardState>>) {
    let mut timer: Option<Timer> = None;
    let mut held_retry_at: Option<Instant> = None;
    futures_lite::future::poll_fn(|cx| {
        use std::future::Future;
        loop {
            let now = Instant::now();
            let mut state = shard.borrow_mut();
            if state.stopping {
                return std::task::Poll::Ready(());
            }
            state.release_due(now);
            if held_retry_at.is_none_or(|at| at <= now) {
                held_retry_at = state.retry_held().then(|| now + HELD_RETRY);
            }
            let next = match (state.store.next_due(), held_retry_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            state.park_timer(cx.waker(), next);
            drop(state);
            let Some(at) = next else {
                return std::task::Poll::Pending;
            };
            let wait = at.saturating_duration_since(now);
            let t = timer.get_or_insert_with(|| Timer::new(wait));
            t.reset(wait);
            if std::pin::Pin::new(t).poll(cx).is_pending() {
                return std::task::Poll::Pending;
            }
        }
    })
    .await;
}

/// Runs the simulator until `duration_s` passes (forever when 0), printing stats as
/// JSON lines every `stats_interval_s` and once at the end.
pub fn run(config: SimConfig) -> Result<SimStats, SimError> {
    let interval = Duration::from_secs(config.stats_interval_s.max(1));
    let print_periodically = config.stats_interval_s > 0;
    let until =
        (config.duration_s > 0).then(|| Instant::now() + Duration::from_secs(config.duration_s));
    let handle = spawn(config)?;
    eprintln!("smsc-sim listening on {}", handle.addr);
    loop {
        let now = Instant::now();
        let sleep = until.map_or(interval, |u| u.saturating_duration_since(now).min(interval));
        if sleep.is_zero() {
            break;
        }
        thread::sleep(sleep);
        if print_periodically && until.is_none_or(|u| Instant::now() < u) {
            print_json(&handle.stats());
        }
    }
    let stats = handle.stop();
    print_json(&stats);
    Ok(stats)
}

fn print_json(stats: &SimStats) {
    match serde_json::to_string(stats) {
        Ok(line) => println!("{line}"),
        Err(e) => eprintln!("stats: {e}"),
    }
}
