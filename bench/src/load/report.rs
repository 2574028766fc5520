//! Counters, latency histograms and the results of a load run (JSON and a table).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;
use tern_smpp::CommandStatus;

/// Highest latency recorded, in µs (one hour); above it values saturate.
const LATENCY_US_MAX: u64 = 3_600_000_000;

/// Percentiles of the plotted curve: dense where latency curves bend (the tail), on the
/// HDR scale every extra nine gets about as many points as the one before. A fixed list
/// (rather than `iter_quantiles`) keeps runs comparable point for point and the JSON small.
pub const CURVE_PERCENTILES: [f64; 28] = [
    0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 75.0, 80.0, 85.0, 90.0, 92.5, 95.0, 96.0, 97.0,
    98.0, 99.0, 99.25, 99.5, 99.75, 99.9, 99.925, 99.95, 99.975, 99.99, 99.999, 100.0,
];

/// A latency histogram in µs with 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // Constant bounds: low 1 ≥ 1, high ≥ 2 × low, 3 significant digits ≤ 5.
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("constant histogram bounds are valid")
}

/// Raw counters of one shard (or all, merged).
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// submit_sm sent (parts count one each; resends included).
    pub sent: u64,
    /// submit_sm answered ESME_ROK.
    pub acked: u64,
    /// submit_sm answered with an error, by status.
    pub failed: BTreeMap<u32, u64>,
    /// submit_sm with no answer (timed out or connection lost); sent again.
    pub lost: u64,
    /// Long (3-part) messages among the sent.
    pub long_messages: u64,
    /// Delivery receipts received.
    pub receipts_received: u64,
    /// Receipts matched to a submission.
    pub receipts_matched: u64,
    /// Receipts whose id could not be read.
    pub receipts_unreadable: u64,
    /// Acked submissions the matcher had no room for.
    pub receipts_untracked: u64,
    /// Receipts by message_state (`DELIVERED`, …).
    pub receipt_states: BTreeMap<String, u64>,
    /// MO messages received (a concatenated one once).
    pub mo_received: u64,
    /// MO deliver_sm PDUs received.
    pub mo_parts: u64,
    /// Reconnects after a lost connection.
    pub reconnects: u64,
    /// Binds refused.
    pub bind_failures: u64,
}

impl Counts {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Counts) {
        self.sent += other.sent;
        self.acked += other.acked;
        for (status, n) in &other.failed {
            *self.failed.entry(*status).or_default() += n;
        }
        self.lost += other.lost;
        self.long_messages += other.long_messages;
        self.receipts_received += other.receipts_received;
        self.receipts_matched += other.receipts_matched;
        self.receipts_unreadable += other.receipts_unreadable;
        self.receipts_untracked += other.receipts_untracked;
        for (state, n) in &other.receipt_states {
            *self.receipt_states.entry(state.clone()).or_default() += n;
        }
        self.mo_received += other.mo_received;
        self.mo_parts += other.mo_parts;
        self.reconnects += other.reconnects;
        self.bind_failures += other.bind_failures;
    }
}

/// Percentiles of one latency histogram, in µs.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Samples recorded.
    pub count: u64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest.
    pub max_us: u64,
    /// The value at each of [`CURVE_PERCENTILES`], for plotting (empty without samples).
    pub curve: Vec<CurvePoint>,
}

/// One point of a latency curve.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CurvePoint {
    /// Percentile, 0 to 100.
    pub percentile: f64,
    /// Latency at that percentile, µs (the highest value equivalent to the bucket).
    pub us: u64,
}

impl Percentiles {
    /// Reads the percentiles of `h`.
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
            curve: CURVE_PERCENTILES
                .iter()
                .map(|&percentile| CurvePoint {
                    percentile,
                    us: h.value_at_percentile(percentile),
                })
                .collect(),
        }
    }
}

/// Latency of both legs.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Intended send time of submit_sm to its submit_sm_resp.
    pub submit_resp: Percentiles,
    /// Intended send time of submit_sm to its receipt.
    pub submit_receipt: Percentiles,
}

/// The results of a load run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LoadReport {
    /// submit_sm sent (parts one each, resends included).
    pub sent: u64,
    /// submit_sm answered ESME_ROK.
    pub acked: u64,
    /// submit_sm answered with an error, by status name (or hex code).
    pub failed: BTreeMap<String, u64>,
    /// submit_sm that got no answer (sent again).
    pub lost: u64,
    /// Long (3-part) messages.
    pub long_messages: u64,
    /// Receipts received.
    pub receipts_received: u64,
    /// Receipts matched to a submission.
    pub receipts_matched: u64,
    /// Receipts not matched (unknown id, duplicates, unreadable).
    pub receipts_unmatched: u64,
    /// Acked submissions still without a receipt when the run ended.
    pub receipts_missing: u64,
    /// Receipts by message_state.
    pub receipt_states: BTreeMap<String, u64>,
    /// MO messages received.
    pub mo_received: u64,
    /// MO PDUs received.
    pub mo_parts: u64,
    /// Reconnects.
    pub reconnects: u64,
    /// Binds refused.
    pub bind_failures: u64,
    /// Seconds from the start to the last submit_sm_resp.
    pub send_elapsed_s: f64,
    /// Seconds from the start to the end (receipt wait included).
    pub total_elapsed_s: f64,
    /// acked / send_elapsed_s.
    pub throughput_msg_s: f64,
    /// Latency percentiles.
    pub latency: Latency,
}

/// A status for humans: its SMPP name, or its hex code.
pub fn status_name(status: u32) -> String {
    CommandStatus(status)
        .name()
        .map_or_else(|| format!("0x{status:08x}"), str::to_owned)
}

impl LoadReport {
    /// The summary table printed on stdout.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let mut row = |k: &str, v: String| t.push_str(&format!("{k:<24} {v}\n"));
        row("sent", self.sent.to_string());
        row("acked", self.acked.to_string());
        for (status, n) in &self.failed {
            row(&format!("failed {status}"), n.to_string());
        }
        row("lost (resent)", self.lost.to_string());
        row("long messages", self.long_messages.to_string());
        row("receipts received", self.receipts_received.to_string());
        row("receipts matched", self.receipts_matched.to_string());
        row("receipts unmatched", self.receipts_unmatched.to_string());
        row("receipts missing", self.receipts_missing.to_string());
        row(
            "mo received",
            format!("{} ({} parts)", self.mo_received, self.mo_parts),
        );
        row("reconnects", self.reconnects.to_string());
        row("send elapsed", format!("{:.3} s", self.send_elapsed_s));
        row("throughput", format!("{:.0} msg/s", self.throughput_msg_s));
        let lat = |p: &Percentiles| {
            format!(
                "p50 {} p90 {} p99 {} p99.9 {} max {} µs (n={})",
                p.p50_us, p.p90_us, p.p99_us, p.p999_us, p.max_us, p.count
            )
        };
        row("submit→resp", lat(&self.latency.submit_resp));
        row("submit→receipt", lat(&self.latency.submit_receipt));
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_rises_from_min_to_max_through_the_fixed_percentiles() {
        let mut h = new_histogram();
        for v in 1..=10_000u64 {
            h.record(v).unwrap();
        }
        let p = Percentiles::of(&h);
        assert_eq!(p.curve.len(), CURVE_PERCENTILES.len());
        assert!(p.curve.windows(2).all(|w| w[0].us <= w[1].us));
        assert_eq!(p.curve.last().map(|c| c.us), Some(p.max_us));
        let median = p.curve.iter().find(|c| c.percentile == 50.0).unwrap();
        assert_eq!(median.us, p.p50_us);
    }

    #[test]
    fn empty_histogram_has_no_curve() {
        assert!(Percentiles::of(&new_histogram()).curve.is_empty());
    }
}
