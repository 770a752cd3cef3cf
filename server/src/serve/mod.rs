//! Start-up and shutdown: open storage and sessions, choose the layer and
//! presence (in memory, or Redis when `REDIS_URL` is set), start the chat
//! domain (message writer, live lobby, departures), put the edges' guards
//! around it, serve until told to stop, then close every socket with 1012
//! and let the writer store what it holds.
//!
//! The files: this one (what starts, in which order, and the shutdown),
//! [`accept`] (the connection loop) and [`trim`] (giving memory back after
//! a crowd; its allocator helpers import nothing of the crate, so the
//! hashing threads in `auth/` use them too).

mod accept;
pub mod trim;

use accept::accept;

use crate::{
    AppState, auth,
    chat::{
        Chat,
        crowd::Crowds,
        lobby::{Lobby, LobbyFeed},
        membership,
        writer::MessageWriter,
    },
    config::Config,
    edge::{origin::OriginPolicy, throttle::Throttle},
    layer::{self, ChannelLayer, MemoryLayer},
    metrics,
    presence::{Departures, MemoryPresence, Presence, RedisPresence},
    router,
    storage::{Pool, Storage},
    ws::{
        admission::{Admission, Caps},
        flood,
    },
};
use std::{future::Future, io, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tower_sessions::{SessionStore, session_store::ExpiredDeletion};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// Raises this process's open-file limit (`RLIMIT_NOFILE`) to its hard
/// limit: every socket is a file, and the usual soft limit of 1,024 would
/// refuse connections long before `MAX_CONNECTIONS`. Logs the figure, and
/// warns when it cannot hold `max_connections` sockets plus the database's
/// and Redis's own. Returns the limit now in force.
pub fn raise_open_files(max_connections: usize) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write `limit`.
    let now = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            tracing::warn!("open files: {}", io::Error::last_os_error());
            return 0;
        }
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            ..limit
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            raised.rlim_cur
        } else {
            tracing::warn!("raising open files: {}", io::Error::last_os_error());
            limit.rlim_cur
        }
    };
    tracing::info!("open files: up to {now}");
    // Sockets, plus headroom for the database, Redis and the listener.
    if (now as usize) < max_connections.saturating_add(256) {
        tracing::warn!(
            "open files ({now}) cannot hold MAX_CONNECTIONS ({max_connections}) sockets: \
             raise the hard limit (ulimit -Hn, LimitNOFILE=) or lower MAX_CONNECTIONS"
        );
    }
    now
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
    let site = std::path::Path::new(&*config.leptos.site_root);
    let stale = crate::edge::delivery::drop_stale_copies(site);
    if stale > 0 {
        tracing::info!("removed {stale} precompressed files older than their originals");
    }
    let metrics = Arc::new(metrics::Metrics::default());
    let (stopping, stop_rx) = tokio::sync::watch::channel(false);
    let (chat, writer_task) = start_chat(&config, metrics.clone(), stop_rx).await?;
    let state = app_state(&config, bound, chat, metrics.clone())?;
    trim::fix_thresholds();
    let readers = state.chat.storage.clone();
    trim::spawn(metrics.clone(), move || {
        let readers = readers.clone();
        async move { readers.close_idle_readers().await }
    });
    let secure = config.secure_cookies;
    let peers = accept::PeerCaps::new(
        config.limits.tcp_connections_per_address,
        state.trusted_proxies.clone(),
    );
    let app = match state.chat.storage.pool().clone() {
        Pool::Sqlite(pool) => router(state, sessions(SqliteStore::new(pool)).await?, secure),
        Pool::Postgres(pool) => router(state, sessions(PostgresStore::new(pool)).await?, secure),
    };
    accept(
        listener,
        app,
        config.limits.header_read_timeout,
        peers,
        async move {
            shutdown.await;
            let _ = stopping.send(true);
        },
    )
    .await;
    drain(&metrics, writer_task).await;
    Ok(())
}

/// The chat domain: storage, the layer and presence, the message writer
/// (its task is returned, to wait for at shutdown), the live lobby, and
/// the telling of people presence reports gone with a dead process.
async fn start_chat(
    config: &Config,
    metrics: Arc<metrics::Metrics>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> io::Result<(Chat, tokio::task::JoinHandle<()>)> {
    let storage = Storage::open(&config.database_url)
        .await
        .map_err(io::Error::other)?;
    let (layer, presence, departures) = backends(config).await?;
    let crowds = Arc::new(Crowds::default());
    if let Some(departures) = departures {
        let listed = config.limits.user_list_max;
        let telling =
            membership::tell_departures(layer.clone(), crowds.clone(), listed, departures);
        tokio::spawn(telling);
    }
    tokio::spawn(
        crowds
            .clone()
            .run(layer.clone(), presence.clone(), shutdown.clone()),
    );
    let writer_storage = Storage::open_for_writer(&config.database_url)
        .await
        .map_err(io::Error::other)?;
    let lobby = Arc::new(LobbyFeed::default());
    let (writer, writer_task) = MessageWriter::start(
        writer_storage,
        storage.clone(),
        layer.clone(),
        lobby.clone(),
        metrics,
        config.database_retry,
        config.limits.mentions_per_message,
    );
    let telling = Lobby {
        storage: storage.clone(),
        presence: presence.clone(),
        layer: layer.clone(),
        page: config.limits.rooms_listed,
    };
    tokio::spawn(lobby.clone().run(telling, shutdown.clone()));
    let limits = Arc::new(config.limits.clone());
    let chat = Chat {
        storage,
        layer,
        presence,
        lobby,
        crowds,
        writer,
        rooms_started: Arc::new(Throttle::new(
            limits.rooms_per_hour,
            Duration::from_secs(60 * 60),
        )),
        limits,
        shutdown,
    };
    Ok((chat, writer_task))
}

/// The edges' guards around the chat domain.
fn app_state(
    config: &Config,
    bound: std::net::SocketAddr,
    chat: Chat,
    metrics: Arc<metrics::Metrics>,
) -> io::Result<AppState> {
    let limits = &config.limits;
    Ok(AppState {
        origins: Arc::new(
            OriginPolicy::new(&config.allowed_origins, bound).map_err(io::Error::other)?,
        ),
        trusted_proxies: Arc::new(config.trusted_proxies.clone()),
        accounts: Arc::new(auth::Guards::new(limits)),
        admission: Arc::new(Admission::new(
            Caps {
                total: limits.max_connections,
                per_address: limits.connections_per_address,
                per_user: limits.connections_per_user,
            },
            metrics.clone(),
        )),
        history_reads: Arc::new(Throttle::per_second(
            limits.history_rate,
            limits.history_burst,
        )),
        flood: Arc::new(flood::FloodControl::new(config.flood)),
        metrics: metrics::Exposed {
            counters: metrics,
            token: config.metrics_token.as_deref().map(Arc::from),
        },
        leptos: config.leptos.clone(),
        chat,
    })
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
/// share rooms); then presence reports the people of dead processes.
async fn backends(config: &Config) -> io::Result<Backends> {
    let Some(target) = &config.redis else {
        return Ok((
            Arc::new(MemoryLayer::new(config.channel_capacity)),
            Arc::new(MemoryPresence::default()),
            None,
        ));
    };
    let layer = layer::connect_redis(target, &config.redis_prefix, config.channel_capacity)
        .await
        .map_err(io::Error::other)?;
    let (presence, departures) = RedisPresence::connect(target, &config.redis_prefix)
        .await
        .map_err(io::Error::other)?;
    Ok((layer, Arc::new(presence), Some(departures)))
}

/// The layer, presence, and where presence reports departures (if it can).
type Backends = (Arc<dyn ChannelLayer>, Arc<dyn Presence>, Option<Departures>);

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
