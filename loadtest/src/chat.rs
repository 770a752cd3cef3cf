//! Chat scenarios: R rooms × C signed-in clients, everyone posting at a
//! share of a total rate; latency is measured from the send time embedded
//! in each message to its arrival at each member.

use crate::{args::Args, stats::Latencies, wire::Wire};
use futures::{SinkExt, StreamExt};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering::Relaxed},
    },
    time::Duration,
};
use tokio::{sync::Barrier, time::Instant};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

/// Time allowed after sending stops for the last messages to arrive.
const DRAIN: Duration = Duration::from_secs(2);
/// The close code of a client the server dropped for lagging (server/src/ws/mod.rs).
pub(crate) const LAGGING: u16 = 4008;

pub(crate) struct Setup {
    /// Every process of the deployment; accounts are made on the first.
    http: Vec<String>,
    rooms: usize,
    clients: usize,
    label: String,
    /// Server processes whose CPU time each run reports.
    pids: Vec<u32>,
    /// Redis processes whose CPU time each run reports (per message sent).
    redis_pids: Vec<u32>,
    /// Ours, or Socket.IO for `bench/socketio` (`--protocol`).
    wire: Wire,
}

impl Setup {
    pub(crate) fn from(args: &Args) -> Result<Self, String> {
        Ok(Self {
            http: args.urls(),
            rooms: args.number("rooms", 10)?,
            clients: args.number("clients", 10)?,
            label: args.text("label", ""),
            pids: args.pids("pids")?,
            redis_pids: args.pids("redis-pids")?,
            wire: Wire::parse(&args.text("protocol", "chat"))?,
        })
    }

    fn redis_cpu(&self) -> Result<f64, String> {
        self.redis_pids
            .iter()
            .map(|pid| crate::args::cpu_secs(*pid))
            .sum()
    }

    /// The server processes' resident memory now, summed (KiB).
    fn server_rss_kib(&self) -> Option<u64> {
        let rss = |pid: &u32| crate::idle::rss_kib(*pid).ok();
        (!self.pids.is_empty()).then(|| self.pids.iter().filter_map(rss).sum())
    }

    /// CPU seconds the server processes have used so far.
    fn server_cpu(&self) -> Result<f64, String> {
        self.pids
            .iter()
            .map(|pid| crate::args::cpu_secs(*pid))
            .sum()
    }

    fn connections(&self) -> usize {
        self.rooms * self.clients
    }
}

/// Registers one account per connection; returns their session cookies.
/// Socket.IO has no accounts: its clients just name themselves, so for it
/// these are the names.
pub(crate) async fn register(setup: &Setup) -> Result<Vec<String>, String> {
    let prefix = format!("lt{:x}", std::process::id() ^ now_nanos());
    if setup.wire == Wire::SocketIo {
        return Ok((0..setup.connections())
            .map(|i| format!("{prefix}-{i}"))
            .collect());
    }
    let http = reqwest::Client::new();
    // A few at once: each is a password hash on the server, and a room of
    // 10,000 signs up faster with both cores hashing.
    let signups =
        (0..setup.connections()).map(|i| sign_up(&http, &setup.http[0], format!("{prefix}-{i}")));
    futures::stream::iter(signups)
        .buffered(SIGN_UPS_AT_ONCE)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Sign-ups in flight at once.
const SIGN_UPS_AT_ONCE: usize = 4;

/// Registers `username`; its session cookie.
async fn sign_up(http: &reqwest::Client, base: &str, username: String) -> Result<String, String> {
    let response = http
        .post(format!("{base}/api/register"))
        .json(&serde_json::json!({"username": username, "password": "load test password"}))
        .send()
        .await
        .map_err(|e| format!("registering: {e}"))?;
    if response.status() != 201 {
        return Err(format!("registering: HTTP {}", response.status()));
    }
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("chat_session=") || v.starts_with("__Host-chat_session="))
        .and_then(|v| v.split(';').next())
        .ok_or("no session cookie")?
        .to_owned();
    Ok(cookie)
}

fn now_nanos() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}

pub struct Report {
    pub label: String,
    pub rooms: usize,
    pub clients: usize,
    pub target_rate: f64,
    pub secs: f64,
    pub sent: u64,
    pub expected: u64,
    pub delivered: u64,
    pub disconnects: usize,
    /// Clients the server closed for lagging (4008): their room's URL and
    /// how they joined it, to reconnect them.
    pub lagged: Vec<(String, Joining)>,
    pub connect: Latencies,
    /// From the first connection opening to the last member joined: a
    /// join storm's length.
    pub joined_all_ms: f64,
    /// `/healthz` on the first process, asked every 50 ms while everyone
    /// joined: the slowest answer (ms) and how many failed. A restart's
    /// storm must not make the process look dead to its load balancer.
    pub joining_healthz_max_ms: f64,
    pub joining_healthz_failed: usize,
    /// The server processes' resident memory with everyone joined (KiB).
    pub joined_rss_kib: Option<u64>,
    pub latency: Latencies,
    /// Per message, until the last member received it ("post to all
    /// members received").
    pub to_all: Latencies,
    /// How many server processes the clients were spread over.
    pub processes: usize,
    /// CPU seconds the server processes used during the run (`--pids`).
    pub server_cpu_secs: Option<f64>,
    /// CPU seconds the Redis processes used (`--redis-pids`).
    pub redis_cpu_secs: Option<f64>,
    /// CPU seconds this load tool used: on a machine it shares with the
    /// server, what it spends per delivery bounds the ceiling too.
    pub client_cpu_secs: f64,
}

impl Report {
    pub fn loss(&self) -> u64 {
        self.expected.saturating_sub(self.delivered)
    }

    fn sent_per_s(&self) -> f64 {
        self.sent as f64 / self.secs
    }

    fn deliveries_per_s(&self) -> f64 {
        self.delivered as f64 / self.secs
    }

    /// Server CPU milliseconds per 1,000 deliveries: the cost of fan-out,
    /// which carries from this machine to others better than a ceiling.
    fn cpu_ms_per_1000(&self) -> Option<f64> {
        let cpu = self.server_cpu_secs?;
        (self.delivered > 0).then(|| cpu * 1000.0 * 1000.0 / self.delivered as f64)
    }

    /// The load tool's own CPU milliseconds per 1,000 deliveries.
    fn client_ms_per_1000(&self) -> Option<f64> {
        (self.delivered > 0).then(|| self.client_cpu_secs * 1e6 / self.delivered as f64)
    }

    /// Redis CPU milliseconds per 1,000 messages sent (each one publish).
    fn redis_ms_per_1000_messages(&self) -> Option<f64> {
        let cpu = self.redis_cpu_secs?;
        (self.sent > 0).then(|| cpu * 1000.0 * 1000.0 / self.sent as f64)
    }

    pub(crate) fn print(&mut self, mode: &str) {
        let (p50, p90, p99, max) = (
            self.latency.percentile_ms(50.0),
            self.latency.percentile_ms(90.0),
            self.latency.percentile_ms(99.0),
            self.latency.percentile_ms(100.0),
        );
        let (c50, c99) = (
            self.connect.percentile_ms(50.0),
            self.connect.percentile_ms(99.0),
        );
        println!(
            "{:<24} {:>3}×{:<4} target {:>7.0}/s  sent {:>8.0}/s  deliveries {:>9.0}/s  \
             p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms  loss {:>6}  dropped {:>3}  connect p50 {:.1} ms p99 {:.1} ms  all joined {:.0} ms (healthz max {:.0} ms)  to all p99 {:.1} ms{}",
            self.label,
            self.rooms,
            self.clients,
            self.target_rate,
            self.sent_per_s(),
            self.deliveries_per_s(),
            p50,
            p90,
            p99,
            max,
            self.loss(),
            self.disconnects,
            c50,
            c99,
            self.joined_all_ms,
            self.joining_healthz_max_ms,
            self.to_all.percentile_ms(99.0),
            self.cpu_ms_per_1000()
                .map(|c| format!("  server CPU {c:.1} ms per 1000 deliveries"))
                .unwrap_or_default()
        );
        let json = serde_json::json!({
            "mode": mode, "label": self.label, "rooms": self.rooms, "clients": self.clients,
            "target_rate": self.target_rate, "secs": self.secs, "sent": self.sent,
            "sent_per_s": self.sent_per_s(), "expected": self.expected, "delivered": self.delivered,
            "loss": self.loss(), "deliveries_per_s": self.deliveries_per_s(),
            "p50_ms": p50, "p90_ms": p90, "p99_ms": p99, "max_ms": max,
            "dropped_connections": self.disconnects, "connect_p50_ms": c50, "connect_p99_ms": c99,
            "joined_all_ms": self.joined_all_ms,
            "joining_healthz_max_ms": self.joining_healthz_max_ms,
            "joining_healthz_failed": self.joining_healthz_failed,
            "joined_rss_kib": self.joined_rss_kib,
            "to_all_p50_ms": self.to_all.percentile_ms(50.0),
            "to_all_p99_ms": self.to_all.percentile_ms(99.0),
            "processes": self.processes, "server_cpu_secs": self.server_cpu_secs,
            "cpu_ms_per_1000_deliveries": self.cpu_ms_per_1000(),
            "redis_cpu_secs": self.redis_cpu_secs,
            "client_cpu_secs": self.client_cpu_secs,
            "client_cpu_ms_per_1000_deliveries": self.client_ms_per_1000(),
            "redis_cpu_ms_per_1000_messages": self.redis_ms_per_1000_messages(),
        });
        println!("RESULT {json}");
    }
}

struct ClientResult {
    room: usize,
    connect_us: u32,
    sent: u64,
    received: u64,
    /// Each message received: its send time and its latency (µs).
    arrivals: Vec<(u64, u32)>,
    dropped: bool,
    /// Closed by the server with 4008 (lagging).
    lagged: bool,
}

/// A client's result, and how it joined (to rejoin it if it lagged).
type Spawned = tokio::task::JoinHandle<Result<(ClientResult, (String, Joining)), String>>;

/// Starts every client of the run; each waits at `barrier` once joined.
fn spawn_clients(
    setup: &Setup,
    cookies: &[String],
    rate: f64,
    secs: f64,
    clock: Instant,
    barrier: &Arc<Barrier>,
) -> Vec<Spawned> {
    let n = setup.connections();
    let run_id = format!("{:x}", now_nanos());
    // Each client's share of the rate, staggered so sends do not bunch up.
    let period = Duration::from_secs_f64(n as f64 / rate.max(0.001));
    let mut tasks = Vec::with_capacity(n);
    for (i, cookie) in cookies.iter().enumerate().take(n) {
        let room = i % setup.rooms;
        // Spread in turn: each room has members on every process.
        let ws = crate::args::ws_of(&setup.http[(i / setup.rooms) % setup.http.len()]);
        let name = format!("lt-{run_id}-{room}");
        let url = setup.wire.url(&ws, &name);
        let joining = Joining::new(setup.wire, &name, cookie);
        let barrier = barrier.clone();
        let offset = period.mul_f64(i as f64 / n as f64);
        let again = (url.clone(), joining.clone());
        tasks.push(tokio::spawn(async move {
            let r = client(url, joining, room, clock, barrier, period, offset, secs).await;
            r.map(|r| (r, again))
        }));
    }
    tasks
}

/// One run: connect everyone, post at `rate` messages/s in total for `secs`,
/// wait for stragglers, report.
pub(crate) async fn run(
    setup: &Setup,
    cookies: &[String],
    rate: f64,
    secs: f64,
) -> Result<Report, String> {
    let clock = Instant::now();
    let joining = Arc::new(AtomicBool::new(false));
    let probe = tokio::spawn(crate::overload::probe_health(
        setup.http[0].clone(),
        joining.clone(),
    ));
    let n = setup.connections();
    let barrier = Arc::new(Barrier::new(n + 1));
    let tasks = spawn_clients(setup, cookies, rate, secs, clock, &barrier);
    barrier.wait().await; // everyone connected
    let joined_all_ms = clock.elapsed().as_secs_f64() * 1000.0;
    joining.store(true, Relaxed);
    let (mut health, joining_healthz_failed) = probe.await.map_err(|e| e.to_string())?;
    let joined_rss_kib = setup.server_rss_kib();
    // Counted from here: the cost of the messages, not of the joins.
    let cpu_before = setup.server_cpu()?;
    let client_before = crate::args::cpu_secs(std::process::id())?;
    let redis_before = setup.redis_cpu()?;
    let mut report = Report {
        label: setup.label.clone(),
        rooms: setup.rooms,
        clients: setup.clients,
        target_rate: rate,
        secs,
        sent: 0,
        expected: 0,
        delivered: 0,
        disconnects: 0,
        lagged: Vec::new(),
        connect: Latencies::default(),
        joined_all_ms,
        joining_healthz_max_ms: health.percentile_ms(100.0),
        joining_healthz_failed,
        joined_rss_kib,
        latency: Latencies::default(),
        to_all: Latencies::default(),
        processes: setup.http.len(),
        server_cpu_secs: None,
        redis_cpu_secs: None,
        client_cpu_secs: 0.0,
    };
    let mut sent_per_room = vec![0u64; setup.rooms];
    // A message is known by its send time (µs on the run's clock): two
    // posts in the same microsecond would count as one, rarely and harmlessly.
    let mut last_arrival: std::collections::HashMap<u64, u32> = Default::default();
    for task in tasks {
        let (r, again) = task.await.map_err(|e| e.to_string())??;
        if r.lagged {
            report.lagged.push(again);
        }
        sent_per_room[r.room] += r.sent;
        report.sent += r.sent;
        report.delivered += r.received;
        report.disconnects += usize::from(r.dropped);
        report.connect.0.push(r.connect_us);
        for (sent_at, latency) in &r.arrivals {
            let slowest = last_arrival.entry(*sent_at).or_default();
            *slowest = (*slowest).max(*latency);
        }
        report
            .latency
            .merge(r.arrivals.iter().map(|a| a.1).collect());
    }
    report.to_all.0 = last_arrival.into_values().collect();
    report.expected = sent_per_room.iter().map(|s| s * setup.clients as u64).sum();
    if !setup.pids.is_empty() {
        report.server_cpu_secs = Some(setup.server_cpu()? - cpu_before);
    }
    report.client_cpu_secs = crate::args::cpu_secs(std::process::id())? - client_before;
    if !setup.redis_pids.is_empty() {
        report.redis_cpu_secs = Some(setup.redis_cpu()? - redis_before);
    }
    Ok(report)
}

/// How a client gets into its room, which depends on the wire format.
#[derive(Clone)]
pub(crate) struct Joining {
    wire: Wire,
    /// Sent first (Socket.IO's namespace connect).
    hello: Option<String>,
    /// The session cookie (ours).
    cookie: Option<String>,
}

impl Joining {
    /// A member of `room` who is `credential`: a session cookie on our
    /// wire, a name on Socket.IO's, which has no accounts.
    fn new(wire: Wire, room: &str, credential: &str) -> Self {
        Self {
            wire,
            hello: wire.hello(room, credential),
            cookie: wire.is_ours().then(|| credential.to_owned()),
        }
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the socket and joins the room. Joined once the server has sent
/// the user list, which ends what it sends on joining; only then do
/// messages reach this client live (earlier ones would come inside the
/// history event, which is not counted).
pub(crate) async fn join(url: String, joining: Joining) -> Result<Socket, String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    if let Some(cookie) = &joining.cookie {
        request.headers_mut().insert(
            "cookie",
            HeaderValue::from_str(cookie).map_err(|e| e.to_string())?,
        );
    }
    // No Nagle delay on our side either, as browsers do for WebSockets.
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    if let Some(hello) = joining.hello {
        ws.send(Message::text(hello))
            .await
            .map_err(|_| "the server closed before the join")?;
    }
    let wire = joining.wire;
    let joined = async {
        while let Some(Ok(frame)) = ws.next().await {
            let Message::Text(text) = frame else { continue };
            if wire.joined(&text) {
                return true;
            }
            // socketioxide pings as soon as a socket opens.
            if wire.is_ping(&text) && ws.send(Message::text(crate::wire::PONG)).await.is_err() {
                break;
            }
        }
        false
    };
    match tokio::time::timeout(Duration::from_secs(30), joined).await {
        Ok(true) => Ok(ws),
        _ => Err("the server never finished the join (no user_list)".into()),
    }
}

#[allow(clippy::too_many_arguments)]
async fn client(
    url: String,
    joining: Joining,
    room: usize,
    clock: Instant,
    barrier: Arc<Barrier>,
    period: Duration,
    offset: Duration,
    secs: f64,
) -> Result<ClientResult, String> {
    let wire = joining.wire;
    let started = Instant::now();
    let joined = join(url, joining).await;
    barrier.wait().await;
    let (mut write, mut read) = joined?.split();
    let connect_us = started.elapsed().as_micros() as u32;
    let begin = Instant::now() + offset;
    let end = Instant::now() + Duration::from_secs_f64(secs);
    // The receiver sees Engine.IO's pings; the sender, which owns the
    // socket's write half, answers them.
    let pinged = tokio::sync::Notify::new();
    let sender = async {
        let mut sent = 0u64;
        let mut ticks = tokio::time::interval_at(begin, period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut text = String::with_capacity(64);
        loop {
            tokio::select! {
                tick = ticks.tick() => {
                    if tick >= end {
                        break;
                    }
                    wire.post(&mut text, clock.elapsed().as_micros());
                    if write.send(Message::text(text.as_str())).await.is_err() {
                        break;
                    }
                    sent += 1;
                }
                () = pinged.notified() => {
                    if write.send(Message::text(crate::wire::PONG)).await.is_err() {
                        break;
                    }
                }
            }
        }
        sent
    };
    let receiver = async {
        let mut received = 0u64;
        let mut arrivals = Vec::new();
        let mut dropped = false;
        let mut lagged = false;
        let drain = end + DRAIN;
        while let Ok(frame) = tokio::time::timeout_at(drain, read.next()).await {
            match frame {
                Some(Ok(Message::Text(text))) => {
                    if let Some(sent_at) = sent_at(&text) {
                        let now = clock.elapsed().as_micros() as u64;
                        arrivals.push((sent_at, now.saturating_sub(sent_at) as u32));
                        received += 1;
                    } else if wire.is_ping(&text) {
                        pinged.notify_one();
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    lagged = frame.is_some_and(|f| u16::from(f.code) == LAGGING);
                    dropped = true;
                    break;
                }
                Some(Err(_)) | None => {
                    dropped = true;
                    break;
                }
                Some(Ok(_)) => {}
            }
        }
        (received, arrivals, dropped, lagged)
    };
    let (sent, (received, arrivals, dropped, lagged)) = tokio::join!(sender, receiver);
    Ok(ClientResult {
        room,
        connect_us,
        sent,
        received,
        arrivals,
        dropped,
        lagged,
    })
}

/// The send time embedded in a chat message, found without parsing the JSON.
fn sent_at(text: &str) -> Option<u64> {
    const MARK: &str = r#""message":"t:"#;
    let at = text.find(MARK)? + MARK.len();
    let digits = &text[at..];
    let end = digits.find('|')?;
    digits[..end].parse().ok()
}

pub async fn run_once(args: &Args) -> Result<(), String> {
    let setup = Setup::from(args)?;
    let cookies = register(&setup).await?;
    let rate = args.number("rate", 1000.0)?;
    let secs = args.number("secs", 10.0)?;
    let mut report = run(&setup, &cookies, rate, secs).await?;
    report.print("chat");
    Ok(())
}

/// Raises the rate step by step while p99 stays under the limit and
/// nothing is lost; reports the highest rate that passed.
pub async fn ramp(args: &Args) -> Result<(), String> {
    let setup = Setup::from(args)?;
    let cookies = register(&setup).await?;
    let mut rate = args.number("rate", 1000.0)?;
    let factor = args.number("factor", 1.5)?;
    let secs = args.number("secs", 5.0)?;
    let p99_limit = args.number("p99-ms", 250.0)?;
    let max_rate = args.number("max-rate", 1_000_000.0)?;
    let mut best: Option<Report> = None;
    let first_failure = loop {
        let mut report = run(&setup, &cookies, rate, secs).await?;
        let p99 = report.latency.percentile_ms(99.0);
        let kept_up = report.sent_per_s() >= 0.9 * rate;
        report.print("ramp-step");
        if p99 > p99_limit || report.loss() > 0 || !kept_up {
            break Some(report);
        }
        best = Some(report);
        rate *= factor;
        if rate > max_rate {
            break None;
        }
    };
    // The summary line: the highest step that passed, or, if none did, the
    // first step with why it failed, so the result is never silently missing.
    let (mut summary, label) = match (best, first_failure) {
        (Some(best), _) => (best, "highest passing"),
        (None, Some(failed)) => (failed, "no step passed"),
        (None, None) => return Err("no ramp step ran".into()),
    };
    summary.label = format!("{} ({label})", setup.label);
    summary.print("ramp");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::sent_at;

    #[test]
    fn finds_the_embedded_send_time() {
        let event = r#"{"type":"chat_message","room":"r","seq":3,"id":"x","user":"u","message":"t:123456|load","ts":"…"}"#;
        assert_eq!(sent_at(event), Some(123_456));
        assert_eq!(sent_at(r#"{"type":"user_join","user":"u"}"#), None);
    }
}
