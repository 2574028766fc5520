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
#![warn(missing_docs)]

pub mod api;
pub mod callback;
pub mod dispatch;
pub mod encode;
pub mod form;
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
};
pub use dispatch::{CallbackOutcome, DispatchFull, Dispatcher, DispatcherConfig};
pub use server::{ServerConfig, Shutdown, ShutdownWait, serve};
