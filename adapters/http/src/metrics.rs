//! A small writer of the Prometheus text exposition format (version 0.0.4).
//!
//! The engine appends its own families through [`Backend::render_metrics`](crate::Backend)
//! with the same writer; the server adds `tern_http_requests_total{route,status}` and the
//! `tern_http_request_duration_seconds` histogram (see [`crate::server`]).
//!
//! No registry, no atomics: each shard owns its numbers and renders them on its own thread.

use std::fmt::Write as _;

/// The kind of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Monotonic count.
    Counter,
    /// Value that goes up and down.
    Gauge,
    /// Cumulative buckets, `_sum` and `_count`.
    Histogram,
}

impl MetricKind {
    fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// Appends families and samples to a `String` in the text format.
#[derive(Debug)]
pub struct MetricsWriter<'a> {
    out: &'a mut String,
}

impl<'a> MetricsWriter<'a> {
    /// A writer appending to `out`.
    pub fn new(out: &'a mut String) -> MetricsWriter<'a> {
        MetricsWriter { out }
    }

    /// Writes the `# HELP` and `# TYPE` lines of a family (call once per family, before
    /// its samples).
    pub fn family(&mut self, name: &str, help: &str, kind: MetricKind) {
        let _ = write!(self.out, "# HELP {name} ");
        escape_help(help, self.out);
        let _ = writeln!(self.out, "\n# TYPE {name} {}", kind.as_str());
    }

    /// Writes one sample line `name{labels} value`.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        write_labels(labels, None, self.out);
        let _ = writeln!(self.out, " {}", format_value(value));
    }

    /// Writes an integer sample (counters and gauges of counts).
    pub fn sample_u64(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.out.push_str(name);
        write_labels(labels, None, self.out);
        let _ = writeln!(self.out, " {value}");
    }

    /// Writes the `_bucket`, `_sum` and `_count` lines of `histogram`.
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], histogram: &Histogram) {
        let mut cumulative = 0u64;
        for (bound, count) in histogram.bounds.iter().zip(&histogram.counts) {
            cumulative += count;
            let le = format_value(*bound);
            let _ = write!(self.out, "{name}_bucket");
            write_labels(labels, Some(&le), self.out);
            let _ = writeln!(self.out, " {cumulative}");
        }
        let _ = write!(self.out, "{name}_bucket");
        write_labels(labels, Some("+Inf"), self.out);
        let _ = writeln!(self.out, " {}", histogram.count);
        let _ = write!(self.out, "{name}_sum");
        write_labels(labels, None, self.out);
        let _ = writeln!(self.out, " {}", format_value(histogram.sum));
        let _ = write!(self.out, "{name}_count");
        write_labels(labels, None, self.out);
        let _ = writeln!(self.out, " {}", histogram.count);
    }
}

/// A histogram with fixed upper bounds (a bounded number of buckets, chosen at creation).
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    bounds: Vec<f64>,
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// Most buckets a histogram may have.
pub const MAX_BUCKETS: usize = 64;

impl Histogram {
    /// A histogram with these ascending upper bounds (unsorted, NaN or more than
    /// [`MAX_BUCKETS`] bounds are dropped).
    pub fn new(bounds: &[f64]) -> Histogram {
        let mut kept: Vec<f64> = Vec::new();
        for &b in bounds.iter().take(MAX_BUCKETS) {
            if b.is_finite() && kept.last().is_none_or(|&last| b > last) {
                kept.push(b);
            }
        }
        let counts = vec![0; kept.len()];
        Histogram {
            bounds: kept,
            counts,
            sum: 0.0,
            count: 0,
        }
    }

    /// Latency buckets from 100 µs to 10 s, in seconds.
    pub fn latency_seconds() -> Histogram {
        Histogram::new(&[
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            2.5, 5.0, 10.0,
        ])
    }

    /// Records one observation.
    pub fn observe(&mut self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|&b| value <= b)
            && let Some(c) = self.counts.get_mut(i)
        {
            *c += 1;
        }
        self.sum += value;
        self.count += 1;
    }

    /// Observations recorded.
    pub fn count(&self) -> u64 {
        self.count
    }
}

fn write_labels(labels: &[(&str, &str)], le: Option<&str>, out: &mut String) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (name, value) in labels.iter().copied().chain(le.map(|v| ("le", v))) {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(name);
        out.push_str("=\"");
        escape_label_value(value, out);
        out.push('"');
    }
    out.push('}');
}

/// Appends a label value escaped as the format requires (`\\`, `\"`, `\n`).
pub fn escape_label_value(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(help: &str, out: &mut String) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value == f64::INFINITY {
        "+Inf".to_owned()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        let mut out = String::new();
        let mut w = MetricsWriter::new(&mut out);
        w.family("x_total", "An x.\nSecond line", MetricKind::Counter);
        w.sample_u64("x_total", &[("route", "a\"b\\c\nd")], 3);
        assert_eq!(
            out,
            "# HELP x_total An x.\\nSecond line\n# TYPE x_total counter\n\
             x_total{route=\"a\\\"b\\\\c\\nd\"} 3\n"
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf() {
        let mut h = Histogram::new(&[1.0, 2.0]);
        h.observe(0.5);
        h.observe(1.5);
        h.observe(9.0);
        let mut out = String::new();
        MetricsWriter::new(&mut out).histogram("lat", &[("r", "x")], &h);
        assert!(out.contains("lat_bucket{r=\"x\",le=\"1\"} 1\n"));
        assert!(out.contains("lat_bucket{r=\"x\",le=\"2\"} 2\n"));
        assert!(out.contains("lat_bucket{r=\"x\",le=\"+Inf\"} 3\n"));
        assert!(out.contains("lat_sum{r=\"x\"} 11\n"));
        assert!(out.contains("lat_count{r=\"x\"} 3\n"));
    }

    #[test]
    fn histogram_drops_unsorted_and_non_finite_bounds() {
        let h = Histogram::new(&[1.0, 0.5, f64::NAN, 3.0]);
        assert_eq!(h.bounds, vec![1.0, 3.0]);
    }
}
