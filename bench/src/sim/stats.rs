//! Simulator counters: written by one shard, read by anyone.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::config::FinalState;

/// One shard's counters (each written only by its shard's thread).
#[derive(Debug, Default)]
pub struct ShardStats {
    /// Binds accepted.
    pub binds: AtomicU64,
    /// Binds refused.
    pub binds_refused: AtomicU64,
    /// submit_sm received.
    pub submits: AtomicU64,
    /// submit_sm answered ESME_ROK.
    pub submits_ok: AtomicU64,
    /// submit_sm answered ESME_RTHROTTLED.
    pub throttled: AtomicU64,
    /// submit_sm answered ESME_RMSGQFUL (receipt store full).
    pub queue_full: AtomicU64,
    /// submit_sm answered with the configured failure status.
    pub failed: AtomicU64,
    /// Receipts acknowledged by the ESME (deliver_sm_resp OK).
    pub receipts_sent: AtomicU64,
    /// Receipts sent before their submit_sm_resp.
    pub receipts_early: AtomicU64,
    /// Receipts the ESME refused (deliver_sm_resp with an error); dropped.
    pub receipts_refused: AtomicU64,
    /// Receipts queued again after a timeout or a lost connection.
    pub receipts_requeued: AtomicU64,
    /// Receipts acknowledged, by final state (order of [`FinalState::ALL`]).
    pub receipts_by_state: [AtomicU64; 4],
    /// MO messages sent (a long one counts once).
    pub mo_sent: AtomicU64,
    /// MO deliver_sm PDUs sent (a long one counts its parts).
    pub mo_parts: AtomicU64,
    /// Connections dropped on purpose (--disconnect-after).
    pub disconnects: AtomicU64,
    /// Receipts held now (pending, queued or in flight).
    pub receipts_held: AtomicU64,
}

/// Adds one to a counter.
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The sum of every shard's counters at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SimStats {
    /// Binds accepted.
    pub binds: u64,
    /// Binds refused.
    pub binds_refused: u64,
    /// submit_sm received.
    pub submits: u64,
    /// submit_sm answered ESME_ROK.
    pub submits_ok: u64,
    /// submit_sm answered ESME_RTHROTTLED.
    pub throttled: u64,
    /// submit_sm answered ESME_RMSGQFUL.
    pub queue_full: u64,
    /// submit_sm answered with the failure status.
    pub failed: u64,
    /// Receipts acknowledged by ESMEs.
    pub receipts_sent: u64,
    /// Receipts sent before their submit_sm_resp.
    pub receipts_early: u64,
    /// Receipts refused by ESMEs.
    pub receipts_refused: u64,
    /// Receipts queued again.
    pub receipts_requeued: u64,
    /// Delivered receipts acknowledged.
    pub delivered: u64,
    /// Undeliverable receipts acknowledged.
    pub undeliverable: u64,
    /// Expired receipts acknowledged.
    pub expired: u64,
    /// Rejected receipts acknowledged.
    pub rejected: u64,
    /// MO messages sent.
    pub mo_sent: u64,
    /// MO PDUs sent.
    pub mo_parts: u64,
    /// Connections dropped on purpose.
    pub disconnects: u64,
    /// Receipts held now.
    pub receipts_held: u64,
}

impl SimStats {
    /// Sums the shards' counters.
    pub fn sum(shards: &[std::sync::Arc<ShardStats>]) -> SimStats {
        let mut total = SimStats::default();
        for s in shards {
            let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
            total.binds += get(&s.binds);
            total.binds_refused += get(&s.binds_refused);
            total.submits += get(&s.submits);
            total.submits_ok += get(&s.submits_ok);
            total.throttled += get(&s.throttled);
            total.queue_full += get(&s.queue_full);
            total.failed += get(&s.failed);
            total.receipts_sent += get(&s.receipts_sent);
            total.receipts_early += get(&s.receipts_early);
            total.receipts_refused += get(&s.receipts_refused);
            total.receipts_requeued += get(&s.receipts_requeued);
            let by_state = |state: FinalState| {
                s.receipts_by_state
                    .get(state.index())
                    .map_or(0, |c| c.load(Ordering::Relaxed))
            };
            total.delivered += by_state(FinalState::Delivered);
            total.undeliverable += by_state(FinalState::Undeliverable);
            total.expired += by_state(FinalState::Expired);
            total.rejected += by_state(FinalState::Rejected);
            total.mo_sent += get(&s.mo_sent);
            total.mo_parts += get(&s.mo_parts);
            total.disconnects += get(&s.disconnects);
            total.receipts_held += get(&s.receipts_held);
        }
        total
    }
}
