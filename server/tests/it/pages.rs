//! The pages as a browser first receives them: server-rendered HTML.

use crate::common::{TestServer, act};
use serde_json::json;

#[tokio::test]
async fn root_and_bare_chat_redirect_to_the_lobby() {
    let server = TestServer::start().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in ["/", "/chat"] {
        let response = client.get(server.http(path)).send().await.unwrap();
        assert!(
            response.status().is_redirection(),
            "{path}: {}",
            response.status()
        );
        assert_eq!(response.headers()["location"], "/chat/", "{path}");
    }
}

#[tokio::test]
async fn the_lobby_asks_for_a_room() {
    let server = TestServer::start().await;
    let (status, html) = server.page("/chat/", None).await;
    assert_eq!(status, 200);
    assert!(html.contains("What chat room would you like to enter?"));
    assert!(html.contains(r#"id="room-name""#));
}

#[tokio::test]
async fn a_room_page_shows_its_name_and_starts_connecting() {
    let server = TestServer::start().await;
    let (status, html) = server
        .page("/chat/%E8%81%8A%E5%A4%A9%E5%AE%A4/", None)
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("聊天室"), "{html}");
    assert!(html.contains(r#"data-state="connecting""#));
    assert!(html.contains(r#"id="message-input""#));
}

#[tokio::test]
async fn an_invalid_room_page_explains_and_links_back() {
    let server = TestServer::start().await;
    let (_, html) = server.page("/chat/two%20words/", None).await;
    assert!(html.contains("That is not a room name"));
    assert!(html.contains("cannot contain spaces"));
}

#[tokio::test]
async fn unknown_pages_are_404() {
    let server = TestServer::start().await;
    let (status, _) = server.page("/nope/nothing", None).await;
    assert_eq!(status, 404);
}

/// A room's page comes with its newest messages in the HTML (readable
/// before the app runs, or without JavaScript), oldest first, and an
/// edit or a deletion shows as the log would show it.
#[tokio::test]
async fn a_room_page_comes_with_its_newest_messages() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let mut hall = server.join_as(&alice, "hall").await;
    for text in ["first <b>words</b>", "second words", "third words"] {
        hall.say(text).await;
        hall.expect("chat_message").await;
    }
    let (status, html) = server.page("/chat/hall/", None).await;
    assert_eq!(status, 200);
    let at = |text: &str| {
        html.find(text)
            .unwrap_or_else(|| panic!("{text} in {html}"))
    };
    assert!(at("first &lt;b&gt;words&lt;/b&gt;") < at("second words"));
    assert!(at("second words") < at("third words"));
    assert!(!html.contains("<b>words</b>"), "typed markup stays text");
    assert!(!html.contains("No messages yet"));
}

/// What a reader may not read never reaches their page's HTML: an
/// admin-only room's messages go to its admins' pages only, and a room
/// that becomes admin-only stops showing them at once (no page is served
/// from a copy made for someone else).
#[tokio::test]
async fn a_hidden_rooms_messages_never_reach_a_page_its_reader_may_not_read() {
    let server = TestServer::start().await;
    let root = server.admin("root").await;
    let alice = server.user("alice").await;
    let mut board = server.join_as(&root, "board").await;
    board.say("the secret plan").await;
    board.expect("chat_message").await;
    let (_, html) = server.page("/chat/board/", None).await;
    assert!(html.contains("the secret plan"), "public so far");
    let hide = json!({"action": "set_room_admin_only", "room": "board", "admin_only": true});
    assert_eq!(act(&server, &root, hide).await.0, 204);
    for cookie in [None, Some(alice.cookie.as_str())] {
        let (status, html) = server.page("/chat/board/", cookie).await;
        assert_eq!(status, 403);
        assert!(!html.contains("the secret plan"), "{html}");
    }
    // Nor through the page's own server function, asked directly.
    let asked = crate::common::http_client()
        .post(server.http("/api/room_preview"))
        .header("cookie", &alice.cookie)
        .form(&[("room", "board")])
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 200);
    assert_eq!(asked.text().await.unwrap(), "null");
    let (status, html) = server.page("/chat/board/", Some(&root.cookie)).await;
    assert_eq!(status, 200);
    assert!(html.contains("the secret plan"));
}

/// The messages a page comes with count against the reader's address's
/// history budget: past it the page still opens, without them (the socket
/// brings them, counted there).
#[tokio::test]
async fn a_room_pages_messages_count_as_history_reads() {
    let server = TestServer::start_with(|c| {
        c.limits.history_rate = 0.01;
        c.limits.history_burst = 2;
    })
    .await;
    let alice = server.user("alice").await;
    let mut hall = server.join_as(&alice, "hall").await;
    hall.say("counted words").await;
    hall.expect("chat_message").await;
    for _ in 0..2 {
        assert!(
            server
                .page("/chat/hall/", None)
                .await
                .1
                .contains("counted words")
        );
    }
    let (status, html) = server.page("/chat/hall/", None).await;
    assert_eq!(status, 200);
    assert!(!html.contains("counted words"));
    assert!(html.contains(r#"id="message-input""#));
}
