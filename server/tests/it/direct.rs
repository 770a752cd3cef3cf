//! Direct conversations (issue 36): `/pm` and `/ws/dm/<peer>/` store what
//! two people say to each other in a room only they can join; a message
//! to someone away waits for them, with its unread count; nobody else (a
//! third person, a visitor, an admin's pages and lists) gets in or sees it.

use crate::common::{Client, Database, ServerProcess, TestServer};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// The texts of a history event.
fn texts(history: &Value) -> Vec<String> {
    history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_message_to_someone_away_waits_for_them_with_its_unread_count() {
    let server = TestServer::start().await;
    let (alice, _bob) = (server.user("alice").await, server.user("bob").await);
    let mut a = server.join_as(&alice, "hall").await;
    a.say("/pm bob are you there?").await;
    assert_eq!(
        a.expect("private_message_delivered").await,
        json!({"type": "private_message_delivered", "target": "bob", "message": "are you there?"})
    );
    // Alice's own message is read for her, everywhere.
    assert_eq!(
        a.expect("read").await,
        json!({"type": "read", "room": "@alice+bob", "seq": 1})
    );
    // Bob comes back: his lobby lists the conversation, one unread.
    let bob = server.login("bob").await;
    let mut lobby = server.watch_lobby(Some(&bob.cookie)).await;
    let first = lobby.event().await;
    assert_eq!(
        first["read"],
        json!([{"room": "@alice+bob", "seq": 0, "last_seq": 1}])
    );
    assert!(
        first["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !r["name"].as_str().unwrap().starts_with('@')),
        "never a lobby line: {first}"
    );
    // He opens it: the history is there, and so is where he left off.
    let mut b = server.join_direct_as(&bob, "alice").await;
    assert_eq!(texts(&b.history), ["are you there?"]);
    assert_eq!(b.read["seq"], 0);
    b.send_json(json!({"message": "yes!", "client_id": "b-1"}))
        .await;
    assert_eq!(next_of(&mut b, "chat_message").await["client_id"], "b-1");
    // Alice's room page hears it live, as a private message.
    let pm = a.expect("private_message").await;
    assert_eq!(
        (pm["user"].clone(), pm["message"].clone(), pm["seq"].clone()),
        (json!("bob"), json!("yes!"), json!(2))
    );
}

#[tokio::test]
async fn nobody_but_the_two_can_join_or_read_a_conversation() {
    let server = TestServer::start().await;
    let (alice, _bob, carol) = (
        server.user("alice").await,
        server.user("bob").await,
        server.user("carol").await,
    );
    let root = server.admin("root").await;
    let mut a = server.join_direct_as(&alice, "bob").await;
    a.say("just between us").await;
    next_of(&mut a, "chat_message").await;
    // Through the room endpoints, by its stored name: refused.
    for url in [
        server.ws_url("@alice+bob"),
        format!("ws://{}/ws/chat/%40alice%2Bbob/", server.addr),
    ] {
        for who in [&carol, &root] {
            let refused = Client::connect(&url, &[("Cookie", who.cookie.as_str())])
                .await
                .err()
                .expect("refused");
            assert_eq!(refused.status, 400, "{url}");
        }
    }
    let history = reqwest::get(server.http("/api/rooms/%40alice%2Bbob/messages"))
        .await
        .unwrap();
    assert_eq!(history.status(), 400);
    // The room page's own question refuses a conversation's name the same
    // way whether it exists or not: it never says whether two people talk.
    let mut answers = Vec::new();
    for room in ["@alice+bob", "@alice+carol"] {
        let asked = reqwest::Client::new()
            .post(server.http("/api/may_enter"))
            .form(&[("room", room)])
            .send()
            .await
            .unwrap();
        answers.push((asked.status().as_u16(), asked.text().await.unwrap()));
    }
    assert_ne!(answers[0].0, 200, "{answers:?}");
    assert_eq!(answers[0], answers[1]);
    let open = reqwest::Client::new()
        .post(server.http("/api/may_enter"))
        .form(&[("room", "hall")])
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), 200, "the question itself works");
    // Carol's own conversations are hers: with Bob it is another room.
    let carols = server.join_direct_as(&carol, "bob").await;
    assert_eq!(texts(&carols.history), Vec::<String>::new());
    // A visitor, oneself, nobody: refused.
    let visitor = Client::connect(&server.direct_ws_url("alice"), &[]).await;
    assert_eq!(visitor.err().unwrap().status, 401);
    let me = Client::connect(
        &server.direct_ws_url("alice"),
        &[("Cookie", alice.cookie.as_str())],
    )
    .await;
    assert_eq!(me.err().unwrap().status, 400);
    let nobody = Client::connect(
        &server.direct_ws_url("nobody"),
        &[("Cookie", alice.cookie.as_str())],
    )
    .await;
    assert_eq!(nobody.err().unwrap().status, 404);
    // The admin's page lists no conversation and none of its messages.
    let (status, page) = server.page("/api/admin", Some(&root.cookie)).await;
    assert_eq!(status, 200);
    assert!(!page.contains("just between us"), "{page}");
    assert!(!page.contains("@alice+bob"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_messages_survive_a_restart() {
    let database = Database::new().await;
    let mut process = ServerProcess::start(&database.url, "").await;
    let addr = process.addr;
    let (alice, bob) = (process.user("alice").await, process.user("bob").await);
    let mut a = process.join_as(&alice, "hall").await;
    a.say("/pm bob before the restart").await;
    a.expect("private_message_delivered").await;
    a.expect("read").await;
    drop(a);
    tokio::task::spawn_blocking(move || process.terminate())
        .await
        .unwrap();

    let process = ServerProcess::start_at(addr, &database.url, "").await;
    let b = process.join_direct_as(&bob, "alice").await;
    assert_eq!(texts(&b.history), ["before the restart"]);
    assert_eq!(b.read["seq"], 0, "still unread");
}

#[tokio::test]
async fn seen_shows_how_far_the_other_person_read_unless_they_keep_it_to_themselves() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let mut a = server.join_direct_as(&alice, "bob").await;
    for text in ["one", "two"] {
        a.say(text).await;
        // Her own marker (and "seen" of herself) may come first.
        next_of(&mut a, "chat_message").await;
    }
    let mut b = server.join_direct_as(&bob, "alice").await;
    assert_eq!(b.seen["user"], "alice", "she read what she wrote");
    b.send_json(json!({"type": "read", "seq": 2})).await;
    assert_eq!(
        seen_from(&mut a, "bob").await,
        json!({"type": "seen", "room": "@alice+bob", "user": "bob", "seq": 2})
    );
    let again = server.join_direct_as(&alice, "bob").await;
    assert_eq!(again.seen["seq"], 2, "on joining too");
    // Bob turns read receipts off: Alice learns nothing more.
    let off = reqwest::Client::new()
        .post(server.http("/api/set_read_receipts"))
        .header("cookie", &bob.cookie)
        .form(&[("on", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 200);
    a.say("three").await;
    next_of(&mut b, "chat_message").await;
    b.send_json(json!({"type": "read", "seq": 3})).await;
    next_of(&mut b, "read").await;
    // Alice hears her own message, her own marker and "seen" of herself,
    // and nothing of Bob's reading.
    while let Ok(Some(Message::Text(text))) = a.next_frame_within(crate::common::SILENCE).await {
        let event: Value = serde_json::from_str(&text).unwrap();
        assert_ne!(event["user"], "bob", "{event}");
    }
    let later = server.join_direct_as(&alice, "bob").await;
    assert_eq!(later.seen, Value::Null);
    // A visitor cannot change anyone's setting.
    let stranger = reqwest::Client::new()
        .post(server.http("/api/set_read_receipts"))
        .form(&[("on", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 401);
}

/// A `/pm` with a client id is acked with its seq in the conversation
/// once stored; sent again after a dropped socket, it is acked again
/// with the same seq, and the other person gets it once.
#[tokio::test]
async fn a_private_message_sent_again_with_its_id_is_stored_once() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let mut b = server.join_as(&bob, "hall").await;
    let mut a = server.join_as(&alice, "hall").await;
    let pm = json!({"message": "/pm bob only once", "client_id": "pm-1"});
    a.send_json(pm.clone()).await;
    assert_eq!(
        a.expect("private_message_delivered").await,
        json!({"type": "private_message_delivered", "target": "bob",
               "message": "only once", "client_id": "pm-1"})
    );
    let acked = json!({"type": "ack", "client_id": "pm-1", "seq": 1});
    assert_eq!(next_of(&mut a, "ack").await, acked);
    assert_eq!(next_of(&mut b, "private_message").await["seq"], 1);
    // Alice's socket drops before she saw the ack: her page sends again.
    drop(a);
    let mut again = server.join_as(&alice, "hall").await;
    again.send_json(pm).await;
    assert_eq!(next_of(&mut again, "ack").await, acked);
    // Bob hears nothing new; the conversation holds it once.
    b.send_json(json!({"message": "/pm alice got it", "client_id": "b-1"}))
        .await;
    assert_eq!(
        next_of(&mut b, "ack").await["seq"],
        2,
        "stored once: bob's is the second"
    );
    let conversation = server.join_direct_as(&bob, "alice").await;
    assert_eq!(texts(&conversation.history), ["only once", "got it"]);
}

/// The next event of `kind`, passing over everything else.
async fn next_of(client: &mut Client, kind: &str) -> Value {
    loop {
        let event = client.event().await;
        if event["type"] == kind {
            return event;
        }
    }
}

/// The next `seen` of `user`, passing over everything else.
async fn seen_from(client: &mut Client, user: &str) -> Value {
    loop {
        let event = client.event().await;
        if event["type"] == "seen" && event["user"] == user {
            return event;
        }
    }
}
