//! The chat server: one axum app serving the Leptos pages (server-rendered,
//! then hydrated), the JSON API, the WebSocket group endpoint
//! `/ws/chat/<room>/`, and the channel layer behind it.
//!
//! The modules, by layer, outside in (each may use those below it, never
//! those above):
//!
//! - **Edges**: [`api`] (the JSON/form HTTP API), [`ws`] (the WebSocket
//!   consumer, one per socket: upgrade, pump loop, frame handlers, ordering,
//!   flood control, Origin check), `server_fns` (the pages' server
//!   functions), [`metrics`] (`/metrics`), [`serve()`] (start-up and
//!   shutdown) and [`router`] below.
//! - **Domain**: [`chat`]: "store, then tell": group names, the message
//!   writer (group commit, then broadcast), moderation. The only place
//!   besides `ws` where storage meets the layer.
//! - **Services**: [`storage`] (SQL only, one file per table; never
//!   broadcasts), [`layer`] (channels and groups, in memory or over Redis;
//!   knows no chat), [`presence`] (who is in which room), [`auth`]
//!   (passwords, sessions, login limits).
//! - **Ground**: [`config`] (settings from the environment), [`error`] (the
//!   API's one error type), [`throttle`] (rate limits), `testing` (a
//!   private redis-server; tests only).

pub mod api;
pub mod auth;
pub mod chat;
pub mod config;
pub mod error;
pub mod layer;
pub mod metrics;
pub mod origin;
pub mod presence;
pub mod proxy;
pub mod security;
mod serve;
mod server_fns;
pub mod storage;
pub mod throttle;
mod trim;
// Test helpers, gated like axum's `test_helpers`: compiled for this crate's
// tests and, through the `test-support` feature, for the integration tests.
#[cfg(any(test, feature = "test-support"))]
#[doc(hidden)]
pub mod testing;
pub mod ws;

pub use serve::serve;

use app::{App, server_fns::ssr::BackendContext, shell};
use axum::{Router, extract::FromRef, response::Redirect, routing::get};
use chat::writer::MessageWriter;
use layer::ChannelLayer;
use leptos::{config::LeptosOptions, prelude::provide_context};
use leptos_axum::{LeptosRoutes, generate_route_list};
use origin::OriginPolicy;
use presence::Presence;
use std::sync::Arc;
use storage::Storage;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore, cookie::SameSite};
use ws::flood;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub leptos: LeptosOptions,
    pub layer: Arc<dyn ChannelLayer>,
    pub origins: Arc<OriginPolicy>,
    /// Whose `X-Forwarded-For` names the client (`TRUSTED_PROXIES`).
    pub trusted_proxies: Arc<proxy::TrustedProxies>,
    pub storage: Storage,
    pub writer: MessageWriter,
    pub presence: Arc<dyn Presence>,
    /// Rooms whose lobby line changed, for the live lobby.
    pub lobby: Arc<chat::lobby::LobbyFeed>,
    /// Rates, failure limits and hashing slots of the account endpoints.
    pub accounts: Arc<auth::Guards>,
    /// Places for open WebSockets (`MAX_CONNECTIONS`, `CONNECTIONS_PER_USER`).
    pub admission: Arc<ws::admission::Admission>,
    /// New rooms per person (`ROOMS_PER_HOUR`), keyed by user id.
    pub rooms_started: Arc<throttle::Throttle<i64>>,
    /// History pages over HTTP per client address (`HISTORY_RATE`).
    pub history_reads: Arc<throttle::Throttle<std::net::IpAddr>>,
    pub limits: Arc<config::Limits>,
    /// `METRICS_TOKEN`: when set, `/metrics` wants it as a bearer token.
    pub metrics_token: Option<Arc<str>>,
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

/// Paths answered with a plain HTTP redirect to the lobby.
const TO_LOBBY: [&str; 2] = ["/", "/chat"];

/// The whole app, with sessions in `sessions` (the store for the backend
/// storage uses).
pub fn router<S: SessionStore + Clone>(
    state: AppState,
    sessions: S,
    secure_cookies: bool,
) -> Router {
    let leptos = state.leptos.clone();
    let body_timeout = state.limits.header_read_timeout;
    // The app's own `/` route redirects client-side; over HTTP a 303 is
    // what browsers, curl and crawlers expect, so the server answers it.
    let pages: Vec<_> = page_routes()
        .iter()
        .filter(|route| !TO_LOBBY.contains(&route.path()))
        .cloned()
        .collect();
    let backend = BackendContext(Arc::new(state.clone()));
    let sessions = SessionManagerLayer::new(sessions)
        .with_name(auth::session_cookie(secure_cookies))
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
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::refuse_cross_site,
        ))
        .layer(axum::middleware::from_fn(security::security_headers))
        // A body must keep coming: one trickled a byte at a time would
        // otherwise hold a connection (and its buffer) for as long as it likes.
        .layer(RequestBodyTimeoutLayer::new(body_timeout))
        .with_state(state)
}

/// The app's routes, generated once per process. Generating them runs the
/// app with resource loading suppressed by a process-wide flag, and a
/// resource first polled meanwhile, by another server's page in the same
/// process, never resolves (leptos#4773): that page's response hung, seen
/// in the integration tests, where many servers start side by side.
/// Servers wait here until the one generation has finished.
fn page_routes() -> &'static [leptos_axum::AxumRouteListing] {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App))
}

/// How long `/healthz` waits for the database to answer.
const DATABASE_PING: std::time::Duration = std::time::Duration::from_millis(250);

/// 200 "ok", or 200 "degraded: …" when serving with a backend missing (the
/// server still serves its own connections and pages, and posts wait for
/// the database, so it should stay in rotation).
async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> String {
    let mut missing = Vec::new();
    let writer_waits = state
        .metrics
        .database_down
        .load(std::sync::atomic::Ordering::Relaxed);
    if writer_waits || !state.storage.answers(DATABASE_PING).await {
        missing.push("database unreachable, posts are retried".to_owned());
    }
    if let Some(why) = state.layer.degraded() {
        missing.push(why.to_string());
    }
    match missing.is_empty() {
        true => "ok".to_owned(),
        false => format!("degraded: {}", missing.join("; ")),
    }
}
