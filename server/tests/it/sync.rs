//! Exact sync (issue 36), first step: a post may carry a `client_id`; the
//! sender gets an `ack` naming the stored seq, and a resend of the same id
//! (after a dropped socket, on any connection) is acked again and stored
//! and broadcast never twice. Ids are per sender; frames without one work
//! exactly as before.

use crate::common::{Client, TestServer};
use serde_json::{Value, json};

/// Posts `text` with `client_id`.
async fn post(client: &mut Client, text: &str, client_id: &str) {
    client
        .send_json(json!({"message": text, "client_id": client_id}))
        .await;
}

/// Nothing but presence comes for a while: no second copy of anything.
async fn assert_no_message(client: &mut Client) {
    use tokio_tungstenite::tungstenite::Message;
    while let Ok(Some(Message::Text(text))) = client.next_frame_within(crate::common::SILENCE).await
    {
        let event: Value = serde_json::from_str(&text).unwrap();
        let kind = event["type"].as_str().unwrap_or("");
        assert!(
            ["user_join", "user_leave", "typing"].contains(&kind),
            "{event}"
        );
    }
}

#[tokio::test]
async fn a_resend_after_a_dropped_socket_is_acked_again_and_stored_once() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let mut watcher = server.join_as(&bob, "sync").await;
    let mut first = server.join_as(&alice, "sync").await;
    post(&mut first, "hello once", "c-0001").await;
    // Stored: its own copy, with the id, is the acknowledgement.
    let echo = first.expect("chat_message").await;
    assert_eq!(
        (echo["seq"].clone(), echo["client_id"].clone()),
        (json!(1), json!("c-0001"))
    );
    // The connection dies before the page saw the ack: it sends again.
    drop(first);
    let mut again = server.join_as(&alice, "sync").await;
    post(&mut again, "hello once", "c-0001").await;
    assert_eq!(
        again.expect("ack").await,
        json!({"type": "ack", "client_id": "c-0001", "seq": 1})
    );
    again.assert_silent().await;
    assert_eq!(
        watcher.expect("chat_message").await["message"],
        "hello once"
    );
    assert_no_message(&mut watcher).await;
    let history = server.join("sync").await.history;
    assert_eq!(Client::seqs(&history), [1]);
}

#[tokio::test]
async fn ids_are_per_sender_and_a_repeat_in_one_batch_is_stored_once() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let mut a = server.join_as(&alice, "ids").await;
    let mut b = server.join_as(&bob, "ids").await;
    post(&mut a, "from alice", "same").await;
    assert_eq!(a.expect("chat_message").await["client_id"], "same");
    post(&mut b, "from bob", "same").await;
    let acked = loop {
        let event = b.event().await;
        if event["type"] == "chat_message" && event["user"] == "bob" {
            break event;
        }
    };
    assert_eq!(acked["seq"], 2, "two people may use one id");
    assert_eq!(acked["client_id"], "same");
    // The same id twice at once: one message, stored once.
    for _ in 0..2 {
        post(&mut a, "twice", "twice-1").await;
    }
    let mut acks = Vec::new();
    let mut messages = Vec::new();
    while acks.is_empty() || messages.len() < 2 {
        let event: Value = a.event().await;
        match event["type"].as_str() {
            Some("ack") if event["client_id"] == "twice-1" => acks.push(event["seq"].clone()),
            Some("chat_message") => messages.push(event["message"].clone()),
            _ => {}
        }
    }
    // The first is acked by its copy, the second by an ack with its seq.
    assert_eq!(acks, [json!(3)]);
    assert_eq!(messages, ["from bob", "twice"]);
    a.assert_silent().await;
}

#[tokio::test]
async fn frames_without_an_id_work_as_before_and_a_bad_id_is_refused() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let mut a = server.join_as(&alice, "plain").await;
    a.say("no id").await;
    assert_eq!(a.expect("chat_message").await["message"], "no id");
    a.assert_silent().await;
    for bad in [
        json!(""),
        json!("has space"),
        json!("x".repeat(65)),
        json!(7),
    ] {
        a.send_json(json!({"message": "hi", "client_id": bad}))
            .await;
        assert_eq!(a.expect("error").await["code"], "invalid_frame", "{bad}");
    }
}

#[tokio::test]
async fn the_sender_recognises_its_post_live_in_history_and_when_refused() {
    let server = TestServer::start_with(|c| {
        c.flood = server::ws::flood::Limit {
            rate: 0.01,
            burst: 2.0,
        }
    })
    .await;
    let alice = server.user("alice").await;
    let mut a = server.join_as(&alice, "mine").await;
    post(&mut a, "first", "id-1").await;
    let live = a.expect("chat_message").await;
    assert_eq!(live["client_id"], "id-1", "{live}");
    a.say("no id").await;
    let plain = a.expect("chat_message").await;
    assert!(plain.get("client_id").is_none(), "{plain}");
    // Past the burst: the refusal names the post, so the page can mark it.
    post(&mut a, "too fast", "id-3").await;
    let refused = a.expect("error").await;
    assert_eq!(refused["code"], "rate_limited");
    assert_eq!(refused["client_id"], "id-3", "{refused}");
    // After a reconnect, the history says which of them was this sender's.
    let history = server.join_as(&alice, "mine").await.history;
    let messages = history["messages"].as_array().unwrap();
    let ids: Vec<_> = messages.iter().map(|m| m["client_id"].clone()).collect();
    assert_eq!(ids, [json!("id-1"), Value::Null]);
}

/// Reads `room` up to `seq` on `client`.
async fn read_up_to(client: &mut Client, seq: u64) {
    client.send_json(json!({"type": "read", "seq": seq})).await;
}

#[tokio::test]
async fn a_read_marker_moves_forward_only_and_reaches_every_connection_of_its_person() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let mut laptop = server.join_as(&alice, "marked").await;
    for n in 1..=3 {
        laptop.say(&format!("m{n}")).await;
        laptop.expect("chat_message").await;
    }
    // Alice's phone is in another room; Bob is in this one.
    let mut phone = server.join_as(&alice, "elsewhere").await;
    let mut bob_socket = server.join_as(&bob, "marked").await;
    assert_eq!(laptop.read, Value::Null, "never read before");
    read_up_to(&mut laptop, 2).await;
    let moved = json!({"type": "read", "room": "marked", "seq": 2});
    assert_eq!(laptop.expect("read").await, moved);
    assert_eq!(
        phone.expect("read").await,
        moved,
        "the person's other device"
    );
    bob_socket.assert_silent().await;
    // Back, or beyond the newest message: never back, at most the newest.
    read_up_to(&mut laptop, 1).await;
    laptop.assert_silent().await;
    read_up_to(&mut laptop, 99).await;
    assert_eq!(phone.expect("read").await["seq"], 3);
    // A new connection hears where the person left off.
    let again = server.join_as(&alice, "marked").await;
    assert_eq!(
        again.read,
        json!({"type": "read", "room": "marked", "seq": 3})
    );
    let bobs = server.join_as(&bob, "marked").await;
    assert_eq!(bobs.read, Value::Null, "markers are per person");
    // A visitor has no marker to move.
    let mut visitor = server.join("marked").await;
    read_up_to(&mut visitor, 1).await;
    assert_eq!(visitor.expect("error").await["code"], "not_authenticated");
}

#[tokio::test]
async fn the_lobby_feed_carries_the_persons_markers_and_follows_them() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let mut a = server.join_as(&alice, "counted").await;
    for n in 1..=4 {
        a.say(&format!("m{n}")).await;
        a.expect("chat_message").await;
    }
    read_up_to(&mut a, 1).await;
    a.expect("read").await;
    let mut lobby = server.watch_lobby(Some(&alice.cookie)).await;
    let first = lobby.event().await;
    assert_eq!(first["type"], "rooms");
    assert_eq!(
        first["read"],
        json!([{"room": "counted", "seq": 1, "last_seq": 4}])
    );
    let line = &first["rooms"].as_array().unwrap()[0];
    assert_eq!(
        (line["name"].clone(), line["last_seq"].clone()),
        (json!("counted"), json!(4))
    );
    read_up_to(&mut a, 4).await;
    loop {
        let event = lobby.event().await;
        if event["type"] == "read" {
            assert_eq!(event, json!({"type": "read", "room": "counted", "seq": 4}));
            break;
        }
    }
    // Someone else's lobby hears nothing of Alice's markers.
    let mut anonymous = server.watch_lobby(None).await;
    assert!(anonymous.event().await.get("read").is_none());
}

/// `@bob` in one of Bob's rooms reaches his lobby at once as `mention`,
/// and his next first list counts it until his marker passes it; nobody
/// else is noted: not the author, not someone who never read the room,
/// not Bob once he has read that far.
#[tokio::test]
async fn a_mention_reaches_the_persons_lobby_and_counts_until_read() {
    let server = TestServer::start().await;
    let (alice, bob, carol) = (
        server.user("alice").await,
        server.user("bob").await,
        server.user("carol").await,
    );
    let mut a = server.join_as(&alice, "team").await;
    a.say("hello").await;
    a.expect("chat_message").await;
    // Bob has read the room: it is one of his. Carol never opened it.
    let mut b = server.join_as(&bob, "team").await;
    read_up_to(&mut b, 1).await;
    b.expect("read").await;
    drop(b);
    let mut bobs_lobby = server.watch_lobby(Some(&bob.cookie)).await;
    bobs_lobby.event().await;
    let mut carols_lobby = server.watch_lobby(Some(&carol.cookie)).await;
    carols_lobby.event().await;
    a.say("@Bob and @carol, look (and @alice, @bob again)")
        .await;
    assert_eq!(a.expect("chat_message").await["seq"], 2);
    let mention = loop {
        let event = bobs_lobby.event().await;
        if event["type"] == "mention" {
            break event;
        }
    };
    assert_eq!(
        mention,
        json!({"type": "mention", "room": "team", "seq": 2})
    );
    a.say("no names here").await;
    a.expect("chat_message").await;
    let first = server.watch_lobby(Some(&bob.cookie)).await.event().await;
    assert_eq!(
        first["read"],
        json!([{"room": "team", "seq": 1, "last_seq": 3, "mentions": [2]}])
    );
    // Carol's lobby heard no mention: the room is not one of hers.
    let quiet = std::time::Duration::from_millis(300);
    while let Some(event) = carols_lobby.event_within(quiet).await {
        assert_ne!(event["type"], "mention", "{event}");
    }
    // Bob reads past it: the count is gone.
    let mut b = server.join_as(&bob, "team").await;
    read_up_to(&mut b, 3).await;
    b.expect("read").await;
    let first = server.watch_lobby(Some(&bob.cookie)).await.event().await;
    assert_eq!(
        first["read"],
        json!([{"room": "team", "seq": 3, "last_seq": 3}])
    );
}

/// An edit with a client id reaches the room naming it; sent again after a
/// dropped socket it is acked, not applied or broadcast again.
#[tokio::test]
async fn an_edit_sent_again_with_its_id_is_applied_once() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let mut watcher = server.join_as(&bob, "edits").await;
    let mut a = server.join_as(&alice, "edits").await;
    post(&mut a, "helo", "p-1").await;
    a.expect("chat_message").await;
    watcher.expect("chat_message").await;
    let fix = json!({"type": "edit", "seq": 1, "message": "hello", "client_id": "e-1"});
    a.send_json(fix.clone()).await;
    let edited = a.expect("message_edited").await;
    assert_eq!(
        (edited["message"].clone(), edited["client_id"].clone()),
        (json!("hello"), json!("e-1"))
    );
    assert_eq!(watcher.expect("message_edited").await["message"], "hello");
    drop(a);
    let mut again = server.join_as(&alice, "edits").await;
    again.send_json(fix).await;
    assert_eq!(
        again.expect("ack").await,
        json!({"type": "ack", "client_id": "e-1", "seq": 1})
    );
    assert_no_message(&mut watcher).await;
    // Another edit, another id: applied.
    again
        .send_json(json!({"type": "edit", "seq": 1, "message": "hello!", "client_id": "e-2"}))
        .await;
    assert_eq!(watcher.expect("message_edited").await["message"], "hello!");
}
