//! The chat server: one axum app serving the Leptos pages (server-rendered,
//! then hydrated), the JSON API, the WebSocket group endpoint
//! `/ws/chat/<room>/`, and the channel layer behind it.
//!
//! Every module, by layer, outside in (each may use those below it, never
//! those above):
//!
//! - **Start-up**: [`serve()`] (`serve/`: what starts in which order, the
//!   connection loop, shutdown, and `serve::trim`, which gives memory back
//!   after a crowd) and [`router`] below, which holds the [`AppState`].
//! - **Edges**: [`api`] (the JSON/form HTTP API), [`ws`] (the WebSocket
//!   consumer, one per socket: upgrade, admission, pump loop, frame
//!   handlers, ordering, flood control), `server_fns` (the pages' server
//!   functions), [`metrics`] (`/metrics`), [`edge`] (the guards every
//!   request passes: origins, proxies, security headers, rate limits).
//!   Handlers take the substates they touch (`State<Chat>`, …), never the
//!   whole `AppState` below this layer.
//! - **Domain**: [`chat`]: "store, then tell", behind one handle,
//!   [`chat::Chat`]: group names, who may open a room, entering and
//!   leaving, the message writer (group commit, then broadcast),
//!   moderation, the live lobby. The only place that words events for
//!   what services report.
//! - **Services**: [`storage`] (SQL only, one file per table; never
//!   broadcasts), [`layer`] (channels and groups, in memory or over Redis;
//!   knows no chat), [`presence`] (who is in which room; reports
//!   departures, never tells), [`auth`] (passwords, sessions, login limits;
//!   returns what a logout ended, never tells).
//! - **Ground**: [`config`] (settings from the environment), [`error`] (the
//!   API's one error type), [`metrics::counters`] (the atomics the writer,
//!   admission and trim update), [`edge::throttle`] (rate limits and
//!   budgets: kept with the guards that use it most, but it imports
//!   nothing of the crate, so `auth` and `chat` use it too), the allocator
//!   helpers of `serve::trim` (the hashing threads in `auth` give their
//!   memory back with them; they import only the counters), `testing`
//!   (private redis-server, PostgreSQL and Redis Cluster instances; tests
//!   only).
//!
//! Checks that hold (and must keep holding):
//! `grep -rn 'App[S]tate\|crate::c[h]at\|Server[E]vent' server/src/auth server/src/presence`
//! and `grep -rn 'App[S]tate' server/src/chat` print nothing.

pub mod api;
pub mod auth;
pub mod chat;
pub mod config;
pub mod edge;
pub mod error;
pub mod layer;
pub mod metrics;
pub mod presence;
mod serve;
mod server_fns;
pub mod storage;
// Test helpers, gated like axum's `test_helpers`: compiled for this crate's
// tests and, through the `test-support` feature, for the integration tests.
#[cfg(any(test, feature = "test-support"))]
#[doc(hidden)]
pub mod testing;
pub mod ws;

pub use serve::{raise_open_files, serve};

use app::{App, server_fns::ssr::BackendContext, shell};
use axum::{
    Router,
    extract::{FromRef, Request, State},
    http::Uri,
    response::{Redirect, Response},
    routing::get,
};
use chat::Chat;
use edge::{
    delivery::{self, StaticFiles},
    origin::OriginPolicy,
    proxy, security, throttle,
};
use futures::future::BoxFuture;
use leptos::{config::LeptosOptions, prelude::provide_context};
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::sync::Arc;
use storage::Storage;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore, cookie::SameSite};
use ws::flood;

/// What the router holds. Handlers take the parts they touch as axum
/// substates (`State<Chat>`, `State<Storage>`, `State<Arc<Admission>>`…,
/// through the `FromRef`s below), so a handler's signature says what it
/// reaches; below the edges nothing takes the whole `AppState`.
#[derive(Clone)]
pub struct AppState {
    pub leptos: LeptosOptions,
    /// The chat domain: storage, layer, presence, lobby, writer, limits.
    pub chat: Chat,
    pub origins: Arc<OriginPolicy>,
    /// Whose `X-Forwarded-For` names the client (`TRUSTED_PROXIES`).
    pub trusted_proxies: Arc<proxy::TrustedProxies>,
    /// Rates, failure limits and hashing slots of the account endpoints.
    pub accounts: Arc<auth::Guards>,
    /// Places for open WebSockets (`MAX_CONNECTIONS`, `CONNECTIONS_PER_USER`).
    pub admission: Arc<ws::admission::Admission>,
    /// History pages over HTTP per client address (`HISTORY_RATE`).
    pub history_reads: Arc<throttle::Throttle<proxy::ClientKey>>,
    pub flood: Arc<flood::FloodControl>,
    /// The counters, and `METRICS_TOKEN` that guards them.
    pub metrics: metrics::Exposed,
}

/// `impl FromRef<AppState> for $part`, reading `state.$field`.
macro_rules! substates {
    ($($part:ty => $($field:ident).+;)*) => {$(
        impl FromRef<AppState> for $part {
            fn from_ref(state: &AppState) -> Self {
                state.$($field).+.clone()
            }
        }
    )*};
}

substates! {
    LeptosOptions => leptos;
    Chat => chat;
    Storage => chat.storage;
    Arc<OriginPolicy> => origins;
    Arc<proxy::TrustedProxies> => trusted_proxies;
    Arc<auth::Guards> => accounts;
    Arc<ws::admission::Admission> => admission;
    Arc<throttle::Throttle<proxy::ClientKey>> => history_reads;
    Arc<flood::FloodControl> => flood;
    metrics::Exposed => metrics;
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
    let body_timeout = state.chat.limits.header_read_timeout;
    let request_timeout = state.chat.limits.request_timeout;
    // The app's own `/` route redirects client-side; over HTTP a 303 is
    // what browsers, curl and crawlers expect, so the server answers it.
    let pages: Vec<_> = page_routes()
        .iter()
        .filter(|route| !TO_LOBBY.contains(&route.path()))
        .cloned()
        .collect();
    let backend = BackendContext(Arc::new(server_fns::Pages {
        chat: state.chat.clone(),
        history_reads: state.history_reads.clone(),
        trusted_proxies: state.trusted_proxies.clone(),
    }));
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
        .route("/ws/dm/{peer}/", get(ws::upgrade_direct))
        .route("/healthz", get(health))
        .route("/metrics", get(metrics::render))
        .merge(api::routes())
        .leptos_routes_with_context(
            &state,
            pages,
            move || provide_context(backend.clone()),
            move || shell(leptos.clone()),
        )
        .fallback(fallback(&state.leptos))
        .layer(sessions)
        .layer(axum::middleware::from_fn_with_state(
            state.origins.clone(),
            security::refuse_cross_site,
        ))
        .layer(axum::middleware::from_fn(security::security_headers))
        // Before both: how the visitor reached us, from a trusted proxy.
        .layer(axum::middleware::from_fn_with_state(
            state.trusted_proxies.clone(),
            proxy::learn_scheme,
        ))
        .layer(delivery::compression())
        // A body must keep coming: one trickled a byte at a time would
        // otherwise hold a connection (and its buffer) for as long as it likes.
        .layer(RequestBodyTimeoutLayer::new(body_timeout))
        // And the whole request must be done in time: a body trickled a
        // byte just inside each frame's timeout would otherwise still
        // hold its connection forever. Sockets and feeds, once answered,
        // are not cut (the answer is what this times).
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .with_state(state)
}

/// What no route answers: a static file of the site, or the app's "not
/// found" page.
fn fallback(
    leptos: &LeptosOptions,
) -> impl Fn(Uri, State<AppState>, Request) -> BoxFuture<'static, Response> + Clone + Send + 'static
{
    let files = StaticFiles::new(&leptos.site_root, &leptos.site_pkg_dir, leptos.hash_files);
    let not_found = leptos_axum::file_and_error_handler::<AppState, _>(shell);
    move |uri, state, request| {
        let (files, not_found) = (files.clone(), not_found.clone());
        Box::pin(async move {
            match files.serve(request).await {
                Ok(file) => file,
                Err(request) => not_found(uri, state, request).await,
            }
        })
    }
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
async fn health(State(chat): State<Chat>, State(metrics): State<metrics::Exposed>) -> String {
    let mut missing = Vec::new();
    let writer_waits = metrics
        .counters
        .database_down
        .load(std::sync::atomic::Ordering::Relaxed);
    if writer_waits || !chat.storage.answers(DATABASE_PING).await {
        missing.push("database unreachable, posts are retried".to_owned());
    }
    if let Some(why) = chat.layer.degraded() {
        missing.push(why.to_string());
    }
    match missing.is_empty() {
        true => "ok".to_owned(),
        false => format!("degraded: {}", missing.join("; ")),
    }
}
