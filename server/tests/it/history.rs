//! Stored messages: who may post, whose name they carry, history on joining
//! and on request, contiguous seqs under concurrent posters, and the rooms
//! and messages API.

use crate::common::{Client, TestServer, post_many};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashSet;

async fn get(server: &TestServer, path: &str) -> (StatusCode, Value) {
    let r = reqwest::get(server.http(path)).await.unwrap();
    (r.status(), r.json().await.unwrap())
}

#[tokio::test]
async fn anonymous_visitors_read_but_cannot_post() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let mut member = server.join_as(&alice, "open").await;
    let mut guest = server.join("open").await;

    guest.say("let me in").await;
    let e = guest.expect("error").await;
    assert_eq!(e["code"], "not_authenticated");
    assert_eq!(e["message"], "Log in to post.");
    member.assert_silent().await;

    member.say("welcome, reader").await;
    let m = guest.expect("chat_message").await;
    assert_eq!(
        (m["user"].as_str(), m["message"].as_str()),
        (Some("alice"), Some("welcome, reader"))
    );
    // Nothing from the guest was stored.
    let (_, page) = get(&server, "/api/rooms/open/messages").await;
    assert_eq!(Client::seqs(&page), [1]);
}

#[tokio::test]
async fn the_author_is_the_session_never_the_frame() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let mut client = server.join_as(&alice, "names").await;
    client
        .send_json(
            json!({"message": "trust me", "user": "mallory", "room": "elsewhere", "seq": 99}),
        )
        .await;
    let m = client.expect("chat_message").await;
    assert_eq!(m["user"], "alice");
    assert_eq!(m["room"], "names");
    assert_eq!(m["seq"], 1);
}

#[tokio::test]
async fn joining_sends_the_latest_50_and_older_pages_on_request() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    post_many(&server, &alice, "long", 60).await;

    let mut late = server.join("long").await;
    assert_eq!(Client::seqs(&late.history), (11..=60).collect::<Vec<_>>());
    assert_eq!(late.history["has_more"], true);
    assert_eq!(late.history["messages"][0]["message"], "alice #10");

    late.send_json(json!({"type": "history", "before_seq": 11}))
        .await;
    let older = late.expect("history").await;
    assert_eq!(Client::seqs(&older), (1..=10).collect::<Vec<_>>());
    assert_eq!(older["has_more"], false);

    late.send_json(json!({"type": "history", "before_seq": 30, "limit": 5}))
        .await;
    let some = late.expect("history").await;
    assert_eq!(Client::seqs(&some), [25, 26, 27, 28, 29]);
    assert_eq!(some["has_more"], true);
}

#[tokio::test]
async fn twenty_concurrent_posters_get_seq_1_to_1000_without_gaps_or_duplicates() {
    let server = TestServer::start().await;
    let mut users = Vec::new();
    for i in 0..20 {
        users.push(server.user(&format!("poster{i}")).await);
    }
    join_all(users.iter().map(|u| post_many(&server, u, "busy", 50))).await;

    let mut seqs = Vec::new();
    let mut texts = HashSet::new();
    let mut after = 0;
    loop {
        let (status, page) = get(
            &server,
            &format!("/api/rooms/busy/messages?after_seq={after}&limit=200"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        for m in page["messages"].as_array().unwrap() {
            seqs.push(m["seq"].as_u64().unwrap());
            assert!(
                texts.insert(m["message"].as_str().unwrap().to_owned()),
                "duplicate {m}"
            );
        }
        after = *seqs.last().unwrap();
        if page["has_more"] == false {
            break;
        }
    }
    assert_eq!(seqs, (1..=1000).collect::<Vec<_>>());
    assert_eq!(texts.len(), 1000);
}

#[tokio::test]
async fn history_then_live_has_no_gap_and_no_duplicate_while_others_post() {
    let server = TestServer::start().await;
    let mut posters = Vec::new();
    for i in 0..4 {
        posters.push(server.user(&format!("talker{i}")).await);
    }
    let posting = {
        let server = &server;
        join_all(
            posters
                .iter()
                .map(move |u| post_many(server, u, "stream", 100)),
        )
    };
    let mut watcher = server.join("stream").await;
    let joining = async {
        // Join once the posters are in full flow: more than a page posted.
        while watcher.expect("chat_message").await["seq"].as_u64() < Some(120) {}
        let mut reader = server.join("stream").await;
        let mut seen = Client::seqs(&reader.history);
        while seen.last().copied() != Some(400) {
            let m = reader.expect("chat_message").await;
            seen.push(m["seq"].as_u64().unwrap());
        }
        seen
    };
    let (_, seen) = tokio::join!(posting, joining);
    let first = seen[0];
    assert!(
        first > 70,
        "the reader joined mid-stream (first seq {first})"
    );
    assert!(seen.len() > 50, "and saw live messages after the history");
    assert_eq!(
        seen,
        (first..=400).collect::<Vec<_>>(),
        "history + live must be contiguous"
    );
}

#[tokio::test]
async fn the_rooms_list_counts_people_not_tabs() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let _tab1 = server.join_as(&alice, "cafe").await;
    let mut tab2 = server.join_as(&alice, "cafe").await;
    let _bob = server.join_as(&bob, "cafe").await;
    let _guest = server.join("cafe").await;
    let _quiet = server.join_as(&bob, "quiet").await;
    tab2.say("coffee?").await;
    tab2.expect("chat_message").await;

    let (status, rooms) = get(&server, "/api/rooms").await;
    assert_eq!(status, StatusCode::OK);
    let rooms = rooms.as_array().unwrap();
    assert_eq!(rooms[0]["name"], "cafe");
    assert_eq!(rooms[0]["online"], 2);
    assert!(
        rooms[0]["last_message_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(rooms[1]["name"], "quiet");
    assert_eq!(rooms[1]["online"], 1);
    assert_eq!(rooms[1]["last_message_at"], Value::Null);

    drop(tab2);
    // Closing one of two tabs is not leaving.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (_, rooms) = get(&server, "/api/rooms").await;
    assert_eq!(rooms[0]["online"], 2);
}

#[tokio::test]
async fn the_messages_api_pages_both_ways_and_refuses_bad_queries() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    post_many(&server, &alice, "paged", 12).await;

    let (_, latest) = get(&server, "/api/rooms/paged/messages?limit=5").await;
    assert_eq!(Client::seqs(&latest), [8, 9, 10, 11, 12]);
    assert_eq!(latest["has_more"], true);
    assert_eq!(latest["messages"][0]["user"], "alice");
    let (_, before) = get(&server, "/api/rooms/paged/messages?before_seq=4").await;
    assert_eq!(Client::seqs(&before), [1, 2, 3]);
    assert_eq!(before["has_more"], false);
    let (_, after) = get(&server, "/api/rooms/paged/messages?after_seq=9").await;
    assert_eq!(Client::seqs(&after), [10, 11, 12]);
    assert_eq!(after["has_more"], false);
    let (_, empty) = get(&server, "/api/rooms/never-used/messages").await;
    assert_eq!(empty, json!({"messages": [], "has_more": false}));

    for bad in [
        "/api/rooms/paged/messages?limit=0",
        "/api/rooms/paged/messages?limit=201",
        "/api/rooms/paged/messages?before_seq=abc",
        "/api/rooms/paged/messages?before_seq=0",
        "/api/rooms/paged/messages?before_seq=3&after_seq=1",
    ] {
        let (status, body) = get(&server, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["error"]["code"], "invalid_request", "{bad}");
    }
    let (status, body) = get(&server, "/api/rooms/two%20words/messages").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_room");
}

#[tokio::test]
async fn metrics_count_connections_and_stored_messages() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let mut a = server.join_as(&alice, "counted").await;
    let _b = server.join("counted").await;
    a.say("one").await;
    a.expect("chat_message").await;
    let (status, text) = server.page("/metrics", None).await;
    assert_eq!(status, 200);
    for line in [
        "chat_websocket_connections 2",
        "chat_messages_stored_total 1",
        "chat_lagging_disconnects_total 0",
        "chat_layer_degraded 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
}

#[tokio::test]
async fn with_a_metrics_token_only_its_bearer_reads_metrics() {
    let server = TestServer::start_with(|c| c.metrics_token = Some("s3cret-token".into())).await;
    assert_eq!(server.page("/metrics", None).await.0, 404);
    let client = reqwest::Client::new();
    let with = |auth: &'static str| {
        client
            .get(server.http("/metrics"))
            .header("authorization", auth)
            .send()
    };
    assert_eq!(with("Bearer wrong-token").await.unwrap().status(), 404);
    assert_eq!(with("s3cret-token").await.unwrap().status(), 404);
    let allowed = with("Bearer s3cret-token").await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert!(
        allowed
            .text()
            .await
            .unwrap()
            .contains("chat_websocket_connections 0")
    );
}
