//! The room endpoint over a real socket: group fan-out, room isolation,
//! Unicode rooms, bad frames and refused upgrades.

use crate::common::{Client, TestServer};
use serde_json::json;
use tokio_tungstenite::tungstenite::{Message, protocol::frame::coding::CloseCode};

#[tokio::test]
async fn a_message_reaches_everyone_in_the_room_and_nobody_elsewhere() {
    let server = TestServer::start().await;
    let (a, b) = (server.user("alice").await, server.user("bob").await);
    let mut alice = server.join_as(&a, "A").await;
    let mut bob = server.join_as(&b, "A").await;
    let mut carol = server.join("B").await;

    alice.say("hello A").await;
    for client in [&mut alice, &mut bob] {
        let m = client.expect("chat_message").await;
        assert_eq!(m["message"], "hello A");
        assert_eq!(m["room"], "A");
        assert_eq!(m["user"], "alice");
        assert_eq!(m["seq"], 1);
        assert!(m["id"].as_str().is_some_and(|id| !id.is_empty()));
        assert!(m["ts"].as_str().is_some_and(|ts| ts.ends_with('Z')));
    }
    carol.assert_silent().await;

    // And the other way round.
    bob.say("reply").await;
    assert_eq!(alice.expect("chat_message").await["message"], "reply");
    carol.assert_silent().await;
}

#[tokio::test]
async fn seq_counts_per_room_from_one() {
    let server = TestServer::start().await;
    let user = server.user("counter").await;
    let mut a = server.join_as(&user, "seq-a").await;
    let mut b = server.join_as(&user, "seq-b").await;
    for n in 1..=3 {
        a.say(&format!("a{n}")).await;
        assert_eq!(a.expect("chat_message").await["seq"], n);
    }
    b.say("b1").await;
    assert_eq!(b.expect("chat_message").await["seq"], 1);
}

#[tokio::test]
async fn a_unicode_room_works() {
    let server = TestServer::start().await;
    let user = server.user("李小龙").await;
    let mut one = server.join_as(&user, "聊天室").await;
    let mut two = server.join("聊天室").await;
    let mut other = server.join("lobby").await;
    one.say("你好").await;
    let m = two.expect("chat_message").await;
    assert_eq!(m["room"], "聊天室");
    assert_eq!(m["message"], "你好");
    other.assert_silent().await;
}

#[tokio::test]
async fn each_bad_frame_gets_its_error_and_the_socket_stays_usable() {
    let server = TestServer::start().await;
    let user = server.user("tester").await;
    let mut client = server.join_as(&user, "errors").await;
    let mut watcher = server.join("errors").await;

    let cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "invalid_json"),
        ("[\"message\"]".into(), "invalid_frame"),
        (json!({"message": 42}).to_string(), "invalid_message"),
        (json!({"message": null}).to_string(), "invalid_message"),
        (json!({"text": "hi"}).to_string(), "invalid_message"),
        (json!({"message": ""}).to_string(), "empty_message"),
        (json!({"message": "   "}).to_string(), "empty_message"),
        (
            json!({"type": "dance", "message": "hi"}).to_string(),
            "unknown_type",
        ),
        (
            json!({"message": "x".repeat(4_001)}).to_string(),
            "message_too_long",
        ),
    ];
    for (frame, code) in cases {
        client.send_text(frame.clone()).await;
        let e = client.expect("error").await;
        assert_eq!(e["code"], code, "for frame {frame:.60}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    client.send_raw(Message::binary(vec![1, 2, 3])).await;
    assert_eq!(client.expect("error").await["code"], "binary_not_supported");

    // Nobody else saw any of it, and nothing was numbered.
    watcher.assert_silent().await;

    // Exactly 4,000 characters is fine, and the socket still works.
    let longest = "é".repeat(4_000);
    client.say(&longest).await;
    let m = client.expect("chat_message").await;
    assert_eq!(m["message"], longest.as_str());
    assert_eq!(m["seq"], 1);
    assert_eq!(watcher.expect("chat_message").await["seq"], 1);
}

#[tokio::test]
async fn a_frame_over_64_kib_closes_the_socket_with_1009() {
    let server = TestServer::start().await;
    let user = server.user("big-sender").await;
    let mut client = server.join_as(&user, "big").await;
    let mut watcher = server.join("big").await;
    client
        .send_text(json!({"message": "x".repeat(70 * 1024)}).to_string())
        .await;
    match client.next_frame().await {
        Some(Message::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::Size),
        other => panic!("expected close 1009, got {other:?}"),
    }
    // The room is unharmed.
    let mut again = server.join_as(&user, "big").await;
    again.say("still here").await;
    assert_eq!(
        watcher.expect("chat_message").await["message"],
        "still here"
    );
}

#[tokio::test]
async fn a_foreign_origin_is_refused_with_403() {
    let server = TestServer::start().await;
    let url = server.ws_url("lobby");
    let refused = Client::connect(&url, &[("Origin", "http://evil.example")])
        .await
        .err()
        .expect("foreign origin must be refused");
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["error"]["code"], "origin_not_allowed");

    // The page's own origin, a localhost form of it, and no Origin at all (a bot) are fine.
    let own = format!("http://{}", server.addr);
    let localhost = format!("http://localhost:{}", server.addr.port());
    for headers in [
        vec![("Origin", own.as_str())],
        vec![("Origin", localhost.as_str())],
        vec![],
    ] {
        assert!(Client::connect(&url, &headers).await.is_ok(), "{headers:?}");
    }
}

#[tokio::test]
async fn configured_origins_replace_the_default() {
    let server = TestServer::start_with(|c| {
        c.allowed_origins = vec!["https://chat.example.com".into()];
    })
    .await;
    let url = server.ws_url("lobby");
    assert!(
        Client::connect(&url, &[("Origin", "https://chat.example.com")])
            .await
            .is_ok()
    );
    let own = format!("http://{}", server.addr);
    let refused = Client::connect(&url, &[("Origin", own.as_str())])
        .await
        .err()
        .unwrap();
    assert_eq!(refused.status, 403);
}

#[tokio::test]
async fn an_invalid_room_is_refused_at_the_upgrade() {
    let server = TestServer::start().await;
    for bad in ["two words", "a/b", "..", &"x".repeat(65)] {
        let refused = Client::connect(&server.ws_url(bad), &[])
            .await
            .err()
            .unwrap_or_else(|| panic!("{bad:?} must be refused"));
        assert_eq!(refused.status, 400, "{bad:?}");
        assert_eq!(refused.body["error"]["code"], "invalid_room");
    }
}
