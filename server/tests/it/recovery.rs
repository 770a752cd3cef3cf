//! Nothing a person would notice is lost: reconnecting with the last seq
//! shown, a client too slow to keep up, and a server restart.

use crate::common::{Client, Database, ServerProcess, TestServer, post_many};
use tokio_tungstenite::tungstenite::{Message, protocol::frame::coding::CloseCode};

#[tokio::test]
async fn reconnecting_with_after_seq_sends_exactly_what_was_missed() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    post_many(&server, &alice, "resume", 5).await;
    let away = server.join_as(&bob, "resume").await;
    assert_eq!(Client::seqs(&away.history), [1, 2, 3, 4, 5]);
    drop(away);
    post_many(&server, &alice, "resume", 7).await;

    let (mut back, caught_up) = server.rejoin_as(&bob, "resume", 5).await;
    assert_eq!(caught_up, (6..=12).collect::<Vec<_>>());
    post_many(&server, &alice, "resume", 1).await;
    assert_eq!(back.expect("chat_message").await["seq"], 13);

    // A client that believes it is ahead (the room was reset, say) still gets what comes next.
    let (mut ahead, caught_up) = server.rejoin_as(&bob, "resume", 999).await;
    assert!(caught_up.is_empty());
    post_many(&server, &alice, "resume", 1).await;
    assert_eq!(ahead.expect("chat_message").await["seq"], 14);

    let url = format!("{}?after_seq=minus-one", server.ws_url("resume"));
    let refused = Client::connect(&url, &[]).await.err().unwrap();
    assert_eq!(refused.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_with_4008_and_recovers_everything() {
    let server = TestServer::start_with(|c| c.channel_capacity = 8).await;
    let (poster, reader) = (server.user("poster").await, server.user("reader").await);
    let mut slow = server.join_as(&reader, "firehose").await;
    let mut quick = server.join_as(&reader, "firehose").await;

    // Post big messages until the slow client's socket buffers and queue are full.
    let text = "x".repeat(3_900);
    let mut poster_ws = server.join_as(&poster, "firehose").await;
    let mut quick_seen = Vec::new();
    let mut posted = 0u64;
    loop {
        for _ in 0..50 {
            poster_ws.say(&text).await;
            posted += 1;
            poster_ws.expect("chat_message").await;
            // The quick member gets each one on time.
            quick_seen.push(quick.expect("chat_message").await["seq"].as_u64().unwrap());
        }
        let (_, metrics) = server.page("/metrics", None).await;
        if metrics
            .lines()
            .any(|l| l == "chat_lagging_disconnects_total 1")
        {
            break;
        }
        assert!(
            posted < 5_000,
            "the slow client should have been dropped by now"
        );
    }
    assert_eq!(quick_seen, (1..=posted).collect::<Vec<_>>());

    // The slow client reads what reached it, then the close: 4008.
    let mut slow_seen = Vec::new();
    let close = loop {
        match slow.next_frame().await {
            Some(Message::Text(t)) => {
                let event: serde_json::Value = serde_json::from_str(&t).unwrap();
                if event["type"] == "chat_message" {
                    slow_seen.push(event["seq"].as_u64().unwrap());
                }
            }
            Some(Message::Close(frame)) => break frame,
            other => panic!("expected messages then a close, got {other:?}"),
        }
    };
    let close = close.expect("a close frame");
    assert_eq!(close.code, CloseCode::Library(4008));
    assert_eq!(close.reason, "lagging");
    assert!((slow_seen.len() as u64) < posted);
    assert_eq!(slow_seen, (1..=slow_seen.len() as u64).collect::<Vec<_>>());

    // Reconnecting from its last seq gives it the rest: every message exactly once.
    let last = slow_seen.last().copied().unwrap_or(0);
    let (_again, caught_up) = server.rejoin_as(&reader, "firehose", last).await;
    slow_seen.extend(caught_up);
    assert_eq!(slow_seen, (1..=posted).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_mid_traffic_leaves_every_log_exactly_1_to_n() {
    let database = Database::new().await;
    let db = database.url.clone();
    let mut process = ServerProcess::start(&db, "").await;
    let addr = process.addr;
    let (alice, bob) = (process.user("alice").await, process.user("bob").await);
    let mut logs: Vec<(Client, Vec<u64>)> = Vec::new();
    for user in [&alice, &bob] {
        let client = process.join_as(user, "restart").await;
        logs.push((client, Vec::new()));
    }
    post_many(&process, &alice, "restart", 10).await;

    // Bob keeps posting while the server stops under him.
    let mut posting = process.join_as(&bob, "restart").await;
    let poster = tokio::spawn(async move {
        for i in 0.. {
            posting.say(&format!("bob #{i}")).await;
            loop {
                match posting.next_frame().await {
                    Some(Message::Text(t)) if t.contains(&format!("\"bob #{i}\"")) => break,
                    Some(Message::Text(_)) => {}
                    _ => return,
                }
            }
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // Everyone reads what they were sent until the server says it is restarting.
    let stopping = tokio::spawn(async move {
        let took = process.terminate();
        (process, took)
    });
    for (client, seqs) in &mut logs {
        loop {
            match client.next_frame().await {
                Some(Message::Text(t)) => {
                    let e: serde_json::Value = serde_json::from_str(&t).unwrap();
                    if e["type"] == "chat_message" {
                        seqs.push(e["seq"].as_u64().unwrap());
                    }
                }
                Some(Message::Close(Some(frame))) => {
                    assert_eq!(frame.code, CloseCode::Restart);
                    break;
                }
                other => panic!("expected a 1012 close, got {other:?}"),
            }
        }
    }
    let (process, took) = stopping.await.unwrap();
    assert!(took.as_secs() < 10, "shut down in {took:?}");
    drop(process);
    poster.await.unwrap();

    let process = ServerProcess::start_at(addr, &db, "").await;
    let latest: serde_json::Value =
        reqwest::get(process.http("/api/rooms/restart/messages?limit=1"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let stored = latest["messages"][0]["seq"].as_u64().unwrap();
    assert!(
        stored > 10,
        "bob's messages were stored up to the stop ({stored})"
    );
    let n = stored + 5;
    let mut rejoined = Vec::new();
    for ((_, mut seqs), user) in logs.into_iter().zip([&alice, &bob]) {
        let last = seqs.last().copied().unwrap_or(0);
        let (client, caught_up) = process.rejoin_as(user, "restart", last).await;
        seqs.extend(caught_up);
        rejoined.push((client, seqs));
    }
    post_many(&process, &alice, "restart", 5).await;
    for (client, seqs) in &mut rejoined {
        while seqs.last() != Some(&n) {
            seqs.push(client.expect("chat_message").await["seq"].as_u64().unwrap());
        }
        assert_eq!(*seqs, (1..=n).collect::<Vec<_>>());
    }
}
