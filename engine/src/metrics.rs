//! Counters, gauges and latency histograms of each shard, and their Prometheus text form.
//!
//! Each shard owns one [`ShardMetrics`] and is its only writer (relaxed atomic adds on its
//! own cache lines, no lock, no allocation per message); `/metrics`, served by whichever
//! shard the scrape lands on, reads every shard's and adds them up. Sizes are fixed at
//! start from the configuration (users × connectors), so memory is bounded.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::message::FinalState;

/// A monotonic counter written by one shard.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The value now.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value set by its shard (a depth, a count of binds).
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }

    /// The value now.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds (ms) of the latency histograms' buckets; the last bucket is +Inf.
pub const LATENCY_BUCKETS_MS: [u64; 16] = [
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000,
];

/// A fixed-bucket latency histogram in milliseconds.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS_MS.len() + 1],
    sum_ms: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, ms: u64) {
        let i = LATENCY_BUCKETS_MS
            .iter()
            .position(|&b| ms <= b)
            .unwrap_or(LATENCY_BUCKETS_MS.len());
        if let Some(bucket) = self.buckets.get(i) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// Counters of one user on one shard.
#[derive(Debug, Default)]
pub struct UserMetrics {
    /// Messages submitted (SMPP or HTTP), accepted or not.
    pub submitted: Counter,
    /// Accepted into the WAL.
    pub accepted: Counter,
    /// Refused: over the user's throughput limit.
    pub throttled: Counter,
    /// Refused: queue or WAL full, or another engine error.
    pub rejected: Counter,
    /// Final: delivered.
    pub delivered: Counter,
    /// Final: undeliverable, unknown, or refused upstream.
    pub failed: Counter,
    /// Final: expired.
    pub expired: Counter,
    /// Final: rejected by the network.
    pub rejected_by_network: Counter,
    /// Final: deleted or cancelled.
    pub deleted: Counter,
    /// Receipts waiting for the user's binds or callbacks (set by the shard).
    pub receipts_pending: Gauge,
    /// Acceptance to final state.
    pub accept_to_final_ms: Histogram,
    /// MO messages (parts) routed to the user and logged.
    pub mo_received: Counter,
    /// MO messages (parts) the user took (deliver_sm_resp OK or callback acknowledged).
    pub mo_delivered: Counter,
    /// MO messages refused at the door for the user (its MO bound reached).
    pub mo_refused: Counter,
}

impl UserMetrics {
    /// The counter of final state `f`.
    pub fn final_state(&self, f: FinalState) -> &Counter {
        match f {
            FinalState::Delivered => &self.delivered,
            FinalState::Undeliverable | FinalState::Unknown | FinalState::Failed { .. } => {
                &self.failed
            }
            FinalState::Expired => &self.expired,
            FinalState::Rejected => &self.rejected_by_network,
            FinalState::Deleted => &self.deleted,
        }
    }
}

/// Counters of one connector on one shard.
#[derive(Debug, Default)]
pub struct ConnectorMetrics {
    /// Parts accepted upstream (submit_sm_resp OK).
    pub sent: Counter,
    /// Parts refused upstream (any other status).
    pub refused: Counter,
    /// Messages waiting in the queue (set by the shard).
    pub queue_depth: Gauge,
    /// Binds up (set by the shard).
    pub binds_up: Gauge,
    /// Acceptance to the upstream's OK.
    pub accept_to_sent_ms: Histogram,
    /// MO messages (parts) received on the connector and logged.
    pub mo_received: Counter,
    /// MO messages refused on the connector (no route, user's bound, WAL).
    pub mo_refused: Counter,
}

/// One shard's receipt index: its tiers' sizes and what moved between them. The
/// cumulative ones are copied from the index's own counters, so they are gauges that only
/// grow and render as counters.
#[derive(Debug, Default)]
pub struct DlrMetrics {
    /// Mappings in RAM (hot generations, those being written included).
    pub hot_entries: Gauge,
    /// Disk runs in use.
    pub runs: Gauge,
    /// Mappings in disk runs.
    pub run_entries: Gauge,
    /// Bytes of the run files in use.
    pub run_file_bytes: Gauge,
    /// Generations written to disk and installed as runs.
    pub runs_written: Counter,
    /// Run writes or opens that failed (the generation is offered again later).
    pub run_write_failures: Counter,
    /// Run files deleted (TTL passed or disk budget full).
    pub run_files_deleted: Counter,
    /// Mappings dropped from RAM unwritten because the hot budget was full (each a
    /// receipt that may come back unmatched; 0 while the disk tier keeps up).
    pub hot_entries_evicted: Gauge,
    /// Mappings the WAL replay at start found in reopened runs (not put in RAM again).
    pub restored_from_runs: Gauge,
}

/// One shard's metrics.
#[derive(Debug)]
pub struct ShardMetrics {
    users: Box<[UserMetrics]>,
    connectors: Box<[ConnectorMetrics]>,
    /// Callbacks queued for HTTP clients.
    pub callbacks_queued: Gauge,
    /// Callbacks acknowledged by their receiver.
    pub callbacks_acknowledged: Counter,
    /// Callbacks given up after their retry time.
    pub callbacks_given_up: Counter,
    /// Messages the shard holds (in full form and parked).
    pub messages_held: Gauge,
    /// Messages parked awaiting their receipt (compact form, record in the WAL).
    pub messages_parked: Gauge,
    /// Bytes the parked messages' table uses.
    pub parked_bytes: Gauge,
    /// Parked messages brought back to full form (their record read from the WAL).
    pub messages_unparked: Counter,
    /// Parked messages whose record could not be read back (a damaged WAL): given up.
    pub parked_read_failures: Counter,
    /// Times an SMPP session stopped reading after refusing a request for overload.
    pub overload_pauses: Counter,
    /// WAL segments in use, the active one included (set by the shard).
    pub wal_segments_in_use: Gauge,
    /// Live records in the WAL (set by the shard).
    pub wal_live_records: Gauge,
    /// WAL segments emptied by compaction (their live records copied forward).
    pub wal_segments_compacted: Counter,
    /// WAL records copied forward by compaction.
    pub wal_records_relocated: Counter,
    /// The shard's part of the receipt index (set by its disk-tier task).
    pub dlr: DlrMetrics,
    fallback_user: UserMetrics,
    fallback_connector: ConnectorMetrics,
}

impl ShardMetrics {
    /// Metrics for `users` users and `connectors` connectors.
    pub fn new(users: usize, connectors: usize) -> ShardMetrics {
        ShardMetrics {
            users: (0..users).map(|_| UserMetrics::default()).collect(),
            connectors: (0..connectors)
                .map(|_| ConnectorMetrics::default())
                .collect(),
            callbacks_queued: Gauge::default(),
            callbacks_acknowledged: Counter::default(),
            callbacks_given_up: Counter::default(),
            messages_held: Gauge::default(),
            messages_parked: Gauge::default(),
            parked_bytes: Gauge::default(),
            messages_unparked: Counter::default(),
            overload_pauses: Counter::default(),
            parked_read_failures: Counter::default(),
            wal_segments_in_use: Gauge::default(),
            wal_live_records: Gauge::default(),
            wal_segments_compacted: Counter::default(),
            wal_records_relocated: Counter::default(),
            dlr: DlrMetrics::default(),
            fallback_user: UserMetrics::default(),
            fallback_connector: ConnectorMetrics::default(),
        }
    }

    /// User `index`'s metrics (a sink for an index beyond the configuration).
    pub fn user(&self, index: u32) -> &UserMetrics {
        self.users
            .get(index as usize)
            .unwrap_or(&self.fallback_user)
    }

    /// Connector `index`'s metrics.
    pub fn connector(&self, index: u16) -> &ConnectorMetrics {
        self.connectors
            .get(usize::from(index))
            .unwrap_or(&self.fallback_connector)
    }
}

/// Every shard's metrics, for rendering.
#[derive(Debug, Clone, Default)]
pub struct NodeMetrics {
    /// One per shard.
    pub shards: Vec<Arc<ShardMetrics>>,
}

impl NodeMetrics {
    /// Appends the Prometheus text format of every family, summed over shards, labelled
    /// with the configured names.
    pub fn render(&self, users: &[&str], connectors: &[&str], out: &mut String) {
        for (name, help, counter) in USER_COUNTERS {
            let get = |s: &ShardMetrics, i: usize| counter(s.user(i as u32)).get();
            let name = format!("tern_user_messages_{name}_total");
            let family = Family::new(&name, help, "counter", "user");
            self.family(out, &family, users, &get);
        }
        let pending = |s: &ShardMetrics, i: usize| s.user(i as u32).receipts_pending.get();
        let family = Family::new(
            "tern_user_receipts_pending",
            "Receipts waiting for the user",
            "gauge",
            "user",
        );
        self.family(out, &family, users, &pending);
        for (name, help, kind, value) in CONNECTOR_VALUES {
            let get = |s: &ShardMetrics, i: usize| value(s.connector(i as u16));
            let name = format!("tern_connector_{name}");
            let family = Family::new(&name, help, kind, "connector");
            self.family(out, &family, connectors, &get);
        }
        let family = Family::new(
            "tern_user_accept_to_final_ms",
            "Acceptance to final state",
            "histogram",
            "user",
        );
        self.histograms(out, &family, users, |s, i| {
            &s.user(i as u32).accept_to_final_ms
        });
        let family = Family::new(
            "tern_connector_accept_to_sent_ms",
            "Acceptance to the upstream's OK",
            "histogram",
            "connector",
        );
        self.histograms(out, &family, connectors, |s, i| {
            &s.connector(i as u16).accept_to_sent_ms
        });
        for (name, help, kind, value) in NODE_VALUES {
            let total: u64 = self.shards.iter().map(|s| value(s)).sum();
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {total}"
            );
        }
    }

    fn family(
        &self,
        out: &mut String,
        family: &Family<'_>,
        names: &[&str],
        get: &dyn Fn(&ShardMetrics, usize) -> u64,
    ) {
        let Family {
            name,
            help,
            kind,
            label,
        } = *family;
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (i, n) in names.iter().enumerate() {
            let total: u64 = self.shards.iter().map(|s| get(s, i)).sum();
            let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {total}", escape(n));
        }
    }

    fn histograms(
        &self,
        out: &mut String,
        family: &Family<'_>,
        names: &[&str],
        get: impl Fn(&ShardMetrics, usize) -> &Histogram,
    ) {
        let Family {
            name, help, label, ..
        } = *family;
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, n) in names.iter().enumerate() {
            let n = escape(n);
            let mut cumulative = 0u64;
            for (b, le) in LATENCY_BUCKETS_MS
                .iter()
                .map(|b| b.to_string())
                .chain(["+Inf".to_string()])
                .enumerate()
            {
                cumulative += self
                    .shards
                    .iter()
                    .map(|s| {
                        get(s, i)
                            .buckets
                            .get(b)
                            .map_or(0, |c| c.load(Ordering::Relaxed))
                    })
                    .sum::<u64>();
                let _ = writeln!(
                    out,
                    "{name}_bucket{{{label}=\"{n}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let sum: u64 = self
                .shards
                .iter()
                .map(|s| get(s, i).sum_ms.load(Ordering::Relaxed))
                .sum();
            let _ = writeln!(
                out,
                "{name}_sum{{{label}=\"{n}\"}} {sum}\n{name}_count{{{label}=\"{n}\"}} {cumulative}"
            );
        }
    }
}

/// A metric family's name, help, type and label name.
#[derive(Clone, Copy)]
struct Family<'a> {
    name: &'a str,
    help: &'a str,
    kind: &'a str,
    label: &'a str,
}

impl<'a> Family<'a> {
    fn new(name: &'a str, help: &'a str, kind: &'a str, label: &'a str) -> Self {
        Family {
            name,
            help,
            kind,
            label,
        }
    }
}

/// A counter of a user's metrics.
type UserCounter = fn(&UserMetrics) -> &Counter;

/// The per-user counters: name suffix, help, accessor.
const USER_COUNTERS: [(&str, &str, UserCounter); 12] = [
    ("submitted", "Messages submitted, accepted or not", |m| {
        &m.submitted
    }),
    ("accepted", "Messages accepted into the WAL", |m| {
        &m.accepted
    }),
    (
        "throttled",
        "Messages refused over the user's throughput limit",
        |m| &m.throttled,
    ),
    (
        "rejected",
        "Messages refused by the gateway (queue or WAL full)",
        |m| &m.rejected,
    ),
    ("delivered", "Messages delivered", |m| &m.delivered),
    (
        "failed",
        "Messages failed (undeliverable, unknown, refused upstream)",
        |m| &m.failed,
    ),
    ("expired", "Messages expired", |m| &m.expired),
    (
        "rejected_by_network",
        "Messages rejected by the network",
        |m| &m.rejected_by_network,
    ),
    ("deleted", "Messages deleted or cancelled", |m| &m.deleted),
    (
        "mo_received",
        "MO messages routed to the user and logged",
        |m| &m.mo_received,
    ),
    ("mo_delivered", "MO messages the user took", |m| {
        &m.mo_delivered
    }),
    (
        "mo_refused",
        "MO messages refused over the user's bound",
        |m| &m.mo_refused,
    ),
];

/// A value of a connector's metrics.
type ConnectorValue = fn(&ConnectorMetrics) -> u64;

/// The per-connector counters and gauges: name suffix, help, type, accessor.
const CONNECTOR_VALUES: [(&str, &str, &str, ConnectorValue); 6] = [
    ("sent_total", "Parts accepted upstream", "counter", |m| {
        m.sent.get()
    }),
    ("refused_total", "Parts refused upstream", "counter", |m| {
        m.refused.get()
    }),
    (
        "queue_depth",
        "Messages waiting for the connector",
        "gauge",
        |m| m.queue_depth.get(),
    ),
    ("binds_up", "Binds up", "gauge", |m| m.binds_up.get()),
    (
        "mo_received_total",
        "MO messages received and logged",
        "counter",
        |m| m.mo_received.get(),
    ),
    ("mo_refused_total", "MO messages refused", "counter", |m| {
        m.mo_refused.get()
    }),
];

/// A node-wide value of a shard's metrics.
type NodeValue = fn(&ShardMetrics) -> u64;

/// The node-wide values: name, help, type, accessor.
const NODE_VALUES: [(&str, &str, &str, NodeValue); 22] = [
    (
        "tern_callbacks_queued",
        "Callbacks waiting to be sent",
        "gauge",
        |s| s.callbacks_queued.get(),
    ),
    (
        "tern_callbacks_acknowledged_total",
        "Callbacks acknowledged",
        "counter",
        |s| s.callbacks_acknowledged.get(),
    ),
    (
        "tern_callbacks_given_up_total",
        "Callbacks given up after their retry time",
        "counter",
        |s| s.callbacks_given_up.get(),
    ),
    (
        "tern_messages_held",
        "Messages held by the shards",
        "gauge",
        |s| s.messages_held.get(),
    ),
    (
        "tern_messages_parked",
        "Messages parked awaiting their receipt (24-byte slots, record in the WAL)",
        "gauge",
        |s| s.messages_parked.get(),
    ),
    (
        "tern_parked_bytes",
        "Memory of the parked messages' table",
        "gauge",
        |s| s.parked_bytes.get(),
    ),
    (
        "tern_messages_unparked_total",
        "Parked messages read back from the WAL",
        "counter",
        |s| s.messages_unparked.get(),
    ),
    (
        "tern_parked_read_failures_total",
        "Parked messages whose record could not be read back",
        "counter",
        |s| s.parked_read_failures.get(),
    ),
    (
        "tern_smpp_overload_pauses_total",
        "Times an SMPP session stopped reading after refusing a request for overload",
        "counter",
        |s| s.overload_pauses.get(),
    ),
    (
        "tern_wal_segments_in_use",
        "WAL segments in use, the active ones included",
        "gauge",
        |s| s.wal_segments_in_use.get(),
    ),
    (
        "tern_wal_live_records",
        "Live records in the WALs",
        "gauge",
        |s| s.wal_live_records.get(),
    ),
    (
        "tern_wal_segments_compacted_total",
        "WAL segments emptied by compaction",
        "counter",
        |s| s.wal_segments_compacted.get(),
    ),
    (
        "tern_wal_records_relocated_total",
        "WAL records copied forward by compaction",
        "counter",
        |s| s.wal_records_relocated.get(),
    ),
    (
        "tern_dlr_hot_entries",
        "Receipt mappings in RAM",
        "gauge",
        |s| s.dlr.hot_entries.get(),
    ),
    (
        "tern_dlr_runs",
        "Receipt index runs on disk",
        "gauge",
        |s| s.dlr.runs.get(),
    ),
    (
        "tern_dlr_run_entries",
        "Receipt mappings in disk runs",
        "gauge",
        |s| s.dlr.run_entries.get(),
    ),
    (
        "tern_dlr_run_file_bytes",
        "Bytes of receipt index run files",
        "gauge",
        |s| s.dlr.run_file_bytes.get(),
    ),
    (
        "tern_dlr_runs_written_total",
        "Receipt index generations written to disk",
        "counter",
        |s| s.dlr.runs_written.get(),
    ),
    (
        "tern_dlr_run_write_failures_total",
        "Receipt index run writes that failed",
        "counter",
        |s| s.dlr.run_write_failures.get(),
    ),
    (
        "tern_dlr_run_files_deleted_total",
        "Receipt index run files deleted",
        "counter",
        |s| s.dlr.run_files_deleted.get(),
    ),
    (
        "tern_dlr_hot_entries_evicted_total",
        "Receipt mappings dropped from RAM unwritten",
        "counter",
        |s| s.dlr.hot_entries_evicted.get(),
    ),
    (
        "tern_dlr_restored_from_runs",
        "Receipt mappings the start-up replay found on disk",
        "gauge",
        |s| s.dlr.restored_from_runs.get(),
    ),
];

/// Escapes a label value (backslash, quote, newline).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_of_every_shard_are_summed_under_the_configured_names() {
        let a = Arc::new(ShardMetrics::new(1, 1));
        let b = Arc::new(ShardMetrics::new(1, 1));
        a.user(0).accepted.inc();
        b.user(0).accepted.inc();
        b.connector(0).accept_to_sent_ms.observe(7);
        let node = NodeMetrics { shards: vec![a, b] };
        let mut out = String::new();
        node.render(&["demo"], &["sim\"1"], &mut out);
        assert!(out.contains("tern_user_messages_accepted_total{user=\"demo\"} 2\n"));
        assert!(out.contains(
            "tern_connector_accept_to_sent_ms_bucket{connector=\"sim\\\"1\",le=\"5\"} 0\n"
        ));
        assert!(out.contains(
            "tern_connector_accept_to_sent_ms_bucket{connector=\"sim\\\"1\",le=\"10\"} 1\n"
        ));
        assert!(out.contains("tern_connector_accept_to_sent_ms_count{connector=\"sim\\\"1\"} 1\n"));
    }
}
