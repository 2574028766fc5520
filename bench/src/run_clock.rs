//! When a load run is over, shared by both load generators (`tern bench smpp` and `tern
//! bench http`): every sender done, then the replies (receipts or callbacks) in or
//! their wait spent.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// The run's time origin and the end of its sending, shared by every shard.
#[derive(Debug)]
pub struct RunClock {
    /// The run's time origin.
    pub base: Instant,
    senders_active: AtomicUsize,
    /// When the last sender finished, ns after `base` (`u64::MAX` while some send).
    sending_ended_ns: AtomicU64,
    wait_ns: u64,
}

impl RunClock {
    /// A clock for `senders` senders whose replies are waited for `wait_s` after the last
    /// one finished.
    pub fn new(senders: usize, wait_s: f64) -> RunClock {
        RunClock {
            base: Instant::now(),
            senders_active: AtomicUsize::new(senders),
            sending_ended_ns: AtomicU64::new(u64::MAX),
            wait_ns: (wait_s.max(0.0) * 1e9) as u64,
        }
    }

    /// A sender has sent everything and has nothing outstanding.
    pub fn sender_finished(&self, now: Instant) {
        if self.senders_active.fetch_sub(1, Ordering::AcqRel) == 1 {
            let ns = u64::try_from(now.saturating_duration_since(self.base).as_nanos())
                .unwrap_or(u64::MAX - 1);
            self.sending_ended_ns.store(ns, Ordering::Release);
        }
    }

    /// True once every sender is done and no reply is pending (or their wait passed).
    pub fn run_over(&self, now: Instant, replies_pending: u64) -> bool {
        let ended_ns = self.sending_ended_ns.load(Ordering::Acquire);
        if ended_ns == u64::MAX {
            return false;
        }
        let now_ns =
            u64::try_from(now.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX);
        replies_pending == 0 || now_ns >= ended_ns.saturating_add(self.wait_ns)
    }

    /// Seconds spent sending and in all (sending counts as the whole run until it ended).
    pub fn elapsed_s(&self) -> (f64, f64) {
        let ended_ns = self.sending_ended_ns.load(Ordering::Acquire);
        let total_s = self.base.elapsed().as_secs_f64();
        let send_s = if ended_ns == u64::MAX {
            total_s
        } else {
            ended_ns as f64 / 1e9
        };
        (send_s, total_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_run_is_over_when_the_last_sender_ends_and_replies_are_in_or_late() {
        let clock = RunClock::new(2, 1.0);
        let now = clock.base;
        clock.sender_finished(now);
        assert!(!clock.run_over(now, 0), "one sender still sends");
        clock.sender_finished(now);
        assert!(clock.run_over(now, 0));
        assert!(!clock.run_over(now, 5), "replies pending, wait not spent");
        assert!(
            clock.run_over(now + Duration::from_secs(2), 5),
            "wait spent"
        );
        let (send_s, total_s) = clock.elapsed_s();
        assert!(send_s <= total_s);
    }
}
