//! Counters and the ingest latency histogram, in Prometheus' text exposition format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default)]
pub struct Metrics {
    pub points: AtomicU64,
    pub requests: AtomicU64,
    pub refused: AtomicU64,
    pub anomalies: AtomicU64,
    pub series: AtomicU64,
    pub checkpoints: AtomicU64,
    pub alerts_sent: AtomicU64,
    pub alerts_failed: AtomicU64,
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_us: AtomicU64,
}

impl Metrics {
    /// Records the latency of one ingest request.
    pub fn observe_latency(&self, seconds: f64) {
        let i = BUCKETS.partition_point(|&b| b < seconds);
        self.latency[i].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters = [
            (
                "anomex_points_ingested_total",
                "points accepted",
                &self.points,
            ),
            (
                "anomex_ingest_requests_total",
                "ingest requests answered",
                &self.requests,
            ),
            (
                "anomex_requests_refused_total",
                "requests refused with a 4xx",
                &self.refused,
            ),
            (
                "anomex_anomalies_total",
                "points labelled anomalous",
                &self.anomalies,
            ),
            (
                "anomex_checkpoints_total",
                "state checkpoints written",
                &self.checkpoints,
            ),
            (
                "anomex_alerts_sent_total",
                "webhook alerts delivered",
                &self.alerts_sent,
            ),
            (
                "anomex_alerts_failed_total",
                "webhook alerts given up",
                &self.alerts_failed,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", v.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP anomex_series series held\n# TYPE anomex_series gauge\nanomex_series {}",
            self.series.load(Ordering::Relaxed)
        );
        let name = "anomex_ingest_latency_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} time from an ingest request to its durable answer\n# TYPE {name} histogram"
        );
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += self.latency[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.latency[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {cumulative}");
        out
    }
}
