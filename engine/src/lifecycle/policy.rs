//! Retry and error policy: which statuses requeue, which fail over, which fail; backoff.

use std::collections::BTreeMap;

use tern_smpp::{CommandStatus, MessageState};

use crate::message::{ConnectorId, FinalState, MessageId};

/// Most statuses one [`StatusSet`] holds.
pub const STATUS_SET_MAX: usize = 64;

/// A small sorted set of command_status values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusSet(Box<[CommandStatus]>);

/// A set had more than [`STATUS_SET_MAX`] statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{count} statuses, more than {STATUS_SET_MAX}")]
pub struct TooManyStatuses {
    /// How many were given.
    pub count: usize,
}

impl StatusSet {
    /// The set of `statuses` (duplicates dropped).
    pub fn new(statuses: &[CommandStatus]) -> Result<StatusSet, TooManyStatuses> {
        if statuses.len() > STATUS_SET_MAX {
            return Err(TooManyStatuses {
                count: statuses.len(),
            });
        }
        Ok(StatusSet::sorted(statuses))
    }

    fn sorted(statuses: &[CommandStatus]) -> StatusSet {
        let mut sorted = statuses.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        StatusSet(sorted.into_boxed_slice())
    }

    /// True if `status` is in the set.
    pub fn contains(&self, status: CommandStatus) -> bool {
        self.0.binary_search(&status).is_ok()
    }
}

/// What to do after a submit was refused with a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The same upstream may take it later: requeue with backoff.
    Transient,
    /// This upstream will not take it, another might: go to the next connector.
    Failover,
    /// No upstream would take it as it is: fail the message.
    Permanent,
}

/// How one connector's answers are read. Defaults suit a standard SMPP 3.4 SMSC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorPolicy {
    /// Statuses that requeue on the same connector.
    pub transient: StatusSet,
    /// Statuses that fail over to the next connector of the route (checked after
    /// `transient`; anything in neither set is permanent).
    pub failover: StatusSet,
    /// Read an ACCEPTD receipt as final (the specification: "read on the subscriber's
    /// behalf", counted as delivered) instead of an intermediate notice (what many SMSCs
    /// mean by it). Default false.
    pub accepted_is_final: bool,
}

impl ConnectorPolicy {
    /// The default transient statuses: [`CommandStatus::is_transient`] (system error,
    /// queue full, throttled, temporary application error), plus a bind-state error,
    /// which a re-bind cures.
    pub const DEFAULT_TRANSIENT: &'static [CommandStatus] = &[
        CommandStatus::ESME_RINVBNDSTS,
        CommandStatus::ESME_RSYSERR,
        CommandStatus::ESME_RMSGQFUL,
        CommandStatus::ESME_RTHROTTLED,
        CommandStatus::ESME_RX_T_APPN,
    ];

    /// The default failover statuses: refusals about this upstream's coverage, its
    /// sender-id registrations or its service permissions, which another upstream may not
    /// share (a destination outside one operator's coverage or porting data, a sender id
    /// registered with one aggregator only). Errors about the message itself (length,
    /// esm_class, data_coding, validity, TLVs) stay permanent: every upstream would see the
    /// same bytes.
    pub const DEFAULT_FAILOVER: &'static [CommandStatus] = &[
        CommandStatus::ESME_RINVSRCADR,
        CommandStatus::ESME_RINVDSTADR,
        CommandStatus::ESME_RSUBMITFAIL,
        CommandStatus::ESME_RINVSRCTON,
        CommandStatus::ESME_RINVSRCNPI,
        CommandStatus::ESME_RINVDSTTON,
        CommandStatus::ESME_RINVDSTNPI,
        CommandStatus::ESME_RX_P_APPN,
        CommandStatus::ESME_RSERTYPUNAUTH,
        CommandStatus::ESME_RPROHIBITED,
        CommandStatus::ESME_RSERTYPUNAVAIL,
        CommandStatus::ESME_RSERTYPDENIED,
        CommandStatus::ESME_RUNKNOWNERR,
    ];

    /// How `status` (not ESME_ROK) is handled on this connector.
    pub fn classify(&self, status: CommandStatus) -> ErrorClass {
        if self.transient.contains(status) {
            ErrorClass::Transient
        } else if self.failover.contains(status) {
            ErrorClass::Failover
        } else {
            ErrorClass::Permanent
        }
    }

    /// What a receipt's message_state means here: `None` for an intermediate notice
    /// (SCHEDULED, ENROUTE, and ACCEPTD unless `accepted_is_final`), else the final state.
    /// SKIPPED reads as undeliverable; values outside the specification as UNKNOWN (final:
    /// waiting on a state nobody defined would hold the message until it expires).
    pub fn receipt_state(&self, state: MessageState) -> Option<FinalState> {
        Some(match state {
            MessageState::SCHEDULED | MessageState::ENROUTE => return None,
            MessageState::ACCEPTED if !self.accepted_is_final => return None,
            MessageState::DELIVERED | MessageState::ACCEPTED => FinalState::Delivered,
            MessageState::EXPIRED => FinalState::Expired,
            MessageState::DELETED => FinalState::Deleted,
            MessageState::UNDELIVERABLE | MessageState::SKIPPED => FinalState::Undeliverable,
            MessageState::REJECTED => FinalState::Rejected,
            _ => FinalState::Unknown,
        })
    }
}

impl Default for ConnectorPolicy {
    fn default() -> Self {
        ConnectorPolicy {
            transient: StatusSet::sorted(ConnectorPolicy::DEFAULT_TRANSIENT),
            failover: StatusSet::sorted(ConnectorPolicy::DEFAULT_FAILOVER),
            accepted_is_final: false,
        }
    }
}

/// Backoff and bounds of resubmission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Submission rounds on one connector before failing over (or failing, on the last).
    pub attempts_max: u8,
    /// Delay after the first failed round.
    pub backoff_base_ms: u64,
    /// Ceiling of the delay.
    pub backoff_max_ms: u64,
    /// Up to this percent of each delay is taken off at random (seeded), so that the
    /// messages refused by one throttling burst do not all come back at once.
    pub jitter_percent: u8,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts_max: 5,
            backoff_base_ms: 1_000,
            backoff_max_ms: 60_000,
            jitter_percent: 20,
        }
    }
}

impl RetryPolicy {
    /// Delay before round `attempt + 1` after round `attempt` (1-based) failed: base ×
    /// 2^(attempt-1), at most the ceiling, less a jitter drawn from (seed, message,
    /// attempt), so the same inputs always give the same delay.
    pub fn delay_ms(&self, attempt: u8, seed: u64, id: MessageId) -> u64 {
        let doublings = u32::from(attempt.saturating_sub(1)).min(63);
        let full = self
            .backoff_base_ms
            .saturating_mul(1u64.checked_shl(doublings).unwrap_or(u64::MAX))
            .min(self.backoff_max_ms);
        let jitter_span = full / 100 * u64::from(self.jitter_percent.min(100));
        let draw = splitmix64(seed ^ id.get() ^ u64::from(attempt).rotate_left(56));
        full - draw % (jitter_span + 1)
    }
}

/// SplitMix64: a tiny, well-mixed hash, enough to spread jitter.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Everything the state machine consults: retry bounds, jitter seed, per-connector
/// policies.
#[derive(Debug, Clone, Default)]
pub struct LifecycleConfig {
    /// Backoff and attempt bounds.
    pub retry: RetryPolicy,
    /// Seed of the retry jitter (per shard, so a run can be replayed).
    pub seed: u64,
    /// Policy of connectors without their own.
    pub default_connector: ConnectorPolicy,
    /// Per-connector policies.
    pub connectors: BTreeMap<ConnectorId, ConnectorPolicy>,
}

impl LifecycleConfig {
    /// The policy of `connector`.
    pub fn connector(&self, connector: ConnectorId) -> &ConnectorPolicy {
        self.connectors
            .get(&connector)
            .unwrap_or(&self.default_connector)
    }
}
