//! `/metrics` in the Prometheus text format: what an operator watches.

use crate::AppState;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Counters updated on the hot path: plain atomics, no locks.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Open WebSockets, counted by `ws::admission`'s tickets.
    pub connections: AtomicI64,
    /// Upgrades refused by `MAX_CONNECTIONS` or `CONNECTIONS_PER_USER`.
    pub connections_refused: AtomicU64,
    pub messages_stored: AtomicU64,
    pub storage_batches: AtomicU64,
}

pub async fn render(axum::extract::State(state): axum::extract::State<AppState>) -> String {
    let m = &state.metrics;
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: String| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    metric(
        "chat_websocket_connections",
        "gauge",
        "Open WebSocket connections.",
        m.connections.load(Ordering::Relaxed).to_string(),
    );
    metric(
        "chat_websocket_refused_total",
        "counter",
        "WebSocket upgrades refused by MAX_CONNECTIONS or CONNECTIONS_PER_USER.",
        m.connections_refused.load(Ordering::Relaxed).to_string(),
    );
    metric(
        "chat_messages_stored_total",
        "counter",
        "Chat messages stored (and then broadcast).",
        m.messages_stored.load(Ordering::Relaxed).to_string(),
    );
    metric(
        "chat_storage_batches_total",
        "counter",
        "Transactions the message writer committed (group commit: many messages each).",
        m.storage_batches.load(Ordering::Relaxed).to_string(),
    );
    metric(
        "chat_lagging_disconnects_total",
        "counter",
        "Connections closed with 4008 because their queue was full.",
        state.layer.lagging_total().to_string(),
    );
    metric(
        "chat_layer_degraded",
        "gauge",
        "1 while the channel layer's backend (Redis) is unreachable.",
        u8::from(state.layer.degraded().is_some()).to_string(),
    );
    out
}
