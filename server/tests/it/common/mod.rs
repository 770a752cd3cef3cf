//! Test support: the real server on a free port, and a WebSocket client
//! that speaks to it the way a browser page or a bot does.
#![allow(dead_code)] // each test file uses a different part

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use server::config::Config;
use std::{net::SocketAddr, time::Duration};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest, http},
};

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

/// A database of its own for one test: a SQLite file in a temp directory,
/// or, when `CHAT_TEST_DATABASE=postgres` (what `make test`'s second pass
/// sets), a PostgreSQL cluster of its own. Every test that stores anything
/// gets its database here, so the whole suite runs on either backend.
pub struct Database {
    pub url: String,
    pub backend: Backend,
}

pub enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(server::testing::PostgresServer),
}

impl Database {
    /// The backend the suite runs on.
    pub async fn new() -> Self {
        match std::env::var("CHAT_TEST_DATABASE").as_deref() {
            Ok("postgres") => Self::postgres().await,
            Ok("sqlite") | Ok("") | Err(_) => Self::sqlite(),
            Ok(other) => panic!("CHAT_TEST_DATABASE={other}: expected sqlite or postgres"),
        }
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            url: format!("sqlite://{}/chat.db", dir.path().display()),
            backend: Backend::Sqlite(dir),
        }
    }

    pub async fn postgres() -> Self {
        let cluster = server::testing::PostgresServer::start();
        Self {
            url: cluster.new_database("chat").await,
            backend: Backend::Postgres(cluster),
        }
    }

    pub async fn open(&self) -> server::storage::Storage {
        server::storage::Storage::open(&self.url).await.unwrap()
    }
}

/// The password every test user gets.
pub const PASSWORD: &str = "correct horse battery";

/// A registered user: their name and session cookie (`name=value`).
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub cookie: String,
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

    /// Registers `name` through the API and returns its session.
    pub async fn user(&self, name: &str) -> User {
        let response = http_client()
            .post(self.http("/api/register"))
            .json(&serde_json::json!({"username": name, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "registering {name}");
        User {
            name: name.to_owned(),
            cookie: session_cookie(&response).expect("a session cookie"),
        }
    }

    /// Logs `name` in through the API and returns the session.
    pub async fn login(&self, name: &str) -> User {
        let response = http_client()
            .post(self.http("/api/login"))
            .json(&serde_json::json!({"username": name, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "logging in {name}");
        User {
            name: name.to_owned(),
            cookie: session_cookie(&response).expect("a session cookie"),
        }
    }

    /// Logs `user`'s session out through the API; the status.
    pub async fn logout(&self, user: &User) -> u16 {
        post_json(self, "/api/logout", Some(&user.cookie), &Value::Null)
            .await
            .0
    }

    /// Joins a room as `user` and reads the history event sent on joining.
    pub async fn join_as(&self, user: &User, room: &str) -> Client {
        let mut client = Client::connect(&self.ws_url(room), &[("Cookie", user.cookie.as_str())])
            .await
            .expect("connect");
        client.history = client.expect("history").await;
        client.users = client.expect("user_list").await;
        client
    }

    /// GETs a page as a browser would (without following redirects), with
    /// an optional session cookie: its status and HTML.
    pub async fn page(&self, path: &str, cookie: Option<&str>) -> (u16, String) {
        let client = reqwest::Client::builder()
            .timeout(ANSWERS)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut request = client.get(self.http(path));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// One counter or gauge from `/metrics`.
    pub async fn metric(&self, name: &str) -> u64 {
        let (_, metrics) = self.page("/metrics", None).await;
        let prefix = format!("{name} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in {metrics}"))
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The socket URL for a room, percent-encoded the way a browser sends it.
    pub fn ws_url(&self, room: &str) -> String {
        format!(
            "ws://{}/ws/chat/{}/",
            self.addr,
            app::names::percent_encode(room)
        )
    }

    /// Rejoins as `user` after having shown the room up to `after_seq`:
    /// reads the catch-up history (possibly several pages) and the user list.
    /// Returns the client and the seqs caught up on.
    pub async fn rejoin_as(&self, user: &User, room: &str, after_seq: u64) -> (Client, Vec<u64>) {
        let url = format!("{}?after_seq={after_seq}", self.ws_url(room));
        let mut client = Client::connect(&url, &[("Cookie", user.cookie.as_str())])
            .await
            .expect("connect");
        let mut seqs = Vec::new();
        loop {
            let event = client.event().await;
            match event["type"].as_str() {
                Some("history") => seqs.extend(Client::seqs(&event)),
                Some("user_list") => {
                    client.users = event;
                    return (client, seqs);
                }
                _ => panic!("unexpected {event} while catching up"),
            }
        }
    }

    /// Joins a room anonymously and reads the history event sent on joining.
    pub async fn join(&self, room: &str) -> Client {
        let mut client = Client::connect(&self.ws_url(room), &[])
            .await
            .expect("connect");
        client.history = client.expect("history").await;
        client.users = client.expect("user_list").await;
        client
    }
}

/// Posts `n` messages as `user` in `room`, each once the previous one has
/// come back stored (reading everything else meanwhile, as a client must).
pub async fn post_many(server: &Endpoint, user: &User, room: &str, n: usize) {
    let mut client = server.join_as(user, room).await;
    for i in 0..n {
        let text = format!("{} #{i}", user.name);
        client.say(&text).await;
        while client.expect("chat_message").await["message"] != text.as_str() {}
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

    async fn start_at_with(
        addr: SocketAddr,
        database_url: &str,
        redis_url: &str,
        env: &[(&str, &str)],
    ) -> Self {
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

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

/// POSTs `body` as JSON, with the session `cookie` if given; the status
/// and the JSON answer (`null` if there is none).
pub async fn post_json(
    server: &Endpoint,
    path: &str,
    cookie: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    let mut request = http_client().post(server.http(path)).json(body);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// POSTs an admin action as `user`; the status and body.
pub async fn act(server: &Endpoint, user: &User, action: Value) -> (u16, Value) {
    post_json(server, "/api/admin", Some(&user.cookie), &action).await
}

/// `name=value` of the session cookie a response sets.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("chat_session="))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
    /// The `history` event received on joining.
    pub history: Value,
    /// The `user_list` event received on joining.
    pub users: Value,
}

/// How an upgrade was refused: the HTTP status and the JSON body.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: Value,
}

impl Client {
    pub async fn connect(url: &str, headers: &[(&str, &str)]) -> Result<Self, Refused> {
        let mut request = url.into_client_request().unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_str(value).unwrap(),
            );
        }
        match connect_async(request).await {
            Ok((ws, _)) => Ok(Self {
                ws,
                history: Value::Null,
                users: Value::Null,
            }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let status = response.status().as_u16();
                let body = response
                    .body()
                    .as_deref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or(Value::Null);
                Err(Refused { status, body })
            }
            Err(e) => panic!("connect to {url}: {e}"),
        }
    }

    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.ws.send(Message::text(text.into())).await.unwrap();
    }

    pub async fn send_json(&mut self, value: Value) {
        self.send_text(value.to_string()).await;
    }

    pub async fn say(&mut self, message: &str) {
        self.send_json(serde_json::json!({ "message": message }))
            .await;
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.unwrap();
    }

    /// The next frame, whatever it is (panics after [`ARRIVES`]).
    pub async fn next_frame(&mut self) -> Option<Message> {
        self.next_frame_within(ARRIVES)
            .await
            .expect("a frame should arrive")
    }

    /// The next frame, or `Err` if none comes within `wait`.
    pub async fn next_frame_within(
        &mut self,
        wait: Duration,
    ) -> Result<Option<Message>, tokio::time::error::Elapsed> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next()).await?;
            match frame {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(m)) => return Ok(Some(m)),
                Some(Err(_)) | None => return Ok(None),
            }
        }
    }

    /// The next event as JSON (panics if none comes or the socket closes).
    pub async fn event(&mut self) -> Value {
        match self.next_frame().await {
            Some(Message::Text(text)) => serde_json::from_str(&text).expect("events are JSON"),
            other => panic!("expected an event, got {other:?}"),
        }
    }

    /// The seqs of the messages in a history event.
    pub fn seqs(history: &Value) -> Vec<u64> {
        history["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["seq"].as_u64().unwrap())
            .collect()
    }

    /// The next event of `kind`, passing over presence and typing events
    /// (which tests about other things do not care about); any other event
    /// in between fails the test.
    pub async fn expect(&mut self, kind: &str) -> Value {
        loop {
            let event = self.event().await;
            if event["type"] == kind {
                return event;
            }
            let background = ["user_join", "user_leave", "typing"];
            assert!(
                background.contains(&event["type"].as_str().unwrap_or("")),
                "expected {kind}, got {event}"
            );
        }
    }

    /// Asserts that nothing arrives for a while.
    pub async fn assert_silent(&mut self) {
        if let Ok(frame) = tokio::time::timeout(SILENCE, self.ws.next()).await {
            panic!("expected silence, got {frame:?}");
        }
    }
}

/// The lobby's live feed (`/api/rooms/live`, server-sent events), read as
/// a browser's EventSource reads it.
pub struct LobbyWatch {
    response: reqwest::Response,
    buffer: String,
}

impl Endpoint {
    /// Opens the lobby feed, with an optional session cookie.
    pub async fn watch_lobby(&self, cookie: Option<&str>) -> LobbyWatch {
        let mut request = reqwest::Client::new().get(self.http("/api/rooms/live"));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "opening the lobby feed");
        let kind = response.headers()["content-type"].to_str().unwrap();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        LobbyWatch {
            response,
            buffer: String::new(),
        }
    }
}

impl LobbyWatch {
    /// The next event's JSON, or `None` if none arrives within `wait`.
    pub async fn event_within(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let data: Vec<&str> = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                // Comments (keep-alives) and `retry:` alone carry no event.
                if data.is_empty() {
                    continue;
                }
                return Some(serde_json::from_str(&data.join("\n")).unwrap());
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .expect("the feed stays readable")
                .expect("the feed stays open");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    pub async fn event(&mut self) -> Value {
        self.event_within(ARRIVES).await.expect("a lobby event")
    }

    /// Whether the server ends the stream within `wait` (events before
    /// the end are read and dropped).
    pub async fn ended_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return false,
                Ok(Ok(Some(_))) => {}
                Ok(Ok(None) | Err(_)) => return true,
            }
        }
    }

    /// Reads until `room`'s line satisfies `want`, within `wait`; the line.
    pub async fn line_within(
        &mut self,
        wait: Duration,
        room: &str,
        want: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = self
                .event_within(left)
                .await
                .unwrap_or_else(|| panic!("{room}'s lobby line as wanted within {wait:?}"));
            if event["type"] == "room_summary" && event["name"] == room && want(&event) {
                return event;
            }
        }
    }
}
