//! A throw-away PostgreSQL cluster on a free loopback port.

use super::{FIRST_START_TRIES, free_port, wait_for_port};
use std::{
    path::PathBuf,
    process::{Command, Stdio},
};

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
