//! The engine's side of the HTTP API: each shard implements [`tern_http::Backend`] over
//! its [`crate::shard::Core`], and sends HTTP clients their receipts as callbacks.
//!
//! # Design
//! - An HTTP send becomes the same Accepted record as an SMPP submit (session `Http`,
//!   the `tern_http::CallbackSpec` bytes and the idempotency key in it), goes through the
//!   same routing, queues and lifecycle, and is answered 202 only once its record is
//!   durable — the same promise as the SMPP submit_sm_resp.
//! - Receipts: the lifecycle's `NotifyClient` for an HTTP message goes to this shard's
//!   callback queue instead of an SMPP outbox; the callback pump renders it with the
//!   message's spec and hands it to the `tern_http` dispatcher, and the receiver's
//!   acknowledgement (2xx, or `ACK/Jasmin`) is the lifecycle's `ClientAcknowledged` — so
//!   an unacknowledged final receipt stays in the WAL and is sent again after a restart.
//! - Status: a bounded [`StatusBook`] of HTTP messages (held ones and the last
//!   `http.status_history_max` finished ones per shard).
//! - Idempotency: `Idempotency-Key` + a digest of the request, remembered per shard
//!   (bounded, oldest forgotten first) and rebuilt at start from the records still in the
//!   WAL, so a retry after a restart is recognised while its messages are live.
//! - Login: a bearer token is a map lookup; a password not in the login cache is checked
//!   with Argon2 on glommio's blocking pool, never on the shard thread.

mod backend;
pub mod callbacks;
mod idempotency;
mod status;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::Waker;

pub use backend::ShardBackend;
pub use idempotency::{Claim, Idempotency};
pub use status::StatusBook;

use crate::config::HttpConfig;
use crate::lifecycle::ClientReceipt;
use crate::message::MessageId;

/// What the shards share for HTTP: every shard's status book (written by its owner only,
/// read by whichever shard a `GET` lands on) and the node's idempotency keys. Each is a
/// mutex taken once per HTTP request or per state change of an HTTP message, never on the
/// SMPP path.
pub struct HttpNode {
    books: Vec<OnceLock<Arc<Mutex<StatusBook>>>>,
    idempotency: Mutex<Idempotency>,
}

impl HttpNode {
    /// Room for `shards` books and `keys_max` idempotency keys.
    pub fn new(shards: usize, keys_max: usize) -> HttpNode {
        HttpNode {
            books: (0..shards).map(|_| OnceLock::new()).collect(),
            idempotency: Mutex::new(Idempotency::new(keys_max)),
        }
    }

    /// The status book of `shard`, once it joined.
    pub fn book(&self, shard: usize) -> Option<MutexGuard<'_, StatusBook>> {
        let book = self.books.get(shard)?.get()?;
        Some(book.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// The node's idempotency keys.
    pub fn idempotency(&self) -> MutexGuard<'_, Idempotency> {
        self.idempotency
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Per-shard HTTP state owned by the core: status, idempotency, receipts owed as callbacks.
pub struct HttpState {
    book: Arc<Mutex<StatusBook>>,
    /// Keys met at recovery, until the shard joins the node.
    recovered_keys: Idempotency,
    node: Option<Arc<HttpNode>>,
    receipts: VecDeque<ClientReceipt>,
    receipts_max: usize,
    notices_max: usize,
    dropped_notices: u64,
    dropped_logged_at: Option<std::time::Instant>,
    /// SMSC-level notices (a part's submit answered OK): best effort, not in the WAL.
    smsc_acks: VecDeque<(MessageId, u8)>,
    pump: Option<Waker>,
}

impl HttpState {
    /// State sized by `[http]` and `limits.messages_held_max`.
    pub fn new(config: &crate::config::Config) -> HttpState {
        let limits = &config.limits;
        let config = &config.http;
        HttpState {
            book: Arc::new(Mutex::new(StatusBook::new(
                config.status_history_max as usize,
            ))),
            recovered_keys: Idempotency::new(config.idempotency_keys_max as usize),
            node: None,
            receipts: VecDeque::new(),
            // Every held message owes at most one final receipt, and intermediate notices
            // take at most `callback_queue_max`: a final receipt is never dropped (the WAL
            // would keep it only until a restart).
            receipts_max: (config.callback_queue_max as usize)
                .saturating_add(limits.messages_held_max as usize),
            notices_max: config.callback_queue_max as usize,
            dropped_notices: 0,
            dropped_logged_at: None,
            smsc_acks: VecDeque::new(),
            pump: None,
        }
    }

    /// This shard's status book.
    pub fn book(&self) -> MutexGuard<'_, StatusBook> {
        self.book
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Shares this shard's book with the node and hands it the keys found at recovery.
    pub fn join(&mut self, node: Arc<HttpNode>, shard: usize) {
        if let Some(slot) = node.books.get(shard) {
            let _ = slot.set(Arc::clone(&self.book));
        }
        let keys = std::mem::replace(&mut self.recovered_keys, Idempotency::new(0));
        node.idempotency().absorb(keys);
        self.node = Some(node);
    }

    /// The node this shard joined.
    pub fn node(&self) -> Option<&Arc<HttpNode>> {
        self.node.as_ref()
    }

    /// Queues a receipt for its callback; false when the queue is at its bound, which
    /// only intermediate notices can meet (final receipts are bounded by the held
    /// messages, see [`HttpState::new`]).
    pub fn push_receipt(&mut self, receipt: ClientReceipt) -> bool {
        let intermediate = matches!(
            receipt.state,
            crate::lifecycle::ReceiptState::Intermediate(_)
        );
        let room = if intermediate {
            self.notices_max
        } else {
            self.receipts_max
        };
        if self.receipts.len() >= room {
            return false;
        }
        self.receipts.push_back(receipt);
        self.wake();
        true
    }

    /// Notes that a part of an HTTP message was accepted upstream (SMSC-level callbacks).
    pub fn push_smsc_ack(&mut self, id: MessageId, part: u8) {
        if self.smsc_acks.len() < self.notices_max {
            self.smsc_acks.push_back((id, part));
            self.wake();
        }
    }

    /// The next receipt owed as a callback.
    pub fn pop_receipt(&mut self) -> Option<ClientReceipt> {
        self.receipts.pop_front()
    }

    /// Counts an intermediate notice dropped at the bound; logs at most once a second.
    pub fn note_dropped_notice(&mut self) {
        self.dropped_notices += 1;
        let now = std::time::Instant::now();
        let due = self
            .dropped_logged_at
            .is_none_or(|at| now.duration_since(at) >= std::time::Duration::from_secs(1));
        if due {
            tracing::warn!(
                dropped = self.dropped_notices,
                "callback queue full: intermediate notices dropped"
            );
            self.dropped_logged_at = Some(now);
        }
    }

    /// Puts back a receipt the dispatcher could not take, to be offered first next time.
    pub fn unpop_receipt(&mut self, receipt: ClientReceipt) {
        self.receipts.push_front(receipt);
    }

    /// The next SMSC-level notice.
    pub fn pop_smsc_ack(&mut self) -> Option<(MessageId, u8)> {
        self.smsc_acks.pop_front()
    }

    /// Receipts waiting for the pump.
    pub fn receipts_queued(&self) -> usize {
        self.receipts.len()
    }

    /// Registers the callback pump's waker.
    pub fn register_pump(&mut self, waker: &Waker) {
        if !self.pump.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.pump = Some(waker.clone());
        }
    }

    fn wake(&self) {
        if let Some(w) = &self.pump {
            w.wake_by_ref();
        }
    }
}

/// A live HTTP message found at recovery: its status and idempotency key come back.
pub fn recovered(state: &mut HttpState, record: &crate::message::MessageRecord<'_>, parts: u8) {
    state.book().accepted(record, parts);
    if let Some((digest, key)) = idempotency::split_field(&record.idempotency_key) {
        let accepted = tern_http::Accepted {
            id: record.id.to_string(),
            parts,
        };
        state
            .recovered_keys
            .recovered(record.user.0, key, digest, accepted);
    }
}

/// The HTTP server's settings from `[http]`.
pub fn server_config(http: &HttpConfig) -> tern_http::ServerConfig {
    tern_http::ServerConfig {
        max_body_octets: http.body_bytes_max as usize,
        max_batch_messages: http.batch_max as usize,
        max_connections: http.connections_max as usize,
        ..tern_http::ServerConfig::default()
    }
}

/// The callback dispatcher's settings from `[http]`.
pub fn dispatcher_config(http: &HttpConfig) -> tern_http::DispatcherConfig {
    tern_http::DispatcherConfig {
        queue_capacity: http.callback_queue_max as usize,
        max_in_flight_per_host: http.callback_per_host_max as usize,
        // Keep as many connections as may be in flight: fewer would close and reopen
        // connections (and resolve the host again) on every burst.
        max_idle_per_host: http.callback_per_host_max as usize,
        request_timeout_ms: u64::from(http.callback_timeout_ms),
        backoff_min_ms: u64::from(http.callback_backoff_min_ms),
        backoff_max_ms: u64::from(http.callback_backoff_max_ms),
        give_up_after_s: u64::from(http.callback_retry_for_s),
        signing_key: http
            .callback_signing_key
            .as_ref()
            .map(|k| k.expose().as_bytes().to_vec()),
        ..tern_http::DispatcherConfig::default()
    }
}
