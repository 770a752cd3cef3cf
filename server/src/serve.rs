//! Start-up and shutdown: open storage and sessions, choose the layer and
//! presence (in memory, or Redis when `REDIS_URL` is set), start the
//! message writer, serve until told to stop, then close every socket with
//! 1012 and let the writer store what it holds.

use crate::{
    AppState,
    chat::writer::MessageWriter,
    config::Config,
    layer::{ChannelLayer, MemoryLayer, RedisLayer},
    metrics,
    presence::{MemoryPresence, Presence, RedisPresence},
    router,
    storage::Storage,
    ws::{flood, origin::OriginPolicy},
};
use axum::serve::ListenerExt;
use std::{future::Future, io, net::SocketAddr, sync::Arc};
use tokio::net::TcpListener;
use tower_sessions::session_store::ExpiredDeletion;
use tower_sessions_sqlx_store::SqliteStore;

/// How long shutdown waits for sockets to close and the writer to finish.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(4);

/// Serves until `shutdown` resolves; then stops accepting, closes every
/// socket with 1012 (clients reconnect to a restarted or other process),
/// stores what the writer still holds, and returns — within 10 s.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let bound = listener.local_addr()?;
    let storage = Storage::open(&config.database_url)
        .await
        .map_err(io::Error::other)?;
    let sessions = open_sessions(&storage).await?;
    let (layer, presence) = backends(&config).await?;
    let metrics = Arc::new(metrics::Metrics::default());
    let (writer, writer_task) =
        MessageWriter::start(storage.clone(), layer.clone(), metrics.clone());
    let (stopping, stop_rx) = tokio::sync::watch::channel(false);
    let state = AppState {
        origins: Arc::new(
            OriginPolicy::new(&config.allowed_origins, bound).map_err(io::Error::other)?,
        ),
        layer,
        storage,
        writer,
        presence,
        limiter: Arc::default(),
        flood: Arc::new(flood::FloodControl::new(config.flood)),
        metrics: metrics.clone(),
        shutdown: stop_rx,
        leptos: config.leptos,
    };
    let app = router(state, sessions, config.secure_cookies);
    // Chat frames are small and latency matters: no Nagle delay (up to 40 ms
    // against the peer's delayed ACK).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping.send(true);
    })
    .await?;
    drain(&metrics, writer_task).await;
    Ok(())
}

/// The session store, in the same database; expired sessions are swept
/// hourly so the table does not grow forever.
async fn open_sessions(storage: &Storage) -> io::Result<SqliteStore> {
    let sessions = SqliteStore::new(storage.pool().clone());
    sessions.migrate().await.map_err(io::Error::other)?;
    tokio::spawn(
        sessions
            .clone()
            .continuously_delete_expired(std::time::Duration::from_secs(60 * 60)),
    );
    Ok(sessions)
}

/// The channel layer and presence: in memory, or over Redis when
/// `REDIS_URL` is set (what lets several processes share rooms).
async fn backends(config: &Config) -> io::Result<(Arc<dyn ChannelLayer>, Arc<dyn Presence>)> {
    let Some(url) = &config.redis_url else {
        return Ok((
            Arc::new(MemoryLayer::new(config.channel_capacity)),
            Arc::new(MemoryPresence::default()),
        ));
    };
    let layer: Arc<dyn ChannelLayer> = Arc::new(
        RedisLayer::connect(url, config.channel_capacity)
            .await
            .map_err(io::Error::other)?,
    );
    let presence = RedisPresence::connect(url, layer.clone())
        .await
        .map_err(io::Error::other)?;
    Ok((layer, Arc::new(presence)))
}

/// After the listener stopped: waits for the sockets (closing with 1012),
/// then for the writer, which stores what it holds and ends once every
/// sender is gone.
async fn drain(metrics: &metrics::Metrics, writer_task: tokio::task::JoinHandle<()>) {
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    while metrics
        .connections
        .load(std::sync::atomic::Ordering::Relaxed)
        > 0
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, writer_task)
        .await
        .is_err()
    {
        tracing::warn!("the message writer did not finish in time");
    }
}
