//! Presence, private messages and typing over real sockets.

use crate::common::TestServer;
use serde_json::json;

#[tokio::test]
async fn user_list_on_joining_then_join_and_leave_as_people_come_and_go() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);

    let mut a = server.join_as(&alice, "hall").await;
    assert_eq!(
        a.users,
        json!({"type": "user_list", "users": ["alice"], "online": 1})
    );

    let b = server.join_as(&bob, "hall").await;
    assert_eq!(b.users["users"], json!(["alice", "bob"]));
    assert_eq!(
        a.event().await,
        json!({"type": "user_join", "user": "bob", "online": 2})
    );

    // Anonymous viewers are not listed and not announced.
    let guest = server.join("hall").await;
    assert_eq!(guest.users["users"], json!(["alice", "bob"]));
    a.assert_silent().await;

    drop(b);
    assert_eq!(
        a.event().await,
        json!({"type": "user_leave", "user": "bob", "online": 1})
    );
    drop(guest);
    a.assert_silent().await;
}

#[tokio::test]
async fn two_tabs_are_one_person() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let mut watcher = server.join_as(&alice, "tabs").await;

    let tab1 = server.join_as(&bob, "tabs").await;
    assert_eq!(
        watcher.event().await,
        json!({"type": "user_join", "user": "bob", "online": 2})
    );
    let tab2 = server.join_as(&bob, "tabs").await;
    assert_eq!(tab2.users["users"], json!(["alice", "bob"]));
    // A second tab is not a second join …
    watcher.assert_silent().await;
    // … and closing one of two tabs is not a leave.
    drop(tab1);
    watcher.assert_silent().await;
    drop(tab2);
    assert_eq!(
        watcher.event().await,
        json!({"type": "user_leave", "user": "bob", "online": 1})
    );
}

#[tokio::test]
async fn a_private_message_reaches_every_connection_of_its_target_and_nobody_else() {
    let server = TestServer::start().await;
    let (alice, bob, carol) = (
        server.user("alice").await,
        server.user("bob").await,
        server.user("carol").await,
    );
    let mut a = server.join_as(&alice, "one").await;
    let mut c = server.join_as(&carol, "one").await;
    // Bob is in another room, in two tabs.
    let mut b1 = server.join_as(&bob, "two").await;
    let mut b2 = server.join_as(&bob, "three").await;

    a.say("/pm bob psst, over here").await;
    let receipt = a.expect("private_message_delivered").await;
    assert_eq!(
        receipt,
        json!({"type": "private_message_delivered", "target": "bob", "message": "psst, over here"})
    );
    for b in [&mut b1, &mut b2] {
        let pm = b.expect("private_message").await;
        assert_eq!(
            pm,
            json!({"type": "private_message", "user": "alice", "message": "psst, over here",
                   "room": "@alice+bob", "seq": 1})
        );
    }
    c.assert_silent().await;
    // Not stored as a message of the room it was typed in.
    let page: serde_json::Value = reqwest::get(server.http("/api/rooms/one/messages"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["messages"], json!([]));
}

#[tokio::test]
async fn private_message_errors_are_specific() {
    let server = TestServer::start().await;
    let (alice, _bob) = (server.user("alice").await, server.user("bob").await);
    let mut a = server.join_as(&alice, "errs").await;
    let mut watcher = server.join("errs").await;

    for (text, code) in [
        ("/pm nobody hello", "unknown_user"),
        ("/pm b@d hello", "unknown_user"),
        ("/pm alice hello", "invalid_command"),
        ("/pm bob", "empty_message"),
        ("/pm bob    ", "empty_message"),
        ("/pm", "invalid_command"),
    ] {
        a.say(text).await;
        let e = a.expect("error").await;
        assert_eq!(e["code"], code, "{text}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Anonymous senders are refused.
    watcher.say("/pm alice hi").await;
    assert_eq!(watcher.expect("error").await["code"], "not_authenticated");
    a.assert_silent().await;
}

#[tokio::test]
async fn typing_reaches_the_others_in_the_room_and_anonymous_typing_is_ignored() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let mut a = server.join_as(&alice, "keys").await;
    let mut b = server.join_as(&bob, "keys").await;
    let mut elsewhere = server.join_as(&bob, "other").await;
    assert_eq!(a.event().await["type"], "user_join");

    a.send_json(json!({"type": "typing"})).await;
    assert_eq!(b.event().await, json!({"type": "typing", "user": "alice"}));
    // A burst within a second is one signal.
    a.send_json(json!({"type": "typing"})).await;
    a.send_json(json!({"type": "typing"})).await;
    b.assert_silent().await;
    elsewhere.assert_silent().await;

    let mut guest = server.join("keys").await;
    guest.send_json(json!({"type": "typing"})).await;
    b.assert_silent().await;
    guest.assert_silent().await;
}

#[tokio::test]
async fn typing_right_after_sending_a_message_is_not_throttled() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let mut a = server.join_as(&alice, "quick").await;
    let mut b = server.join_as(&bob, "quick").await;
    a.send_json(json!({"type": "typing"})).await;
    assert_eq!(b.expect("typing").await["user"], "alice");
    a.say("done").await;
    assert_eq!(b.expect("chat_message").await["message"], "done");
    // Within the second, but after a message: a new burst of typing shows.
    a.send_json(json!({"type": "typing"})).await;
    assert_eq!(b.expect("typing").await["user"], "alice");
}
