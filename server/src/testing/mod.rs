//! Test support shared by unit and integration tests: a real
//! `redis-server` ([`RedisServer`]), a real PostgreSQL cluster
//! ([`PostgresServer`]) and a real Redis Cluster ([`RedisCluster`]), all
//! Debian's, each on free loopback ports in a directory of its own, stopped
//! on drop; one file each. Never a server that happens to be running on
//! the machine.

mod cluster;
mod postgres;
mod redis;

pub use cluster::RedisCluster;
pub use postgres::PostgresServer;
pub use redis::RedisServer;

use std::{
    net::{TcpListener, TcpStream},
    time::{Duration, Instant},
};

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

pub(crate) fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Ports tried for a throw-away server's first start.
pub(crate) const FIRST_START_TRIES: usize = 3;
