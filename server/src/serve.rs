//! Start-up and shutdown: open storage and sessions, choose the layer and
//! presence (in memory, or Redis when `REDIS_URL` is set), start the
//! message writer, serve until told to stop, then close every socket with
//! 1012 and let the writer store what it holds.

use crate::{
    AppState, auth,
    chat::{lobby::LobbyFeed, writer::MessageWriter},
    config::Config,
    layer::{self, ChannelLayer, MemoryLayer},
    metrics,
    origin::OriginPolicy,
    presence::{MemoryPresence, Presence, RedisPresence},
    router,
    storage::{Pool, Storage},
    throttle::Throttle,
    trim,
    ws::{admission::Admission, flood},
};
use axum::extract::{ConnectInfo, Request};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::{future::Future, io, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tower::Service;
use tower_sessions::{SessionStore, session_store::ExpiredDeletion};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

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
    let (layer, presence) = backends(&config).await?;
    let metrics = Arc::new(metrics::Metrics::default());
    let writer_storage = Storage::open_for_writer(&config.database_url)
        .await
        .map_err(io::Error::other)?;
    let lobby = Arc::new(LobbyFeed::default());
    let (writer, writer_task) = MessageWriter::start(
        writer_storage,
        storage.clone(),
        layer.clone(),
        lobby.clone(),
        metrics.clone(),
        config.database_retry,
    );
    let (stopping, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(lobby.clone().run(
        storage.clone(),
        presence.clone(),
        layer.clone(),
        stop_rx.clone(),
    ));
    let limits = Arc::new(config.limits.clone());
    let secure = config.secure_cookies;
    let pool = storage.pool().clone();
    let state = AppState {
        origins: Arc::new(
            OriginPolicy::new(&config.allowed_origins, bound).map_err(io::Error::other)?,
        ),
        trusted_proxies: Arc::new(config.trusted_proxies.clone()),
        layer,
        storage,
        writer,
        presence,
        lobby,
        accounts: Arc::new(auth::Guards::new(&limits)),
        admission: Arc::new(Admission::new(
            limits.max_connections,
            limits.connections_per_user,
            metrics.clone(),
        )),
        rooms_started: Arc::new(Throttle::new(
            limits.rooms_per_hour,
            Duration::from_secs(60 * 60),
        )),
        history_reads: Arc::new(Throttle::per_second(
            limits.history_rate,
            limits.history_burst,
        )),
        limits: limits.clone(),
        metrics_token: config.metrics_token.as_deref().map(Arc::from),
        flood: Arc::new(flood::FloodControl::new(config.flood)),
        metrics: metrics.clone(),
        shutdown: stop_rx,
        leptos: config.leptos,
    };
    trim::fix_thresholds();
    let readers = state.storage.clone();
    trim::spawn(metrics.clone(), move || {
        let readers = readers.clone();
        async move { readers.close_idle_readers().await }
    });
    let app = match pool {
        Pool::Sqlite(pool) => router(state, sessions(SqliteStore::new(pool)).await?, secure),
        Pool::Postgres(pool) => router(state, sessions(PostgresStore::new(pool)).await?, secure),
    };
    accept(listener, app, limits.header_read_timeout, async move {
        shutdown.await;
        let _ = stopping.send(true);
    })
    .await;
    drain(&metrics, writer_task).await;
    Ok(())
}

/// The connection loop (axum's `serve`, plus what it lacks): HTTP/1.1 with
/// upgrades, a header-read timeout (a half-sent request head is dropped
/// after `HEADER_READ_TIMEOUT_SECS`, so slow-loris connections cannot pile
/// up), TCP_NODELAY, the peer address for `ConnectInfo`, and on shutdown
/// no new connections while the open requests finish.
async fn accept(
    listener: TcpListener,
    app: axum::Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    // `finish` tells open connections to end after their current request;
    // each holds a `done` receiver, so `done.closed()` is when all have.
    let (finish, finishing) = tokio::sync::watch::channel(());
    let (done, alive) = tokio::sync::watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Chat frames are small and latency matters: no Nagle delay (up to
        // 40 ms against the peer's delayed ACK).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().call(request)
        });
        let connection = http
            .serve_connection(TokioIo::new(tcp), service)
            .with_upgrades();
        let (mut finishing, alive) = (finishing.clone(), alive.clone());
        tokio::spawn(async move {
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = finishing.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!("connection from {peer}: {e}");
            }
            drop(alive);
        });
    }
    drop(listener);
    let _ = finish.send(());
    drop(alive);
    if tokio::time::timeout(SHUTDOWN_GRACE, done.closed())
        .await
        .is_err()
    {
        tracing::warn!("open requests did not finish in time");
    }
}

/// The session store, in the same database (tower-sessions' store for that
/// backend, with its own table); expired sessions are swept hourly so the
/// table does not grow forever.
async fn sessions<S: SessionStore + ExpiredDeletion + Migrate + Clone>(
    sessions: S,
) -> io::Result<S> {
    // Processes started together race to create the table, and on
    // PostgreSQL `CREATE … IF NOT EXISTS` can still fail for the loser
    // (a unique violation in the catalog); by a moment later it exists.
    if let Err(e) = sessions.migrate_store().await {
        tracing::debug!("session table: {e}; trying again");
        tokio::time::sleep(Duration::from_millis(500)).await;
        sessions.migrate_store().await.map_err(io::Error::other)?;
    }
    tokio::spawn(
        sessions
            .clone()
            .continuously_delete_expired(std::time::Duration::from_secs(60 * 60)),
    );
    Ok(sessions)
}

/// The channel layer and presence: in memory, or over Redis when
/// `REDIS_URL` or `REDIS_CLUSTER_URLS` is set (what lets several processes
/// share rooms).
async fn backends(config: &Config) -> io::Result<(Arc<dyn ChannelLayer>, Arc<dyn Presence>)> {
    let Some(target) = &config.redis else {
        return Ok((
            Arc::new(MemoryLayer::new(config.channel_capacity)),
            Arc::new(MemoryPresence::default()),
        ));
    };
    let layer = layer::connect_redis(target, &config.redis_prefix, config.channel_capacity)
        .await
        .map_err(io::Error::other)?;
    let presence = RedisPresence::connect(target, &config.redis_prefix, layer.clone())
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

/// Creating a store's table: an inherent method on each store, so a trait
/// to call it on either.
trait Migrate {
    async fn migrate_store(&self) -> Result<(), sqlx::Error>;
}

impl Migrate for SqliteStore {
    async fn migrate_store(&self) -> Result<(), sqlx::Error> {
        self.migrate().await
    }
}

impl Migrate for PostgresStore {
    async fn migrate_store(&self) -> Result<(), sqlx::Error> {
        self.migrate().await
    }
}
