//! The running gateway: `Gateway::start(Config)` brings up the shards and the embedded
//! simulators and hands back a [`GatewayHandle`] that tells where it listens and stops it.
//!
//! # Design
//! - Each shard is a glommio `LocalExecutor` on its own thread, pinned to a core when asked
//!   (by default when there are at least as many cores as shards; tests pass `pin: false`
//!   so parallel test binaries never starve on a 2-core box), with its own SO_REUSEPORT
//!   listener on the SMPP address, its own WAL (`data_dir/shard-<i>/wal`), its DLR index
//!   with its disk runs (`data_dir/shard-<i>/dlr`, written and reopened by
//!   [`crate::shard::dlr_runs`]) and the connector binds assigned to it (bind j of
//!   connector c on shard (c + j) % n).
//! - **N shards, one mesh.** `--shards N` / `node.shards` runs N shards that talk
//!   through a full mesh of bounded SPSC rings ([`crate::mesh`]: glommio `channel_mesh`,
//!   1024 slots of up to 256 messages each, drained a batch per borrow). All shards start
//!   together and join the mesh before anything else (so a shard that fails later leaves
//!   the others stoppable), then listen in turn on the same address. A message is owned
//!   by the shard that accepted it (its id carries the shard, its records are in that
//!   shard's WAL, recovery is per shard); what crosses the rings:
//!   - a part for a connector with no bind up on the owner (a bind on the owner is
//!     always used first, no hop): the Accepted record's bytes and the part index go to
//!     a shard with a bind up, within a credit of twice that shard's bind windows; the
//!     outcome (SubmitResult, SubmitTimeout, Disconnected) comes back and returns the
//!     credit. A full ring or spent credit keeps the part in the owner's queue; a part
//!     whose bind went down comes back (PartBounced) and goes elsewhere.
//!   - DLR mappings go to the index shard `dlr_index::shard_of(key)`; a receipt received
//!     on any bind is looked up (or parked) there, applied on the owner, and the
//!     receiving bind answers the SMSC only after the owner's WAL made it durable (the
//!     owner's acker task sends the resolution after its sync).
//!   - a receipt owed to a user with no receiving session on the owner goes to a shard
//!     that has one (within a credit of twice the client window, at least 64); the
//!     deliver_sm_resp comes back to the owner (ClientAcknowledged). A session that
//!     closes hands what it held back to the owners, who redeliver on the next bind.
//! - Which shard has binds and receivers up is read from per-shard atomic counters: a
//!   hint, and a stale one costs a bounce, not a loss.
//! - Per-shard bounds are as configured: connector queues, receipts_pending_max and the
//!   park are per shard; a user's `tps_max` is split evenly over the shards (its sessions
//!   spread over them), like a connector's over its binds; the DLR hot budget is split.
//! - A message's life on the shard ([`crate::shard::Core`] drives the
//!   [`crate::lifecycle::Lifecycle`] of each message): route (failover order puts the
//!   route's connectors with a bind up first) → Accepted record appended → the client's
//!   submit_sm_resp with our id only once that LSN is durable ([`crate::server`]) →
//!   queued → submitted under window and tps ([`crate::connector`]) → ID2 normalised per
//!   the connector's quirks → Submitted record, DLR insert → receipt (TLVs win over text)
//!   looked up or parked → lifecycle logs Final/ReceiptPending → the receipt goes to one
//!   of the user's receiver binds as a deliver_sm with our id ([`crate::delivery`]) →
//!   deliver_sm_resp OK → ReceiptAcknowledged, records marked done.
//! - The SMSC forgets a receipt once it is answered, so an upstream deliver_sm_resp goes
//!   out only when what the receipt changed is durable (or, for a parked receipt, after
//!   its match and that sync). A SIGKILL therefore never loses a receipt the SMSC thinks
//!   it delivered (found by `engine/tests/kill.rs`).
//! - Logins that miss the cache (SMPP binds and HTTP requests) run Argon2 on glommio's
//!   blocking pool, at most two per shard; the bind is answered when it is done
//!   (`tern_smpp_io::BindVerdict::Pending`), so a wrong-password storm or a reconnect
//!   burst never stalls the shard's other sessions.
//! - **Parking** ([`crate::shard`]'s `parked` module): a single-part message that has
//!   waited `limits.messages_park_after_ms` (1 s) for its receipt keeps only a 24-byte
//!   [`crate::lifecycle::MessageSlot`] in a dense table indexed by its sequence; its
//!   Accepted record is read back from the WAL by LSN ([`tern_wal::WalReader`]) when the
//!   receipt, an intermediate notice or its expiry comes. Receipts that come sooner cost
//!   no read. `limits.messages_parked_max` (10 M per shard) bounds the table.
//! - **Expiry**: a message whose validity deadline passes (the submit's validity_period
//!   or data_sm's qos_time_to_live, capped at `limits.message_ttl_s`) is expired: the
//!   client gets an EXPIRED receipt and the shard lets it go. Parked messages are swept a
//!   bounded number per housekeeping turn (all of 10 M within ≈ 8 s), those in full form
//!   every 10 s. schedule_delivery_time holds a message until its time.
//! - Refusal at the door: a user over its `tps_max` gets ESME_RTHROTTLED, a full connector
//!   queue or a full WAL ESME_RMSGQFUL; unanswered submits are bounded by the session's
//!   inbound window, so a slow disk stops the reading rather than growing memory.
//! - Reload ([`GatewayHandle::reload`], SIGHUP in `tern run`): the new configuration is
//!   lined up with the live one ([`crate::config::plan_reload`]: connectors never move,
//!   users keep their positions, what needs a restart is refused by field) and published
//!   through the [`ConfigHandle`]; each shard's housekeeping sees the new generation
//!   within one tick and swaps its core's snapshot
//!   ([`crate::shard::Core::swap_snapshot`]) between two
//!   callbacks, so nothing in flight waits or changes route. Metrics and the node's
//!   receiver counters are sized at start for `USERS_ADDED_BY_RELOAD_MAX` more users.
//! - WAL space: each shard runs a compaction task ([`crate::shard::compaction`]) that
//!   copies the records of long-lived messages (and MOs) out of mostly dead segments and
//!   points their holders at the copies, so disk use follows live data, not traffic;
//!   `node.wal_segment_bytes` sets the segment size (64 MiB by default).
//! - Shutdown: the stop flag is seen by each shard's housekeeping task, which makes every
//!   connection unbind, gives them a bounded grace period and closes the WAL; readiness
//!   (`wait_bound`) counts the binds of every shard. Outcomes that reach an owner after
//!   its WAL closed are lost with the process, and replayed from the WAL at restart.
//!
//! # Known gaps
//! - query_sm answers only for messages the session's own shard owns (a cross-shard
//!   query is not carried); per-connector and per-user statistics are per shard.
//! - A hop to the index shard adds a ring round trip to every receipt whose key hashes
//!   elsewhere ((N-1)/N of them); the owner's WAL sync is on that path as before.
//! - HTTP texts are segmented by tern-http (8-bit reference UDH) whatever the route's
//!   connector says in `split_udh`; only SMPP message_payload/data_sm follow it.
//! - The DLR index's disk tier ([`crate::shard::dlr_runs`]) writes one run at a time per
//!   shard, each costing two fsyncs (≈ 15–70 ms per run measured in the debug test build
//!   on this 2-vCPU VM): generations that rotate faster than runs are written (a tiny
//!   `limits.dlr_generation_span_ms` under heavy traffic) are evicted from RAM and counted
//!   in `tern_dlr_hot_entries_evicted_total`. At the defaults (7.5-minute generations) a
//!   run is due every few minutes.
//! - Restart memory: recovery parks the messages awaiting a receipt without reading
//!   their records into memory, but its fold still holds every live message's machine
//!   while it runs (≈ 0.3 KiB each), so a restart with millions of receipts outstanding
//!   peaks well above the steady state.
//! - Only single-part messages are parked; a multipart message awaiting receipts stays
//!   in full form (≈ 1.5 KiB plus its parts), under `limits.messages_held_max`.
//!
//! # HTTP and MO
//! - Each shard also serves the HTTP API ([`crate::http`], tern-http on the same
//!   executor, SO_REUSEPORT); HTTP messages are owned like SMPP ones, their receipts go
//!   out as callbacks from the owner's dispatcher; status books and idempotency keys are
//!   shared read-mostly across shards so a GET or a retry may land anywhere.
//! - MO messages ([`crate::mo`]) are owned by the shard whose bind received them (WAL,
//!   bound, reassembly, callbacks) and cross the mesh like receipts to a receiving
//!   session of their user on another shard.
//!
//! # Figures (provisional)
//! `perf/run receipts-10m` (release, fsync on, 1 shard, 60k/s offered for 170 s, every
//! receipt held 200–260 s by the simulator; `perf/scenarios/config/gateway-10m.toml`:
//! park after 250 ms, 64 MiB DLR hot budget; perf/results/receipts-10m/latest):
//! 9,911,043 messages waiting for their receipt at once, every receipt then matched, peak
//! RSS 487 MiB (≈ 400 MiB at the end of the sending: 240 MB of slots, the DLR hot tier and
//! run filters, ≈ 100 MiB of base; the receipt phase adds the messages brought back whole
//! until the client acknowledges them). 288,753 submits (2.8 %) were refused with
//! ESME_RMSGQFUL on the saturated 2 vCPUs (simulator, load generator and gateway at 35
//! µs/msg); submit→resp p50 0.7 ms, p99 124 ms.
//!
//! `perf/run smpp-e2e` with nothing else running (load average 1.5 at the start, from the
//! CI run before it; commit 219c506;
//! perf/results/smpp-e2e/latest): one shard, closed loop with receipts 94,225 msg/s
//! (0.10× the direct path's 932k), submit→resp p50 1.1 ms / p99 11.6 ms, 10.7 µs CPU per
//! message; 20k/s open loop carried, p50 0.7 ms / p99 87 ms; two shards 42,042 msg/s.
//!
//! Earlier, `perf/run smpp-e2e` (release, fsync on, load generator + simulator + gateway on the
//! same 2 vCPUs, load average ≈ 2): one shard, closed loop
//! with receipts 65,140–67,778 msg/s (0.12× the direct path), submit→resp p50 2.3 ms /
//! p99 12–14 ms, 15–16 µs CPU per message; 20k/s open loop carried with p50 0.7–0.8 ms
//! and p99 157–214 ms (the box near CPU saturation: gateway 65–75% of a core, the open-
//! loop generator 67%, the simulator and the WAL syncer); two shards with a bind each
//! 33–40k msg/s (no gain possible on 2 busy vCPUs). 10 minutes at 20k/s: 12 M messages,
//! every receipt matched, RSS flat at 113–115 MiB (perf/results/rss-10min).

//! The ring itself, `cargo bench -p tern-engine --bench ring_hop` (criterion, 3 s per
//! case), executors unpinned, 2-vCPU VM with a load average of 4.5–5.8 from other
//! builds: one `PartEvent` per slot 4.1–5.6 M msg/s; 256 per slot 27–76 M msg/s (the
//! spread is the load, between two runs); one message there and back 45–52 µs, which
//! is the wake of a parked executor, so the shards batch and never wait on one message.
//!
//! `perf/run smpp-e2e --quick --no-build` (release, fsync on, one connector bind, 3 s
//! runs, load average 6.5–6.9 from other builds on the 2 vCPUs), `node.shards` 1 then 2
//! in `perf/scenarios/config/gateway.toml`: closed loop 62,133 msg/s at 1 shard and
//! 60,236 msg/s at 2 (2 shards on 2 busy cores, half the messages crossing to the one
//! bind; 377,094 submits refused with ESME_RMSGQFUL at the door as shard 1's queue
//! filled behind its credit); 20k/s open loop carried at both (submit→resp p50 2.1 ms /
//! 1.3 ms, p99 78 ms / 96 ms); every acknowledged message's receipt matched.

use std::cell::{Cell, RefCell};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use glommio::net::TcpListener;
use glommio::timer::sleep;
use glommio::{LocalExecutorBuilder, Placement};
use tern_smpp_io::{ConnConfig, Start};
use tern_wal::Wal;

use crate::config::{
    Config, ConfigHandle, ReloadError, Snapshot, SnapshotCache, SnapshotError,
    USERS_ADDED_BY_RELOAD_MAX, plan_reload,
};
use crate::connector::run_bind;
use crate::dlr_index::DlrIndex;
use crate::http::callbacks::{self, InFlight};
use crate::http::{HttpNode, ShardBackend};
use crate::mesh::{NodeView, pump};
use crate::metrics::{NodeMetrics, ShardMetrics};
use crate::server::ClientConn;
use crate::shard::{Core, CoreRef, dlr_runs, unix_now_ms};
use crate::users::AuthCache;

/// How often a shard does its housekeeping (stop flag, parked receipts, WAL done marks).
const HOUSEKEEPING_INTERVAL_MS: u64 = 50;
/// How long a receipt that beat its submit_sm_resp waits for it before it counts as a
/// receipt for an unknown message.
const PARK_TIMEOUT_MS: u64 = 2_000;
/// Longest wait for connections to unbind at shutdown.
const SHUTDOWN_GRACE_MS: u64 = 2_000;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The configuration could not become a snapshot.
    #[error("configuration: {0}")]
    Config(#[from] crate::config::SnapshotError),
    /// The embedded simulator failed to start.
    #[error("simulator: {0}")]
    Simulator(String),
    /// A shard failed to start (executor, WAL, listener, recovery).
    #[error("shard {shard}: {reason}")]
    Shard {
        /// The shard.
        shard: usize,
        /// What failed.
        reason: String,
    },
}

/// Why a reload was refused; the configuration in force is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum ReloadRefused {
    /// The change needs a restart, or more users than the node has room for.
    #[error(transparent)]
    Plan(#[from] ReloadError),
    /// The configuration could not become a snapshot (users, routes).
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

/// What a reload published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// The new snapshot's generation.
    pub generation: u64,
    /// Users added (or brought back).
    pub users_added: Vec<String>,
    /// Users retired: no new logins; their sessions run until they unbind.
    pub users_retired: Vec<String>,
}

/// Options of a start beyond the configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct StartOptions {
    /// Pin shard i to CPU i; `None` pins when there are at least as many cores as shards.
    pub pin: Option<bool>,
}

/// The gateway, started.
pub struct Gateway;

/// A running gateway.
pub struct GatewayHandle {
    /// Where the SMPP server listens (the real port when 0 was configured).
    pub smpp_addr: SocketAddr,
    /// Where the HTTP API listens (the real port when 0 was configured).
    pub http_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    binds_up: Arc<AtomicUsize>,
    binds_configured: usize,
    sessions_accepted: Arc<Vec<AtomicUsize>>,
    /// The live snapshot, which shards pick up at their housekeeping tick.
    config: ConfigHandle,
    /// User positions the shards' per-user structures were sized for.
    users_max: usize,
    threads: Vec<thread::JoinHandle<()>>,
    simulators: Vec<tern_bench::sim::SimHandle>,
    metrics: NodeMetrics,
}

impl Gateway {
    /// Starts the gateway described by `config`.
    pub fn start(config: Config) -> Result<GatewayHandle, GatewayError> {
        Self::start_with(config, StartOptions::default())
    }

    /// Starts the gateway with explicit options.
    pub fn start_with(
        mut config: Config,
        options: StartOptions,
    ) -> Result<GatewayHandle, GatewayError> {
        let shards = config.node.shard_count().max(1);
        let simulators = start_simulators(&mut config)?;
        let handle = ConfigHandle::new(config)?;
        let snapshot = handle.load();
        let cores = thread::available_parallelism().map_or(1, |n| n.get());
        let pin = options.pin.unwrap_or(shards as usize <= cores);
        let stop = Arc::new(AtomicBool::new(false));
        let config = &snapshot.config;
        // Room for the users reloads may add: metrics and the node's receiver counters
        // are fixed arrays shared between shards.
        let users_max = config.users.len() + USERS_ADDED_BY_RELOAD_MAX;
        let metrics: Vec<Arc<ShardMetrics>> = (0..shards)
            .map(|_| Arc::new(ShardMetrics::new(users_max, config.connectors.len())))
            .collect();
        let node_metrics = NodeMetrics {
            shards: metrics.clone(),
        };
        let http_node = Arc::new(HttpNode::new(
            shards as usize,
            config.http.idempotency_keys_max as usize,
        ));
        let mut gateway = GatewayHandle {
            smpp_addr: snapshot.config.smpp.listen,
            http_addr: snapshot.config.http.listen,
            stop: Arc::clone(&stop),
            binds_up: Arc::default(),
            binds_configured: snapshot
                .config
                .connectors
                .iter()
                .map(|c| c.binds as usize)
                .sum(),
            sessions_accepted: Arc::new((0..shards).map(|_| AtomicUsize::new(0)).collect()),
            config: handle.clone(),
            users_max,
            threads: Vec::new(),
            simulators,
            metrics: node_metrics.clone(),
        };
        let node = Arc::new(NodeView::new(
            shards as usize,
            snapshot.config.connectors.len(),
            users_max,
        ));
        let mesh = (shards > 1).then(|| pump::node_mesh(shards as usize));
        // Every shard starts at once (the mesh is joined by all or none); then each, in
        // turn, listens on the address the one before got (port 0 becomes a real port,
        // which the others share through SO_REUSEPORT).
        let mut starts = Vec::new();
        for (shard, shard_metrics) in metrics.iter().enumerate() {
            let (ready_tx, ready_rx) = mpsc::channel();
            let (listen_tx, listen_rx) = mpsc::channel();
            let placement = if pin {
                Placement::Fixed(shard)
            } else {
                Placement::Unbound
            };
            let spec = ShardSpec {
                index: shard,
                shards: shards as usize,
                metrics: Arc::clone(shard_metrics),
                node_metrics: node_metrics.clone(),
                http_node: Arc::clone(&http_node),
                binds_configured: gateway.binds_configured,
                snapshot: Arc::clone(&snapshot),
                live: handle.cache(),
                stop: Arc::clone(&stop),
                binds_up: Arc::clone(&gateway.binds_up),
                node: Arc::clone(&node),
                mesh: mesh.clone(),
                sessions_accepted: Arc::clone(&gateway.sessions_accepted),
            };
            let executor = LocalExecutorBuilder::new(placement)
                .name(&format!("tern-shard-{shard}"))
                .spawn(move || async move { run_shard(spec, listen_rx, ready_tx).await })
                .map_err(|e| GatewayError::Shard {
                    shard,
                    reason: e.to_string(),
                })?;
            gateway.threads.push(thread::spawn(move || {
                let _ = executor.join();
            }));
            starts.push((listen_tx, ready_rx));
        }
        for (shard, (listen_tx, ready_rx)) in starts.into_iter().enumerate() {
            let _ = listen_tx.send((gateway.smpp_addr, gateway.http_addr));
            match ready_rx.recv() {
                Ok(Ok((smpp, http))) => {
                    gateway.smpp_addr = smpp;
                    gateway.http_addr = http;
                }
                Ok(Err(reason)) => return Err(GatewayError::Shard { shard, reason }),
                Err(_) => {
                    return Err(GatewayError::Shard {
                        shard,
                        reason: "exited before listening".into(),
                    });
                }
            }
        }
        Ok(gateway)
    }
}

impl GatewayHandle {
    /// Lines `config` up with the configuration in force and, if nothing in it needs a
    /// restart, publishes it: each shard swaps it in at its next housekeeping tick
    /// (every 50 ms). Called from one thread (the signal loop).
    pub fn reload(&self, config: Config) -> Result<Reloaded, ReloadRefused> {
        let live = self.config.load();
        let plan = plan_reload(&live.config, config, self.users_max)?;
        let generation = self.config.reload(plan.config)?;
        Ok(Reloaded {
            generation,
            users_added: plan.users_added,
            users_retired: plan.users_retired,
        })
    }

    /// The configuration published last (shards may take up to a housekeeping tick to
    /// swap it in).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.config.load()
    }

    /// Counters of the embedded simulators, in connector order.
    pub fn simulator_stats(&self) -> Vec<tern_bench::sim::SimStats> {
        self.simulators.iter().map(|s| s.stats()).collect()
    }

    /// Client connections each shard has accepted since the start, in shard order (the
    /// kernel spreads them over the shards' SO_REUSEPORT listeners).
    pub fn sessions_accepted(&self) -> Vec<usize> {
        self.sessions_accepted
            .iter()
            .map(|n| n.load(Ordering::Acquire))
            .collect()
    }

    /// Every shard's counters and gauges (they stay readable after a stop).
    pub fn metrics(&self) -> NodeMetrics {
        self.metrics.clone()
    }

    /// Upstream binds up now, over all connectors and shards.
    pub fn binds_up(&self) -> usize {
        self.binds_up.load(Ordering::Acquire)
    }

    /// Waits until every configured upstream bind is up, at most `timeout`; true if they are.
    pub fn wait_bound(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while self.binds_up() < self.binds_configured {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// True once a stop was asked.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Asks every shard to stop (unbind, flush) without waiting.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// Stops the shards and waits for them, then stops the simulators.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.request_stop();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        for sim in self.simulators.drain(..) {
            let _ = sim.stop();
        }
    }
}

impl Drop for GatewayHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts the built-in simulator of every `simulator = true` connector and points the
/// connector at it.
fn start_simulators(config: &mut Config) -> Result<Vec<tern_bench::sim::SimHandle>, GatewayError> {
    let mut handles = Vec::new();
    for connector in config.connectors.iter_mut().filter(|c| c.simulator) {
        let sim = tern_bench::sim::SimConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            ..tern_bench::sim::SimConfig::default()
        };
        let handle =
            tern_bench::sim::spawn(sim).map_err(|e| GatewayError::Simulator(e.to_string()))?;
        connector.host = handle.addr.ip().to_string();
        connector.port = handle.addr.port();
        tracing::info!(connector = %connector.name, addr = %handle.addr, "embedded SMSC simulator started");
        handles.push(handle);
    }
    Ok(handles)
}

/// What a shard thread needs to start.
struct ShardSpec {
    index: usize,
    shards: usize,
    metrics: Arc<ShardMetrics>,
    node_metrics: NodeMetrics,
    http_node: Arc<HttpNode>,
    binds_configured: usize,
    snapshot: Arc<Snapshot>,
    /// The live snapshot, checked at each housekeeping tick.
    live: SnapshotCache,
    stop: Arc<AtomicBool>,
    binds_up: Arc<AtomicUsize>,
    node: Arc<NodeView>,
    mesh: Option<pump::NodeMesh>,
    sessions_accepted: Arc<Vec<AtomicUsize>>,
}

/// What a shard reports once it listens: its SMPP and HTTP addresses, or why it failed.
type Ready = Result<(SocketAddr, SocketAddr), String>;

async fn run_shard(
    mut spec: ShardSpec,
    listen: mpsc::Receiver<(SocketAddr, SocketAddr)>,
    ready: mpsc::Sender<Ready>,
) {
    // Joined first, by every shard, so that a shard that fails below leaves the others
    // a mesh they can still stop through rather than a join that never ends.
    let ends = match spec.mesh.clone() {
        Some(mesh) => match pump::join(mesh, spec.index).await {
            Some(ends) => Some(ends),
            None => {
                let _ = ready.send(Err("joining the mesh failed".into()));
                return;
            }
        },
        None => None,
    };
    let core = match open_core(&spec) {
        Ok(mut core) => {
            core.share_bind_count(Arc::clone(&spec.binds_up));
            core.metrics = Arc::clone(&spec.metrics);
            core.http.join(Arc::clone(&spec.http_node), spec.index);
            Rc::new(RefCell::new(core))
        }
        Err(reason) => {
            let _ = ready.send(Err(reason));
            return;
        }
    };
    if let Some(ends) = ends {
        pump::spawn(&core, ends);
    }
    let runs = dlr_runs::runs_dir(&spec.snapshot.config.node.data_dir, spec.index);
    dlr_runs::spawn(&core, runs);
    // Start-up only: the addresses come once the shard before listens (or never, when
    // the start failed and the gateway drops its sender).
    let Ok((smpp_listen, http_listen)) = listen.recv() else {
        return;
    };
    let (listener, http_listener) = match listen_both(smpp_listen, http_listen) {
        Ok((smpp, http)) => {
            let addrs = smpp.local_addr().and_then(|a| Ok((a, http.local_addr()?)));
            let _ = ready.send(addrs.map_err(|e| e.to_string()));
            (smpp, http)
        }
        Err(reason) => {
            let _ = ready.send(Err(reason));
            return;
        }
    };
    let auth = match AuthCache::from_limits(&spec.snapshot.config.limits) {
        Ok(cache) => Rc::new(RefCell::new(cache)),
        Err(e) => {
            tracing::error!(error = %e, "auth cache");
            return;
        }
    };
    let http = start_http(&core, &spec, &auth, http_listener);
    start_connectors(&core, &spec);
    let compaction = glommio::spawn_local(crate::shard::compaction::run(Rc::clone(&core)));
    let sessions = Rc::new(Cell::new(0usize));
    let accept = glommio::spawn_local(accept_loop(
        Rc::clone(&core),
        listener,
        Rc::clone(&sessions),
        Arc::clone(&spec.sessions_accepted),
        spec.index,
    ));
    housekeeping(&core, &spec.stop, &mut spec.live).await;
    core.borrow_mut().stopping = true;
    core.borrow().wake_everyone();
    let _ = accept.cancel().await;
    let _ = compaction.cancel().await;
    http.stop().await;
    let mut waited_ms = 0;
    while sessions.get() > 0 && waited_ms < SHUTDOWN_GRACE_MS {
        sleep(Duration::from_millis(HOUSEKEEPING_INTERVAL_MS)).await;
        core.borrow().wake_everyone();
        waited_ms += HOUSEKEEPING_INTERVAL_MS;
    }
    if let Err(e) = core.borrow_mut().close_wal() {
        tracing::error!(shard = spec.index, error = %e, "closing the WAL failed");
    }
    tracing::info!(shard = spec.index, "shard stopped");
}

fn listen_both(smpp: SocketAddr, http: SocketAddr) -> Result<(TcpListener, TcpListener), String> {
    let smpp_listener =
        TcpListener::bind(smpp).map_err(|e| format!("SMPP listen on {smpp}: {e}"))?;
    let http_listener =
        TcpListener::bind(http).map_err(|e| format!("HTTP listen on {http}: {e}"))?;
    Ok((smpp_listener, http_listener))
}

/// The HTTP side of a shard: the API server, the callback pump and its completions.
struct ShardHttp {
    shutdown: tern_http::Shutdown,
    server: glommio::Task<()>,
    pump: glommio::Task<()>,
    mo_pump: glommio::Task<()>,
    completions: glommio::Task<()>,
}

impl ShardHttp {
    async fn stop(self) {
        self.shutdown.trigger();
        let _ = self.server.await;
        // Callbacks not yet acknowledged stay owed in the WAL and go out after a restart.
        let _ = self.pump.cancel().await;
        let _ = self.mo_pump.cancel().await;
        let _ = self.completions.cancel().await;
    }
}

fn start_http(
    core: &CoreRef,
    spec: &ShardSpec,
    auth: &Rc<RefCell<AuthCache>>,
    listener: TcpListener,
) -> ShardHttp {
    let config = &spec.snapshot.config;
    let backend = Rc::new(ShardBackend::new(
        Rc::clone(core),
        Rc::clone(auth),
        spec.node_metrics.clone(),
        Arc::clone(&spec.binds_up),
        spec.binds_configured,
    ));
    let server_config = Rc::new(crate::http::server_config(&config.http));
    let shutdown = server_config.shutdown.clone();
    let server = glommio::spawn_local(tern_http::serve(listener, backend, server_config));
    let dispatcher = Rc::new(tern_http::Dispatcher::new(crate::http::dispatcher_config(
        &config.http,
    )));
    let in_flight = Rc::new(RefCell::new(InFlight::default()));
    let pump = glommio::spawn_local(callbacks::run(
        Rc::clone(core),
        Rc::clone(&dispatcher),
        Rc::clone(&in_flight),
    ));
    let mo_pump = glommio::spawn_local(crate::mo::callback::run(
        Rc::clone(core),
        Rc::clone(&dispatcher),
    ));
    let completions = {
        let core = Rc::clone(core);
        glommio::spawn_local(async move {
            loop {
                let (token, outcome) = dispatcher.next_completion().await;
                let acknowledged =
                    matches!(outcome, tern_http::CallbackOutcome::Acknowledged { .. });
                if crate::mo::callback::is_mo_token(token) {
                    core.borrow_mut().mo_callback_outcome(token, acknowledged);
                    continue;
                }
                callbacks::on_outcome(&core, &in_flight, token, acknowledged);
            }
        })
    };
    ShardHttp {
        shutdown,
        server,
        pump,
        mo_pump,
        completions,
    }
}

fn open_core(spec: &ShardSpec) -> Result<Core, String> {
    let config = &spec.snapshot.config;
    let dir: PathBuf = config.node.data_dir.join(format!("shard-{}", spec.index));
    let (wal, recovery) =
        Wal::open(dir.join("wal"), config.node.wal_config()).map_err(|e| format!("wal: {e}"))?;
    // A parked receipt's deliver_sm_resp waits for its match: it must go out well within
    // the SMSC's response timeout (commonly 10 s, and some SMSCs drop the bind after a few
    // timeouts), and a real early receipt is matched in ms.
    let shards = u32::try_from(spec.shards).unwrap_or(u32::MAX);
    let dlr_config = dlr_runs::index_config(&config.limits, shards, PARK_TIMEOUT_MS);
    let mut dlr = DlrIndex::new(dlr_config).map_err(|e| format!("dlr index: {e}"))?;
    // Runs first: the WAL replay below re-inserts only what no run holds.
    let runs = dlr_runs::runs_dir(&config.node.data_dir, spec.index);
    dlr_runs::reopen(&mut dlr, &runs, unix_now_ms()).map_err(|e| format!("dlr runs: {e}"))?;
    let shard = u8::try_from(spec.index).map_err(|_| "shard index above 255".to_string())?;
    Core::new_in_node(
        shard,
        Arc::clone(&spec.node),
        Arc::clone(&spec.snapshot),
        wal,
        &recovery,
        dlr,
    )
    .map_err(|e| format!("recovery: {e}"))
}

/// Spawns the binds of every connector that belong to this shard.
fn start_connectors(core: &CoreRef, spec: &ShardSpec) {
    for (c, connector) in spec.snapshot.config.connectors.iter().enumerate() {
        let addr = match (connector.host.as_str(), connector.port).to_socket_addrs_first() {
            Some(addr) => addr,
            None => {
                tracing::error!(connector = %connector.name, "cannot resolve upstream address");
                continue;
            }
        };
        for j in 0..connector.binds as usize {
            if crate::mesh::bind_shard(c, j, spec.shards) != spec.index {
                continue;
            }
            glommio::spawn_local(run_bind(Rc::clone(core), c, connector.clone(), addr)).detach();
        }
    }
}

/// The first address a host and port resolve to.
trait FirstAddr {
    fn to_socket_addrs_first(self) -> Option<SocketAddr>;
}

impl FirstAddr for (&str, u16) {
    fn to_socket_addrs_first(self) -> Option<SocketAddr> {
        use std::net::ToSocketAddrs;
        self.to_socket_addrs().ok()?.next()
    }
}

async fn accept_loop(
    core: CoreRef,
    listener: TcpListener,
    sessions: Rc<Cell<usize>>,
    accepted: Arc<Vec<AtomicUsize>>,
    shard: usize,
) {
    let snapshot = Arc::clone(&core.borrow().snapshot);
    let config = &snapshot.config;
    let auth = match AuthCache::from_limits(&config.limits) {
        Ok(cache) => Rc::new(RefCell::new(cache)),
        Err(e) => {
            tracing::error!(error = %e, "auth cache");
            return;
        }
    };
    let conn = Rc::new(client_conn_config(config));
    let sessions_max = config.limits.sessions_max as usize;
    loop {
        let stream = match listener.accept().await {
            Ok(stream) => stream,
            Err(_) => {
                // Out of descriptors or a reset before accept: keep serving the others.
                sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if sessions.get() >= sessions_max {
            drop(stream);
            continue;
        }
        sessions.set(sessions.get() + 1);
        if let Some(n) = accepted.get(shard) {
            n.fetch_add(1, Ordering::AcqRel);
        }
        let (core, auth, conn, sessions) = (
            Rc::clone(&core),
            Rc::clone(&auth),
            Rc::clone(&conn),
            Rc::clone(&sessions),
        );
        glommio::spawn_local(async move {
            let mut handler = ClientConn::new(core, auth);
            let start = Start::Smsc {
                system_id: "tern".into(),
            };
            let _ = tern_smpp_io::run(stream, start, &conn, &mut handler).await;
            sessions.set(sessions.get().saturating_sub(1));
        })
        .detach();
    }
}

fn client_conn_config(config: &Config) -> ConnConfig {
    let smpp = &config.smpp;
    let mut conn = ConnConfig {
        max_pdu_len: smpp.pdu_bytes_max,
        ..ConnConfig::default()
    };
    conn.session.inbound_window_size = smpp.window_size;
    conn.session.window_size = smpp.window_size;
    conn.session.response_timeout = Duration::from_millis(u64::from(smpp.response_timeout_ms));
    conn.session.enquire_link_interval = Some(Duration::from_secs(u64::from(
        smpp.enquire_link_interval_s.max(1),
    )));
    conn.session.inactivity_timeout = Some(Duration::from_secs(u64::from(
        smpp.inactivity_timeout_s.max(1),
    )));
    conn
}

/// Runs until the stop flag is set: a reloaded configuration, parked receipts, WAL done
/// marks, and a periodic wake so that connections re-check their queues' due times.
async fn housekeeping(core: &CoreRef, stop: &AtomicBool, live: &mut SnapshotCache) {
    while !stop.load(Ordering::Acquire) {
        sleep(Duration::from_millis(HOUSEKEEPING_INTERVAL_MS)).await;
        let mut core = core.borrow_mut();
        // One atomic load and a compare while nothing changed.
        let published = live.load();
        if published.generation != core.snapshot.generation {
            core.swap_snapshot(Arc::clone(published));
        }
        core.expire_parked();
        let now_ms = crate::shard::unix_now_ms();
        core.park_due(now_ms);
        core.expire_due(now_ms);
        core.mo_housekeeping();
        core.maintain();
        core.publish_gauges();
        core.kick_forwarder();
    }
}
