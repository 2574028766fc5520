//! Counters, histograms and the results of an HTTP load run (JSON and a table), in the
//! shape of `tern bench smpp`'s: counts, refusals by status, percentiles and the full
//! latency curve of both legs.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::load::report::{Percentiles, new_histogram};

/// Why messages were not answered, as keys of [`HttpReport::errors`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// No answer within `--response-timeout-s`.
    Timeout,
    /// The connection closed (or failed) with the request unanswered.
    Closed,
    /// The answer could not be read (bad HTTP, bad JSON, fewer ids than messages).
    Malformed,
}

impl ErrorKind {
    /// The JSON key.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Closed => "closed",
            ErrorKind::Malformed => "malformed",
        }
    }
}

/// Raw counters of one shard (or all, merged).
#[derive(Clone, Debug, Default)]
pub struct HttpCounts {
    /// Requests written.
    pub requests_sent: u64,
    /// Messages in those requests.
    pub messages_sent: u64,
    /// Messages sent with a long (3-part) text.
    pub long_messages: u64,
    /// Messages answered 2xx with an id.
    pub accepted: u64,
    /// Messages refused, by HTTP status.
    pub refused: BTreeMap<u16, u64>,
    /// Messages without a usable answer, by cause.
    pub errors: BTreeMap<&'static str, u64>,
    /// Connection attempts that failed.
    pub connect_failures: u64,
    /// Reconnects after a lost connection.
    pub reconnects: u64,
    /// Callback requests received.
    pub callbacks_received: u64,
    /// Callbacks matched to an accepted message.
    pub callbacks_matched: u64,
    /// Matched callbacks that arrived before their message's 202.
    pub callbacks_early: u64,
    /// Callbacks whose body had no readable id.
    pub callbacks_unreadable: u64,
    /// Accepted messages the matcher had no room for.
    pub callbacks_untracked: u64,
    /// Callbacks by `state`.
    pub callback_states: BTreeMap<String, u64>,
}

impl HttpCounts {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &HttpCounts) {
        self.requests_sent += other.requests_sent;
        self.messages_sent += other.messages_sent;
        self.long_messages += other.long_messages;
        self.accepted += other.accepted;
        for (status, n) in &other.refused {
            *self.refused.entry(*status).or_default() += n;
        }
        for (kind, n) in &other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
        self.connect_failures += other.connect_failures;
        self.reconnects += other.reconnects;
        self.callbacks_received += other.callbacks_received;
        self.callbacks_matched += other.callbacks_matched;
        self.callbacks_early += other.callbacks_early;
        self.callbacks_unreadable += other.callbacks_unreadable;
        self.callbacks_untracked += other.callbacks_untracked;
        for (state, n) in &other.callback_states {
            *self.callback_states.entry(state.clone()).or_default() += n;
        }
    }

    /// Counts `messages` lost to `kind`.
    pub fn error(&mut self, kind: ErrorKind, messages: u64) {
        if messages == 0 {
            return;
        }
        *self.errors.entry(kind.name()).or_default() += messages;
    }
}

/// One shard's counters and histograms.
#[derive(Debug)]
pub struct HttpShardResults {
    /// Counters.
    pub counts: HttpCounts,
    /// Intended send time → response, per request, µs.
    pub request_us: Histogram<u64>,
    /// Intended send time → callback, per message, µs.
    pub callback_us: Histogram<u64>,
}

impl Default for HttpShardResults {
    fn default() -> Self {
        HttpShardResults {
            counts: HttpCounts::default(),
            request_us: new_histogram(),
            callback_us: new_histogram(),
        }
    }
}

/// Latency of both legs.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HttpLatency {
    /// Intended send time of a request to its whole response.
    pub request: Percentiles,
    /// Intended send time of a message's request to its callback.
    pub send_callback: Percentiles,
}

/// The results of an HTTP load run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HttpReport {
    /// Always `"http"`, so that readers tell this from `tern bench smpp`'s results.
    pub protocol: &'static str,
    /// Requests written.
    pub requests_sent: u64,
    /// Messages in those requests.
    pub messages_sent: u64,
    /// Messages with a long (3-part) text.
    pub long_messages: u64,
    /// Messages answered 2xx with an id.
    pub accepted: u64,
    /// Messages refused, by HTTP status (`"429"`, `"503"`, …).
    pub refused: BTreeMap<String, u64>,
    /// Messages without a usable answer, by cause (`timeout`, `closed`, `malformed`).
    pub errors: BTreeMap<String, u64>,
    /// Connection attempts that failed.
    pub connect_failures: u64,
    /// Reconnects after a lost connection.
    pub reconnects: u64,
    /// Callback requests received.
    pub callbacks_received: u64,
    /// Callbacks matched to an accepted message.
    pub callbacks_matched: u64,
    /// Matched callbacks that arrived before their message's 202.
    pub callbacks_early: u64,
    /// Callbacks not matched (unknown id, duplicate, unreadable body).
    pub callbacks_unmatched: u64,
    /// Accepted messages still without a callback when the run ended.
    pub callbacks_missing: u64,
    /// Accepted messages not tracked because the matcher was full.
    pub callbacks_untracked: u64,
    /// Callbacks by `state`.
    pub callback_states: BTreeMap<String, u64>,
    /// Seconds from the start to the last response.
    pub send_elapsed_s: f64,
    /// Seconds from the start to the end (callback wait included).
    pub total_elapsed_s: f64,
    /// accepted / send_elapsed_s.
    pub throughput_msg_s: f64,
    /// Latency percentiles and curves.
    pub latency: HttpLatency,
}

impl HttpReport {
    /// The summary table printed on stdout.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let mut row = |k: &str, v: String| t.push_str(&format!("{k:<24} {v}\n"));
        row("requests sent", self.requests_sent.to_string());
        row("messages sent", self.messages_sent.to_string());
        row("accepted", self.accepted.to_string());
        for (status, n) in &self.refused {
            row(&format!("refused {status}"), n.to_string());
        }
        for (kind, n) in &self.errors {
            row(&format!("error {kind}"), n.to_string());
        }
        row("connect failures", self.connect_failures.to_string());
        row("reconnects", self.reconnects.to_string());
        row("callbacks received", self.callbacks_received.to_string());
        row(
            "callbacks matched",
            format!(
                "{} ({} before their 202)",
                self.callbacks_matched, self.callbacks_early
            ),
        );
        row("callbacks unmatched", self.callbacks_unmatched.to_string());
        row("callbacks missing", self.callbacks_missing.to_string());
        row("send elapsed", format!("{:.3} s", self.send_elapsed_s));
        row("throughput", format!("{:.0} msg/s", self.throughput_msg_s));
        let lat = |p: &Percentiles| {
            format!(
                "p50 {} p90 {} p99 {} p99.9 {} max {} µs (n={})",
                p.p50_us, p.p90_us, p.p99_us, p.p999_us, p.max_us, p.count
            )
        };
        row("request→response", lat(&self.latency.request));
        row("send→callback", lat(&self.latency.send_callback));
        t
    }
}
