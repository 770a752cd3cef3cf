//! Places (issue 35): one client address cannot take every connection the
//! server has, a trickled request cannot hold one forever, and the
//! process can hold as many sockets as it admits. Each test is the attack
//! itself, from outside.

use crate::common::{Client, Database, ServerProcess, TestServer};
use std::time::Duration;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

/// Headers saying that a trusted proxy (loopback) forwards `client`.
fn from(client: &str) -> [(&'static str, &str); 1] {
    [("x-forwarded-for", client)]
}

/// Opens the live lobby feed for `client`; the open response (the feed)
/// or the refusal's status and code.
async fn feed(server: &TestServer, client: &str) -> Result<reqwest::Response, (u16, String)> {
    let response = reqwest::Client::new()
        .get(server.http("/api/rooms/live"))
        .header("x-forwarded-for", client)
        .send()
        .await
        .unwrap();
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    Err((
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    ))
}

#[tokio::test]
async fn one_address_cannot_take_every_place_and_an_ipv6_64_is_one_address() {
    let server = TestServer::start_with(|c| {
        c.limits.connections_per_address = 3;
        c.trusted_proxies = server::edge::proxy::TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    let url = server.ws_url("hall");
    // Sockets and lobby feeds share the address's places; two addresses
    // of one /64 are one client.
    let _one = Client::connect(&url, &from("2001:db8:1:2::1"))
        .await
        .unwrap();
    let _two = Client::connect(&url, &from("2001:db8:1:2::2"))
        .await
        .unwrap();
    let _feed = feed(&server, "2001:db8:1:2::3").await.unwrap();
    let refused = Client::connect(&url, &from("2001:db8:1:2:abcd::4"))
        .await
        .err()
        .expect("a fourth place from the /64 is refused");
    assert_eq!(refused.status, 429);
    assert_eq!(refused.body["error"]["code"], "too_many_connections");
    assert_eq!(
        feed(&server, "2001:db8:1:2::5").await.err(),
        Some((429, "too_many_connections".to_owned()))
    );
    // Everyone else is still let in: the next /64, and an IPv4 visitor.
    let _next_64 = Client::connect(&url, &from("2001:db8:1:3::1"))
        .await
        .unwrap();
    let _v4 = Client::connect(&url, &from("203.0.113.5")).await.unwrap();
    // A place given back is free again.
    drop(_one);
    let mut again = None;
    for _ in 0..50 {
        match Client::connect(&url, &from("2001:db8:1:2::6")).await {
            Ok(client) => {
                again = Some(client);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert!(again.is_some(), "the closed socket's place came back");
}

/// A TCP connection to `server` from the loopback address `source`.
async fn connect_from(server: &TestServer, source: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind((source, 0).into()).unwrap();
    socket.connect(server.addr).await.unwrap()
}

/// What the server sends before closing, read until it closes (at most 3 s).
async fn read_to_close(tcp: &mut TcpStream) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(3), tcp.read_to_end(&mut got)).await;
    read.ok()
        .map(|_| String::from_utf8_lossy(&got).into_owned())
}

#[tokio::test]
async fn one_peer_cannot_hold_every_tcp_connection() {
    let server = TestServer::start_with(|c| {
        c.limits.tcp_connections_per_address = 4;
        c.limits.header_read_timeout = Duration::from_secs(30);
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from(&server, [127, 0, 0, 2]).await);
    }
    let mut fifth = connect_from(&server, [127, 0, 0, 2]).await;
    let told = read_to_close(&mut fifth).await.expect("closed at once");
    assert!(told.starts_with("HTTP/1.1 429"), "{told:?}");
    // Another address is served meanwhile.
    let mut other = connect_from(&server, [127, 0, 0, 3]).await;
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut other).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Closing one gives the place back.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut next = connect_from(&server, [127, 0, 0, 2]).await;
    next.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut next).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_body_trickled_just_inside_each_timeout_is_cut_at_the_deadline() {
    let server = TestServer::start_with(|c| {
        c.limits.header_read_timeout = Duration::from_millis(800);
        c.limits.request_timeout = Duration::from_millis(1500);
    })
    .await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(
        b"POST /api/login HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n\
          content-length: 200\r\n\r\n{",
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    // One byte every 400 ms: each arrives well within the 800 ms per-read
    // timeout, and the whole body would take 80 s.
    let mut cut = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        if tcp.write_all(b" ").await.is_err() {
            cut = true;
            break;
        }
        let mut buf = [0u8; 256];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(1), tcp.read(&mut buf)).await
        {
            let said = String::from_utf8_lossy(&buf[..n]).into_owned();
            assert!(n == 0 || said.starts_with("HTTP/1.1 408"), "{said}");
            cut = true;
            break;
        }
    }
    assert!(cut, "the trickle was still being read after 16 s");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn the_server_raises_its_open_file_limit_to_the_hard_limit() {
    let database = Database::sqlite();
    let process = ServerProcess::start_with_open_files(&database.url, 512).await;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", process.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let figures: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(figures[0], figures[1], "soft limit not raised: {line}");
}
