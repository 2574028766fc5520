//! The HTTP load generator's settings: `tern bench http` flags and programmatic
//! construction.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use clap::Args;

/// Characters of a long message's text: three GSM 7-bit parts of 153.
pub const LONG_TEXT_CHARS: usize = 459;
/// Most messages in one batch request.
pub const BATCH_MAX: usize = 1000;
/// Most requests in flight on one connection (pipelined).
pub const CONCURRENCY_MAX: usize = 4096;

/// Everything `tern bench http` can be told.
#[derive(Args, Clone, Debug)]
pub struct HttpLoadConfig {
    /// The gateway's HTTP API, `http://HOST:PORT` (no TLS).
    #[arg(long)]
    pub target: String,
    /// User for HTTP Basic authentication.
    #[arg(long)]
    pub user: String,
    /// Password for HTTP Basic authentication.
    #[arg(long)]
    pub password: String,
    /// Send this many messages in all (default 10000 unless --duration-s).
    #[arg(long, conflicts_with = "duration_s")]
    pub count: Option<u64>,
    /// Send for this many seconds instead of a count.
    #[arg(long, alias = "duration")]
    pub duration_s: Option<f64>,
    /// Target messages per second over all connections (0: closed loop, as fast as the
    /// in-flight limits allow).
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Keep-alive connections.
    #[arg(long, default_value_t = 1)]
    pub connections: usize,
    /// Requests in flight per connection (HTTP/1.1 pipelining).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Messages per request: 1 posts /v1/messages, more post /v1/messages/batch.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Ask for final receipts and match their callbacks.
    #[arg(long)]
    pub receipts: bool,
    /// Where the callback receiver listens (with --receipts); port 0 picks one.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub callback_listen: SocketAddr,
    /// Characters of each message's text (GSM 7-bit ASCII).
    #[arg(long, default_value_t = 40, conflicts_with = "long_mix")]
    pub text_len: usize,
    /// Fraction (0..1) of messages sent as 459 characters (3 parts), the rest 40.
    #[arg(long)]
    pub long_mix: Option<f64>,
    /// Executors the connections are spread over (the receiver runs on the first).
    #[arg(long, default_value_t = 1)]
    pub shards: usize,
    /// Pin shard i to CPU `cpu + i` (unpinned when absent).
    #[arg(long)]
    pub cpu: Option<usize>,
    /// Sender of each message.
    #[arg(long, default_value = "Tern")]
    pub source: String,
    /// Destination pattern; each `#` is replaced by a digit of the message counter.
    #[arg(long, default_value = "4479########")]
    pub destination: String,
    /// After the last answer, wait at most this long for outstanding callbacks.
    #[arg(long, default_value_t = 10.0)]
    pub callback_wait_s: f64,
    /// Most accepted messages awaiting a callback at once (beyond: not tracked).
    #[arg(long, default_value_t = 1_000_000)]
    pub max_pending_callbacks: usize,
    /// Most callbacks held while their message's 202 has not arrived yet.
    #[arg(long, default_value_t = 65_536)]
    pub max_parked_callbacks: usize,
    /// Most callback connections open at once (beyond: closed on accept).
    #[arg(long, default_value_t = 1024)]
    pub max_callback_connections: usize,
    /// A request unanswered this long loses its connection (and its pipeline).
    #[arg(long, default_value_t = 10)]
    pub response_timeout_s: u64,
    /// Give a connection up after this many reconnects.
    #[arg(long, default_value_t = 100)]
    pub max_reconnects: u32,
    /// Seed of the long-message mix.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Do not print the summary table.
    #[arg(long)]
    pub quiet: bool,
}

/// The target, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Where to connect.
    pub addr: SocketAddr,
    /// The `Host` header (the authority as given).
    pub host: String,
}

impl HttpLoadConfig {
    /// Defaults for a run against `target` (`http://HOST:PORT`): 1000 messages, one
    /// connection, 16 in flight, no receipts, quiet.
    pub fn new(target: &str, user: &str, password: &str) -> HttpLoadConfig {
        HttpLoadConfig {
            target: target.into(),
            user: user.into(),
            password: password.into(),
            count: Some(1000),
            duration_s: None,
            rate: 0.0,
            connections: 1,
            concurrency: 16,
            batch: 1,
            receipts: false,
            callback_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            text_len: 40,
            long_mix: None,
            shards: 1,
            cpu: None,
            source: "Tern".into(),
            destination: "4479########".into(),
            callback_wait_s: 10.0,
            max_pending_callbacks: 1_000_000,
            max_parked_callbacks: 65_536,
            max_callback_connections: 1024,
            response_timeout_s: 10,
            max_reconnects: 100,
            seed: 1,
            json: None,
            quiet: true,
        }
    }

    /// Resolves `--target` (`http://HOST:PORT`, or `HOST:PORT`; a path is refused).
    pub fn target(&self) -> Result<Target, String> {
        let rest = match self.target.split_once("://") {
            Some(("http", rest)) => rest,
            Some((scheme, _)) => return Err(format!("target scheme {scheme} is not http")),
            None => &self.target,
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains('/') {
            return Err(format!(
                "target {} has a path; give http://HOST:PORT",
                self.target
            ));
        }
        let addr = authority
            .to_socket_addrs()
            .map_err(|e| format!("target {authority}: {e}"))?
            .next()
            .ok_or_else(|| format!("target {authority} resolves to no address"))?;
        Ok(Target {
            addr,
            host: authority.to_owned(),
        })
    }

    /// Checks every bound.
    pub fn validate(&self) -> Result<(), String> {
        self.target()?;
        if self.long_mix.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
            return Err("long-mix must be within 0..=1".into());
        }
        if !(self.rate >= 0.0 && self.rate.is_finite()) {
            return Err("rate must be a finite number >= 0".into());
        }
        if self.connections == 0 || self.connections > 10_000 {
            return Err("connections must be within 1..=10000".into());
        }
        if self.concurrency == 0 || self.concurrency > CONCURRENCY_MAX {
            return Err(format!("concurrency must be within 1..={CONCURRENCY_MAX}"));
        }
        if self.batch == 0 || self.batch > BATCH_MAX {
            return Err(format!("batch must be within 1..={BATCH_MAX}"));
        }
        if self.text_len == 0 || self.text_len > 10 * LONG_TEXT_CHARS {
            return Err(format!(
                "text-len must be within 1..={}",
                10 * LONG_TEXT_CHARS
            ));
        }
        if self.shards == 0 || self.shards > 256 {
            return Err("shards must be within 1..=256".into());
        }
        if self.duration_s.is_some_and(|d| !(d > 0.0 && d <= 86_400.0)) {
            return Err("duration-s must be within (0, 86400]".into());
        }
        if !(self.callback_wait_s >= 0.0 && self.callback_wait_s <= 86_400.0) {
            return Err("callback-wait-s must be within 0..=86400".into());
        }
        if self.max_callback_connections == 0 {
            return Err("max-callback-connections must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_takes_http_urls_and_bare_authorities_but_no_paths() {
        let mut c = HttpLoadConfig::new("http://127.0.0.1:8080", "u", "p");
        assert_eq!(c.target().unwrap().addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.target().unwrap().host, "127.0.0.1:8080");
        c.target = "127.0.0.1:9/".into();
        assert_eq!(c.target().unwrap().host, "127.0.0.1:9");
        c.target = "https://127.0.0.1:9".into();
        assert!(c.target().is_err());
        c.target = "http://127.0.0.1:9/v1".into();
        assert!(c.target().is_err());
    }

    #[test]
    fn bounds_are_checked() {
        let ok = HttpLoadConfig::new("http://127.0.0.1:1", "u", "p");
        assert_eq!(ok.validate(), Ok(()));
        let mut c = ok.clone();
        c.batch = BATCH_MAX + 1;
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.concurrency = 0;
        assert!(c.validate().is_err());
        let mut c = ok;
        c.long_mix = Some(1.5);
        assert!(c.validate().is_err());
    }
}
