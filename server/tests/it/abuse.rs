//! What one hostile script can do to a public instance, tried as an
//! attacker would: each test runs the attack and checks that it fails
//! while ordinary use goes on. Memory is measured on a separate server
//! process (the other tests share this one).

use crate::common::*;
use futures::future::join_all;
use serde_json::{Value, json};
use server::config::Limits;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

async fn rooms(server: &Endpoint, cookie: Option<&str>) -> Vec<Value> {
    let mut request = reqwest::Client::new().get(server.http("/api/rooms"));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let rooms: Value = request.send().await.unwrap().json().await.unwrap();
    rooms.as_array().unwrap().clone()
}

fn names(rooms: &[Value]) -> Vec<&str> {
    rooms.iter().map(|r| r["name"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn looking_at_rooms_stores_none_and_a_first_post_does() {
    let server = TestServer::start().await;
    let visitors = join_all((0..40).map(|n| {
        let server = &server;
        async move { server.join(&format!("made-up-{n}")).await }
    }))
    .await;
    assert_eq!(rooms(&server, None).await, Vec::<Value>::new());
    drop(visitors);

    // A signed-in person in a room lists it while they are there...
    let alice = server.user("alice").await;
    let mut here = server.join_as(&alice, "quiet").await;
    let listed = rooms(&server, None).await;
    assert_eq!(names(&listed), ["quiet"]);
    assert_eq!(listed[0]["online"], 1);
    drop(here);
    tokio::time::sleep(SILENCE).await;
    assert_eq!(rooms(&server, None).await, Vec::<Value>::new());

    // ...and a first message stores it; a visitor who was waiting reads it.
    let mut waiting = server.join("fresh").await;
    here = server.join_as(&alice, "fresh").await;
    here.say("first!").await;
    assert_eq!(waiting.expect("chat_message").await["message"], "first!");
    drop((here, waiting));
    tokio::time::sleep(SILENCE).await;
    assert_eq!(names(&rooms(&server, None).await), ["fresh"]);
}

#[tokio::test]
async fn new_rooms_per_person_are_limited() {
    let server = TestServer::start_with(|c| c.limits.rooms_per_hour = 2).await;
    let alice = server.user("alice").await;
    for room in ["one", "two"] {
        post_many(&server, &alice, room, 1).await;
    }
    let mut third = server.join_as(&alice, "three").await;
    third.say("hello?").await;
    let refused = third.expect("error").await;
    assert_eq!(refused["code"], "rate_limited");
    assert!(refused["message"].as_str().unwrap().contains("new rooms"));
    assert!(refused["retry_after_ms"].as_u64().unwrap() > 60_000);
    // Rooms that exist take posts as ever.
    post_many(&server, &alice, "one", 1).await;
    drop(third);
    tokio::time::sleep(SILENCE).await;
    assert_eq!(
        rooms(&server, None).await.len(),
        2,
        "the refused room was not stored"
    );
}

#[tokio::test]
async fn the_room_list_is_capped_busiest_first() {
    let server = TestServer::start_with(|c| c.limits.rooms_listed = 3).await;
    let alice = server.user("alice").await;
    for room in ["r1", "r2", "r3", "r4", "r5"] {
        post_many(&server, &alice, room, 1).await;
    }
    let bob = server.user("bob").await;
    let _in_r1 = server.join_as(&bob, "r1").await;
    let listed = rooms(&server, None).await;
    // r1 has someone in it; then the most recently active.
    assert_eq!(names(&listed), ["r1", "r5", "r4"]);
}

#[tokio::test]
async fn parallel_wrong_passwords_are_counted_before_the_hash() {
    let server = TestServer::start_with(|c| c.limits = Limits::default()).await;
    server.user("alice").await;
    let client = reqwest::Client::new();
    let guesses = join_all((0..40).map(|n| {
        client
            .post(server.http("/api/login"))
            .json(&json!({"username": "alice", "password": format!("guess number {n}")}))
            .send()
    }))
    .await;
    let statuses: Vec<u16> = guesses
        .iter()
        .map(|r| r.as_ref().unwrap().status().as_u16())
        .collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        checked <= 5,
        "{checked} passwords were checked: {statuses:?}"
    );
    assert_eq!(checked + refused, 40, "{statuses:?}");
    let limited = guesses
        .into_iter()
        .map(Result::unwrap)
        .find(|r| r.status() == 429)
        .unwrap();
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=15 * 60).contains(&retry), "Retry-After: {retry}");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_attempts");
}

#[tokio::test]
async fn a_registration_flood_from_one_address_is_refused() {
    let server = TestServer::start_with(|c| {
        c.limits.registrations_per_hour = Limits::default().registrations_per_hour;
    })
    .await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for n in 0..15 {
        let response = client
            .post(server.http("/api/register"))
            .json(&json!({"username": format!("flood{n}"), "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "rate_limited");
            statuses.push(429);
        } else {
            statuses.push(response.status().as_u16());
        }
    }
    assert_eq!(statuses, [[201; 10].as_slice(), &[429; 5]].concat());
}

#[tokio::test]
async fn half_sent_request_heads_are_dropped_while_others_are_served() {
    let server = TestServer::start_with(|c| {
        c.limits.header_read_timeout = Duration::from_millis(800);
    })
    .await;
    let mut stalled = Vec::new();
    for _ in 0..50 {
        let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        tcp.write_all(b"GET /chat/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        stalled.push(tcp);
    }
    // A normal client is served meanwhile.
    let health = reqwest::get(server.http("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let closed = join_all(stalled.iter_mut().map(|tcp| async move {
        let mut buf = [0u8; 512];
        // The server closes (possibly after a 408): read to the end.
        let ends = async {
            loop {
                match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(3), ends)
            .await
            .is_ok()
    }))
    .await;
    assert!(closed.iter().all(|c| *c), "still open: {closed:?}");
}

#[tokio::test]
async fn sockets_beyond_the_caps_are_refused_at_the_upgrade() {
    let server = TestServer::start_with(|c| {
        c.limits.max_connections = 3;
        c.limits.connections_per_user = 2;
    })
    .await;
    let alice = server.user("alice").await;
    let _tabs = [
        server.join_as(&alice, "hall").await,
        server.join_as(&alice, "hall").await,
    ];
    let third_tab = Client::connect(&server.ws_url("hall"), &[("Cookie", &alice.cookie)])
        .await
        .err()
        .expect("a third tab is refused");
    assert_eq!(third_tab.status, 429);
    assert_eq!(third_tab.body["error"]["code"], "too_many_connections");
    let _visitor = server.join("hall").await;
    let full = Client::connect(&server.ws_url("hall"), &[])
        .await
        .err()
        .expect("the fourth socket is refused");
    assert_eq!(full.status, 503);
    assert_eq!(full.body["error"]["code"], "busy");
    let (_, metrics) = server.page("/metrics", None).await;
    assert!(
        metrics.contains("chat_websocket_connections 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("chat_websocket_refused_total 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_client_that_stops_answering_pings_is_closed_and_leaves() {
    let server = TestServer::start_with(|c| {
        c.limits.ping_interval = Duration::from_millis(200);
        c.limits.idle_timeout = Duration::from_secs(1);
    })
    .await;
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    // Alice's client vanishes without a word: nothing reads her socket, so
    // no pong goes back.
    let _vanished = server.join_as(&alice, "hall").await;
    let mut watcher = server.join_as(&bob, "hall").await;
    let started = std::time::Instant::now();
    let left = tokio::time::timeout(Duration::from_secs(4), watcher.expect("user_leave"))
        .await
        .expect("alice leaves after the idle timeout");
    assert_eq!(left["user"], "alice");
    assert!(started.elapsed() >= Duration::from_millis(700));
    // Bob's client reads, so it answers pings (tungstenite does, as
    // browsers do): he stays.
    let quiet = watcher.next_frame_within(Duration::from_millis(1500)).await;
    assert!(quiet.is_err(), "nothing but pings: {quiet:?}");
    watcher.say("still here").await;
    assert_eq!(
        watcher.expect("chat_message").await["message"],
        "still here"
    );
}

#[tokio::test]
async fn a_client_that_keeps_sending_garbage_is_closed_after_a_clear_error() {
    let server = TestServer::start_with(|c| c.limits.bad_frames_per_10_s = 5).await;
    let mut mistaken = server.join("hall").await;
    for _ in 0..3 {
        mistaken.send_text("{oops").await;
        assert_eq!(mistaken.expect("error").await["code"], "invalid_json");
    }
    let mut garbage = server.join("hall").await;
    for _ in 0..6 {
        garbage.send_text("not json").await;
    }
    let mut last = Value::Null;
    loop {
        match garbage.next_frame().await {
            Some(Message::Text(text)) => last = serde_json::from_str(&text).unwrap(),
            Some(Message::Close(Some(close))) => {
                assert_eq!(u16::from(close.code), 1008);
                break;
            }
            other => panic!("expected a close, got {other:?}"),
        }
    }
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("Too many invalid")
    );
    // The one who made a few mistakes is still connected.
    mistaken.send_json(json!({"type": "history"})).await;
    assert_eq!(mistaken.expect("history").await["type"], "history");
}

#[tokio::test]
async fn history_requests_are_rate_limited_per_connection() {
    let server = TestServer::start_with(|c| {
        c.limits.history_rate = 0.5;
        c.limits.history_burst = 2;
    })
    .await;
    let mut reader = server.join("hall").await;
    for _ in 0..2 {
        reader.send_json(json!({"type": "history"})).await;
        reader.expect("history").await;
    }
    reader.send_json(json!({"type": "history"})).await;
    let refused = reader.expect("error").await;
    assert_eq!(refused["code"], "rate_limited");
    assert!(refused["retry_after_ms"].as_u64().unwrap() > 100);
}

#[tokio::test]
async fn history_pages_over_http_are_rate_limited_per_address() {
    let server = TestServer::start_with(|c| {
        c.limits.history_rate = 0.5;
        c.limits.history_burst = 3;
    })
    .await;
    let client = reqwest::Client::new();
    let url = server.http("/api/rooms/hall/messages");
    for _ in 0..3 {
        assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    }
    let refused = client.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "2");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
}

/// Resident heap and stacks of a process (its anonymous memory), from
/// /proc. Not the whole RSS: that also counts the pages of the binary's
/// code the process has mapped, which for a debug build right after it
/// was linked measured 190 MB at start instead of ~50.
fn heap_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024.0
}

async fn open_connections(server: &Endpoint) -> u64 {
    server.metric("chat_websocket_connections").await
}

#[tokio::test]
async fn anonymous_catch_ups_hold_one_page_and_give_up_on_non_readers() {
    let database = Database::new().await;
    let url = database.url.clone();
    let storage = database.open().await;
    let name = app::names::Username::parse("writer").unwrap();
    let user = storage.create_user(&name, "x").await.unwrap();
    let room = app::names::RoomName::parse("big").unwrap();
    // 5,000 messages of 4,000 characters: 20 MB of log.
    let text = "x".repeat(app::protocol::MESSAGE_MAX_CHARS);
    for _ in 0..10 {
        let batch: Vec<_> = (0..500)
            .map(|_| {
                server::storage::NewMessage::new(
                    room.clone(),
                    user.id,
                    "writer".into(),
                    text.clone(),
                )
            })
            .collect();
        storage.insert_batch(&batch).await.unwrap();
    }
    drop(storage);
    let server = ServerProcess::start_with(&url, "", &[("WRITE_TIMEOUT_SECS", "3")]).await;
    let before = heap_mb(server.pid());
    // Ten visitors ask for everything and never read a byte.
    let url = format!("{}?after_seq=0", server.ws_url("big"));
    let mut silent = Vec::new();
    for _ in 0..10 {
        silent.push(Client::connect(&url, &[]).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = heap_mb(server.pid());
    eprintln!("catch-up: heap {before:.0} MB before, {during:.0} MB with 10 silent visitors");
    // Each holds at most one page (200 × 4 KB, and its encoding) beyond
    // what the kernel buffers: measured ~6 MB per visitor with SQLite's
    // page cache. Building all 25 pages at once, as before, held 20 MB of
    // messages per visitor (200 MB for ten).
    assert!(
        during - before < 100.0,
        "heap grew from {before:.0} MB to {during:.0} MB"
    );
    // A writer that cannot get rid of its bytes gives up: the sockets close.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while open_connections(&server).await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "still open");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Someone who reads gets all 5,000, page by page.
    let reader = server.user("reader").await;
    let (_client, seqs) = server.rejoin_as(&reader, "big", 0).await;
    assert_eq!(seqs, (1..=5000).collect::<Vec<u64>>());
}

#[tokio::test]
async fn a_login_flood_keeps_memory_bounded() {
    let database = Database::new().await;
    let server =
        ServerProcess::start_with(&database.url, "", &[("PASSWORD_HASH_WAIT_SECS", "2")]).await;
    server.user("alice").await;
    let before = heap_mb(server.pid());
    let client = reqwest::Client::new();
    let logins = join_all((0..500).map(|n| {
        client
            .post(server.http("/api/login"))
            .json(&json!({"username": format!("user{n}"), "password": PASSWORD}))
            .send()
    }))
    .await;
    let after = heap_mb(server.pid());
    let statuses: Vec<u16> = logins
        .iter()
        .map(|r| r.as_ref().unwrap().status().as_u16())
        .collect();
    // Some were checked (401: no such user), the rest were told to come back.
    assert!(statuses.contains(&401), "{statuses:?}");
    assert!(statuses.contains(&503), "{statuses:?}");
    assert!(statuses.iter().all(|s| [401, 503].contains(s)));
    // Two hashing threads with 19 MiB each, however many logins wait
    // (measured: 23 MB of heap before, 52 after): the old blocking-pool
    // hashing grew to gigabytes here.
    assert!(
        after < 100.0,
        "heap {after:.0} MB after 500 concurrent logins (from {before:.0} MB)"
    );
    eprintln!("login flood: heap {before:.0} MB before, {after:.0} MB after");
}

/// Posts `name` and `password` to an account endpoint as `forwarded`
/// (behind a trusted proxy); the status.
async fn account_via(
    server: &TestServer,
    path: &str,
    name: &str,
    password: &str,
    forwarded: &str,
) -> u16 {
    reqwest::Client::new()
        .post(server.http(path))
        .header("x-forwarded-for", forwarded)
        .json(&json!({"username": name, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Registers `name` with `X-Forwarded-For: forwarded`; the status.
async fn register_via(server: &TestServer, name: &str, forwarded: &str) -> u16 {
    account_via(
        server,
        "/api/register",
        name,
        crate::common::PASSWORD,
        forwarded,
    )
    .await
}

#[tokio::test]
async fn per_address_limits_believe_x_forwarded_for_only_from_trusted_proxies() {
    // Behind a trusted proxy (loopback here): each forwarded client has its own budget.
    let behind = TestServer::start_with(|c| {
        c.limits.registrations_per_hour = 1;
        c.trusted_proxies = server::edge::proxy::TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    assert_eq!(register_via(&behind, "one", "203.0.113.1").await, 201);
    assert_eq!(register_via(&behind, "two", "203.0.113.1").await, 429);
    assert_eq!(register_via(&behind, "three", "203.0.113.2").await, 201);
    // A client forging the left end gains nothing: the proxy's own entry counts.
    assert_eq!(
        register_via(&behind, "four", "198.51.100.7, 203.0.113.2").await,
        429
    );

    // Without trusted proxies the header is ignored: one address, one budget.
    let direct = TestServer::start_with(|c| c.limits.registrations_per_hour = 1).await;
    assert_eq!(register_via(&direct, "one", "203.0.113.1").await, 201);
    assert_eq!(register_via(&direct, "two", "203.0.113.2").await, 429);
}

/// Logs `name` in with `password` as `client`; the status.
async fn login_via(server: &TestServer, name: &str, password: &str, client: &str) -> u16 {
    account_via(server, "/api/login", name, password, client).await
}

#[tokio::test]
async fn a_stranger_guessing_cannot_lock_the_owner_out() {
    let server = TestServer::start_with(|c| {
        c.limits = Limits::default();
        c.trusted_proxies = server::edge::proxy::TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    server.admin("admin").await;
    // A stranger guesses from one /64, hopping addresses inside it.
    let mut statuses = Vec::new();
    for n in 0..12 {
        let client = format!("2001:db8:bad::{n:x}");
        statuses.push(login_via(&server, "admin", &format!("guess {n}"), &client).await);
    }
    assert_eq!(statuses[..5], [401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // The owner, from home, still signs in, again and again.
    for _ in 0..3 {
        assert_eq!(
            login_via(&server, "admin", PASSWORD, "198.51.100.4").await,
            200
        );
    }
    // A crowd of guessers (one wrong password each from many addresses)
    // past the ceiling cannot lock the owner out either.
    for n in 0..25 {
        let client = format!("203.0.113.{n}");
        login_via(&server, "admin", "wrong guess", &client).await;
    }
    assert_eq!(
        login_via(&server, "admin", "wrong again", "203.0.113.1").await,
        429
    );
    assert_eq!(
        login_via(&server, "admin", PASSWORD, "198.51.100.4").await,
        200
    );
}
