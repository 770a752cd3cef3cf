//! The lobby's live room list over server-sent events: the whole list,
//! then each room as people come and go and post, within a second, with
//! bursts coalesced; admin-only rooms hidden from everyone else.

use crate::common::{ARRIVES, Database, ServerProcess, TestServer, act};
use serde_json::json;
use std::time::Duration;

/// What the issue promises: a change shows in the lobby within 1 s.
const WITHIN: Duration = Duration::from_secs(1);

#[tokio::test]
async fn the_feed_follows_people_readers_and_posts_within_a_second() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let mut lobby = server.watch_lobby(None).await;
    assert_eq!(lobby.event().await, json!({"type": "rooms", "rooms": []}));

    let mut a = server.join_as(&alice, "hall").await;
    lobby
        .line_within(WITHIN, "hall", |l| l["online"] == 1 && l["readers"] == 0)
        .await;
    let guest = server.join("hall").await;
    lobby
        .line_within(WITHIN, "hall", |l| l["online"] == 1 && l["readers"] == 1)
        .await;
    a.say("hello lobby").await;
    let line = lobby
        .line_within(WITHIN, "hall", |l| l["last_message_at"].is_string())
        .await;
    assert_eq!(line["online"], 1);
    drop(guest);
    lobby
        .line_within(WITHIN, "hall", |l| l["readers"] == 0)
        .await;
    drop(a);
    lobby
        .line_within(WITHIN, "hall", |l| l["online"] == 0)
        .await;

    // A newcomer's feed starts with the list as it is now.
    let mut late = server.watch_lobby(None).await;
    let first = late.event().await;
    assert_eq!(first["type"], "rooms");
    assert_eq!(first["rooms"][0]["name"], "hall");
    assert_eq!(first["rooms"][0]["online"], 0);
}

#[tokio::test]
async fn a_burst_of_posts_updates_the_lobby_a_few_times_not_once_per_message() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let mut a = server.join_as(&alice, "busy").await;
    let mut lobby = server.watch_lobby(None).await;
    lobby.event().await;
    let burst = 40;
    let started = tokio::time::Instant::now();
    for i in 0..burst {
        a.say(&format!("m{i}")).await;
        while a.expect("chat_message").await["message"] != format!("m{i}").as_str() {}
    }
    let took = started.elapsed();
    let mut updates = 0;
    while lobby
        .event_within(Duration::from_millis(600))
        .await
        .is_some()
    {
        updates += 1;
    }
    // One update per gathering interval (250 ms) at most, plus the last.
    let most = (took.as_millis() / 250) as usize + 2;
    assert!(updates >= 1, "the lobby heard of the posts");
    assert!(
        updates <= most && updates < burst,
        "{updates} updates for {burst} posts in {took:?}"
    );
}

#[tokio::test]
async fn admin_only_rooms_stay_in_the_admins_lobby() {
    let server = TestServer::start().await;
    let admin = server.admin("root").await;
    let mut everyone = server.watch_lobby(None).await;
    let mut admins = server.watch_lobby(Some(&admin.cookie)).await;
    everyone.event().await;
    admins.event().await;

    let mut r = server.join_as(&admin, "staff").await;
    r.say("for us").await;
    everyone
        .line_within(WITHIN, "staff", |l| l["online"] == 1)
        .await;
    let (status, _) = act(
        &server,
        &admin,
        json!({"action": "set_room_admin_only", "room": "staff", "admin_only": true}),
    )
    .await;
    assert_eq!(status, 204);
    // Off everyone's list: nobody in it, nothing said, as far as they know.
    everyone
        .line_within(WITHIN, "staff", |l| {
            l["online"] == 0 && l["readers"] == 0 && l["last_message_at"].is_null()
        })
        .await;
    admins
        .line_within(WITHIN, "staff", |l| l["last_message_at"].is_string())
        .await;
    // And not in the list a newcomer is sent first.
    let mut late = server.watch_lobby(None).await;
    assert_eq!(late.event().await, json!({"type": "rooms", "rooms": []}));
}

#[tokio::test]
async fn a_feed_holds_a_connection_place() {
    let server = TestServer::start_with(|c| c.limits.max_connections = 1).await;
    let _lobby = server.watch_lobby(None).await;
    let refused = reqwest::get(server.http("/api/rooms/live")).await.unwrap();
    assert_eq!(refused.status(), 503);
}

/// An open feed does not hold a stopping server: it ends at once, so
/// shutdown does not wait out its grace period for it.
#[tokio::test]
async fn an_open_feed_ends_when_the_server_stops() {
    let database = Database::new().await;
    let mut process = ServerProcess::start(&database.url, "").await;
    let mut lobby = process.watch_lobby(None).await;
    assert_eq!(lobby.event().await["type"], "rooms");
    let took = tokio::task::spawn_blocking(move || process.terminate())
        .await
        .unwrap();
    assert!(took < Duration::from_secs(3), "stopped in {took:?}");
    assert!(lobby.ended_within(ARRIVES).await, "the feed ended");
}
