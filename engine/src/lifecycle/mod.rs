//! The MT lifecycle: one message's state machine, its compact parked form, and recovery.
//!
//! Sans-IO: [`Lifecycle::handle`] takes an [`Event`] and `now_ms`, changes state and
//! appends [`Action`]s for the shell (submit, requeue, DLR index, WAL, client). No
//! sockets, files or clocks; every case below is a plain unit test.
//!
//! # States
//! ```text
//! Accepted ──Durable──▶ Queued{c, 1, max(now, schedule)} ──RetryDue──▶ InFlight{c, n}
//!    InFlight ── every part answered OK ──▶ AwaitingReceipt{parts pending} ── receipts ──▶ Final
//!    InFlight ── round ends with a transient error ──▶ Queued{c, n+1, now + backoff(n)}
//!    InFlight ── round ends with a failover error, or n = attempts_max ──▶ Queued{next c, 1, now}
//!    any open state ── permanent error · ValidityExpired · Cancelled ──▶ Final
//! ```
//! Final states: Delivered, Undeliverable, Expired, Rejected, Deleted, Unknown,
//! Failed{status}. A message reaches exactly one; after it no Submit is ever emitted.
//!
//! **Rounds.** RetryDue submits every part not yet upstream on the current connector. The
//! round ends when no part is in flight: all upstream → AwaitingReceipt; else a failover
//! error in the round moves to the next connector; else back off. Timeouts and
//! disconnects count as transient (the part goes again: SMPP cannot ask whether the
//! upstream took it, so delivery is at least once).
//!
//! **Errors** ([`ConnectorPolicy`], per connector, defaults in its constants):
//! transient (requeue with backoff): ESME_RSYSERR, RMSGQFUL, RTHROTTLED, RX_T_APPN, and
//! RINVBNDSTS (a re-bind cures it). Failover (this upstream will not, another may):
//! RINVSRCADR, RINVDSTADR, RSUBMITFAIL, the TON/NPI errors, RX_P_APPN, the SMPP 5.0
//! service-type and prohibition errors, RUNKNOWNERR — coverage, porting data, sender-id
//! registration and permissions differ between upstreams. Anything else is permanent:
//! errors about the message itself (length, esm_class, data_coding, validity, TLVs) would
//! come back from every upstream. Past the last connector a failover error fails the
//! message. Receipts never fail over: the upstream took the message, resending could
//! deliver it twice.
//!
//! **Backoff** ([`RetryPolicy`]): base × 2^(n-1), capped, minus up to `jitter_percent`
//! drawn from (seed, message id, attempt), so a replay with the same seed is identical.
//! `attempts_max` rounds per connector, so at most attempts_max × route length submits
//! per part. A retry that would fall at or past the validity deadline expires the message
//! at once; so does a RetryDue or a failover after it.
//!
//! # Parts
//! A message we split has N parts, each with its own ID2, DLR entry and final state. The
//! message's state is derived from its parts:
//!
//! | parts | message |
//! |-------|---------|
//! | every part Delivered | Delivered |
//! | a part reaches any other final state (receipt, permanent error, OK without ID2) | that state, at once; no further Submit |
//! | validity passes with a part not final | Expired |
//! | the client cancels | Deleted |
//!
//! A part's Final record is logged while the message stays open, so recovery knows it.
//!
//! # Receipts
//! A receipt's message_state is read by its connector's policy: SCHEDULED and ENROUTE
//! are intermediate, ACCEPTD too unless `accepted_is_final` (then it counts as
//! delivered), SKIPPED is undeliverable, anything outside the specification is UNKNOWN
//! (final). Then:
//! - a final receipt for a part whose submit answer is outstanding is held and applied
//!   when the OK comes (and its DLR entry removed at once); dropped if the submit is
//!   refused; applied if the submit times out (the receipt proves the upstream has it, so
//!   the part is not sent twice);
//! - a final receipt for an unsent part (its earlier submit timed out) ends the part, so
//!   it is not sent again;
//! - a second final receipt for a part, or an intermediate one after it, changes nothing
//!   ([`Ignored::Duplicate`], [`Ignored::Closed`]);
//! - a final receipt for a closed message changes nothing but removes its DLR entry if
//!   still there (the other parts of a failed split message);
//! - receipts for unknown messages never reach a machine: the DLR index has no entry.
//!
//! **DLR entries.** InsertDlr when a part's OK arrives, RemoveDlr when its final receipt
//! does (the receipt carries the key). ID2s are not kept in memory (64 octets each, for
//! up to 48 hours), so an entry whose part ends without a receipt (expiry, cancel,
//! another part's failure) is left to the index's TTL; a receipt reaching it later finds
//! the message closed.
//!
//! **Client receipts.** [`ReceiptReason::for_final`] applies registered_delivery (final,
//! failure only, success only); intermediate notices go to clients that set bit 4, once
//! per distinct state in a row, best effort (not logged: the final receipt, which is
//! logged, supersedes them). A final receipt owed is logged (ReceiptPending) with the
//! message's Final, offered to the client, and offered again after a restart until the
//! client acknowledges it.
//!
//! # WAL bookkeeping
//! The shell appends each [`Action::Log`] record and reports its LSN with
//! [`Lifecycle::logged`]. A part's Final record makes its Submitted record obsolete
//! ([`Action::MarkDone`]). The closing record (ReceiptAcknowledged, or Done when no
//! receipt is owed) releases every LSN of the message, its own included: the closing
//! record precedes the tombstones in the log, so recovery never sees tombstones without
//! the record that closed the message. [`Lifecycle::relocated`] follows compaction.
//!
//! # Memory
//! The 10 M messages a gateway holds are almost all single-part messages awaiting their
//! receipts. [`MessageSlot::park`] folds one into 24 bytes (asserted in the tests): Accepted
//! and Submitted LSNs (48 bits each), connector, registered_delivery, the last intermediate
//! state, validity deadline in seconds (rounded up, so never early) and user. The route,
//! ID2 and record live in the WAL. The shard keeps slots in dense chunks indexed by the
//! id's sequence, so no key is stored (`engine/src/shard/parked.rs`: 24 B per message,
//! ≤ 96 B for stragglers), and reads the record back by LSN when the receipt comes
//! (`perf/run receipts-10m`: ~10 M outstanding in ≈ 400 MiB of RSS, DLR index included).
//! Everything else (queued, in flight, multipart, final awaiting the client) stays a
//! [`Lifecycle`] (176 bytes plus ~56 per part) with its record, bounded by
//! `limits.messages_held_max`.
//!
//! # Recovery
//! [`Recovery`] folds the WAL's live records in any order (compaction moves Accepted
//! records behind their later records): Accepted with parts not upstream → queued again
//! (accepted-but-unsent and sent-but-unanswered alike, [`Recovered::to_submit`]); parts
//! with a Submitted record await receipts, and a second pass gives their DLR entries
//! ([`Recovered::dlr_entry`]) so that no ID2 is held during the fold; Final without a
//! closing record → the owed receipt is offered again, or the missing ReceiptPending/Done
//! logged; closed messages and orphans disappear, their LSNs handed back to mark done. A
//! property test cuts random histories of interleaved messages after every record: nothing
//! acknowledged is lost, no part with a Submitted or Final record and no final message is
//! submitted again. Attempts and the failover position restart at the first connector.
//! The fold keeps every live message in full form until it finishes: about 250 bytes
//! each, so a log of 10 M live messages needs ~2.5 GB while recovering.
//!
//! # Measured
//! `cargo bench -p tern-engine --bench lifecycle -- --warm-up-time 1 --measurement-time 3`
//! on the shared 2-vCPU box while others compiled (noisy): a whole single-part life
//! (Durable → RetryDue → OK → DELIVRD receipt → client ack, LSNs fed back: 5 records
//! logged, 5 LSNs released, 14 actions in all) 177–199 ns; park + unpark 61–65 ns.
#![warn(missing_docs)]

mod machine;
mod policy;
mod receipt;
mod recovery;
mod slot;
mod submit;
mod types;

pub use machine::Lifecycle;
pub use policy::{
    ConnectorPolicy, ErrorClass, LifecycleConfig, RetryPolicy, STATUS_SET_MAX, StatusSet,
    TooManyStatuses,
};
pub use recovery::{Recovered, Recovery, RecoveryError, resume_all};
pub use slot::{MessageSlot, SLOT_LSN_MAX};
pub use types::{
    Action, ClientReceipt, DlrKey, Event, Handled, Ignored, ReceiptReason, ReceiptState, State,
};
