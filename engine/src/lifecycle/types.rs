//! What goes into the state machine (events) and what comes out (actions), and the state
//! it reports.

use tern_smpp::{CommandStatus, MessageState, RegisteredDelivery, SmscReceipt};
use tern_wal::Lsn;

use crate::message::{ConnectorId, FinalState, Id2, MessageId, PartRef, Progress, UserId};

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Logged, not yet durable: the client has no id yet.
    Accepted,
    /// Waiting in a connector's queue for `not_before_ms` and a window slot.
    Queued {
        /// The connector whose queue holds it.
        connector: ConnectorId,
        /// The submission round this will be on that connector (1-based).
        attempt: u8,
        /// Not to be submitted before this instant (Unix ms).
        not_before_ms: u64,
    },
    /// Submitted; some part's submit_sm_resp is outstanding.
    InFlight {
        /// The connector it went to.
        connector: ConnectorId,
        /// The submission round on that connector (1-based).
        attempt: u8,
    },
    /// Every part is upstream; receipts are awaited for `parts_pending` of them.
    AwaitingReceipt {
        /// Parts without a final state yet.
        parts_pending: u8,
    },
    /// Final: no Submit will ever follow.
    Final(FinalState),
}

/// Something that happened to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The Accepted record is durable and the client has its id: queue the message.
    Durable,
    /// The connector's queue hands the message over (its not_before passed and the window
    /// has room): submit the parts not yet upstream.
    RetryDue,
    /// A submit_sm_resp (or an HTTP provider's answer) for a part.
    SubmitResult {
        /// The part.
        part: u8,
        /// Its command_status.
        status: CommandStatus,
        /// The upstream's id, normalised; `None` if the upstream gave none.
        id2: Option<Id2>,
    },
    /// No answer to a part's submit within the connector's response timeout.
    SubmitTimeout {
        /// The part.
        part: u8,
    },
    /// The bind the message's in-flight parts went out on dropped: their fate is unknown.
    Disconnected,
    /// A delivery receipt for a part.
    Receipt {
        /// The part.
        part: u8,
        /// The receipt's message_state (from the TLV or the `stat:` text).
        state: MessageState,
        /// Its error code (`err:` or network_error_code), 0 if none.
        error: u32,
        /// The DLR key it was matched by; `None` when it named our id directly (an HTTP
        /// provider's callback, which can beat the answer to the submit).
        matched: Option<DlrKey>,
    },
    /// The validity deadline passed.
    ValidityExpired,
    /// The client or an operator cancelled the message.
    Cancelled,
    /// The client acknowledged its final receipt (deliver_sm_resp, or HTTP 2xx).
    ClientAcknowledged,
}

/// A DLR index key: the connector and the ID2 it gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DlrKey {
    /// The connector.
    pub connector: ConnectorId,
    /// Its id for the part.
    pub id2: Id2,
}

/// What the shell must do, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Put the message in `connector`'s queue, due after `delay_ms`; the queue raises
    /// [`Event::RetryDue`].
    Requeue {
        /// The connector.
        connector: ConnectorId,
        /// Delay from now.
        delay_ms: u64,
    },
    /// Submit `part` on `connector`.
    Submit {
        /// The part.
        part: u8,
        /// The connector.
        connector: ConnectorId,
    },
    /// The message leaves `from` for `to`, the next connector of its route (statistics;
    /// a Requeue on `to` follows).
    Failover {
        /// The connector that refused it.
        from: ConnectorId,
        /// The next one.
        to: ConnectorId,
    },
    /// Map `key` to `part` in the DLR index (then hand back any receipt parked for it).
    InsertDlr {
        /// The key.
        key: DlrKey,
        /// What it maps to.
        part: PartRef,
    },
    /// Remove `key` from the DLR index: its final receipt came.
    RemoveDlr {
        /// The key.
        key: DlrKey,
    },
    /// Append this record to the WAL, then report its LSN with
    /// [`crate::lifecycle::Lifecycle::logged`].
    Log(Progress),
    /// Mark this LSN done in the WAL.
    MarkDone(Lsn),
    /// Send this receipt to the client (and retry it until acknowledged, if final).
    NotifyClient(ClientReceipt),
}

/// A receipt for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientReceipt {
    /// The message (ID1).
    pub id: MessageId,
    /// The client.
    pub user: UserId,
    /// What it reports.
    pub state: ReceiptState,
    /// Error code to report (the upstream's receipt error, or a failed submit's status).
    pub error: u32,
    /// When the state was reached (Unix ms).
    pub at_ms: u64,
    /// Which registered_delivery setting asked for it.
    pub reason: ReceiptReason,
}

/// The state a client receipt reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceiptState {
    /// An intermediate notice (ENROUTE, ACCEPTD…): more will follow.
    Intermediate(MessageState),
    /// The final state: nothing follows.
    Final(FinalState),
}

/// The registered_delivery setting a client receipt answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceiptReason {
    /// SMSC receipt on final success or failure (bits 01).
    OnFinal,
    /// SMSC receipt on failure only (bits 10).
    OnFailure,
    /// SMSC receipt on success only (bits 11, SMPP 5.0).
    OnSuccess,
    /// Intermediate notification requested (bit 4).
    Intermediate,
}

impl ReceiptReason {
    /// The reason a final receipt in `state` is due under `registered_delivery`, or `None`
    /// if the client asked for no such receipt.
    pub fn for_final(registered_delivery: RegisteredDelivery, state: FinalState) -> Option<Self> {
        if !registered_delivery.wants_receipt(state.is_success()) {
            return None;
        }
        match registered_delivery.smsc_receipt() {
            SmscReceipt::OnFinal => Some(ReceiptReason::OnFinal),
            SmscReceipt::OnFailure => Some(ReceiptReason::OnFailure),
            SmscReceipt::OnSuccess => Some(ReceiptReason::OnSuccess),
            SmscReceipt::None => None,
        }
    }
}

/// What [`crate::lifecycle::Lifecycle::handle`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Handled {
    /// The event was taken into account (it may have needed no action).
    Applied,
    /// The event was dropped, for this reason; nothing changed.
    Ignored(Ignored),
}

/// Why an event was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ignored {
    /// The message is final: only the client's acknowledgement still matters.
    Closed,
    /// A repeat of something already applied (a second final receipt for a part).
    Duplicate,
    /// Too early (a RetryDue before not_before, a ValidityExpired before the deadline).
    NotDue,
    /// The part number is beyond the message's parts.
    UnknownPart,
    /// A submit answer for a part not in flight (late, after a timeout or a disconnect).
    NotInFlight,
    /// The event does not apply in this state (a RetryDue while in flight, an
    /// acknowledgement before any receipt).
    Unexpected,
}
