//! The chat server: one axum app serving the Leptos pages (server-rendered,
//! then hydrated), the JSON API, the WebSocket group endpoint
//! `/ws/chat/<room>/`, and the channel layer behind it.
//!
//! - [`config`]: settings from the environment.
//! - [`layer`]: the channel layer (channels, groups, bounded queues).
//! - [`ws`]: the WebSocket consumer, one per connection.
//! - [`storage`]: users, rooms and messages in SQL; the group-commit writer.
//! - [`auth`]: passwords, sessions, login limits.
//! - [`api`]: the JSON HTTP API.
//! - [`presence`]: who is in which room.
//! - [`moderation`]: deletes, ending connections, admin actions and their audit log.
//! - [`flood`]: per-person rate limits on messages and reactions.
//! - [`backend`]: the app's server functions, answered from the state.
//! - [`ordering`]: each connection gets a room's messages in seq order, once.
//! - [`origin`]: which pages may open a socket (`Origin` check).
//! - [`error`]: the API's JSON error responses.
//! - [`metrics`]: `/metrics` for Prometheus.

// The room page's view is one deeply nested type; release builds (which do
// not erase view types) need more than the default recursion depth to lay it out.
#![recursion_limit = "256"]

pub mod api;
pub mod auth;
mod backend;
pub mod config;
pub mod error;
pub mod flood;
pub mod layer;
pub mod metrics;
pub mod moderation;
pub mod ordering;
pub mod origin;
pub mod presence;
pub mod storage;
#[doc(hidden)]
pub mod testing;
pub mod ws;

use app::{
    App,
    server_fns::{RoomSummary, ssr::BackendContext},
    shell,
};
use axum::{Router, extract::FromRef, response::Redirect, routing::get, serve::ListenerExt};
use config::Config;
use layer::{ChannelLayer, MemoryLayer, RedisLayer};
use leptos::{config::LeptosOptions, prelude::provide_context};
use leptos_axum::{LeptosRoutes, generate_route_list};
use origin::OriginPolicy;
use presence::{MemoryPresence, Presence, RedisPresence};
use std::{future::Future, io, net::SocketAddr, sync::Arc};
use storage::{Storage, StorageError, writer::MessageWriter};
use tokio::net::TcpListener;
use tower_sessions::{
    Expiry, SessionManagerLayer, cookie::SameSite, session_store::ExpiredDeletion,
};
use tower_sessions_sqlx_store::SqliteStore;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub leptos: LeptosOptions,
    pub layer: Arc<dyn ChannelLayer>,
    pub origins: Arc<OriginPolicy>,
    pub storage: Storage,
    pub writer: MessageWriter,
    pub presence: Arc<dyn Presence>,
    pub limiter: Arc<auth::LoginLimiter>,
    pub flood: Arc<flood::FloodControl>,
    pub metrics: Arc<metrics::Metrics>,
    /// Turns true when the server begins shutting down: sockets close with 1012.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

impl AppState {
    /// Rooms with their online counts, busiest first, then most recently
    /// active; admin-only rooms only if `admin` is viewing.
    pub async fn room_summaries(&self, admin: bool) -> Result<Vec<RoomSummary>, StorageError> {
        let mut rooms = Vec::new();
        for r in self.storage.rooms().await? {
            if r.admin_only && !admin {
                continue;
            }
            rooms.push(RoomSummary {
                online: self.presence.online(&r.name).await,
                name: r.name,
                last_message_at: r.last_message_at,
            });
        }
        // Stable: rooms with equal counts keep storage's recency order.
        rooms.sort_by_key(|r| std::cmp::Reverse(r.online));
        Ok(rooms)
    }
}

/// Paths answered with a plain HTTP redirect to the lobby.
const TO_LOBBY: [&str; 2] = ["/", "/chat"];

pub fn router(state: AppState, sessions: SqliteStore, secure_cookies: bool) -> Router {
    let leptos = state.leptos.clone();
    // The app's own `/` route redirects client-side; over HTTP a 303 is
    // what browsers, curl and crawlers expect, so the server answers it.
    let pages: Vec<_> = generate_route_list(App)
        .into_iter()
        .filter(|route| !TO_LOBBY.contains(&route.path()))
        .collect();
    let backend = BackendContext(Arc::new(state.clone()));
    let sessions = SessionManagerLayer::new(sessions)
        .with_name(auth::SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure_cookies)
        .with_expiry(Expiry::OnInactivity(time::Duration::days(14)));

    let mut router = Router::new();
    for path in TO_LOBBY {
        router = router.route(path, get(|| async { Redirect::to("/chat/") }));
    }
    router
        .route("/ws/chat/{room}/", get(ws::upgrade))
        .route("/healthz", get(health))
        .route("/metrics", get(metrics::render))
        .merge(api::routes())
        .leptos_routes_with_context(
            &state,
            pages,
            move || provide_context(backend.clone()),
            move || shell(leptos.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(sessions)
        .with_state(state)
}

/// 200 "ok", or 200 "degraded: …" when serving with a backend missing (the
/// server still serves its own connections, so it should stay in rotation).
async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> String {
    match state.layer.degraded() {
        None => "ok".to_owned(),
        Some(why) => format!("degraded: {why}"),
    }
}

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
    let sessions = SqliteStore::new(storage.pool().clone());
    sessions.migrate().await.map_err(io::Error::other)?;
    // Expired sessions are swept hourly so the table does not grow forever.
    tokio::spawn(
        sessions
            .clone()
            .continuously_delete_expired(std::time::Duration::from_secs(60 * 60)),
    );
    let layer: Arc<dyn ChannelLayer> = match &config.redis_url {
        Some(url) => Arc::new(
            RedisLayer::connect(url, config.channel_capacity)
                .await
                .map_err(io::Error::other)?,
        ),
        None => Arc::new(MemoryLayer::new(config.channel_capacity)),
    };
    let presence: Arc<dyn Presence> = match &config.redis_url {
        Some(url) => Arc::new(
            RedisPresence::connect(url, layer.clone())
                .await
                .map_err(io::Error::other)?,
        ),
        None => Arc::new(MemoryPresence::default()),
    };
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
    // No new connections now; the open sockets are closing with 1012.
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    while metrics
        .connections
        .load(std::sync::atomic::Ordering::Relaxed)
        > 0
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Every sender is gone once the sockets are: the writer stores what it
    // holds and ends.
    if tokio::time::timeout(SHUTDOWN_GRACE, writer_task)
        .await
        .is_err()
    {
        tracing::warn!("the message writer did not finish in time");
    }
    Ok(())
}
