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
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.data().display()
        );
        let log = self.dir.join("log");
        self.run(
            "pg_ctl",
            &[
                "-w",
                "-l",
                &log.display().to_string(),
                "-o",
                &options,
                "start",
            ],
            true,
        );
        self.running = true;
        wait_for_port(self.port, "postgres");
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
