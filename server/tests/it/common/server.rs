//! The real server: in this process on a free port ([`TestServer`]), or the
//! binary as a process of its own ([`ServerProcess`]); both deref to an
//! [`Endpoint`], what a test can do with a running server's address.

use super::{Database, PASSWORD, User};
use server::config::Config;
use std::{net::SocketAddr, time::Duration};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// A running server, wherever it runs: what tests can do with its address.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint {
    pub addr: SocketAddr,
}

pub struct TestServer {
    pub addr: SocketAddr,
    endpoint: Endpoint,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    pub database_url: String,
    // Keeps the database until the server is dropped.
    _database: Database,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts with settings from the environment, adjusted by `tweak`.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let database = Database::new().await;
        let mut config = Config::from_env().expect("configuration");
        config.database_url = database.url.clone();
        config.redis = None;
        // Tests post as fast as they can; the flood tests set their own limit.
        config.flood = server::ws::flood::Limit {
            rate: 1e6,
            burst: 1e6,
        };
        // Likewise every abuse limit; the abuse tests set theirs.
        config.limits = server::config::Limits::unlimited();
        tweak(&mut config);
        let database_url = config.database_url.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(listener, config, async {
            let _ = stopped.await;
        }));
        let server = Self {
            addr,
            endpoint: Endpoint { addr },
            stop: Some(stop),
            task,
            database_url,
            _database: database,
        };
        server.wait_until_up().await;
        server
    }
}

impl TestServer {
    /// Creates an admin the way `server create-admin` does, and logs them in.
    pub async fn admin(&self, name: &str) -> User {
        let storage = server::storage::Storage::open(&self.database_url)
            .await
            .unwrap();
        server::auth::create_admin(&storage, name, PASSWORD)
            .await
            .expect("create-admin");
        self.login(name).await
    }
}

impl std::ops::Deref for TestServer {
    type Target = Endpoint;
    fn deref(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

impl Endpoint {
    pub async fn wait_until_up(&self) {
        for _ in 0..200 {
            if let Ok(r) = reqwest::get(self.http("/healthz")).await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("server did not come up");
    }
}

/// The limits a loopback test raises: the same file the Makefile's
/// end-to-end run and `make bench` use (`NAME=value` lines).
const LOOPBACK_LIMITS: &str = include_str!("../../../../scripts/loopback.env");

/// The server binary as a separate process (several can share a database
/// file and a Redis), killed on drop.
pub struct ServerProcess {
    endpoint: Endpoint,
    child: std::process::Child,
}

impl ServerProcess {
    pub async fn start(database_url: &str, redis_url: &str) -> Self {
        Self::start_with(database_url, redis_url, &[]).await
    }

    /// Starts with some settings of its own (`env`), on a free port.
    pub async fn start_with(database_url: &str, redis_url: &str, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_at_with(([127, 0, 0, 1], port).into(), database_url, redis_url, env).await
    }

    /// Starts on a given address (to restart in place); `redis_url` may be
    /// empty for the in-memory layer.
    pub async fn start_at(addr: SocketAddr, database_url: &str, redis_url: &str) -> Self {
        Self::start_at_with(addr, database_url, redis_url, &[]).await
    }

    /// Starts with its soft open-file limit lowered to `soft` first, as a
    /// shell's default `ulimit -n` of 1,024 leaves it.
    pub async fn start_with_open_files(database_url: &str, soft: u64) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Self::command(([127, 0, 0, 1], port).into(), database_url, "", &[]);
        // SAFETY: between fork and exec only async-signal-safe calls are
        // allowed; getrlimit and setrlimit are system calls.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
                let mut limit = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
                limit.rlim_cur = soft.min(limit.rlim_max);
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
                Ok(())
            });
        }
        Self::spawn(command, ([127, 0, 0, 1], port).into()).await
    }

    async fn start_at_with(
        addr: SocketAddr,
        database_url: &str,
        redis_url: &str,
        env: &[(&str, &str)],
    ) -> Self {
        Self::spawn(Self::command(addr, database_url, redis_url, env), addr).await
    }

    fn command(
        addr: SocketAddr,
        database_url: &str,
        redis_url: &str,
        env: &[(&str, &str)],
    ) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_server"));
        command
            .env("LEPTOS_OUTPUT_NAME", "chat")
            .env("LEPTOS_SITE_ADDR", addr.to_string())
            .env("DATABASE_URL", database_url)
            .env("REDIS_URL", redis_url)
            .env("RUST_LOG", "warn");
        // Tests post, sign up and log in from one address as fast as they
        // can: the limits are raised, as a load test raises them.
        let raised = LOOPBACK_LIMITS.lines().filter_map(|l| l.split_once('='));
        for (name, value) in raised.chain(env.iter().copied()) {
            command.env(name, value);
        }
        command
    }

    async fn spawn(mut command: std::process::Command, addr: SocketAddr) -> Self {
        let child = command.spawn().expect("start the server binary");
        let process = Self {
            endpoint: Endpoint { addr },
            child,
        };
        process.wait_until_up().await;
        process
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, as a service manager stops it; returns how long it took to exit.
    pub fn terminate(&mut self) -> Duration {
        let started = std::time::Instant::now();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        started.elapsed()
    }

    /// `kill -9`: no goodbyes.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl std::ops::Deref for ServerProcess {
    type Target = Endpoint;
    fn deref(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
