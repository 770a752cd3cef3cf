//! The counters an operator watches: plain atomics and fixed-bucket
//! histograms, updated on the hot path without a lock by the message
//! writer, admission and the trim. Ground: it knows nothing of the
//! server; the `/metrics` handler ([`super`]) reads and renders them.
//! Must never import anything of the crate.

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// Counters updated on the hot path: plain atomics, no locks.
#[derive(Debug)]
pub struct Metrics {
    /// Open WebSockets, counted by `ws::admission`'s tickets.
    pub connections: AtomicI64,
    /// The most `connections` has been since `trim` last looked (a crowd
    /// may come and go between two of its looks).
    pub connections_high: AtomicI64,
    /// Upgrades refused by `MAX_CONNECTIONS` or `CONNECTIONS_PER_USER`.
    pub connections_refused: AtomicU64,
    pub messages_stored: AtomicU64,
    pub storage_batches: AtomicU64,
    /// Seconds per group commit, and messages per commit.
    pub commit_seconds: Histogram,
    pub batch_messages: Histogram,
    /// Batches tried again because the database was unreachable.
    pub storage_retries: AtomicU64,
    /// Batches given up on (their posters were told `unavailable`).
    pub storage_failures: AtomicU64,
    /// True from the writer's first failed try until a batch goes in.
    pub database_down: AtomicBool,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            connections: AtomicI64::new(0),
            connections_high: AtomicI64::new(0),
            connections_refused: AtomicU64::new(0),
            messages_stored: AtomicU64::new(0),
            storage_batches: AtomicU64::new(0),
            commit_seconds: Histogram::new(&[
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
            ]),
            batch_messages: Histogram::new(&[
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
            ]),
            storage_retries: AtomicU64::new(0),
            storage_failures: AtomicU64::new(0),
            database_down: AtomicBool::new(false),
        }
    }
}

/// A Prometheus histogram with fixed bounds: one atomic per bucket, so
/// observing costs a few relaxed adds and no lock.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Per bucket (not cumulative); the last is above every bound.
    counts: Vec<AtomicU64>,
    /// The sum of observations, as f64 bits.
    sum: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    pub fn observe(&self, value: f64) {
        let bucket = self.bounds.partition_point(|bound| *bound < value);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }

    /// The `_bucket`, `_sum` and `_count` lines.
    pub fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut total = 0;
        for (i, count) in self.counts.iter().enumerate() {
            total += count.load(Ordering::Relaxed);
            let le = self.bounds.get(i).map_or("+Inf".to_owned(), f64::to_string);
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {total}");
        }
        let sum = f64::from_bits(self.sum.load(Ordering::Relaxed));
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {total}");
    }
}
