//! The chat server: one axum app serving the Leptos pages (server-rendered,
//! then hydrated), the WebSocket group endpoint `/ws/chat/<room>/`, and the
//! channel layer behind it.
//!
//! - [`config`]: settings from the environment.
//! - [`layer`]: the channel layer (channels, groups, bounded queues).
//! - [`ws`]: the WebSocket consumer, one per connection.
//! - [`origin`]: which pages may open a socket (`Origin` check).
//! - [`rooms`]: per-room message numbering.
//! - [`error`]: the API's JSON error responses.

pub mod config;
pub mod error;
pub mod layer;
pub mod origin;
pub mod rooms;
pub mod ws;

use app::{App, shell};
use axum::{Router, extract::FromRef, response::Redirect, routing::get};
use config::Config;
use layer::{ChannelLayer, MemoryLayer};
use leptos::config::LeptosOptions;
use leptos_axum::{LeptosRoutes, generate_route_list};
use origin::OriginPolicy;
use rooms::Sequencer;
use std::{future::Future, io, sync::Arc};
use tokio::net::TcpListener;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub leptos: LeptosOptions,
    pub layer: Arc<dyn ChannelLayer>,
    pub origins: Arc<OriginPolicy>,
    pub sequencer: Arc<Sequencer>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

impl AppState {
    /// `bound` is the address actually listened on (it decides the default
    /// origin rule).
    pub fn new(config: Config, bound: std::net::SocketAddr) -> Result<Self, String> {
        Ok(Self {
            origins: Arc::new(OriginPolicy::new(&config.allowed_origins, bound)?),
            layer: Arc::new(MemoryLayer::new(config.channel_capacity)),
            sequencer: Arc::default(),
            leptos: config.leptos,
        })
    }
}

/// Paths answered with a plain HTTP redirect to the lobby.
const TO_LOBBY: [&str; 2] = ["/", "/chat"];

pub fn router(state: AppState) -> Router {
    let leptos = state.leptos.clone();
    // The app's own `/` route redirects client-side; over HTTP a 303 is
    // what browsers, curl and crawlers expect, so the server answers it.
    let pages: Vec<_> = generate_route_list(App)
        .into_iter()
        .filter(|route| !TO_LOBBY.contains(&route.path()))
        .collect();
    let mut router = Router::new();
    for path in TO_LOBBY {
        router = router.route(path, get(|| async { Redirect::to("/chat/") }));
    }
    router
        .route("/ws/chat/{room}/", get(ws::upgrade))
        .route("/healthz", get(|| async { "ok" }))
        .leptos_routes(&state, pages, move || shell(leptos.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let bound = listener.local_addr()?;
    let state = AppState::new(config, bound).map_err(io::Error::other)?;
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
