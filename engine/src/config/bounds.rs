//! The bounds every configured value is checked against.
//!
//! One place, so that the file validator and the command-line parser refuse the same
//! values with the same limits, and so that the sum of the bounds (the memory the process
//! can ever use) can be read off one page.

/// Most shards (pinned executors) a node may run: the mesh has shards² rings.
pub const SHARDS_MAX: u32 = 256;
/// Most messages in flight on one SMPP session or bind without a response.
pub const WINDOW_SIZE_MAX: u32 = 1024;
/// Most binds one connector may open to its SMSC.
pub const BINDS_MAX: u32 = 64;
/// Highest throughput limit one user or connector may be given, in messages per second.
pub const TPS_MAX: u32 = 1_000_000;
/// Longest enquire_link interval, in seconds.
pub const ENQUIRE_LINK_INTERVAL_S_MAX: u32 = 3_600;
/// Longest inactivity timeout of an inbound session, in seconds.
pub const INACTIVITY_TIMEOUT_S_MAX: u32 = 86_400;
/// Shortest response timeout, in milliseconds (shorter only produces false timeouts).
pub const RESPONSE_TIMEOUT_MS_MIN: u32 = 100;
/// Longest response timeout, in milliseconds.
pub const RESPONSE_TIMEOUT_MS_MAX: u32 = 600_000;
/// Longest reconnect backoff, in milliseconds.
pub const RECONNECT_BACKOFF_MS_MAX: u32 = 3_600_000;
/// Smallest accepted PDU bound, in bytes: a submit_sm with a full short_message fits.
pub const PDU_BYTES_MIN: u32 = 512;
/// Largest accepted PDU bound, in bytes: message_payload is at most 64 KiB.
pub const PDU_BYTES_MAX: u32 = 1 << 20;
/// Longest pause of a session's reading after an overload refusal, in milliseconds
/// (longer would risk the client's own enquire_link timeouts).
pub const OVERLOAD_PAUSE_MS_MAX: u32 = 1_000;
/// Deepest queue of one connector partition, in messages.
pub const QUEUE_DEPTH_MAX: u32 = 10_000_000;
/// Most receipts waiting for one user's receiver bind or callback.
pub const RECEIPTS_PENDING_MAX: u32 = 10_000_000;
/// Most receipts parked because they beat their own submit_sm_resp.
pub const RECEIPTS_PARKED_MAX: u32 = 1_000_000;
/// Largest in-memory receipt index, in bytes.
pub const DLR_HOT_BYTES_MAX: u64 = 64 << 30;
/// Smallest in-memory receipt index, in bytes.
pub const DLR_HOT_BYTES_MIN: u64 = 1 << 20;
/// Most generation tables one shard's receipt index may be split into.
pub const DLR_HOT_GENERATIONS_MAX: u32 = 1_024;
/// Shortest receipt-index generation span and hot horizon, in ms: the disk-tier task
/// looks for due generations this often, and one run write takes a few ms to tens of ms.
pub const DLR_SPAN_MS_MIN: u64 = 50;
/// Longest receipt-index generation span and hot horizon, in ms: 7 days.
pub const DLR_SPAN_MS_MAX: u64 = 7 * 86_400_000;
/// Smallest receipt-index disk budget, in bytes (a run file is at least 4 KiB).
pub const DLR_DISK_BYTES_MIN: u64 = 1 << 20;
/// Largest receipt-index disk budget, in bytes.
pub const DLR_DISK_BYTES_MAX: u64 = 1 << 44;
/// Longest message validity (and receipt mapping lifetime), in seconds: 7 days.
pub const MESSAGE_TTL_S_MAX: u32 = 7 * 86_400;
/// Most inbound sessions a node accepts in total.
pub const SESSIONS_MAX: u32 = 100_000;
/// Most remembered successful logins per shard.
pub const AUTH_CACHE_ENTRIES_MAX: u32 = 1_000_000;
/// Longest time a successful login is remembered, in seconds.
pub const AUTH_CACHE_TTL_S_MAX: u32 = 86_400;
/// Longest user or connector name, and system_id, in bytes (the SMPP codec's own bound).
pub const NAME_BYTES_MAX: usize = 64;
/// Longest password, in bytes.
pub const PASSWORD_BYTES_MAX: usize = 64;
/// Longest system_type, in bytes.
pub const SYSTEM_TYPE_BYTES_MAX: usize = 32;
/// Longest destination prefix, in digits (E.164 numbers have at most 15).
pub const PREFIX_DIGITS_MAX: usize = 20;
/// Longest source prefix, in bytes (SMPP addresses are at most 20 characters).
pub const SOURCE_PREFIX_BYTES_MAX: usize = 21;
/// Most users, connectors, MT routes or MO routes in one configuration.
pub const ENTRIES_MAX: usize = 100_000;
/// Most prefixes or users one route may list.
pub const ROUTE_LIST_MAX: usize = 10_000;
/// Most connectors in one route's failover list.
pub const FAILOVER_MAX: usize = 16;
/// Most messages one shard may hold.
pub const MESSAGES_HELD_MAX: u32 = 100_000_000;
/// Upper bound of `limits.messages_park_after_ms` (one hour).
pub const MESSAGES_PARK_AFTER_MS_MAX: u32 = 3_600_000;
/// Upper bound of `limits.messages_parked_max` (per shard; 96 B each at worst).
pub const MESSAGES_PARKED_MAX: u32 = 200_000_000;
/// Largest HTTP request body.
pub const HTTP_BODY_BYTES_MAX: u32 = 64 << 20;
/// Most messages in one HTTP request.
pub const HTTP_BATCH_MAX: u32 = 100_000;
/// Most HTTP connections per shard.
pub const HTTP_CONNECTIONS_MAX: u32 = 1_000_000;
/// Longest a callback may be retried (a week).
pub const CALLBACK_RETRY_FOR_S_MAX: u32 = 7 * 86_400;
/// Longest callback backoff or timeout.
pub const CALLBACK_MS_MAX: u32 = 3_600_000;
/// Most concurrent callback requests per destination host and shard.
pub const CALLBACK_PER_HOST_MAX: u32 = 1_024;
/// Most callbacks queued per shard.
pub const CALLBACK_QUEUE_MAX: u32 = 10_000_000;
/// Most finished messages remembered for status, per shard.
pub const STATUS_HISTORY_MAX: u32 = 10_000_000;
/// Most idempotency keys remembered, per shard.
pub const IDEMPOTENCY_KEYS_MAX: u32 = 10_000_000;
/// Most bearer tokens per user.
pub const TOKENS_MAX: usize = 16;
/// Shortest bearer token (guessing must be hopeless).
pub const TOKEN_BYTES_MIN: usize = 16;
/// Longest bearer token.
pub const TOKEN_BYTES_MAX: usize = 256;
/// Smallest WAL segment, in bytes. Half of it (128 KiB, the largest record a segment this
/// small takes) must hold the engine's largest record: an Accepted record of 255 full
/// parts with every optional field at its bound is ≈ 80 KiB (checked by a test).
pub const WAL_SEGMENT_BYTES_MIN: u64 = 256 << 10;
/// Largest WAL segment, in bytes.
pub const WAL_SEGMENT_BYTES_MAX: u64 = 1 << 30;
