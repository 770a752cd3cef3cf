//! Test support shared by unit and integration tests: a real
//! `redis-server` and a real PostgreSQL cluster (Debian's), each on a free
//! loopback port in a directory of its own, stopped on drop. Never a
//! server that happens to be running on the machine.

use std::{
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a private redis-server and waits until it accepts connections.
    pub fn start() -> Self {
        let mut server = Self {
            port: free_port(),
            child: None,
        };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills it (as a crash would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (make test installs it)");
        self.child = Some(child);
        wait_for_port(self.port, "redis-server");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A throw-away PostgreSQL cluster: `initdb` and `pg_ctl` from the newest
/// `/usr/lib/postgresql/<version>/bin`, in a temp directory, on a free
/// loopback port, run as the `postgres` user when we are root (PostgreSQL
/// refuses to run as root; CI runs as root). Trust authentication on
/// loopback only, fsync off: it holds test data for seconds.
pub struct PostgresServer {
    pub port: u16,
    bin: PathBuf,
    dir: PathBuf,
    as_postgres: bool,
    running: bool,
}

/// Ports tried for a throw-away server's first start.
const FIRST_START_TRIES: usize = 3;

impl PostgresServer {
    pub fn start() -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("chat-pg-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temp directory");
        let as_postgres = is_root();
        if as_postgres {
            let owned = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status();
            assert!(owned.is_ok_and(|s| s.success()), "chown to postgres");
        }
        let mut server = Self {
            port: free_port(),
            bin: postgres_bin(),
            dir,
            as_postgres,
            running: false,
        };
        let copied = Command::new("cp")
            .arg("-a")
            .arg(server.template())
            .arg(server.data())
            .status();
        assert!(
            copied.is_ok_and(|s| s.success()),
            "copying the initdb template"
        );
        // The port was free when picked, but whatever else starts now may
        // take it before PostgreSQL binds. A first start failed once in
        // `make test` (its log went with the directory): it tries another
        // port. Later restarts keep theirs: clients reconnect to it.
        for _ in 1..FIRST_START_TRIES {
            if server.launch() {
                return server;
            }
            server.port = free_port();
        }
        server.restart();
        server
    }

    /// The cluster's own database; [`PostgresServer::new_database`] makes more.
    pub fn url(&self) -> String {
        self.database_url("postgres")
    }

    pub fn database_url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// A new empty database on this cluster; its URL.
    pub async fn new_database(&self, name: &str) -> String {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&self.url())
            .await
            .expect("connect to the test cluster");
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .expect("create a database");
        self.database_url(name)
    }

    /// Stops it at once, as a crash would (clients see their connections drop).
    pub fn stop(&mut self) {
        if self.running {
            self.running = false;
            self.run("pg_ctl", &["-m", "immediate", "-w", "stop"], false);
        }
    }

    /// Starts it (again) on the same port, with what it had stored.
    pub fn restart(&mut self) {
        self.stop();
        let started = self.launch();
        let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
        assert!(
            started,
            "pg_ctl failed (make test installs postgresql); its log:\n{log}"
        );
    }

    /// `pg_ctl start` on this port; whether PostgreSQL came up.
    fn launch(&mut self) -> bool {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.data().display()
        );
        let log = self.dir.join("log").display().to_string();
        let args = ["-w", "-l", &log, "-o", &options, "start"];
        if !self.run_on(&self.data(), "pg_ctl", &args) {
            return false;
        }
        self.running = true;
        wait_for_port(self.port, "postgres");
        true
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Runs one of PostgreSQL's tools on the data directory `data`.
    fn run_on(&self, data: &std::path::Path, tool: &str, args: &[&str]) -> bool {
        let program = self.bin.join(tool);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        let status = command
            .arg("-D")
            .arg(data)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        status.is_ok_and(|s| s.success())
    }

    fn run(&self, tool: &str, args: &[&str], must: bool) {
        let ok = self.run_on(&self.data(), tool, args);
        assert!(ok || !must, "{tool} failed (make test installs postgresql)");
    }

    /// A freshly initialised data directory to copy (a copy takes a fifth
    /// of an `initdb`), made once per machine and PostgreSQL version:
    /// initialised aside, then renamed into place, so concurrent test
    /// processes never see half of one.
    fn template(&self) -> PathBuf {
        let version = self.bin.parent().and_then(|v| v.file_name());
        let version = version.map_or("x".into(), |v| v.to_string_lossy());
        let template = std::env::temp_dir().join(format!("chat-pg-template-{version}"));
        if template.join("PG_VERSION").exists() {
            return template;
        }
        let aside = self.dir.join("template");
        let args = ["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"];
        let made = self.run_on(&aside, "initdb", &[&args[..], &["--locale=C"]].concat());
        assert!(made, "initdb failed (make test installs postgresql)");
        // Another process may have won the race; either template will do.
        if std::fs::rename(&aside, &template).is_err() {
            let _ = std::fs::remove_dir_all(&aside);
        }
        template
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// The newest installed PostgreSQL's tools.
fn postgres_bin() -> PathBuf {
    let versions = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL must be installed (make test installs it)");
    versions
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            Some((name.parse::<u32>().ok()?, name))
        })
        .max()
        .map(|(_, name)| PathBuf::from("/usr/lib/postgresql").join(name).join("bin"))
        .expect("a PostgreSQL version under /usr/lib/postgresql")
}

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
