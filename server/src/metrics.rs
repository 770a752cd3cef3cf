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

/// `/metrics`. With `METRICS_TOKEN` set, only for `Authorization: Bearer
/// <token>` (compared in constant time); anyone else gets 404, as if
/// there were nothing here.
pub async fn render(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<String, axum::http::StatusCode> {
    if let Some(token) = &state.metrics_token {
        use subtle::ConstantTimeEq;
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
            return Err(axum::http::StatusCode::NOT_FOUND);
        }
    }
    Ok(text(&state))
}

fn text(state: &AppState) -> String {
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
