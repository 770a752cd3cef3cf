//! Edits, deletes, reactions and flood control over real sockets: what
//! everyone in the room sees, what history and `after_seq` say afterwards,
//! and every refusal.

use crate::common::{Client, TestServer};
use serde_json::{Value, json};

/// Posts `text` and returns the stored message as the poster saw it.
async fn post(client: &mut Client, text: &str) -> Value {
    client.say(text).await;
    client.expect("chat_message").await
}

fn seq(message: &Value) -> u64 {
    message["seq"].as_u64().unwrap()
}

#[tokio::test]
async fn an_edit_reaches_everyone_and_stays_in_history_and_catch_up() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let mut a = server.join_as(&alice, "edits").await;
    let mut b = server.join_as(&bob, "edits").await;
    let first = post(&mut a, "helo").await;
    b.expect("chat_message").await;

    a.send_json(json!({"type": "edit", "seq": seq(&first), "message": "hello"}))
        .await;
    let seen = b.expect("message_edited").await;
    assert_eq!(seen["room"], "edits");
    assert_eq!(seen["seq"], first["seq"]);
    assert_eq!(seen["message"], "hello");
    assert!(seen["edited_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(a.expect("message_edited").await, seen);

    // A new visitor's history, a reconnect's catch-up and the HTTP API all
    // show the edited text and when it was edited.
    let fresh = server.join_as(&bob, "edits").await;
    let shown = &fresh.history["messages"][0];
    assert_eq!(shown["message"], "hello");
    assert_eq!(shown["edited_at"], seen["edited_at"]);
    let api: Value = reqwest::get(server.http("/api/rooms/edits/messages"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api["messages"][0]["message"], "hello");
    assert_eq!(api["messages"][0]["edited_at"], seen["edited_at"]);
}

#[tokio::test]
async fn catch_up_after_seq_includes_edits_and_deletes() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let mut a = server.join_as(&alice, "later").await;
    let one = post(&mut a, "one").await;
    let two = post(&mut a, "two").await;
    a.send_json(json!({"type": "edit", "seq": seq(&one), "message": "one!"}))
        .await;
    a.expect("message_edited").await;
    a.send_json(json!({"type": "delete", "seq": seq(&two)}))
        .await;
    a.expect("message_deleted").await;

    let url = format!("{}?after_seq=0", server.ws_url("later"));
    let mut back = Client::connect(&url, &[("Cookie", alice.cookie.as_str())])
        .await
        .unwrap();
    let history = back.expect("history").await;
    let messages = history["messages"].as_array().unwrap();
    assert_eq!(messages[0]["message"], "one!");
    assert!(messages[0]["edited_at"].is_string());
    assert_eq!(messages[1]["deleted"], true);
    assert_eq!(messages[1]["message"], "");
    assert_eq!(Client::seqs(&history), vec![1, 2], "seqs stay contiguous");
}

#[tokio::test]
async fn a_delete_reaches_everyone_and_leaves_a_tombstone() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let mut a = server.join_as(&alice, "deletes").await;
    let mut b = server.join_as(&bob, "deletes").await;
    let message = post(&mut a, "oops").await;
    b.expect("chat_message").await;

    a.send_json(json!({"type": "delete", "seq": seq(&message)}))
        .await;
    assert_eq!(
        b.expect("message_deleted").await,
        json!({"type": "message_deleted", "room": "deletes", "seq": message["seq"]})
    );
    let fresh = server.join("deletes").await;
    let shown = &fresh.history["messages"][0];
    assert_eq!(shown["deleted"], true);
    assert_eq!(shown["message"], "", "the text is gone from storage");

    // Deleted is deleted: no edits, no second delete, no reactions.
    a.expect("message_deleted").await;
    for frame in [
        json!({"type": "edit", "seq": seq(&message), "message": "back"}),
        json!({"type": "delete", "seq": seq(&message)}),
        json!({"type": "react", "seq": seq(&message), "emoji": "👍"}),
    ] {
        a.send_json(frame).await;
        assert_eq!(a.expect("error").await["code"], "unknown_message");
    }
}

#[tokio::test]
async fn others_messages_cannot_be_changed_and_mistakes_are_named() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let mut a = server.join_as(&alice, "mine").await;
    let mut b = server.join_as(&bob, "mine").await;
    let message = post(&mut a, "alice's words").await;
    b.expect("chat_message").await;

    b.send_json(json!({"type": "edit", "seq": seq(&message), "message": "bob's now"}))
        .await;
    assert_eq!(b.expect("error").await["code"], "forbidden");
    b.send_json(json!({"type": "delete", "seq": seq(&message)}))
        .await;
    assert_eq!(b.expect("error").await["code"], "forbidden");
    b.send_json(json!({"type": "edit", "seq": 999, "message": "x"}))
        .await;
    assert_eq!(b.expect("error").await["code"], "unknown_message");
    b.send_json(json!({"type": "react", "seq": seq(&message), "emoji": "thumbs"}))
        .await;
    assert_eq!(b.expect("error").await["code"], "invalid_emoji");
    // Nobody else heard any of it, and the text is unchanged.
    a.assert_silent().await;
    let mut guest = server.join("mine").await;
    assert_eq!(guest.history["messages"][0]["message"], "alice's words");
    guest
        .send_json(json!({"type": "react", "seq": 1, "emoji": "👍"}))
        .await;
    assert_eq!(guest.expect("error").await["code"], "not_authenticated");
}

#[tokio::test]
async fn the_edit_window_closes_after_ten_minutes() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let mut a = server.join_as(&alice, "old").await;
    let message = post(&mut a, "from long ago").await;
    // Make the message 11 minutes old.
    let storage = server::storage::Storage::open(&server.database_url)
        .await
        .unwrap();
    let then =
        server::storage::Stamp(time::OffsetDateTime::now_utc() - time::Duration::minutes(11));
    server::with_pool!(storage, pool => sqlx::query("UPDATE messages SET created_at = $1")
        .bind(then)
        .execute(pool)
        .await
        .unwrap()
        .rows_affected());

    a.send_json(json!({"type": "edit", "seq": seq(&message), "message": "new"}))
        .await;
    let refusal = a.expect("error").await;
    assert_eq!(refusal["code"], "forbidden");
    assert!(refusal["message"].as_str().unwrap().contains("10 minutes"));
    a.send_json(json!({"type": "delete", "seq": seq(&message)}))
        .await;
    assert_eq!(a.expect("error").await["code"], "forbidden");
}

#[tokio::test]
async fn reactions_toggle_live_for_everyone_and_are_stored() {
    let server = TestServer::start().await;
    let (alice, bob, carol) = (
        server.user("alice").await,
        server.user("bob").await,
        server.user("carol").await,
    );
    let mut a = server.join_as(&alice, "react").await;
    let mut b = server.join_as(&bob, "react").await;
    let mut c = server.join_as(&carol, "react").await;
    let message = post(&mut a, "ship it?").await;
    b.expect("chat_message").await;
    c.expect("chat_message").await;

    let s = seq(&message);
    b.send_json(json!({"type": "react", "seq": s, "emoji": "👍"}))
        .await;
    let expected =
        json!({"type": "reaction", "room": "react", "seq": s, "emoji": "👍", "users": ["bob"]});
    assert_eq!(a.expect("reaction").await, expected);
    c.send_json(json!({"type": "react", "seq": s, "emoji": "👍"}))
        .await;
    assert_eq!(a.expect("reaction").await["users"], json!(["bob", "carol"]));
    b.expect("reaction").await;
    b.expect("reaction").await;

    let history = server.join("react").await.history;
    assert_eq!(
        history["messages"][0]["reactions"],
        json!([{"emoji": "👍", "users": ["bob", "carol"]}])
    );

    // Reacting again takes it back.
    b.send_json(json!({"type": "react", "seq": s, "emoji": "👍"}))
        .await;
    assert_eq!(a.expect("reaction").await["users"], json!(["carol"]));
}

/// A page signals typing as it sends each message. When the messages are
/// refused for flooding, those early typing signals are what a page does,
/// not bad frames: a fast typist is slowed down, never thrown out.
#[tokio::test]
async fn typing_with_each_refused_message_does_not_close_the_connection() {
    let server = TestServer::start_with(|c| {
        c.flood = server::ws::flood::Limit::MESSAGES;
        c.limits.bad_frames_per_10_s = server::config::Limits::default().bad_frames_per_10_s;
    })
    .await;
    let alice = server.user("alice").await;
    let mut a = server.join_as(&alice, "typist").await;
    for i in 0..40 {
        a.send_json(json!({"type": "typing"})).await;
        a.say(&format!("spam {i}")).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    a.say("still here").await;
    loop {
        let event = a.event().await;
        assert_ne!(event["code"], "invalid_frame", "{event}");
        if event["message"] == "still here" && event["type"] == "chat_message" {
            break;
        }
    }
}

#[tokio::test]
async fn a_flooding_client_is_told_to_slow_down_and_stays_connected() {
    // The defaults: 5 a second, bursts of 10.
    let server = TestServer::start_with(|c| c.flood = server::ws::flood::Limit::MESSAGES).await;
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let mut a = server.join_as(&alice, "flood").await;
    let mut b = server.join_as(&bob, "flood").await;
    for i in 0..15 {
        a.say(&format!("spam {i}")).await;
    }
    let (mut stored, mut refused) = (0, Vec::new());
    while stored + refused.len() < 15 {
        let event = a.event().await;
        match event["type"].as_str() {
            Some("chat_message") => stored += 1,
            Some("error") => refused.push(event),
            _ => {}
        }
    }
    assert!(
        (10..15).contains(&stored),
        "the burst passes, then the limit: {stored} stored"
    );
    let first = &refused[0];
    assert_eq!(first["code"], "rate_limited");
    assert!(first["message"].as_str().unwrap().starts_with("Slow down"));
    let wait = first["retry_after_ms"].as_u64().unwrap();
    assert!((1..=1000).contains(&wait), "retry hint {wait} ms");

    // Bob, on his own bucket, is not held back; and alice may post again
    // once she waited as told, on the same connection.
    post(&mut b, "bob is fine").await;
    tokio::time::sleep(std::time::Duration::from_millis(wait + 50)).await;
    a.say("calm now").await;
    loop {
        let event = a.event().await;
        match (event["type"].as_str(), event["message"].as_str()) {
            (Some("chat_message"), Some("calm now")) => break,
            (Some("error"), _) => panic!("refused after waiting as told: {event}"),
            _ => {} // bob's message, presence
        }
    }
}
