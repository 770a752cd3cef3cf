//! The pages as a browser first receives them: server-rendered HTML.

use crate::common::TestServer;

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
