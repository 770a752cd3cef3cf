//! Hidden rooms stay hidden (issue 35): an admin-only room created where
//! people sit ends their sockets; storage refuses a non-admin's post and
//! history in one at the moment of use; public lobby feeds never hear a
//! hidden room's name; a lookalike refusal does not spell it out; and an
//! admin's lobby feed ends when the rights or the session do.

use crate::common::{Client, LobbyWatch, TestServer, act};
use serde_json::{Value, json};
use std::time::Duration;

/// Every lobby event the watcher gets within `wait`.
async fn events_within(watch: &mut LobbyWatch, wait: Duration) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut events = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match watch.event_within(left).await {
            Some(event) => events.push(event),
            None => return events,
        }
    }
}

#[tokio::test]
async fn creating_an_admin_only_room_where_people_sit_ends_their_sockets() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let root = server.admin("root").await;
    // Nobody has posted in "plans": looking never stores it.
    let mut a = server.join_as(&alice, "plans").await;
    let mut visitor = server.join("plans").await;
    let mut r = server.join_as(&root, "plans").await;
    let made = json!({"action": "create_room", "room": "plans", "admin_only": true});
    assert_eq!(act(&server, &root, made).await.0, 204);
    for socket in [&mut a, &mut visitor] {
        let ended = socket.expect("session_ended").await;
        assert!(ended["reason"].as_str().unwrap().contains("admins only"));
    }
    r.say("for admins").await;
    assert_eq!(r.expect("chat_message").await["message"], "for admins");
    let history = reqwest::Client::new()
        .get(server.http("/api/rooms/plans/messages"))
        .header("cookie", &alice.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(history.status(), 403);
}

#[tokio::test]
async fn storage_refuses_a_non_admins_post_and_history_in_a_hidden_room() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let mut a = server.join_as(&alice, "board").await;
    a.say("before").await;
    a.expect("chat_message").await;
    // The room is hidden behind the socket's back (another tool, an older
    // process): no recheck reaches it, and storage still decides.
    let storage = server::storage::Storage::open(&server.database_url)
        .await
        .unwrap();
    server::with_pool!(storage, pool => sqlx::query(
        "UPDATE rooms SET admin_only = TRUE WHERE name = 'board'")
        .execute(pool)
        .await
        .unwrap()
        .rows_affected());
    a.say("after").await;
    let refused = a.expect("error").await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    a.send_json(json!({"type": "history", "before_seq": 100}))
        .await;
    let page = a.expect("history").await;
    assert_eq!(page["messages"], json!([]), "{page}");
    let root = server.admin("root").await;
    let mut r = server.join_as(&root, "board").await;
    let texts: Vec<&str> = r.history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["before"], "the refused post was not stored");
    r.assert_silent().await;
}

#[tokio::test]
async fn public_lobby_feeds_never_hear_a_hidden_rooms_name() {
    let server = TestServer::start().await;
    let root = server.admin("root").await;
    let alice = server.user("alice").await;
    let mut board = server.join_as(&alice, "board").await;
    board.say("listed").await;
    board.expect("chat_message").await;
    let made = json!({"action": "create_room", "room": "vault", "admin_only": true});
    assert_eq!(act(&server, &root, made).await.0, 204);
    let mut public = server.watch_lobby(Some(&alice.cookie)).await;
    let mut anonymous = server.watch_lobby(None).await;
    let mut admins = server.watch_lobby(Some(&root.cookie)).await;
    for watch in [&mut public, &mut anonymous, &mut admins] {
        assert_eq!(watch.event().await["type"], "rooms");
    }
    // Lines about the post above may still be on their way.
    for watch in [&mut public, &mut anonymous] {
        events_within(watch, Duration::from_millis(600)).await;
    }
    // An admin enters, posts in and leaves the hidden room.
    let mut inside = server.join_as(&root, "vault").await;
    inside.say("secret plans").await;
    inside.expect("chat_message").await;
    drop(inside);
    admins
        .line_within(Duration::from_secs(5), "vault", |l| l["online"] == 0)
        .await;
    // A listed room made hidden: one line takes it off the public list.
    let hide = json!({"action": "set_room_admin_only", "room": "board", "admin_only": true});
    assert_eq!(act(&server, &root, hide).await.0, 204);
    admins
        .line_within(Duration::from_secs(5), "board", |_| true)
        .await;
    for watch in [&mut public, &mut anonymous] {
        let heard = events_within(watch, Duration::from_millis(1500)).await;
        let text = serde_json::to_string(&heard).unwrap();
        assert!(!text.contains("vault"), "a public feed heard: {text}");
        let board: Vec<&Value> = heard.iter().filter(|e| e["name"] == "board").collect();
        assert_eq!(board.len(), 1, "one removal line: {text}");
        assert_eq!(board[0]["online"], 0);
        assert_eq!(board[0]["last_message_at"], Value::Null);
    }
}

#[tokio::test]
async fn a_lookalike_of_a_hidden_room_does_not_spell_it_out() {
    let server = TestServer::start().await;
    let root = server.admin("root").await;
    let alice = server.user("alice").await;
    let made = json!({"action": "create_room", "room": "vault", "admin_only": true});
    assert_eq!(act(&server, &root, made).await.0, 204);
    let twin = "v\u{430}ult"; // Cyrillic а
    let refused = Client::connect(&server.ws_url(twin), &[("Cookie", alice.cookie.as_str())])
        .await
        .err()
        .expect("refused");
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    let text = refused.body.to_string();
    assert!(!text.contains("vault"), "{text}");
    let history = reqwest::Client::new()
        .get(server.http(&format!("/api/rooms/{twin}/messages")))
        .send()
        .await
        .unwrap();
    assert_eq!(history.status(), 403);
    assert!(!history.text().await.unwrap().contains("vault"));
    // An admin is told which room it is.
    let told = Client::connect(&server.ws_url(twin), &[("Cookie", root.cookie.as_str())])
        .await
        .err()
        .expect("refused");
    assert_eq!(told.status, 409);
    assert!(told.body.to_string().contains("vault"));
}

#[tokio::test]
async fn an_admins_lobby_feed_ends_when_demoted_or_logged_out() {
    let server = TestServer::start().await;
    let root = server.admin("root").await;
    let deputy = server.admin("deputy").await;
    let mut feed = server.watch_lobby(Some(&deputy.cookie)).await;
    assert_eq!(feed.event().await["type"], "rooms");
    let demote = json!({"action": "set_admin", "username": "deputy", "is_admin": false});
    assert_eq!(act(&server, &root, demote).await.0, 204);
    assert!(feed.ended_within(Duration::from_secs(3)).await, "demoted");

    let alice = server.user("alice").await;
    let mut a = server.join_as(&alice, "hall").await;
    let mut feed = server.watch_lobby(Some(&root.cookie)).await;
    assert_eq!(feed.event().await["type"], "rooms");
    events_within(&mut feed, Duration::from_millis(600)).await;
    // A private message to the admin reaches their lobby (its unread
    // count), and ends nothing.
    a.say("/pm root hello").await;
    let pm = feed.event().await;
    assert_eq!(
        (pm["type"].clone(), pm["user"].clone()),
        (json!("private_message"), json!("alice"))
    );
    assert!(!feed.ended_within(Duration::from_millis(300)).await);
    assert_eq!(server.logout(&root).await, 204);
    assert!(
        feed.ended_within(Duration::from_secs(3)).await,
        "logged out"
    );
}

#[tokio::test]
async fn a_crowd_of_visitors_to_made_up_rooms_tells_the_lobby_nothing() {
    let server = TestServer::start().await;
    let mut watch = server.watch_lobby(None).await;
    assert_eq!(watch.event().await["type"], "rooms");
    for n in 0..200 {
        let visitor = server.join(&format!("nowhere{n}")).await;
        drop(visitor);
    }
    let heard = events_within(&mut watch, Duration::from_secs(1)).await;
    assert!(
        heard.is_empty(),
        "{} lines, first {:?}",
        heard.len(),
        heard.first()
    );
}
