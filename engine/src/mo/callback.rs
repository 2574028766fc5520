//! The MO callback pump of one shard: MOs owed to HTTP users become requests for the
//! shard's `tern_http::Dispatcher`, and its outcomes go back to the shard's MO book.
//!
//! MO callbacks share the dispatcher (and its per-host bounds) with receipt callbacks;
//! their tokens carry [`MO_TOKEN_BIT`] so the completion task can tell them apart.

use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use crate::shard::CoreRef;

/// Set in the dispatcher token of every MO callback (receipt tokens count up from 0).
pub const MO_TOKEN_BIT: u64 = 1 << 63;
/// How long the pump waits before offering again when the dispatcher's queue is full.
const DISPATCH_FULL_PAUSE_MS: u64 = 100;

/// True for a dispatcher token of an MO callback.
pub fn is_mo_token(token: u64) -> bool {
    token & MO_TOKEN_BIT != 0
}

/// Runs until the shard stops: offers owed MO callbacks to `dispatcher`.
pub async fn run(core: CoreRef, dispatcher: Rc<tern_http::Dispatcher>) {
    loop {
        let next = poll_fn(|cx| {
            let mut c = core.borrow_mut();
            if c.stopping {
                return Poll::Ready(None);
            }
            if let Some(next) = c.mo_next_callback() {
                return Poll::Ready(Some(next));
            }
            c.mo.register_pump(cx.waker());
            Poll::Pending
        })
        .await;
        let Some((token, request)) = next else {
            return;
        };
        let Some(request) = request else {
            // Nothing to send (no URL): nothing is owed either.
            core.borrow_mut().mo_callback_outcome(token, true);
            continue;
        };
        if dispatcher.enqueue(token, request).is_err() {
            // Offered again after a pause; it stays owed in the WAL meanwhile.
            core.borrow_mut().mo.callback_unsent(token);
            glommio::timer::sleep(Duration::from_millis(DISPATCH_FULL_PAUSE_MS)).await;
        }
    }
}
