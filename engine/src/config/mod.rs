//! The node's configuration: a TOML file, the built-in demo, and command-line overrides.
//!
//! # Design
//! - One typed tree ([`Config`]) with a default for every field, so a deployment file only
//!   says what differs, and `deny_unknown_fields` everywhere, so a misspelt key is an error
//!   rather than a silently ignored setting.
//! - Parsing and checking are separate: serde turns text into the tree (syntax and type
//!   errors, located by toml's spans), then [`Config::validate`] checks bounds and
//!   cross-references on the plain tree. Problems name the field by path and, for a file,
//!   its line and column, found by looking the path up in toml's spanned document
//!   ([`source`]). Values are not wrapped in `toml::Spanned`, so the rest of the engine
//!   reads plain types, and the same checks serve the file, the demo and the overrides.
//! - All problems are reported at once, one per line, as `FILE: line N, column M: PATH:
//!   MESSAGE`; warnings (a plain-text password, no MT route) come back beside the config.
//! - Every bound lives in [`bounds`]; the sum of the configured bounds is the memory the
//!   process can ever use.
//!
//! Not on the hot path: read at start and on reload only, so it is plain serde.

#![warn(missing_docs)]

pub mod bounds;
mod cli;
mod error;
mod handle;
mod reload;
mod source;
mod validate;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use cli::{ArgError, ConnectorArg, RunArgs, UserArg};
pub use error::{ConfigError, Diagnostic, Location};
pub use handle::{ConfigHandle, Snapshot, SnapshotCache, SnapshotError};
pub use reload::{ReloadError, ReloadPlan, USERS_ADDED_BY_RELOAD_MAX, plan_reload};

/// A whole node's configuration, as read from `tern.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where data lives and how many cores run shards.
    pub node: NodeConfig,
    /// The SMPP server that clients (ESMEs) bind to.
    pub smpp: SmppConfig,
    /// The HTTP API.
    pub http: HttpConfig,
    /// Node-wide bounds on memory and time.
    pub limits: LimitsConfig,
    /// Accounts that may submit messages and receive receipts and MO messages.
    pub users: Vec<UserConfig>,
    /// Upstream SMSCs that messages are sent to.
    pub connectors: Vec<ConnectorConfig>,
    /// How messages choose a connector (MT) or a user (MO).
    pub routes: RoutesConfig,
}

/// `[node]`: where data lives and how many cores run shards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// Directory of the write-ahead log and the on-disk receipt index; created if absent.
    pub data_dir: PathBuf,
    /// Number of shards (one pinned core each); absent means every available core.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shards: Option<u32>,
    /// Size of each WAL segment file, in bytes: a multiple of 4096 within
    /// `WAL_SEGMENT_BYTES_MIN..=WAL_SEGMENT_BYTES_MAX` (default 64 MiB). Disk use is
    /// bounded in segments (live data, the active one, spares), so smaller segments mean
    /// finer-grained reclamation and more files.
    pub wal_segment_bytes: u64,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./tern-data"),
            shards: None,
            wal_segment_bytes: WAL_SEGMENT_BYTES_DEFAULT,
        }
    }
}

/// Default `node.wal_segment_bytes`: the WAL's own default.
pub const WAL_SEGMENT_BYTES_DEFAULT: u64 = 64 << 20;

impl NodeConfig {
    /// The WAL configuration of each shard's log: the WAL's defaults with this segment
    /// size. A record may take half a segment, at most the WAL's default (1 MiB): at
    /// [`bounds::WAL_SEGMENT_BYTES_MIN`] that is 128 KiB, more than the engine's largest
    /// record (see there).
    pub fn wal_config(&self) -> tern_wal::WalConfig {
        let defaults = tern_wal::WalConfig::default();
        tern_wal::WalConfig {
            segment_bytes: self.wal_segment_bytes,
            max_record_bytes: defaults
                .max_record_bytes
                .min(usize::try_from(self.wal_segment_bytes / 2).unwrap_or(usize::MAX)),
            ..defaults
        }
    }
}

impl NodeConfig {
    /// The shard count to run: the configured one, else the cores this process may use.
    pub fn shard_count(&self) -> u32 {
        self.shards.unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            u32::try_from(cores)
                .unwrap_or(1)
                .clamp(1, bounds::SHARDS_MAX)
        })
    }
}

/// `[smpp]`: the SMPP server that clients bind to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmppConfig {
    /// Address and port to listen on, as `IP:PORT` (`[::]:2775` for IPv6).
    pub listen: SocketAddr,
    /// Requests a client may have in flight on one session before it is throttled (1..=1024).
    pub window_size: u32,
    /// Seconds of silence after which the server probes a session with enquire_link.
    pub enquire_link_interval_s: u32,
    /// Seconds without any PDU after which a session is closed.
    pub inactivity_timeout_s: u32,
    /// Milliseconds to wait for a client's response (to deliver_sm, enquire_link).
    pub response_timeout_ms: u32,
    /// Largest PDU accepted from a client, in bytes; a larger one closes the session.
    pub pdu_bytes_max: u32,
    /// Milliseconds a session leaves its client's requests unread after refusing one with
    /// ESME_RMSGQFUL or ESME_RTHROTTLED (0: never pause, refuse each one as it comes).
    pub overload_pause_ms: u32,
}

impl Default for SmppConfig {
    fn default() -> Self {
        Self {
            listen: loopback(2775),
            window_size: 64,
            enquire_link_interval_s: 30,
            inactivity_timeout_s: 300,
            response_timeout_ms: 10_000,
            pdu_bytes_max: 65_536,
            overload_pause_ms: 10,
        }
    }
}

/// `[http]`: the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address and port to listen on, as `IP:PORT`.
    pub listen: SocketAddr,
    /// Largest request body accepted (413 above).
    pub body_bytes_max: u32,
    /// Most messages in one request (a batch, or one message to many recipients).
    pub batch_max: u32,
    /// Open HTTP connections per shard; more are answered 503 and closed.
    pub connections_max: u32,
    /// Key of the `X-Tern-Signature` HMAC on callbacks; absent means unsigned callbacks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_signing_key: Option<Secret>,
    /// How long a callback is retried before it is given up (and logged as lost).
    pub callback_retry_for_s: u32,
    /// First retry delay of a callback; doubles up to `callback_backoff_max_ms`.
    pub callback_backoff_min_ms: u32,
    /// Longest delay between two tries of a callback.
    pub callback_backoff_max_ms: u32,
    /// Time a callback receiver has to answer one request.
    pub callback_timeout_ms: u32,
    /// Concurrent callback requests to one destination host, per shard.
    pub callback_per_host_max: u32,
    /// Callbacks handed to the dispatcher at once, per shard, and the intermediate notices
    /// waiting for it; final receipts waiting behind them are bounded by
    /// `limits.messages_held_max` and never dropped.
    pub callback_queue_max: u32,
    /// Finished messages whose status `GET /v1/messages/{id}` still answers, per shard.
    pub status_history_max: u32,
    /// Idempotency keys remembered, per shard (oldest forgotten first).
    pub idempotency_keys_max: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: loopback(8080),
            body_bytes_max: 1 << 20,
            batch_max: 1_000,
            connections_max: 10_000,
            callback_signing_key: None,
            callback_retry_for_s: 48 * 3_600,
            callback_backoff_min_ms: 1_000,
            callback_backoff_max_ms: 600_000,
            callback_timeout_ms: 10_000,
            callback_per_host_max: 16,
            callback_queue_max: 100_000,
            status_history_max: 100_000,
            idempotency_keys_max: 100_000,
        }
    }
}

/// `[limits]`: node-wide bounds; together they cap the memory the process can use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Messages queued for one connector on one shard before new ones are refused
    /// (`ESME_RMSGQFUL`, HTTP 503); a connector may set its own.
    pub queue_depth_max: u32,
    /// Receipts queued for one user's receiver binds on one shard past which intermediate
    /// notices are dropped; final receipts are always kept (each held message owes at
    /// most one, so `messages_held_max` bounds them).
    pub receipts_pending_max: u32,
    /// Receipts parked per shard because they arrived before their submit_sm_resp.
    pub receipts_parked_max: u32,
    /// Messages one shard holds in full form (queued, in flight, owing a receipt to the
    /// client, or awaiting one for less than `messages_park_after_ms`) before new ones are
    /// refused (`ESME_RMSGQFUL`, HTTP 503): ≈ 1.5 KiB per message (measured in the
    /// receipts-outstanding scenario before parking: 300k held, 470 MiB peak RSS).
    pub messages_held_max: u32,
    /// How long a single-part message waits for its receipt in full form before the shard
    /// parks it (keeps a 24-byte slot and reads its record back from the WAL when the
    /// receipt comes), in ms; 0 never parks. Receipts that come sooner cost no read.
    pub messages_park_after_ms: u32,
    /// Messages parked per shard (≈ 24 B each, up to 96 B for stragglers); past it they
    /// stay in full form, counted against `messages_held_max`.
    pub messages_parked_max: u32,
    /// Memory for the in-memory part of the receipt index, in bytes, per node (split
    /// evenly over the shards, at least 1 MiB each).
    pub dlr_hot_bytes_max: u64,
    /// Generation tables each shard's hot budget is split into: mappings leave RAM a
    /// generation at a time, and at most this many are in RAM at once.
    pub dlr_hot_generations_max: u32,
    /// Longest time one generation collects mappings before it is sealed, in ms; a disk
    /// run covers at most this much time (about `message_ttl_s / this` runs per shard).
    pub dlr_generation_span_ms: u64,
    /// Least time a mapping stays in RAM before its generation is written to a disk run,
    /// in ms (earlier when half the hot budget is in use). At most `message_ttl_s`.
    pub dlr_hot_horizon_ms: u64,
    /// Bytes of receipt-index run files kept on disk, per node (split evenly over the
    /// shards); past it the oldest run is dropped before its TTL (counted).
    pub dlr_disk_bytes_max: u64,
    /// Validity given to a message that asks none, and how long its receipt mapping is
    /// kept, in seconds (48 h by default).
    pub message_ttl_s: u32,
    /// Inbound SMPP sessions accepted in total; more are refused at accept.
    pub sessions_max: u32,
    /// Successful logins remembered per shard so a reconnect storm skips password hashing.
    pub auth_cache_entries_max: u32,
    /// Seconds a successful login is remembered.
    pub auth_cache_ttl_s: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            queue_depth_max: 100_000,
            receipts_pending_max: 100_000,
            receipts_parked_max: 65_536,
            messages_held_max: 500_000,
            messages_park_after_ms: 1_000,
            messages_parked_max: 10_000_000,
            dlr_hot_bytes_max: 256 << 20,
            dlr_hot_generations_max: 16,
            dlr_generation_span_ms: 450_000,
            dlr_hot_horizon_ms: 900_000,
            dlr_disk_bytes_max: 16 << 30,
            message_ttl_s: 48 * 3_600,
            sessions_max: 1_024,
            auth_cache_entries_max: 1_024,
            auth_cache_ttl_s: 600,
        }
    }
}

impl LimitsConfig {
    /// The receipt index's RAM budget of one shard of a node of `shards`: an even share
    /// of `dlr_hot_bytes_max`, at least [`bounds::DLR_HOT_BYTES_MIN`].
    pub fn dlr_hot_bytes_per_shard(&self, shards: u32) -> u64 {
        (self.dlr_hot_bytes_max / u64::from(shards.max(1))).max(bounds::DLR_HOT_BYTES_MIN)
    }

    /// The receipt index's disk budget of one shard of a node of `shards`.
    pub fn dlr_disk_bytes_per_shard(&self, shards: u32) -> u64 {
        self.dlr_disk_bytes_max / u64::from(shards.max(1))
    }
}

/// A secret string (a password): read from the file, never printed by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for hashing or sending in a bind.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("***")
    }
}

/// The kind of an SMPP bind: transmitter, receiver or transceiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BindKind {
    /// bind_transmitter: submits only.
    Tx,
    /// bind_receiver: receives deliver_sm (receipts, MO) only.
    Rx,
    /// bind_transceiver: both.
    Trx,
}

impl BindKind {
    /// Parses the configuration spelling (`tx`, `rx`, `trx`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "tx" => Some(Self::Tx),
            "rx" => Some(Self::Rx),
            "trx" => Some(Self::Trx),
            _ => None,
        }
    }
}

/// `[[users]]`: an account that binds over SMPP or calls the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserConfig {
    /// The login: SMPP system_id and HTTP user name; unique.
    pub name: String,
    /// Argon2 password hash as a PHC string (`$argon2id$v=19$...`), from `tern
    /// hash-password`. Give this or `password`, not both.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// Plain-text password, hashed at load; accepted for tests and demos, with a warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Messages per second this user may submit, over all its sessions; more are
    /// refused with `ESME_RTHROTTLED` / HTTP 429.
    pub tps_max: u32,
    /// Bind kinds this user may open (`tx`, `rx`, `trx`).
    pub binds: Vec<BindKind>,
    /// Concurrent SMPP sessions this user may hold.
    pub sessions_max: u32,
    /// Receipts waiting for this user; absent means `limits.receipts_pending_max`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipts_pending_max: Option<u32>,
    /// Bearer tokens that authenticate this user on the HTTP API.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<Secret>,
    /// Where this user's MO messages go as HTTP callbacks (`http://` or `https://`);
    /// absent: they go to the user's SMPP receiver and transceiver binds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mo_url: Option<String>,
    /// HTTP method of MO callbacks: `get` or `post`.
    pub mo_method: MoMethod,
    /// Convention of MO callbacks: `json` (Tern JSON), `form`, `kannel` (the URL's `%`
    /// placeholders) or `jasmin`.
    pub mo_format: MoFormat,
    /// Set by a reload for a user the new file no longer has: it keeps its position (its
    /// messages in flight and open sessions still refer to it) but cannot log in. Never
    /// read from a file.
    #[serde(skip)]
    pub retired: bool,
}

/// `[[users]] mo_method`: the HTTP method of MO callbacks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MoMethod {
    /// GET, fields in the query string.
    Get,
    /// POST, fields in the body.
    #[default]
    Post,
}

/// `[[users]] mo_format`: the convention of MO callbacks (see `tern_http::render_mo`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MoFormat {
    /// Tern JSON (`{"event":"mo",...}`); form parameters with GET.
    #[default]
    Json,
    /// Form parameters (`application/x-www-form-urlencoded`).
    Form,
    /// Kannel's `%`-placeholders in the URL.
    Kannel,
    /// Jasmin's MO parameters, acknowledged by a body starting `ACK/Jasmin`.
    Jasmin,
}

impl Default for UserConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            password_hash: None,
            password: None,
            tps_max: 100,
            binds: vec![BindKind::Tx, BindKind::Rx, BindKind::Trx],
            sessions_max: 8,
            receipts_pending_max: None,
            tokens: Vec::new(),
            mo_url: None,
            mo_method: MoMethod::Post,
            mo_format: MoFormat::Json,
            retired: false,
        }
    }
}

/// The protocol a connector speaks to its upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    /// SMPP 3.4 client binds.
    #[default]
    Smpp,
}

/// `[[connectors]]`: an upstream SMSC that messages are sent to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectorConfig {
    /// Unique name that routes refer to.
    pub name: String,
    /// Protocol: only `smpp` for now.
    pub kind: ConnectorKind,
    /// Served by the built-in SMSC simulator: the engine starts it and fills in `host`
    /// and `port` at start (the demo's `sim`); `host`, `port` and `system_id` may be left out.
    pub simulator: bool,
    /// SMSC host name or IP address (IPv6 without brackets).
    pub host: String,
    /// SMSC TCP port.
    pub port: u16,
    /// system_id sent in the bind.
    pub system_id: String,
    /// password sent in the bind.
    pub password: Secret,
    /// system_type sent in the bind; often empty.
    pub system_type: String,
    /// Kind of every bind: `tx`, `rx` or `trx`.
    pub bind: BindKind,
    /// Number of binds opened, spread over the shards.
    pub binds: u32,
    /// submit_sm in flight per bind without a response (1..=1024).
    pub window_size: u32,
    /// Messages per second over all binds, as agreed with the SMSC.
    pub tps_max: u32,
    /// Seconds of silence after which a bind sends enquire_link.
    pub enquire_link_interval_s: u32,
    /// Milliseconds to wait for a response before the request counts as failed.
    pub response_timeout_ms: u32,
    /// First wait before reconnecting after a lost or refused bind, in milliseconds.
    pub reconnect_backoff_min_ms: u32,
    /// Longest wait between reconnects (the backoff doubles up to it), in milliseconds.
    pub reconnect_backoff_max_ms: u32,
    /// How an MO that no `[[routes.mo]]` covers is answered: `permanent`
    /// (ESME_RX_P_APPN, the SMSC stops retrying) or `transient` (ESME_RX_T_APPN, it
    /// retries later, e.g. while a route is being added).
    pub mo_unrouted: MoUnrouted,
    /// Messages queued for this connector per shard; absent means `limits.queue_depth_max`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_depth_max: Option<u32>,
    /// What to do with a client's message_payload (or data_sm) too long for one part:
    /// `split` it into short_message parts (most SMSCs take short_message only) or
    /// `pass` it whole in message_payload.
    pub message_payload: PayloadHandling,
    /// How the parts of a split message are tied together: `udh8`, `udh16` or `sar`.
    pub split_udh: SplitConcat,
    /// How this SMSC deviates from SMPP 3.4.
    pub quirks: Quirks,
}

/// `message_payload` of a connector: what its SMSC takes for a long message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadHandling {
    /// Split into short_message parts; a payload that fits one part goes as short_message.
    #[default]
    Split,
    /// Pass message_payload through whole: the SMSC splits.
    Pass,
}

/// `split_udh` of a connector: how the parts of a message split by us are tied together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitConcat {
    /// A concatenation information element with an 8-bit reference in each part's UDH.
    #[default]
    Udh8,
    /// A concatenation information element with a 16-bit reference in each part's UDH.
    Udh16,
    /// No UDH: the sar_msg_ref_num, sar_total_segments and sar_segment_seqnum TLVs.
    Sar,
}

impl Default for ConnectorConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            kind: ConnectorKind::Smpp,
            simulator: false,
            host: String::new(),
            port: 0,
            system_id: String::new(),
            password: Secret::default(),
            system_type: String::new(),
            bind: BindKind::Trx,
            binds: 1,
            window_size: 10,
            tps_max: 100,
            enquire_link_interval_s: 30,
            response_timeout_ms: 10_000,
            reconnect_backoff_min_ms: 500,
            reconnect_backoff_max_ms: 30_000,
            mo_unrouted: MoUnrouted::Permanent,
            queue_depth_max: None,
            message_payload: PayloadHandling::Split,
            split_udh: SplitConcat::Udh8,
            quirks: Quirks::default(),
        }
    }
}

/// `[[connectors]] mo_unrouted`: the answer to an MO that no MO route covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MoUnrouted {
    /// ESME_RX_P_APPN: the SMSC gives up on it (a destination nobody took will not
    /// become routable by retrying).
    #[default]
    Permanent,
    /// ESME_RX_T_APPN: the SMSC retries it later.
    Transient,
}

/// How an SMSC writes a message id, so that the id in submit_sm_resp and the id in its
/// receipt can be matched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdFormat {
    /// An opaque string, compared byte for byte.
    #[default]
    Text,
    /// A decimal number: leading zeros do not matter.
    Decimal,
    /// A hexadecimal number: case and leading zeros do not matter.
    Hex,
}

/// What data_coding 0 ("SMSC default alphabet") means on a link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dcs0 {
    /// GSM 03.38 7-bit default alphabet.
    #[default]
    Gsm7,
    /// ISO-8859-1.
    Latin1,
    /// IA5 / ASCII.
    Ascii,
}

/// Where an SMSC puts a receipt's fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptFormat {
    /// SMPP 3.4 appendix B text (`id:... stat:...`) and the receipt TLVs when present;
    /// the TLVs win when both are there.
    #[default]
    Standard,
    /// Only the receipted_message_id and message_state TLVs are trusted.
    TlvOnly,
    /// Only the text is trusted (TLVs present but wrong on some SMSCs).
    TextOnly,
    /// Text with `id:` and `stat:` only, field names in any case.
    Minimal,
}

/// A GSM 03.38 national language shift table (3GPP TS 23.038 annex A).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)] // the variant names are the languages
pub enum NationalTable {
    Turkish,
    Spanish,
    Portuguese,
    Bengali,
    Gujarati,
    Hindi,
    Kannada,
    Malayalam,
    Oriya,
    Punjabi,
    Tamil,
    Telugu,
    Urdu,
}

/// `[connectors.quirks]`: one SMSC's deviations from SMPP 3.4, so each is a setting
/// rather than code.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quirks {
    /// How the message id in submit_sm_resp is written: `text`, `decimal` or `hex`.
    pub submit_resp_id: IdFormat,
    /// How the message id in a receipt is written: `text`, `decimal` or `hex`. When the two
    /// differ (hex in one place, decimal in the other) ids are compared as numbers.
    pub receipt_id: IdFormat,
    /// What data_coding 0 means on this link: `gsm7`, `latin1` or `ascii`.
    pub dcs0: Dcs0,
    /// GSM-7 text is sent and received packed (7 bits per character) instead of one
    /// character per octet.
    pub gsm7_packed: bool,
    /// Where receipts carry their fields: `standard`, `tlv_only`, `text_only` or `minimal`.
    pub receipt_format: ReceiptFormat,
    /// National language shift tables this SMSC accepts, tried in order when text does not
    /// fit the default alphabet (e.g. `["turkish"]`).
    pub national_tables: Vec<NationalTable>,
}

/// `[routes]`: the routing table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutesConfig {
    /// `[[routes.mt]]`: where messages from users go. The route with the longest matching
    /// destination prefix wins among those whose conditions match; ties go to the first.
    pub mt: Vec<MtRouteConfig>,
    /// `[[routes.mo]]`: which user receives a message from a handset, by longest prefix.
    pub mo: Vec<MoRouteConfig>,
}

/// `[[routes.mt]]`: one MT route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MtRouteConfig {
    /// Destination prefixes (digits; a leading `+` or `00` is ignored); `""` matches
    /// every destination. Required.
    pub destination_prefixes: Vec<String>,
    /// Source address prefixes (numbers or alphanumeric sender ids); empty means any.
    pub source_prefixes: Vec<String>,
    /// Users this route serves; empty means every user.
    pub users: Vec<String>,
    /// Connectors to try, in order: the first is used while it is bound, the next ones
    /// take over when it is not (failover).
    pub connectors: Vec<String>,
}

/// `[[routes.mo]]`: one MO route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MoRouteConfig {
    /// Destination prefixes (the short or long number the handset sent to); `""`
    /// matches every destination.
    pub destination_prefixes: Vec<String>,
    /// The user that receives these messages.
    pub user: String,
}

/// A configuration that passed validation, with the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Things that work but deserve the operator's attention.
    pub warnings: Vec<Diagnostic>,
}

impl Config {
    /// The self-contained demo that `tern run` starts with no arguments: SMPP on
    /// 127.0.0.1:2775, HTTP on 127.0.0.1:8080, a user `demo`/`demo`, and a connector `sim`
    /// served by the built-in SMSC simulator, which every message is routed to.
    pub fn demo() -> Config {
        const DEMO_TPS_MAX: u32 = bounds::TPS_MAX;
        const DEMO_WINDOW_SIZE: u32 = 512;
        // The demo is for seeing traffic flow, so it is not throttled like a real account:
        // a newcomer's first load test should measure the gateway, not a default limit.
        let user = UserConfig {
            name: "demo".into(),
            password: Some(Secret::new("demo")),
            tps_max: DEMO_TPS_MAX,
            ..UserConfig::default()
        };
        let connector = ConnectorConfig {
            name: "sim".into(),
            simulator: true,
            host: Ipv4Addr::LOCALHOST.to_string(),
            system_id: "tern".into(),
            password: Secret::new("tern"),
            tps_max: DEMO_TPS_MAX,
            window_size: DEMO_WINDOW_SIZE,
            ..ConnectorConfig::default()
        };
        let route = MtRouteConfig {
            destination_prefixes: vec![String::new()],
            connectors: vec![connector.name.clone()],
            ..MtRouteConfig::default()
        };
        Config {
            users: vec![user],
            connectors: vec![connector],
            routes: RoutesConfig {
                mt: vec![route],
                mo: Vec::new(),
            },
            ..Config::default()
        }
    }

    /// Reads, parses and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            origin: origin.clone(),
            source,
        })?;
        Self::from_toml(&text, &origin)
    }

    /// Parses and validates TOML `text`; `origin` names it in messages (a file name).
    pub fn from_toml(text: &str, origin: &str) -> Result<Loaded, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| syntax_error(text, origin, &e))?;
        let map = source::SourceMap::parse(text);
        let findings = validate::check(&config);
        let locate = |issues: Vec<validate::Issue>| {
            let mut diagnostics: Vec<Diagnostic> = issues
                .into_iter()
                .map(|issue| issue.into_diagnostic(map.as_ref()))
                .collect();
            // File order, as an operator reads the file; unlocated ones last.
            diagnostics.sort_by_key(|d| d.location.map_or((usize::MAX, 0), |l| (l.line, l.column)));
            diagnostics
        };
        if !findings.errors.is_empty() {
            return Err(ConfigError::Invalid {
                origin: origin.to_owned(),
                diagnostics: locate(findings.errors),
            });
        }
        let warnings = locate(findings.warnings);
        Ok(Loaded { config, warnings })
    }

    /// Checks bounds and cross-references; returns the warnings, or every error found.
    /// `origin` names the configuration in messages.
    pub fn validate(&self, origin: &str) -> Result<Vec<Diagnostic>, ConfigError> {
        let findings = validate::check(self);
        let unlocated = |issue: validate::Issue| issue.into_diagnostic(None);
        if findings.errors.is_empty() {
            return Ok(findings.warnings.into_iter().map(unlocated).collect());
        }
        Err(ConfigError::Invalid {
            origin: origin.to_owned(),
            diagnostics: findings.errors.into_iter().map(unlocated).collect(),
        })
    }

    /// The queue bound of connector `connector`: its own, else the node-wide one.
    pub fn queue_depth_max(&self, connector: &ConnectorConfig) -> u32 {
        connector
            .queue_depth_max
            .unwrap_or(self.limits.queue_depth_max)
    }
}

/// A serde or TOML syntax error, located by toml's span.
fn syntax_error(text: &str, origin: &str, error: &toml::de::Error) -> ConfigError {
    let location = error
        .span()
        .map(|span| source::location_at(text, span.start));
    ConfigError::Invalid {
        origin: origin.to_owned(),
        diagnostics: vec![Diagnostic {
            path: String::new(),
            location,
            message: error.message().trim_end().to_owned(),
        }],
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}
