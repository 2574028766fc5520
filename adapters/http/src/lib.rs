//! Tern's HTTP API: the contract between the HTTP layer and the engine.
//!
//! This crate owns everything HTTP: the server on glommio (hyper 1.x, one listener per
//! shard with SO_REUSEPORT), parsing of the `/v1` JSON API and of Kannel's
//! `/cgi-bin/sendsms` and Jasmin's `/send` requests into [`Submission`]s (text encoded and
//! split with `tern-sms`), the answers each of those clients expects, problem documents,
//! the OpenAPI document, rendering and sending of receipt and MO callbacks (retries with
//! backoff, bounded concurrency per host, HMAC signatures), and the Prometheus text format.
//!
//! The engine owns the messages: it implements [`Backend`] on each shard (accept into the
//! WAL, answer once durable, status, metrics) and keeps each message's [`CallbackSpec`]
//! in its Accepted record, opaque bytes from [`CallbackSpec::encode`], so a callback not yet
//! acknowledged is sent again after a restart.
//!
//! # Modules
//! - [`api`]: the contract ([`Backend`], [`Submission`], [`ReceiptNotice`], …).
//! - [`server`]: [`serve`], routing, limits, problem documents, `/metrics`.
//! - [`v1`], [`kannel`], [`jasmin`]: each dialect's parameters into submissions.
//! - [`encode`]: text into parts with `tern-sms`.
//! - [`callback`]: the stored callback spec, rendering receipts/MOs, signatures.
//! - [`dispatch`]: the per-shard [`Dispatcher`] that sends callbacks with retries.
//! - [`metrics`]: the Prometheus text writer.
//! - [`form`], [`time`]: percent-encoding, form parameters, RFC 3339.
//! - [`fuzz`]: entry points for fuzz targets over every parser a peer reaches.
//!
//! # Decisions
//! - One executor per shard, no `Send`: the server, its counters and the [`Dispatcher`]
//!   are `Rc`/`Cell` state of the shard; nothing here spawns a thread (DNS for callbacks
//!   runs on glommio's blocking pool).
//! - [`serve`] stops when [`ServerConfig::shutdown`] (a [`Shutdown`] signal) is triggered.
//! - Callbacks go over `http://` or `https://` (rustls, ring provider, Mozilla roots plus
//!   configured ones; see [`dispatch`]).
//! - [`CallbackSpec`] gained a `receipts` field so [`render_receipt`] decides from the
//!   stored spec alone; [`Encoded`] GSM 7-bit parts are unpacked septets.
//!
//! # Figures
//! HTTP layer alone (in-memory backend, one shard, release build), `ab` 2.3 with 32
//! keep-alive connections on the same 2-vCPU VM, shared with other builds (load average
//! 3.3–4.8), so the spread is wide and the numbers are floors rather than capacity:
//!
//! | request                                         | requests/s      |
//! |-------------------------------------------------|-----------------|
//! | `GET /health`                                   | 49k – 113k      |
//! | `POST /v1/messages` (JSON, Basic auth, GSM text)| 25k – 80k       |
//! | `GET /cgi-bin/sendsms?…` (Kannel)               | 36k – 71k       |
//! | `GET /send?…` (Jasmin)                          | 35k – 49k       |
//!
//! ```text
//! cargo build --release -p tern-http --example http_load_target
//! target/release/examples/http_load_target 127.0.0.1:18080 &
//! ab -q -k -c 32 -n 100000 http://127.0.0.1:18080/health
//! ab -q -k -c 32 -n 100000 -p msg.json -T application/json \
//!    -H "Authorization: Basic YWxpY2U6c2VjcmV0" http://127.0.0.1:18080/v1/messages
//! ab -q -k -c 32 -n 100000 "http://127.0.0.1:18080/cgi-bin/sendsms?username=a&password=b&from=123&to=4915112345&text=Hello+world"
//! ab -q -k -c 32 -n 100000 "http://127.0.0.1:18080/send?username=a&password=b&to=4915112345&content=Hello+world"
//! ```
//! with `msg.json` = `{"to":"+4915112345","from":"Tern","text":"Hello from the load test"}`.
#![warn(missing_docs)]

pub mod api;
pub mod callback;
pub mod dispatch;
pub mod encode;
pub mod form;
pub mod fuzz;
pub mod io;
pub mod jasmin;
pub mod kannel;
pub mod metrics;
pub mod server;
pub mod time;
pub mod v1;

pub use api::*;
pub use callback::{
    Acknowledgement, CallbackRequest, CallbackSpecError, render_mo, render_receipt, signature,
    wants_receipt,
};
pub use dispatch::{CallbackOutcome, DispatchCounters, DispatchFull, Dispatcher, DispatcherConfig};
pub use server::{ServerConfig, Shutdown, ShutdownWait, serve};
