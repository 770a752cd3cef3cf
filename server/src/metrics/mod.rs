//! `/metrics` in the Prometheus text format: what an operator watches.
//! An edge: it reads the [`counters`] (ground, which the writer, admission
//! and the trim update) and the layer's own. Nothing below the edges
//! imports this file; they import [`counters`].

pub mod counters;

pub use counters::Metrics;

use crate::chat::Chat;
use axum::extract::State;
use std::fmt::Write;
use std::sync::{Arc, atomic::Ordering};

/// The counters, and who may read them.
#[derive(Clone)]
pub struct Exposed {
    pub counters: Arc<Metrics>,
    /// `METRICS_TOKEN`: when set, `/metrics` wants it as a bearer token.
    pub token: Option<Arc<str>>,
}

/// `/metrics`. With `METRICS_TOKEN` set, only for `Authorization: Bearer
/// <token>` (compared in constant time); anyone else gets 404, as if
/// there were nothing here.
pub async fn render(
    State(exposed): State<Exposed>,
    State(chat): State<Chat>,
    headers: axum::http::HeaderMap,
) -> Result<String, axum::http::StatusCode> {
    if let Some(token) = &exposed.token {
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
    Ok(text(&exposed.counters, &chat))
}

fn text(m: &Metrics, chat: &Chat) -> String {
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
        "Open WebSocket connections and live lobby feeds (both hold a MAX_CONNECTIONS place).",
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
        chat.layer.lagging_total().to_string(),
    );
    metric(
        "chat_layer_degraded",
        "gauge",
        "1 while the channel layer's backend (Redis) is unreachable.",
        u8::from(chat.layer.degraded().is_some()).to_string(),
    );
    metric(
        "chat_storage_retries_total",
        "counter",
        "Batches the message writer tried again while the database was unreachable.",
        m.storage_retries.load(Ordering::Relaxed).to_string(),
    );
    metric(
        "chat_storage_failures_total",
        "counter",
        "Batches given up on after DATABASE_RETRY_SECS (their posters got `unavailable`).",
        m.storage_failures.load(Ordering::Relaxed).to_string(),
    );
    metric(
        "chat_database_degraded",
        "gauge",
        "1 while the message writer cannot reach the database.",
        u8::from(m.database_down.load(Ordering::Relaxed)).to_string(),
    );
    m.commit_seconds.render(
        "chat_storage_commit_seconds",
        "Time per group commit (one transaction per batch), either backend.",
        &mut out,
    );
    m.batch_messages.render(
        "chat_storage_batch_messages",
        "Messages per group commit.",
        &mut out,
    );
    out
}
