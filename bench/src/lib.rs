//! Bench suite: the SMSC simulator (`tern smsc-sim`), the SMPP load generator
//! (`tern bench smpp`) and the HTTP load generator (`tern bench http`), plus the glommio
//! connection pump the SMPP tools use.
//!
//! # Design
//! - [`conn`] (the `tern-smpp-io` crate, re-exported): one pump per TCP connection,
//!   generic over a [`conn::Handler`]. It owns a read buffer and a write buffer, frames
//!   and decodes every complete PDU of a read (borrowed, no copy), drives the sans-IO
//!   `tern_smpp::session::Session` with their headers, hands application PDUs to the
//!   handler, and writes everything the session and the handler queued with one `write`
//!   per turn. `TCP_NODELAY` is set on every socket. Backpressure: no reading or
//!   producing while the write buffer is above its high-water mark or the session's
//!   inbound window is full. It holds no simulator or load logic, so the engine's client
//!   sessions and upstream connectors use it too.
//! - [`sim`]: one glommio executor per shard, each with an SO_REUSEPORT listener on the
//!   same address. Receipts live in a bounded store per shard (slab + due-time heap);
//!   when it is full, submit_sm is refused with `ESME_RMSGQFUL`. A timer task per shard
//!   releases due receipts to the submitting bind when it can receive, else to any
//!   receiver bind of the same system_id, here or (through a bounded inbox) on another
//!   shard, else holds them until one binds.
//! - [`load`]: senders pace open-loop and measure from the *intended* send time
//!   (coordinated omission); receipts are matched by id in a striped, bounded matcher
//!   shared by all shards, parking receipts that beat their submit_sm_resp.
//! - [`http`]: the same measuring rules over HTTP/1.1: pipelined keep-alive POSTs from a
//!   hand-written client (see the module for why not hyper's), a built-in callback
//!   receiver, and callbacks matched by id through the same bounded matcher.
//!
//! # Why hand-written
//! Both tools sit on the measuring path of every gateway figure: the simulator must
//! never be the bottleneck, and the load generator must not hide latency. Existing SMPP
//! crates tie their own I/O model, allocate per PDU and write per PDU; here a PDU is
//! decoded in place, encoded into a reused buffer, and a batch goes out in one syscall.
//!
//! # Harness ceiling (load generator straight into the simulator)
//! Release build, one simulator shard pinned to CPU 0, one load shard pinned to CPU 1,
//! one transceiver bind, window 512, 10 s, on the shared 2-vCPU development VM while
//! other helpers were compiling (load average 4–10): **provisional** figures.
//!
//! | scenario | msg/s | submit→resp p50 / p99 / p99.9 / max (µs) | submit→receipt p50 / p99 / p99.9 (µs) |
//! |---|---|---|---|
//! | no receipts (`--registered-delivery 0`) | 956,093 | 467 / 3,577 / 5,635 / 8,303 | – |
//! | receipts, as fast as the window allows | 304,108 | 1,018 / 8,519 / 17,119 / 49,151 | 1,581 / 9,135 / 21,087 |
//! | receipts, open loop `--rate 50000` | 49,976 | 798 / 13,143 / 48,351 / 58,111 | 912 / 13,599 / 48,607 |
//!
//! All receipts were matched in every run. With the simulator's deliver_sm window at 256
//! (the earlier default) receipts could not keep up under that load (90k msg/s, the
//! store filled and submits got `ESME_RMSGQFUL`), hence the default of 1024.
//! Commands: see `bench/README.md`.
#![warn(missing_docs)]

pub use tern_smpp_io as conn;
pub mod http;
pub mod load;
pub mod rng;
pub mod run_clock;
pub mod sim;
pub mod stop;
pub mod text;
