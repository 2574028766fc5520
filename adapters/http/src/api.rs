//! The types the engine and the HTTP layer exchange, and the [`Backend`] trait.

/// A user as authenticated by the engine (its index in the configuration and its name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserHandle {
    /// The engine's user index.
    pub index: u32,
    /// The login name.
    pub name: String,
}

/// Credentials as the request carried them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// HTTP Basic, or Kannel's/Jasmin's `username` and `password` parameters.
    Password {
        /// User name.
        name: String,
        /// Password as sent.
        password: String,
    },
    /// `Authorization: Bearer TOKEN`.
    Bearer(String),
}

/// Why authentication failed (the HTTP layer answers 401/403 in the client's dialect).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// Unknown user, wrong password or unknown token.
    #[error("invalid credentials")]
    Invalid,
    /// The engine is too busy to verify now (answer 503 with Retry-After).
    #[error("authentication busy")]
    Busy,
}

/// A phone number or alphanumeric sender with its TON and NPI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Type of number (1 international, 5 alphanumeric, 0 unknown).
    pub ton: u8,
    /// Numbering plan indicator (1 E.164, 0 unknown).
    pub npi: u8,
    /// Digits (no leading '+') or the alphanumeric sender id.
    pub digits: String,
}

/// The message's user data as it will be submitted upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// SMPP data_coding of every part.
    pub data_coding: u8,
    /// True when every part starts with a UDH (esm_class UDHI).
    pub udhi: bool,
    /// Each part's short_message, UDH included (1 to 255 parts): at most 140 octets, except
    /// GSM 7-bit, which the HTTP layer writes unpacked (one septet per octet, as SMSCs expect
    /// over SMPP with data_coding 0): at most 160 septets, header counted in septets.
    pub parts: Vec<Vec<u8>>,
}

/// Which receipts the client wants (its callback is called for these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReceiptRequest {
    /// Final success (delivered).
    pub on_success: bool,
    /// Final failure (undeliverable, expired, rejected, failed submit).
    pub on_failure: bool,
    /// Intermediate states (enroute, accepted by the SMSC, buffered).
    pub intermediate: bool,
}

/// How a receipt or MO callback is sent, kept with the message in the WAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackSpec {
    /// The URL (for Kannel, with its `%`-placeholders still in).
    pub url: String,
    /// GET or POST.
    pub method: CallbackMethod,
    /// Which client's convention the request follows.
    pub style: CallbackStyle,
    /// Which receipts the client wants sent here (for Kannel and Jasmin styles the HTTP
    /// layer derives it from dlr-mask / dlr-level, which the style also keeps). Added so
    /// [`crate::render_receipt`] can decide from the stored spec alone.
    pub receipts: ReceiptRequest,
}

/// HTTP method of a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackMethod {
    /// Parameters in the query string.
    Get,
    /// Parameters in the body.
    Post,
}

/// The convention a callback follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackStyle {
    /// Tern's JSON body (POST) or form parameters (GET).
    Json,
    /// Tern's parameters as an `application/x-www-form-urlencoded` body.
    Form,
    /// Kannel's dlr-url: `%`-placeholders substituted; `mask` is the dlr-mask asked.
    Kannel {
        /// Kannel dlr-mask bits (1 delivered, 2 failed, 4 buffered, 8 SMSC ack, 16 SMSC reject).
        mask: u8,
    },
    /// Jasmin's receipt POST/GET (id, message_status, level…), acknowledged by `ACK/Jasmin`.
    Jasmin {
        /// Jasmin dlr-level: 1 SMSC level, 2 terminal level, 3 both.
        level: u8,
    },
}

/// One message to accept, already validated and encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// Destination.
    pub to: Address,
    /// Source.
    pub from: Address,
    /// User data.
    pub encoded: Encoded,
    /// Validity from acceptance, in seconds; `None` is the gateway's default.
    pub validity_s: Option<u32>,
    /// Scheduled delivery time (Unix ms), if any.
    pub schedule_at_ms: Option<u64>,
    /// SMPP priority_flag (0 to 3).
    pub priority: u8,
    /// The client's reference (at most 64 octets), echoed in status and callbacks.
    pub client_ref: Option<String>,
    /// Receipts wanted.
    pub receipts: ReceiptRequest,
    /// Where receipts go; `None` means none are sent (status can still be asked).
    pub callback: Option<CallbackSpec>,
}

/// What became of one accepted submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Our message id (as the client will see it in status and callbacks).
    pub id: String,
    /// Number of parts it is sent as.
    pub parts: u8,
}

/// Why the engine refused (the HTTP layer picks the status: 429/503 with Retry-After, 400,
/// 403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The user is over its throughput limit (429).
    #[error("throttled")]
    Throttled {
        /// Seconds after which a retry may succeed.
        retry_after_s: u32,
    },
    /// The gateway's queues or WAL are full (503).
    #[error("overloaded")]
    Overloaded {
        /// Seconds after which a retry may succeed.
        retry_after_s: u32,
    },
    /// No route for this destination (400, naming the field).
    #[error("no route for {0}")]
    NoRoute(String),
    /// A field the engine found invalid (400).
    #[error("invalid {field}: {detail}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong.
        detail: String,
    },
    /// The Idempotency-Key was used before with a different request (422).
    #[error("idempotency key reused with a different request")]
    IdempotencyConflict,
    /// The first request with this Idempotency-Key is still being accepted (409 with
    /// Retry-After: its answer is not durable yet).
    #[error("a request with this idempotency key is in progress")]
    IdempotencyInProgress,
    /// The engine is shutting down or broken (503).
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// A message's state as a client sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusState {
    /// In the WAL, not yet queued (or scheduled for later).
    Accepted,
    /// Waiting for an upstream bind or its retry time.
    Queued,
    /// Submitted upstream, waiting for the receipt.
    Sent,
    /// Delivered to the handset.
    Delivered,
    /// Undeliverable or failed upstream.
    Failed,
    /// Its validity passed.
    Expired,
    /// Rejected by the upstream or the network.
    Rejected,
    /// Cancelled.
    Cancelled,
}

/// One part of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartStatus {
    /// 1-based part number.
    pub part: u8,
    /// Its state.
    pub state: StatusState,
    /// The upstream's id for it, once sent.
    pub smsc_id: Option<String>,
    /// The upstream's error code, if any.
    pub error: Option<u32>,
}

/// A message's status with its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageStatus {
    /// Our id.
    pub id: String,
    /// Destination digits.
    pub to: String,
    /// Source.
    pub from: String,
    /// The client's reference.
    pub client_ref: Option<String>,
    /// The message's state (derived from its parts).
    pub state: StatusState,
    /// Each part.
    pub parts: Vec<PartStatus>,
    /// States reached, oldest first, with the time (Unix ms).
    pub timeline: Vec<(StatusState, u64)>,
    /// The error code that made it fail, if it did.
    pub error: Option<u32>,
}

/// What `/health` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// True when the gateway accepts messages (WAL open, not stopping).
    pub ready: bool,
    /// Upstream binds up / configured.
    pub binds_up: u32,
    /// Upstream binds configured.
    pub binds_configured: u32,
}

/// The engine side of the HTTP API, one per shard (never shared across threads).
///
/// `async fn` in this trait is deliberate: everything runs on one glommio executor and
/// futures are not `Send`.
#[allow(async_fn_in_trait)]
pub trait Backend: 'static {
    /// Checks credentials (Argon2 may run off the shard thread, hence async).
    async fn authenticate(&self, credentials: Credentials) -> Result<UserHandle, AuthFailure>;

    /// Accepts `messages` for `user`, each durable in the WAL before this returns Ok.
    /// With an `idempotency_key` already used by this user for the same request, returns
    /// the first answer again and accepts nothing. All-or-nothing is not promised: on a
    /// refusal in the middle, the ones accepted so far are in `Ok` and the rest are not
    /// accepted (`Err` only when none was).
    async fn submit(
        &self,
        user: &UserHandle,
        messages: Vec<Submission>,
        idempotency_key: Option<&str>,
    ) -> Result<Vec<Accepted>, Refusal>;

    /// Status of message `id` if `user` owns it and the gateway still remembers it.
    fn status(&self, user: &UserHandle, id: &str) -> Option<MessageStatus>;

    /// Appends the engine's metrics in Prometheus text format.
    fn render_metrics(&self, out: &mut String);

    /// Readiness.
    fn health(&self) -> Health;
}

/// A receipt's state as the engine reports it to the HTTP layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceiptState {
    /// Delivered to the handset (final, success).
    Delivered,
    /// Undeliverable (final, failure).
    Undeliverable,
    /// Validity passed (final, failure).
    Expired,
    /// Rejected by the network (final, failure).
    Rejected,
    /// Deleted at the SMSC (final, failure).
    Deleted,
    /// The SMSC does not know (final, failure).
    Unknown,
    /// The upstream refused the submit or it failed for good (final, failure).
    SubmitFailed,
    /// The SMSC accepted the submit (its submit_sm_resp was OK; intermediate).
    SmscAccepted,
    /// On its way (intermediate).
    Enroute,
    /// Buffered at the SMSC for a later try (intermediate).
    Buffered,
}

impl ReceiptState {
    /// Whether the state is final and a success.
    pub fn is_success(self) -> bool {
        self == ReceiptState::Delivered
    }

    /// Whether the state is final and a failure.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            ReceiptState::Undeliverable
                | ReceiptState::Expired
                | ReceiptState::Rejected
                | ReceiptState::Deleted
                | ReceiptState::Unknown
                | ReceiptState::SubmitFailed
        )
    }

    /// Whether the state is intermediate (more receipts may follow).
    pub fn is_intermediate(self) -> bool {
        !self.is_success() && !self.is_failure()
    }
}

/// A receipt for one message, as the engine hands it to [`crate::render_receipt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptNotice {
    /// Our message id.
    pub id: String,
    /// The user's login name.
    pub user: String,
    /// Destination of the message (the handset).
    pub to: String,
    /// Source of the message.
    pub from: String,
    /// The client's reference.
    pub client_ref: Option<String>,
    /// What happened.
    pub state: ReceiptState,
    /// The upstream's error code (0 when none).
    pub error: u32,
    /// The upstream's id of the message, once known.
    pub smsc_id: Option<String>,
    /// The connector it went through.
    pub connector: String,
    /// When it was accepted from the client (Unix ms).
    pub submitted_at_ms: u64,
    /// When this state was reached (Unix ms).
    pub done_at_ms: u64,
    /// Number of parts.
    pub parts: u8,
    /// The receipt's text as the SMSC sent it (empty when there was none).
    pub receipt_text: String,
}

/// A mobile-originated message, as the engine hands it to [`crate::render_mo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoNotice {
    /// Our id of the MO.
    pub id: String,
    /// The handset.
    pub from: String,
    /// The number it was sent to.
    pub to: String,
    /// The text, decoded (empty for binary).
    pub text: String,
    /// The user data octets as received (reassembled, without UDH).
    pub bytes: Vec<u8>,
    /// SMPP data_coding it came with.
    pub data_coding: u8,
    /// The connector it arrived on.
    pub connector: String,
    /// When it arrived (Unix ms).
    pub received_at_ms: u64,
}
