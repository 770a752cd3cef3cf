//! The pages as a browser first receives them: server-rendered HTML.

mod common;

use common::TestServer;
use reqwest::{StatusCode, redirect::Policy};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn root_redirects_to_the_lobby() {
    let server = TestServer::start().await;
    let response = client().get(server.http("/")).send().await.unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(response.headers()["location"], "/chat/");
}

#[tokio::test]
async fn the_lobby_asks_for_a_room() {
    let server = TestServer::start().await;
    let response = client().get(server.http("/chat/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("What chat room would you like to enter?"));
    assert!(html.contains(r#"id="room-name""#));
}

#[tokio::test]
async fn a_room_page_shows_its_name_and_starts_connecting() {
    let server = TestServer::start().await;
    let html = client()
        .get(server.http("/chat/%E8%81%8A%E5%A4%A9%E5%AE%A4/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("聊天室"), "{html}");
    assert!(html.contains(r#"data-state="connecting""#));
    assert!(html.contains(r#"id="message-input""#));
}

#[tokio::test]
async fn an_invalid_room_page_explains_and_links_back() {
    let server = TestServer::start().await;
    let html = client()
        .get(server.http("/chat/two%20words/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("That is not a room name"));
    assert!(html.contains("cannot contain spaces"));
}

#[tokio::test]
async fn unknown_pages_are_404() {
    let server = TestServer::start().await;
    let response = client()
        .get(server.http("/nope/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
