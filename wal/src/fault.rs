//! Named fault injection points in the storage path, for tests.
//!
//! They are always compiled in (one relaxed atomic load per batch when disarmed) so that
//! integration tests and the crash-test child can use them without a special build.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// A fault the syncer can be told to suffer once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The next fdatasync reports EIO: the log must stop and fail its waiters.
    FailSync,
    /// The next batch is dropped unwritten, as if the process died after append and before
    /// the write: the log stops, and a reopen must not show those records.
    CrashBeforeSync,
    /// Only the first half of the next batch is written and nothing is synced, as if the
    /// process died mid-write: the log stops, and a reopen must see a torn tail.
    TornWrite,
}

impl Fault {
    fn bit(self) -> u8 {
        match self {
            Fault::FailSync => 1,
            Fault::CrashBeforeSync => 2,
            Fault::TornWrite => 4,
        }
    }
}

/// A handle to arm faults; clones share the same switches.
#[derive(Debug, Clone, Default)]
pub struct FaultInjector {
    armed: Arc<AtomicU8>,
}

impl FaultInjector {
    /// Arms `fault`: the syncer suffers it once, at the next opportunity.
    pub fn arm(&self, fault: Fault) {
        self.armed.fetch_or(fault.bit(), Ordering::SeqCst);
    }

    /// Disarms `fault` if it has not fired yet.
    pub fn disarm(&self, fault: Fault) {
        self.armed.fetch_and(!fault.bit(), Ordering::SeqCst);
    }

    /// True once (and disarms) when `fault` is armed.
    pub(crate) fn fire(&self, fault: Fault) -> bool {
        if self.armed.load(Ordering::Relaxed) & fault.bit() == 0 {
            return false;
        }
        self.armed.fetch_and(!fault.bit(), Ordering::SeqCst) & fault.bit() != 0
    }
}
