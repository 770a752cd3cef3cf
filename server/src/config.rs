//! Settings, all from the environment (see the README's table):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `LEPTOS_SITE_ADDR` | `127.0.0.1:3000` | address to listen on |
//! | `LEPTOS_SITE_ROOT` | `target/site` | built assets (relative to the working directory) |
//! | `ALLOWED_ORIGINS` | own host | origins allowed to open WebSockets (see [`crate::ws::origin`]) |
//! | `CHANNEL_CAPACITY` | 256 | messages queued per connection before it counts as lagging |
//! | `DATA_DIR` | `data` | where the SQLite database lives (created if missing) |
//! | `DATABASE_URL` | `sqlite://$DATA_DIR/chat.db` | the database |
//! | `SECURE_COOKIES` | off | `1`/`true`: session cookie only over https |
//! | `REDIS_URL` | unset | use the Redis channel layer (several processes share rooms) |
//! | `FLOOD_RATE` | 5 | messages (and edits, deletes, PMs) per second per person |
//! | `FLOOD_BURST` | 10 | messages a person may send at once before `FLOOD_RATE` applies |
//! | `ADMIN_PASSWORD` | unset | `server create-admin <name>` takes the password from here instead of asking |

use crate::{layer::DEFAULT_CHANNEL_CAPACITY, ws::flood::Limit};
use leptos::config::{LeptosOptions, get_configuration};
use std::fmt;

/// The name cargo-leptos builds the bundle under (`[[workspace.metadata.leptos]] name`);
/// used when the binary was built by plain cargo, which does not set it.
const OUTPUT_NAME: &str = "chat";

#[derive(Clone, Debug)]
pub struct Config {
    pub leptos: LeptosOptions,
    pub allowed_origins: Vec<String>,
    pub channel_capacity: usize,
    pub database_url: String,
    pub secure_cookies: bool,
    /// `None`: the in-memory channel layer.
    pub redis_url: Option<String>,
    /// Messages per second per person, and the burst allowed (`FLOOD_RATE`, `FLOOD_BURST`).
    pub flood: Limit,
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
        let redis_url = std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty());
        let flood = Limit {
            rate: positive_number("FLOOD_RATE", Limit::MESSAGES.rate)?,
            burst: positive_number("FLOOD_BURST", Limit::MESSAGES.burst)?,
        };
        Ok(Self {
            leptos,
            allowed_origins,
            channel_capacity,
            database_url,
            secure_cookies,
            redis_url,
            flood,
        })
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
