//! A throw-away Redis Cluster on free loopback ports.

use super::{FIRST_START_TRIES, free_port};
use std::{
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A throw-away Redis Cluster from Debian's `redis-server
/// --cluster-enabled yes`: `primaries` primaries, each with one replica if
/// asked, on free loopback ports (each node's bus port, +10000, free too),
/// in a temp directory, joined by `redis-cli --cluster create`, stopped
/// and removed on drop. Failure is detected after one second and a lost
/// primary's slots alone stop answering (`cluster-require-full-coverage
/// no`), as the README advises for production.
pub struct RedisCluster {
    dir: PathBuf,
    nodes: Vec<(u16, Option<Child>)>,
}

impl RedisCluster {
    pub fn start(primaries: usize, with_replicas: bool) -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("chat-redis-cluster-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let count = primaries * if with_replicas { 2 } else { 1 };
        let mut cluster = Self {
            dir,
            nodes: Vec::new(),
        };
        for _ in 0..count {
            let (port, child) = cluster.start_node();
            cluster.nodes.push((port, Some(child)));
        }
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for (port, _) in &cluster.nodes {
            create.arg(format!("127.0.0.1:{port}"));
        }
        let replicas = if with_replicas { "1" } else { "0" };
        let made = create
            .args(["--cluster-replicas", replicas, "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        assert!(
            made.is_ok_and(|s| s.success()),
            "redis-cli --cluster create failed (make test installs redis-server)"
        );
        cluster.wait_until_ok(primaries);
        cluster
    }

    /// A new node on a free port, answering. A node that exits before it
    /// answers could not bind: its cluster bus port (+10000) lies in the
    /// range the kernel hands out to outgoing connections, so it can be
    /// taken after we looked (a node once failed to start in `make test`).
    /// Then another port.
    fn start_node(&self) -> (u16, Child) {
        for _ in 0..FIRST_START_TRIES {
            let port = free_cluster_port();
            let mut child = self.spawn(port);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && child.try_wait().is_ok_and(|s| s.is_none()) {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return (port, child);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("redis-server (cluster node) did not start");
    }

    fn spawn(&self, port: u16) -> Child {
        let dir = self.dir.join(port.to_string());
        std::fs::create_dir_all(&dir).expect("a temp directory");
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
            ])
            .args(["--cluster-node-timeout", "1000"])
            .args(["--cluster-require-full-coverage", "no"])
            .args(["--cluster-replica-validity-factor", "0"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (make test installs it)")
    }

    /// Seed URLs for `REDIS_CLUSTER_URLS` (every node; one would do).
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|(port, _)| format!("redis://127.0.0.1:{port}/"))
            .collect()
    }

    /// The value of `REDIS_CLUSTER_URLS`.
    pub fn urls_env(&self) -> String {
        self.urls().join(",")
    }

    /// Runs `redis-cli -p <port> <args>` and returns what it printed.
    fn cli(port: u16, args: &[&str]) -> Option<String> {
        let out = Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn alive(&self) -> impl Iterator<Item = u16> + '_ {
        self.nodes
            .iter()
            .filter(|(_, child)| child.is_some())
            .map(|(port, _)| *port)
    }

    /// Each live primary's port with the slot ranges it serves, as a live
    /// node sees the cluster.
    pub fn primaries(&self) -> Vec<(u16, Vec<(u16, u16)>)> {
        let Some(nodes) = self
            .alive()
            .find_map(|port| Self::cli(port, &["cluster", "nodes"]))
        else {
            return Vec::new();
        };
        nodes
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let flags = fields.get(2)?;
                if !flags.contains("master") || flags.contains("fail") {
                    return None;
                }
                let port: u16 = fields[1].split(['@', ':']).nth(1)?.parse().ok()?;
                if !self.alive().any(|p| p == port) {
                    return None;
                }
                let slots = fields[8..]
                    .iter()
                    .filter_map(|range| {
                        let (lo, hi) = range.split_once('-').unwrap_or((range, range));
                        Some((lo.parse().ok()?, hi.parse().ok()?))
                    })
                    .collect::<Vec<_>>();
                (!slots.is_empty()).then_some((port, slots))
            })
            .collect()
    }

    /// The port of the primary that serves `key` (a sharded channel's name).
    pub fn primary_for(&self, key: &str) -> u16 {
        let port = self.alive().next().expect("a live node");
        let slot: u16 = Self::cli(port, &["cluster", "keyslot", key])
            .and_then(|s| s.trim().parse().ok())
            .expect("CLUSTER KEYSLOT");
        self.primaries()
            .into_iter()
            .find(|(_, slots)| slots.iter().any(|(lo, hi)| (*lo..=*hi).contains(&slot)))
            .map(|(port, _)| port)
            .expect("every slot is served")
    }

    /// Kills one node, as a crash would (`kill -9`).
    pub fn kill(&mut self, port: u16) {
        if let Some((_, child)) = self.nodes.iter_mut().find(|(p, _)| *p == port)
            && let Some(mut child) = child.take()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits until every live node says the cluster is ok with `primaries`
    /// primaries serving every slot (after a start, or a failover).
    pub fn wait_until_ok(&self, primaries: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ok = self.alive().all(|port| {
                Self::cli(port, &["cluster", "info"])
                    .is_some_and(|info| info.contains("cluster_state:ok"))
            });
            let served: usize = self
                .primaries()
                .iter()
                .flat_map(|(_, slots)| slots.iter().map(|(lo, hi)| usize::from(hi - lo) + 1))
                .sum();
            if ok && served == 16384 && self.primaries().len() == primaries {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the redis cluster did not settle"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.nodes {
            if let Some(mut child) = child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free port whose cluster bus port (+10000) is free too.
fn free_cluster_port() -> u16 {
    loop {
        let port = free_port();
        if port <= 55_535 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}
