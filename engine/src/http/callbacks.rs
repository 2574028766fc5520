//! The callback pump of one shard: receipts owed to HTTP clients become rendered
//! requests for the `tern_http` dispatcher, and its outcomes go back to the lifecycle.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use tern_http::{CallbackSpec, ReceiptNotice, ReceiptState as Notice};
use tern_smpp::MessageState;

use crate::config::Snapshot;
use crate::lifecycle::{ClientReceipt, Event, ReceiptState};
use crate::message::{FinalState, MessageId, MessageRecord};
use crate::shard::{Core, CoreRef};

/// How long the pump waits before offering again when the dispatcher's queue is full.
const DISPATCH_FULL_PAUSE_MS: u64 = 100;

/// What a dispatched token stands for.
#[derive(Debug, Clone, Copy)]
struct Pending {
    id: MessageId,
    /// A final receipt the lifecycle waits to see acknowledged.
    owed: bool,
}

/// Tokens in flight at the dispatcher (bounded by its queue).
#[derive(Default)]
pub struct InFlight {
    next: u64,
    pending: HashMap<u64, Pending>,
}

impl InFlight {
    fn insert(&mut self, pending: Pending) -> u64 {
        let token = self.next;
        self.next = self.next.wrapping_add(1);
        self.pending.insert(token, pending);
        token
    }
}

/// The receipt notice of `receipt` for message `record`.
pub fn receipt_notice(
    core: &Core,
    record: &MessageRecord<'_>,
    state: Notice,
    error: u32,
    at_ms: u64,
) -> ReceiptNotice {
    let snapshot: &Snapshot = &core.snapshot;
    let smsc_id = core.http.book().smsc_id(record.id, record.user.0);
    let connector = record
        .route
        .get(0)
        .and_then(|c| snapshot.config.connectors.get(usize::from(c.0)))
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let user = snapshot
        .config
        .users
        .get(record.user.0 as usize)
        .map(|u| u.name.clone())
        .unwrap_or_default();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    ReceiptNotice {
        id: record.id.to_string(),
        user,
        to: text(&record.destination.digits),
        from: text(&record.source.digits),
        client_ref: (!record.client_ref.is_empty()).then(|| text(&record.client_ref)),
        state,
        error,
        smsc_id,
        connector,
        submitted_at_ms: record.accepted_at_ms,
        done_at_ms: at_ms,
        parts: record.content.part_count(),
        receipt_text: String::new(),
    }
}

/// The notice state of a client receipt.
pub fn notice_state(state: ReceiptState) -> Notice {
    match state {
        ReceiptState::Final(f) => match f {
            FinalState::Delivered => Notice::Delivered,
            FinalState::Undeliverable => Notice::Undeliverable,
            FinalState::Expired => Notice::Expired,
            FinalState::Rejected => Notice::Rejected,
            FinalState::Deleted => Notice::Deleted,
            FinalState::Unknown => Notice::Unknown,
            FinalState::Failed { .. } => Notice::SubmitFailed,
        },
        ReceiptState::Intermediate(MessageState::ENROUTE) => Notice::Enroute,
        ReceiptState::Intermediate(MessageState::ACCEPTED) => Notice::SmscAccepted,
        ReceiptState::Intermediate(_) => Notice::Buffered,
    }
}

/// Renders what is owed; `None` when the client asked for no such callback (a final one
/// then counts as acknowledged: nothing is owed).
fn render(core: &Core, receipt: &ClientReceipt) -> Option<tern_http::CallbackRequest> {
    let record = core.record(receipt.id)?;
    let spec = CallbackSpec::decode(&record.callback).ok()?;
    let state = notice_state(receipt.state);
    // Most clients want only some states: build the notice only for those.
    if !tern_http::wants_receipt(&spec, state) {
        return None;
    }
    let notice = receipt_notice(core, record, state, receipt.error, receipt.at_ms);
    tern_http::render_receipt(&spec, &notice)
}

fn render_smsc_ack(core: &Core, id: MessageId) -> Option<tern_http::CallbackRequest> {
    let record = core.record(id)?;
    let spec = CallbackSpec::decode(&record.callback).ok()?;
    if !tern_http::wants_receipt(&spec, Notice::SmscAccepted) {
        return None;
    }
    let now_ms = crate::shard::unix_now_ms();
    let notice = receipt_notice(core, record, Notice::SmscAccepted, 0, now_ms);
    tern_http::render_receipt(&spec, &notice)
}

/// Runs the pump until the shard stops: offers owed receipts to `dispatcher` and feeds
/// its outcomes back.
pub async fn run(
    core: CoreRef,
    dispatcher: Rc<tern_http::Dispatcher>,
    in_flight: Rc<RefCell<InFlight>>,
) {
    loop {
        let work = poll_fn(|cx| {
            let mut c = core.borrow_mut();
            if c.stopping {
                return Poll::Ready(None);
            }
            if let Some(r) = c.http.pop_receipt() {
                return Poll::Ready(Some(Work::Receipt(r)));
            }
            if let Some((id, _part)) = c.http.pop_smsc_ack() {
                return Poll::Ready(Some(Work::SmscAck(id)));
            }
            c.http.register_pump(cx.waker());
            Poll::Pending
        })
        .await;
        let Some(work) = work else {
            return;
        };
        let (request, pending, receipt) = {
            let id = match &work {
                Work::Receipt(r) => r.id,
                Work::SmscAck(id) => *id,
            };
            // A notice about a parked message needs its record back from the WAL.
            core.borrow_mut().ensure_full(id);
            let c = core.borrow();
            match work {
                Work::Receipt(r) => {
                    let owed = matches!(r.state, ReceiptState::Final(_));
                    (render(&c, &r), Pending { id: r.id, owed }, Some(r))
                }
                Work::SmscAck(id) => (render_smsc_ack(&c, id), Pending { id, owed: false }, None),
            }
        };
        let Some(request) = request else {
            if pending.owed {
                core.borrow_mut()
                    .handle(pending.id, Event::ClientAcknowledged);
            }
            continue;
        };
        let token = in_flight.borrow_mut().insert(pending);
        if dispatcher.enqueue(token, request).is_err() {
            in_flight.borrow_mut().pending.remove(&token);
            if let Some(r) = receipt {
                // Offered again after a pause; it stays owed in the WAL meanwhile.
                core.borrow_mut().http.unpop_receipt(r);
            }
            glommio::timer::sleep(Duration::from_millis(DISPATCH_FULL_PAUSE_MS)).await;
        }
    }
}

/// A dispatched callback ended: an acknowledged final receipt releases the message.
pub fn on_outcome(core: &CoreRef, in_flight: &RefCell<InFlight>, token: u64, acknowledged: bool) {
    let Some(pending) = in_flight.borrow_mut().pending.remove(&token) else {
        return;
    };
    let mut c = core.borrow_mut();
    if acknowledged {
        c.metrics.callbacks_acknowledged.inc();
    } else {
        c.metrics.callbacks_given_up.inc();
        tracing::warn!(id = %pending.id, "callback given up after its retry time");
    }
    if pending.owed {
        // Given up counts as done too: retrying for ever would hold the WAL for ever.
        c.handle(pending.id, Event::ClientAcknowledged);
    }
}

enum Work {
    Receipt(ClientReceipt),
    SmscAck(MessageId),
}
