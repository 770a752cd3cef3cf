//! Settings, all from the environment (see the README's table):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `LEPTOS_SITE_ADDR` | `127.0.0.1:3000` | address to listen on |
//! | `LEPTOS_SITE_ROOT` | `target/site` | built assets (relative to the working directory) |
//! | `ALLOWED_ORIGINS` | own host | origins allowed to open WebSockets (see [`crate::edge::origin`]); also the rule for cross-site POSTs |
//! | `TRUSTED_PROXIES` | unset | proxies (CIDRs or addresses) whose `X-Forwarded-For` names the client (see [`crate::edge::proxy`]) |
//! | `CHANNEL_CAPACITY` | 1024 | messages queued per connection before it counts as lagging |
//! | `DATA_DIR` | `data` | where the SQLite database lives (created if missing) |
//! | `DATABASE_URL` | `sqlite://$DATA_DIR/chat.db` | the database: `sqlite://…` or `postgres://…` |
//! | `DATABASE_RETRY_SECS` | 15 | how long posts wait for a lost database before their posters get `unavailable` |
//! | `SECURE_COOKIES` | off | `1`/`true`: session cookie only over https |
//! | `REDIS_URL` | unset | use the Redis channel layer (several processes share rooms) |
//! | `REDIS_CLUSTER_URLS` | unset | instead of `REDIS_URL`: comma-separated seed nodes of a Redis Cluster (sharded pub/sub) |
//! | `METRICS_TOKEN` | unset | `/metrics` only with `Authorization: Bearer <token>` (404 otherwise) |
//! | `REDIS_PREFIX` | `chat` | starts every Redis key and channel: deployments sharing a Redis need different ones |
//! | `FLOOD_RATE` | 5 | messages (and edits, deletes, PMs) per second per person |
//! | `FLOOD_BURST` | 10 | messages a person may send at once before `FLOOD_RATE` applies |
//! | `ADMIN_PASSWORD` | unset | `server create-admin <name>` takes the password from here instead of asking |
//!
//! and the abuse limits of [`Limits`], each with its own variable.

use crate::{
    layer::{DEFAULT_CHANNEL_CAPACITY, RedisTarget},
    ws::flood::Limit,
};
use leptos::config::{LeptosOptions, get_configuration};
use std::{fmt, time::Duration};

/// The name cargo-leptos builds the bundle under (`[[workspace.metadata.leptos]] name`);
/// used when the binary was built by plain cargo, which does not set it.
const OUTPUT_NAME: &str = "chat";

#[derive(Clone, Debug)]
pub struct Config {
    pub leptos: LeptosOptions,
    pub allowed_origins: Vec<String>,
    /// `TRUSTED_PROXIES`: peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: crate::edge::proxy::TrustedProxies,
    pub channel_capacity: usize,
    pub database_url: String,
    /// `DATABASE_RETRY_SECS`: how long the message writer retries a batch
    /// while the database is unreachable.
    pub database_retry: Duration,
    pub secure_cookies: bool,
    /// `REDIS_URL` or `REDIS_CLUSTER_URLS`; `None`: the in-memory
    /// channel layer.
    pub redis: Option<RedisTarget>,
    /// Starts every Redis key and channel name (`REDIS_PREFIX`).
    pub redis_prefix: String,
    /// `METRICS_TOKEN`: `/metrics` only with this bearer token.
    pub metrics_token: Option<String>,
    /// Messages per second per person, and the burst allowed (`FLOOD_RATE`, `FLOOD_BURST`).
    pub flood: Limit,
    pub limits: Limits,
}

/// What one client may make the server spend: every limit of the README's
/// "Limits" table, with defaults a small public instance can live with.
/// Loopback load tests raise them through the same variables.
#[derive(Clone, Debug)]
pub struct Limits {
    /// `ROOMS_PER_HOUR`: new rooms one person may bring into being (by
    /// posting the first message) per hour.
    pub rooms_per_hour: u32,
    /// `ROOMS_LISTED`: most rooms the lobby and `/api/rooms` list.
    pub rooms_listed: usize,
    /// `REGISTRATIONS_PER_HOUR`: sign-ups per client address per hour.
    pub registrations_per_hour: u32,
    /// `LOGIN_ATTEMPTS_PER_15_MIN`: logins (right or wrong) per client
    /// address per 15 minutes.
    pub login_attempts_per_15_min: u32,
    /// `FAILED_LOGINS_PER_USER` / `FAILED_LOGINS_PER_ADDRESS`: wrong
    /// passwords per username / per address per 15 minutes.
    pub failed_logins_per_user: usize,
    pub failed_logins_per_address: usize,
    /// `PASSWORD_HASHES_AT_ONCE`: argon2 runs at the same time (each holds
    /// 19 MiB); default the number of cores.
    pub hashes_at_once: usize,
    /// `PASSWORD_HASH_WAIT_SECS`: how long a login or sign-up waits for a
    /// hashing slot before it is refused with 503 `busy`.
    pub hash_wait: Duration,
    /// `HEADER_READ_TIMEOUT_SECS`: a request head must arrive within this.
    pub header_read_timeout: Duration,
    /// `MAX_CONNECTIONS`: open WebSockets on this process.
    pub max_connections: usize,
    /// `CONNECTIONS_PER_USER`: open WebSockets per person on this process.
    pub connections_per_user: usize,
    /// `CONNECTIONS_PER_ADDRESS`: open WebSockets and lobby feeds per
    /// client address (an IPv6 /64) on this process.
    pub connections_per_address: usize,
    /// `TCP_CONNECTIONS_PER_ADDRESS`: open TCP connections per peer
    /// address (trusted proxies exempt: they carry everyone's).
    pub tcp_connections_per_address: usize,
    /// `REQUEST_TIMEOUT_SECS`: a whole request (head, body and handler)
    /// must be done within this; streams (sockets, feeds) once answered
    /// are not cut.
    pub request_timeout: Duration,
    /// `PING_INTERVAL_SECS`: a quiet socket is pinged this often.
    pub ping_interval: Duration,
    /// `IDLE_TIMEOUT_SECS`: a socket that sent nothing (not even a pong)
    /// for this long is closed.
    pub idle_timeout: Duration,
    /// `WRITE_TIMEOUT_SECS`: a write to a client that stopped reading gives up.
    pub write_timeout: Duration,
    /// `HISTORY_RATE` / `HISTORY_BURST`: history pages per second per
    /// connection (catch-up pages included), and the burst.
    pub history_rate: f64,
    pub history_burst: u32,
    /// `READ_MARKERS_PER_SECOND`: read-marker reports a connection may
    /// send per second (a page sends at most one; bursts of three times it).
    pub read_markers_per_second: f64,
    /// `MENTIONS_PER_MESSAGE`: the most people one message's `@names` are
    /// noted for (mention badges); the rest are highlighted, not counted.
    pub mentions_per_message: usize,
    /// `USER_LIST_MAX`: the most names a room's `user_list` carries. In a
    /// room with more people, arrivals and departures are told as a count
    /// (`user_count`, gathered) instead of one `user_join` / `user_leave`
    /// each to everyone: a room of n people joining at once would
    /// otherwise cost n² deliveries.
    pub user_list_max: usize,
    /// `BAD_FRAMES_PER_10_S`: malformed or refused frames (and dropped
    /// typing signals) a connection may send per 10 s before it is closed.
    pub bad_frames_per_10_s: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            rooms_per_hour: 20,
            rooms_listed: 30,
            registrations_per_hour: 10,
            login_attempts_per_15_min: 60,
            failed_logins_per_user: 5,
            failed_logins_per_address: 20,
            hashes_at_once: std::thread::available_parallelism().map_or(2, usize::from),
            hash_wait: Duration::from_secs(5),
            header_read_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            connections_per_user: 20,
            connections_per_address: 50,
            tcp_connections_per_address: 100,
            request_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(25),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(10),
            history_rate: 5.0,
            history_burst: 30,
            read_markers_per_second: 2.0,
            mentions_per_message: 10,
            user_list_max: 200,
            bad_frames_per_10_s: 20,
        }
    }
}

impl Limits {
    /// The defaults, overridden by whichever variables are set.
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self {
            rooms_per_hour: whole("ROOMS_PER_HOUR", d.rooms_per_hour)?,
            rooms_listed: whole("ROOMS_LISTED", d.rooms_listed)?,
            registrations_per_hour: whole("REGISTRATIONS_PER_HOUR", d.registrations_per_hour)?,
            login_attempts_per_15_min: whole(
                "LOGIN_ATTEMPTS_PER_15_MIN",
                d.login_attempts_per_15_min,
            )?,
            failed_logins_per_user: whole("FAILED_LOGINS_PER_USER", d.failed_logins_per_user)?,
            failed_logins_per_address: whole(
                "FAILED_LOGINS_PER_ADDRESS",
                d.failed_logins_per_address,
            )?,
            hashes_at_once: whole("PASSWORD_HASHES_AT_ONCE", d.hashes_at_once)?,
            hash_wait: seconds("PASSWORD_HASH_WAIT_SECS", d.hash_wait)?,
            header_read_timeout: seconds("HEADER_READ_TIMEOUT_SECS", d.header_read_timeout)?,
            max_connections: whole("MAX_CONNECTIONS", d.max_connections)?,
            connections_per_user: whole("CONNECTIONS_PER_USER", d.connections_per_user)?,
            connections_per_address: whole("CONNECTIONS_PER_ADDRESS", d.connections_per_address)?,
            tcp_connections_per_address: whole(
                "TCP_CONNECTIONS_PER_ADDRESS",
                d.tcp_connections_per_address,
            )?,
            request_timeout: seconds("REQUEST_TIMEOUT_SECS", d.request_timeout)?,
            ping_interval: seconds("PING_INTERVAL_SECS", d.ping_interval)?,
            idle_timeout: seconds("IDLE_TIMEOUT_SECS", d.idle_timeout)?,
            write_timeout: seconds("WRITE_TIMEOUT_SECS", d.write_timeout)?,
            history_rate: positive_number("HISTORY_RATE", d.history_rate)?,
            history_burst: whole("HISTORY_BURST", d.history_burst)?,
            read_markers_per_second: positive_number(
                "READ_MARKERS_PER_SECOND",
                d.read_markers_per_second,
            )?,
            mentions_per_message: whole("MENTIONS_PER_MESSAGE", d.mentions_per_message)?,
            user_list_max: whole("USER_LIST_MAX", d.user_list_max)?,
            bad_frames_per_10_s: whole("BAD_FRAMES_PER_10_S", d.bad_frames_per_10_s)?,
        })
    }

    /// Everything raised out of the way, for load tests and the test
    /// servers; a test that checks one limit sets that one back.
    pub fn unlimited() -> Self {
        Self {
            rooms_per_hour: 1_000_000,
            registrations_per_hour: 1_000_000,
            login_attempts_per_15_min: 1_000_000,
            failed_logins_per_user: 1_000_000,
            failed_logins_per_address: 1_000_000,
            history_rate: 1e6,
            history_burst: 1_000_000,
            bad_frames_per_10_s: 1_000_000,
            connections_per_address: 1_000_000,
            tcp_connections_per_address: 1_000_000,
            ..Self::default()
        }
    }
}

#[derive(Debug)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut leptos = get_configuration(None)
            .map_err(|e| ConfigError(format!("LEPTOS_* settings: {e}")))?
            .leptos_options;
        if leptos.output_name.is_empty() {
            leptos.output_name = OUTPUT_NAME.into();
        }
        let allowed_origins = std::env::var("ALLOWED_ORIGINS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let channel_capacity = match std::env::var("CHANNEL_CAPACITY") {
            Ok(v) => v.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                ConfigError(format!("CHANNEL_CAPACITY: {v:?} is not a positive number"))
            })?,
            Err(_) => DEFAULT_CHANNEL_CAPACITY,
        };
        let database_url = match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                let dir = std::env::var("DATA_DIR").unwrap_or_else(|_| "data".into());
                std::fs::create_dir_all(&dir)
                    .map_err(|e| ConfigError(format!("DATA_DIR {dir:?}: {e}")))?;
                format!("sqlite://{dir}/chat.db")
            }
        };
        let secure_cookies = match std::env::var("SECURE_COOKIES").as_deref() {
            Ok("1" | "true" | "yes") => true,
            Ok("" | "0" | "false" | "no") | Err(_) => false,
            Ok(other) => {
                return Err(ConfigError(format!(
                    "SECURE_COOKIES: {other:?} is not true or false"
                )));
            }
        };
        let redis = redis_target()?;
        let redis_prefix = redis_prefix()?;
        let flood = Limit {
            rate: positive_number("FLOOD_RATE", Limit::MESSAGES.rate)?,
            burst: positive_number("FLOOD_BURST", Limit::MESSAGES.burst)?,
        };
        let trusted_proxies = crate::edge::proxy::TrustedProxies::parse(
            &std::env::var("TRUSTED_PROXIES").unwrap_or_default(),
        )
        .map_err(ConfigError)?;
        Ok(Self {
            leptos,
            allowed_origins,
            trusted_proxies,
            channel_capacity,
            database_url,
            database_retry: seconds("DATABASE_RETRY_SECS", Duration::from_secs(15))?,
            secure_cookies,
            redis,
            redis_prefix,
            metrics_token: std::env::var("METRICS_TOKEN")
                .ok()
                .filter(|t| !t.is_empty()),
            flood,
            limits: Limits::from_env()?,
        })
    }
}

/// `REDIS_URL` (one server) or `REDIS_CLUSTER_URLS` (a cluster), not both.
fn redis_target() -> Result<Option<RedisTarget>, ConfigError> {
    let single = std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty());
    let cluster = std::env::var("REDIS_CLUSTER_URLS")
        .ok()
        .and_then(|urls| RedisTarget::cluster(&urls));
    match (single, cluster) {
        (Some(_), Some(_)) => Err(ConfigError(
            "set REDIS_URL (one Redis) or REDIS_CLUSTER_URLS (a cluster), not both".to_owned(),
        )),
        (Some(url), None) => Ok(Some(RedisTarget::Single(url))),
        (None, cluster) => Ok(cluster),
    }
}

/// `REDIS_PREFIX`: letters, digits, `_`, `-`, `.` or `:`, 1 to 64 of them.
/// Pub/sub channels ignore Redis's database number, so a prefix is the one
/// way two deployments on one Redis stay apart.
fn redis_prefix() -> Result<String, ConfigError> {
    let prefix = match std::env::var("REDIS_PREFIX") {
        Ok(p) if !p.is_empty() => p,
        _ => return Ok("chat".to_owned()),
    };
    let fits = prefix.len() <= 64
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c));
    if fits {
        Ok(prefix)
    } else {
        Err(ConfigError(format!(
            "REDIS_PREFIX: {prefix:?} must be 1 to 64 letters, digits, _, -, . or :"
        )))
    }
}

/// An optional positive number from the environment.
fn positive_number(name: &str, default: f64) -> Result<f64, ConfigError> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n > 0.0)
            .ok_or_else(|| ConfigError(format!("{name}: {v:?} is not a positive number"))),
        _ => Ok(default),
    }
}

/// An optional whole number above zero from the environment.
fn whole<T: std::str::FromStr + PartialOrd + Default>(
    name: &str,
    default: T,
) -> Result<T, ConfigError> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v
            .parse::<T>()
            .ok()
            .filter(|n| *n > T::default())
            .ok_or_else(|| ConfigError(format!("{name}: {v:?} is not a whole number above 0"))),
        _ => Ok(default),
    }
}

/// An optional duration in (possibly fractional) seconds from the environment.
fn seconds(name: &str, default: Duration) -> Result<Duration, ConfigError> {
    positive_number(name, default.as_secs_f64()).map(Duration::from_secs_f64)
}
