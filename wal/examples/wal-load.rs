//! Load generator for the WAL: offers records of a fixed size at fixed rates (open loop)
//! for a few seconds each and reports sustained records/s and append-to-durable latency
//! percentiles (HDR histogram), as a table and as JSON lines.
//!
//! `cargo run --release -p tern-wal --example wal-load -- [--rates 10000,100000,500000]
//!  [--seconds 4] [--warmup-seconds 2] [--record-bytes 200] [--durability fsync|none]
//!  [--dir PATH]`
//!
//! The owner loop appends what is due, marks durable records done (so segments recycle),
//! and parks until the syncer wakes it or the next record is due.

use std::collections::VecDeque;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tern_wal::{Durability, Lsn, Wal, WalConfig, WalError, WalStats};

struct Options {
    rates: Vec<u64>,
    seconds: u64,
    warmup_seconds: u64,
    record_bytes: usize,
    durability: Durability,
    dir: Option<std::path::PathBuf>,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        rates: vec![10_000, 100_000, 500_000],
        seconds: 4,
        warmup_seconds: 2,
        record_bytes: 200,
        durability: Durability::Fsync,
        dir: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--rates" => {
                options.rates = value
                    .split(',')
                    .map(|rate| rate.parse().map_err(|_| format!("bad rate {rate}")))
                    .collect::<Result<_, _>>()?
            }
            "--seconds" => options.seconds = value.parse().map_err(|_| "bad --seconds")?,
            "--warmup-seconds" => {
                options.warmup_seconds = value.parse().map_err(|_| "bad --warmup-seconds")?
            }
            "--record-bytes" => {
                options.record_bytes = value.parse().map_err(|_| "bad --record-bytes")?
            }
            "--durability" => {
                options.durability = match value.as_str() {
                    "fsync" => Durability::Fsync,
                    "none" => Durability::None,
                    _ => return Err("--durability is fsync or none".into()),
                }
            }
            "--dir" => options.dir = Some(value.into()),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(options)
}

struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

struct RunResult {
    offered_per_s: u64,
    sustained_per_s: f64,
    phase: Phase,
    stats: WalStats,
}

/// What one phase of offered load produced.
struct Phase {
    appended: u64,
    completed: u64,
    full_refusals: u64,
    latency: Histogram<u64>,
}

fn run(options: &Options, rate: u64) -> Result<RunResult, Box<dyn std::error::Error>> {
    let base = match &options.dir {
        Some(dir) => tempfile::tempdir_in(dir)?,
        None => tempfile::tempdir()?,
    };
    let config = WalConfig {
        durability: options.durability,
        ..WalConfig::default()
    };
    let (mut wal, recovery) = Wal::open(base.path(), config)?;
    drop(recovery);
    let payload = vec![0xA5u8; options.record_bytes];
    // Warm-up at the same rate, unmeasured: the first segments are created and zero-filled,
    // then dead ones are recycled, which is the steady state a long-running shard sees.
    drive(
        &mut wal,
        &payload,
        rate,
        Duration::from_secs(options.warmup_seconds),
    )?;
    let before = wal.stats();
    let measured = Duration::from_secs(options.seconds);
    let phase = drive(&mut wal, &payload, rate, measured)?;
    let after = wal.stats();
    wal.close()?;
    let stats = WalStats {
        batches: after.batches - before.batches,
        syncs: after.syncs - before.syncs,
        syncer_wakes: after.syncer_wakes - before.syncer_wakes,
        rotation_stalls: after.rotation_stalls - before.rotation_stalls,
        segments_created: after.segments_created - before.segments_created,
        segments_recycled: after.segments_recycled - before.segments_recycled,
        ..after
    };
    Ok(RunResult {
        offered_per_s: rate,
        sustained_per_s: phase.completed as f64 / measured.as_secs_f64(),
        phase,
        stats,
    })
}

/// Offers `rate` records/s for `duration` (open loop), marks durable records done, then
/// waits for the stragglers of the phase so the next phase starts clean.
fn drive(
    wal: &mut Wal,
    payload: &[u8],
    rate: u64,
    duration: Duration,
) -> Result<Phase, Box<dyn std::error::Error>> {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut phase = Phase {
        appended: 0,
        completed: 0,
        full_refusals: 0,
        latency: Histogram::<u64>::new_with_bounds(100, 60_000_000_000, 3)?,
    };
    let mut in_flight: VecDeque<(Lsn, Instant)> = VecDeque::with_capacity(1 << 20);
    let start = Instant::now();
    let per_record = Duration::from_secs_f64(1.0 / rate as f64);
    while start.elapsed() < duration {
        let now = Instant::now();
        let due = ((now - start).as_secs_f64() * rate as f64) as u64;
        while phase.appended < due {
            match wal.append(1, payload) {
                Ok(lsn) => in_flight.push_back((lsn, now)),
                Err(WalError::Full { .. }) => {
                    phase.full_refusals += 1;
                    break;
                }
                Err(error) => return Err(error.into()),
            }
            phase.appended += 1;
        }
        complete_durable(wal, &mut in_flight, &mut phase)?;
        let next_due = start + per_record.mul_f64((phase.appended + 1) as f64);
        let pending = in_flight.front().map(|&(lsn, _)| wal.durable(lsn));
        let ready = pending.is_some_and(|mut durable| {
            Pin::new(&mut durable)
                .poll(&mut Context::from_waker(&waker))
                .is_ready()
        });
        if !ready {
            std::thread::park_timeout(next_due.saturating_duration_since(Instant::now()));
        }
    }
    let completed_in_time = phase.completed;
    if let Some(&(last, _)) = in_flight.back() {
        futures_lite::future::block_on(wal.durable(last))?;
        complete_durable(wal, &mut in_flight, &mut phase)?;
    }
    phase.completed = completed_in_time;
    Ok(phase)
}

/// Records the latency of every durable record at the front of `in_flight`, marks it done.
fn complete_durable(
    wal: &mut Wal,
    in_flight: &mut VecDeque<(Lsn, Instant)>,
    phase: &mut Phase,
) -> Result<(), Box<dyn std::error::Error>> {
    let now = Instant::now();
    while let Some(&(lsn, appended_at)) = in_flight.front().filter(|(lsn, _)| wal.is_durable(*lsn))
    {
        phase
            .latency
            .record((now - appended_at).as_nanos() as u64)?;
        wal.mark_done(lsn)?;
        in_flight.pop_front();
        phase.completed += 1;
    }
    Ok(())
}

fn micros(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = parse_options()?;
    let durability = match options.durability {
        Durability::Fsync => "fsync",
        Durability::None => "none",
    };
    let mut out = std::io::stdout().lock();
    let mut results = Vec::new();
    for &rate in &options.rates {
        results.push(run(&options, rate)?);
    }
    writeln!(
        out,
        "durability={durability} record_bytes={} seconds={} warmup_seconds={}",
        options.record_bytes, options.seconds, options.warmup_seconds
    )?;
    let columns = [
        "offered/s",
        "sustained/s",
        "p50_us",
        "p99_us",
        "p99.9_us",
        "max_us",
        "recs/sync",
        "wakes/rec",
        "full",
        "new_segs",
        "recycled",
        "stalls",
    ];
    let [
        offered,
        sustained,
        p50,
        p99,
        p999,
        max,
        per_sync,
        wakes,
        full,
        created,
        recycled,
        stalls,
    ] = columns;
    writeln!(
        out,
        "{offered:>10} {sustained:>12} {p50:>8} {p99:>8} {p999:>9} {max:>8} {per_sync:>9} {wakes:>9} {full:>6} {created:>8} {recycled:>8} {stalls:>6}"
    )?;
    for result in &results {
        let (phase, stats) = (&result.phase, &result.stats);
        writeln!(
            out,
            "{:>10} {:>12.0} {:>8.0} {:>8.0} {:>9.0} {:>8.0} {:>9.1} {:>9.4} {:>6} {:>8} {:>8} {:>6}",
            result.offered_per_s,
            result.sustained_per_s,
            micros(&phase.latency, 0.5),
            micros(&phase.latency, 0.99),
            micros(&phase.latency, 0.999),
            phase.latency.max() as f64 / 1000.0,
            phase.latency.len() as f64 / stats.batches.max(1) as f64,
            stats.syncer_wakes as f64 / phase.appended.max(1) as f64,
            phase.full_refusals,
            stats.segments_created,
            stats.segments_recycled,
            stats.rotation_stalls
        )?;
    }
    for result in &results {
        let (phase, stats) = (&result.phase, &result.stats);
        writeln!(
            out,
            "{{\"durability\":\"{durability}\",\"record_bytes\":{},\"offered_per_s\":{},\"sustained_per_s\":{:.0},\"p50_us\":{:.1},\"p99_us\":{:.1},\"p999_us\":{:.1},\"max_us\":{:.1},\"batches\":{},\"syncs\":{},\"syncer_wakes\":{},\"appended\":{},\"full_refusals\":{},\"segments_created\":{},\"segments_recycled\":{},\"rotation_stalls\":{}}}",
            options.record_bytes,
            result.offered_per_s,
            result.sustained_per_s,
            micros(&phase.latency, 0.5),
            micros(&phase.latency, 0.99),
            micros(&phase.latency, 0.999),
            phase.latency.max() as f64 / 1000.0,
            stats.batches,
            stats.syncs,
            stats.syncer_wakes,
            phase.appended,
            phase.full_refusals,
            stats.segments_created,
            stats.segments_recycled,
            stats.rotation_stalls
        )?;
    }
    Ok(())
}
