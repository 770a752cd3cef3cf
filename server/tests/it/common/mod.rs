//! Test support: the real server on a free port, and clients that speak to
//! it the way a browser page or a bot does. One file per concept:
//!
//! - [`server`]: a server in this process ([`TestServer`]) or as its own
//!   process ([`ServerProcess`]), both an [`Endpoint`];
//! - [`database`]: a database of its own per test, SQLite or PostgreSQL;
//! - [`http`]: accounts, pages, `/metrics` and JSON posts over HTTP;
//! - [`socket`]: the WebSocket client ([`Client`]) and joining rooms;
//! - [`lobby`]: the lobby's live feed ([`LobbyWatch`]).
#![allow(dead_code)] // each test file uses a different part
#![allow(unused_imports)] // likewise the re-exports

mod database;
mod http;
mod lobby;
mod server;
mod socket;

pub use database::{Backend, Database};
pub use http::{User, act, post_json, session_cookie};
pub use lobby::LobbyWatch;
pub use server::{Endpoint, ServerProcess, TestServer};
pub use socket::{Client, Refused, post_many};

use std::time::Duration;

/// How long a test waits for something that should arrive.
pub const ARRIVES: Duration = Duration::from_secs(5);
/// How long one HTTP request of a test may take: a server that never
/// answers fails the test instead of holding the whole suite.
pub const ANSWERS: Duration = Duration::from_secs(30);

/// The tests' HTTP client, with [`ANSWERS`] as its timeout.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(ANSWERS)
        .build()
        .expect("a reqwest client")
}

/// How long a test waits to be sure something does *not* arrive.
pub const SILENCE: Duration = Duration::from_millis(300);

/// The password every test user gets.
pub const PASSWORD: &str = "correct horse battery";
