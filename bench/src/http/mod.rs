//! The HTTP load generator: `tern bench http` as a library.
//!
//! [`run`] spreads `--connections` keep-alive HTTP/1.1 connections over `--shards`
//! glommio executors. Each connection pipelines up to `--concurrency` POSTs of one
//! message (`/v1/messages`) or `--batch` messages (`/v1/messages/batch`), paced
//! open-loop at `--rate` messages per second (message k of a connection is *intended*
//! at `start + k × period`, and latencies are measured from that intended time, so a
//! stalled gateway shows as latency rather than as a lower offered load) or closed-loop
//! as fast as the pipelines allow. With `--receipts` every message asks for final
//! receipts with a `callback_url` that points at the built-in receiver (on shard 0);
//! callbacks are matched to accepted messages by id in the striped, bounded matcher of
//! `tern bench smpp` ([`crate::load::tracker::Tracker`]), whichever comes first, the
//! 202 or the callback. After the last answer the run waits at most `--callback-wait-s`
//! for the callbacks still due, then reports: counts, refusals by status, errors by
//! cause, callbacks matched / unmatched / missing, and HDR percentiles and curves of
//! request→response and send→callback latency.
//!
//! # Why a hand-written client
//! hyper's HTTP/1.1 client connection carries one request at a time; measuring a
//! gateway's HTTP door at hundreds of thousands of messages per second from one core
//! needs pipelining (hyper's *server*, which serves the gateway's API, answers pipelined
//! requests in order), and a request encoded straight into a reused write buffer, many
//! per `write`, with no per-request `Request`/`HeaderMap`/body objects. Heads are parsed
//! by `httparse` (what hyper itself uses); framing (`Content-Length`, chunked) is the
//! few dozen lines in [`wire`]. The receiver is the same stack, server side.
//!
//! # Bounds
//! In flight: `connections × concurrency` requests; unwritten octets per connection
//! about 256 KiB; a response or callback at most 16 KiB of head and 1 MiB of body;
//! callbacks awaited: `--max-pending-callbacks`, parked: `--max-parked-callbacks`;
//! callback connections: `--max-callback-connections`. What does not fit is counted
//! (`callbacks_untracked`, errors), never queued.
//!
//! # Ceiling (load generator against the test server of `tests/http_load.rs`)
//! Release build, shared 2-vCPU VM under load (provisional; commands and the full
//! table in `bench/README.md`): 335k msg/s with one message per request (one
//! connection, 64 in flight, request p50 143 µs / p99 338 µs) and 280k msg/s in
//! batches of 10, the test server being the limit; the generator's executor spent
//! ≈ 1.3 µs (single) and ≈ 0.8 µs (batched) of CPU per message. With a callback per
//! message, posted one at a time by the server, the receiver's read and write per
//! callback bring that to ≈ 17 µs per message: the callback leg, not the send leg, is
//! what bounds the generator (one receiver, on shard 0).

pub mod client;
pub mod config;
pub mod receiver;
pub mod report;
pub mod wire;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, OnceLock, mpsc};
use std::time::{Duration, Instant};

use glommio::net::{TcpListener, TcpStream};
use glommio::timer::Timer;
use glommio::{LocalExecutorBuilder, Placement};

pub use config::{HttpLoadConfig, Target};
pub use report::HttpReport;

use crate::load::report::Percentiles;
use crate::load::tracker::Tracker;
use crate::run_clock::RunClock;
use client::{ConnEnd, Sender};
use report::{HttpCounts, HttpLatency, HttpShardResults};

/// Messages sent when neither --count nor --duration-s is given.
pub const DEFAULT_COUNT: u64 = 10_000;
/// Pause before reconnect attempt n is `RECONNECT_BACKOFF × min(n, 50)`.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(20);
/// How often the receiver's shard checks whether the run is over.
const DONE_POLL: Duration = Duration::from_millis(20);

/// Why an HTTP load run could not be done.
#[derive(Debug, thiserror::Error)]
pub enum HttpLoadError {
    /// A bad setting.
    #[error("config: {0}")]
    Config(String),
    /// The callback receiver could not listen.
    #[error("callback receiver on {addr}: {detail}")]
    Listen {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Why.
        detail: String,
    },
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
    pub config: HttpLoadConfig,
    /// The resolved target.
    pub target: Target,
    /// The run's time origin.
    pub base: Instant,
    /// Callback matching.
    pub tracker: Tracker,
    /// The `callback_url` sent with each message (set once the receiver listens; unset
    /// without `--receipts`).
    pub callback_url: OnceLock<String>,
    clock: RunClock,
}

impl Shared {
    /// A sender has sent everything and has nothing outstanding.
    pub fn sender_finished(&self, now: Instant) {
        self.clock.sender_finished(now);
    }

    /// True once every sender is done and callbacks are in (or their wait has passed).
    pub fn run_over(&self, now: Instant) -> bool {
        self.clock.run_over(now, self.tracker.pending())
    }
}

/// Runs the load and returns its results (also written to `--json`, and printed unless
/// `--quiet`).
pub fn run(config: HttpLoadConfig) -> Result<HttpReport, HttpLoadError> {
    config.validate().map_err(HttpLoadError::Config)?;
    let target = config.target().map_err(HttpLoadError::Config)?;
    let clock = RunClock::new(config.connections, config.callback_wait_s);
    let shared = Arc::new(Shared {
        tracker: Tracker::new(config.max_pending_callbacks, config.max_parked_callbacks),
        callback_url: OnceLock::new(),
        base: clock.base,
        clock,
        target,
        config,
    });
    // Shard 0 binds the receiver first: every other shard needs its URL.
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut handles = vec![start_shard(0, &shared, Some(ready_tx))?];
    match ready_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(detail)) => {
            return Err(HttpLoadError::Listen {
                addr: shared.config.callback_listen,
                detail,
            });
        }
        Err(_) => return Err(HttpLoadError::Executor("shard 0 ended at start".into())),
    }
    for shard in 1..shared.config.shards {
        handles.push(start_shard(shard, &shared, None)?);
    }
    let mut merged = HttpShardResults::default();
    for handle in handles {
        let part = handle
            .join()
            .map_err(|e| HttpLoadError::Executor(e.to_string()))?;
        merged.counts.merge(&part.counts);
        let _ = merged.request_us.add(&part.request_us);
        let _ = merged.callback_us.add(&part.callback_us);
    }
    let report = build_report(&shared, &merged);
    if let Some(path) = &shared.config.json {
        let json = serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?;
        std::fs::write(path, json)?;
    }
    if !shared.config.quiet {
        print!("{}", report.table());
    }
    Ok(report)
}

fn build_report(shared: &Shared, results: &HttpShardResults) -> HttpReport {
    let counts: &HttpCounts = &results.counts;
    let (send_elapsed_s, total_elapsed_s) = shared.clock.elapsed_s();
    HttpReport {
        protocol: "http",
        requests_sent: counts.requests_sent,
        messages_sent: counts.messages_sent,
        long_messages: counts.long_messages,
        accepted: counts.accepted,
        refused: counts
            .refused
            .iter()
            .map(|(status, n)| (status.to_string(), *n))
            .collect(),
        errors: counts
            .errors
            .iter()
            .map(|(kind, n)| ((*kind).to_owned(), *n))
            .collect(),
        connect_failures: counts.connect_failures,
        reconnects: counts.reconnects,
        callbacks_received: counts.callbacks_received,
        callbacks_matched: counts.callbacks_matched,
        callbacks_early: counts.callbacks_early,
        callbacks_unmatched: counts.callbacks_unreadable + shared.tracker.unmatched_parked(),
        callbacks_missing: shared.tracker.pending(),
        callbacks_untracked: counts.callbacks_untracked,
        callback_states: counts.callback_states.clone(),
        send_elapsed_s,
        total_elapsed_s,
        throughput_msg_s: if send_elapsed_s > 0.0 {
            counts.accepted as f64 / send_elapsed_s
        } else {
            0.0
        },
        latency: HttpLatency {
            request: Percentiles::of(&results.request_us),
            send_callback: Percentiles::of(&results.callback_us),
        },
    }
}

type Ready = mpsc::Sender<Result<(), String>>;

fn start_shard(
    shard: usize,
    shared: &Arc<Shared>,
    ready: Option<Ready>,
) -> Result<glommio::ExecutorJoinHandle<HttpShardResults>, HttpLoadError> {
    let placement = match shared.config.cpu {
        Some(cpu) => Placement::Fixed(cpu + shard),
        None => Placement::Unbound,
    };
    let shared = Arc::clone(shared);
    LocalExecutorBuilder::new(placement)
        .name(&format!("http-load-{shard}"))
        .spawn(move || run_shard(shard, shared, ready))
        .map_err(|e| HttpLoadError::Executor(e.to_string()))
}

/// Messages connection `index` of `connections` sends out of `total`.
fn quota_of(total: u64, connections: usize, index: usize) -> u64 {
    let n = connections.max(1) as u64;
    total / n + u64::from((index as u64) < total % n)
}

/// Binds the receiver (with --receipts) and publishes its URL.
fn bind_receiver(shared: &Shared) -> Result<Option<TcpListener>, String> {
    if !shared.config.receipts {
        return Ok(None);
    }
    let listener = TcpListener::bind(shared.config.callback_listen).map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let _ = shared.callback_url.set(format!("http://{addr}/callbacks"));
    Ok(Some(listener))
}

async fn run_shard(shard: usize, shared: Arc<Shared>, ready: Option<Ready>) -> HttpShardResults {
    let results = Rc::new(RefCell::new(HttpShardResults::default()));
    let mut receiver = None;
    if let Some(ready) = ready {
        match bind_receiver(&shared) {
            Ok(listener) => {
                receiver = listener.map(|l| {
                    receiver::Receiver::start(l, Arc::clone(&shared), Rc::clone(&results))
                });
                let _ = ready.send(Ok(()));
            }
            Err(e) => {
                let _ = ready.send(Err(e));
                return HttpShardResults::default();
            }
        }
    }
    let config = &shared.config;
    let total = match (config.count, config.duration_s) {
        (Some(count), _) => count,
        (None, Some(_)) => u64::MAX,
        (None, None) => DEFAULT_COUNT,
    };
    let mut tasks = Vec::new();
    for index in (shard..config.connections).step_by(config.shards) {
        let quota = if total == u64::MAX {
            u64::MAX
        } else {
            quota_of(total, config.connections, index)
        };
        let sender = Sender::new(Arc::clone(&shared), Rc::clone(&results), index, quota);
        tasks.push(glommio::spawn_local(connection(
            Arc::clone(&shared),
            Rc::clone(&results),
            sender,
        )));
    }
    for task in tasks {
        task.await;
    }
    if let Some(mut receiver) = receiver {
        while !shared.run_over(Instant::now()) {
            Timer::new(DONE_POLL).await;
        }
        receiver.stop();
    }
    Rc::try_unwrap(results).map_or_else(
        |rc| {
            let r = rc.borrow();
            HttpShardResults {
                counts: r.counts.clone(),
                request_us: r.request_us.clone(),
                callback_us: r.callback_us.clone(),
            }
        },
        RefCell::into_inner,
    )
}

/// One connection: connect, send, reconnect after a loss, until the sender is done.
async fn connection(
    shared: Arc<Shared>,
    results: Rc<RefCell<HttpShardResults>>,
    mut sender: Sender,
) {
    let mut attempts: u32 = 0;
    while sender.has_quota() {
        let end = match TcpStream::connect(shared.target.addr).await {
            Ok(stream) => Some(client::run(stream, &mut sender).await),
            Err(_) => {
                results.borrow_mut().counts.connect_failures += 1;
                None
            }
        };
        if end == Some(ConnEnd::Finished) {
            break;
        }
        attempts += 1;
        if attempts > shared.config.max_reconnects {
            break;
        }
        if sender.has_quota() {
            results.borrow_mut().counts.reconnects += 1;
            Timer::new(RECONNECT_BACKOFF * attempts.min(50)).await;
        }
    }
    sender.finish(Instant::now());
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
