//! Crash-test child: appends verifiable records under load with fsync on, and each time
//! durability of a batch is signalled prints `D <first> <last>` for every run of
//! consecutive data LSNs in it (log-internal records take LSNs too). The parent test
//! SIGKILLs it at random moments and checks the log against what was printed.
//!
//! Usage: `wal-crash-child DIR SEED`. Prints `R` once the log is open.

use std::collections::VecDeque;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use tern_wal::{Durable, Lsn, Wal, WalConfig, WalError};

/// The payload of record `lsn`: must match `payload_for` in the tests' common module.
fn payload_for(lsn: u64) -> Vec<u8> {
    let mut state = lsn.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let len = 16 + (state % 300) as usize;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Records outside runs of 512 LSNs in every 4096 are marked done once durable, so some
/// segments die whole (reclaimed) and others keep survivors. Must match the parent test.
fn survives(lsn: u64) -> bool {
    (lsn / 512).is_multiple_of(8)
}

struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn poll_durable(durable: &mut Durable, waker: &Waker) -> Poll<Result<(), WalError>> {
    Pin::new(durable).poll(&mut Context::from_waker(waker))
}

fn block_on_durable(mut durable: Durable, waker: &Waker) -> Result<(), WalError> {
    loop {
        if let Poll::Ready(outcome) = poll_durable(&mut durable, waker) {
            return outcome;
        }
        std::thread::park();
    }
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: wal-crash-child DIR SEED")?;
    let seed: u64 = args
        .next()
        .ok_or("usage: wal-crash-child DIR SEED")?
        .parse()?;
    let config = WalConfig {
        segment_bytes: 256 << 10,
        max_pending_bytes: 128 << 10,
        max_record_bytes: 8 << 10,
        ..WalConfig::default()
    };
    let (mut wal, recovery) = Wal::open(&dir, config)?;
    let doomed: Vec<Lsn> = recovery
        .records()
        .map(|record| record.lsn)
        .filter(|lsn| !survives(lsn.get()))
        .collect();
    drop(recovery);
    for lsn in doomed {
        wal.mark_done(lsn)?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "R")?;
    out.flush()?;
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut rng = Rng(seed | 1);
    let mut outstanding: VecDeque<(Vec<u64>, Durable)> = VecDeque::new();
    loop {
        let mut batch = Vec::new();
        for _ in 0..=rng.below(64) {
            match wal.append(1, &payload_for(wal.next_lsn().get())) {
                Ok(lsn) => batch.push(lsn.get()),
                Err(WalError::Full { .. }) => break,
                Err(error) => return Err(error.into()),
            }
        }
        let appended_none = batch.is_empty();
        if let Some(&last) = batch.last() {
            let durable = wal.durable(Lsn(last));
            outstanding.push_back((batch, durable));
        }
        // Too many batches in flight, or the buffer was full: wait for the oldest.
        let mut block = outstanding.len() > 8 || appended_none;
        while let Some((batch, durable)) = outstanding.front_mut() {
            let outcome = if std::mem::take(&mut block) {
                let last = batch.last().copied().unwrap_or_default();
                Poll::Ready(block_on_durable(wal.durable(Lsn(last)), &waker))
            } else {
                poll_durable(durable, &waker)
            };
            let Poll::Ready(outcome) = outcome else { break };
            outcome?;
            let Some((batch, _)) = outstanding.pop_front() else {
                break;
            };
            report_runs(&mut out, &batch)?;
            for &lsn in batch.iter().filter(|lsn| !survives(**lsn)) {
                wal.mark_done(Lsn(lsn))?;
            }
            if rng.below(16) == 0 {
                wal.flush_done()?;
            }
        }
    }
}

/// Prints `D first last` for each run of consecutive LSNs of a durable batch.
fn report_runs(out: &mut impl Write, batch: &[u64]) -> std::io::Result<()> {
    let mut runs = batch.chunk_by(|a, b| b == &(a + 1));
    runs.try_for_each(|run| match (run.first(), run.last()) {
        (Some(first), Some(last)) => writeln!(out, "D {first} {last}"),
        _ => Ok(()),
    })?;
    out.flush()
}
