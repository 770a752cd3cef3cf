//! The WebSocket client a test speaks to a room with, as a page or a bot
//! does, and the ways of joining a room.

use super::{ARRIVES, Endpoint, SILENCE, User};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use std::time::Duration;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest, http},
};

impl Endpoint {
    /// Joins a room as `user` and reads the history event sent on joining.
    pub async fn join_as(&self, user: &User, room: &str) -> Client {
        self.join_url_as(user, &self.ws_url(room)).await
    }

    /// Opens `user`'s direct conversation with `peer` and reads its greeting.
    pub async fn join_direct_as(&self, user: &User, peer: &str) -> Client {
        self.join_url_as(user, &self.direct_ws_url(peer)).await
    }

    /// The socket URL of the direct conversation with `peer`.
    pub fn direct_ws_url(&self, peer: &str) -> String {
        format!(
            "ws://{}/ws/dm/{}/",
            self.addr,
            app::names::percent_encode(peer)
        )
    }

    async fn join_url_as(&self, user: &User, url: &str) -> Client {
        let mut client = Client::connect(url, &[("Cookie", user.cookie.as_str())])
            .await
            .expect("connect");
        client.history = client.expect("history").await;
        loop {
            let event = client.event().await;
            match event["type"].as_str() {
                Some("read") => client.read = event,
                Some("seen") => client.seen = event,
                Some("user_list") => {
                    client.users = event;
                    return client;
                }
                _ => panic!("unexpected {event} while joining"),
            }
        }
    }

    /// Rejoins as `user` after having shown the room up to `after_seq`:
    /// reads the catch-up history (possibly several pages) and the user list.
    /// Returns the client and the seqs caught up on.
    pub async fn rejoin_as(&self, user: &User, room: &str, after_seq: u64) -> (Client, Vec<u64>) {
        let url = format!("{}?after_seq={after_seq}", self.ws_url(room));
        let mut client = Client::connect(&url, &[("Cookie", user.cookie.as_str())])
            .await
            .expect("connect");
        let mut seqs = Vec::new();
        loop {
            let event = client.event().await;
            match event["type"].as_str() {
                Some("history") => seqs.extend(Client::seqs(&event)),
                Some("read") => client.read = event,
                Some("user_list") => {
                    client.users = event;
                    return (client, seqs);
                }
                _ => panic!("unexpected {event} while catching up"),
            }
        }
    }

    /// Joins a room anonymously and reads the history event sent on joining.
    pub async fn join(&self, room: &str) -> Client {
        let mut client = Client::connect(&self.ws_url(room), &[])
            .await
            .expect("connect");
        client.history = client.expect("history").await;
        client.users = client.expect("user_list").await;
        client
    }

    /// The socket URL for a room, percent-encoded the way a browser sends it.
    pub fn ws_url(&self, room: &str) -> String {
        format!(
            "ws://{}/ws/chat/{}/",
            self.addr,
            app::names::percent_encode(room)
        )
    }
}

/// Posts `n` messages as `user` in `room`, each once the previous one has
/// come back stored (reading everything else meanwhile, as a client must).
pub async fn post_many(server: &Endpoint, user: &User, room: &str, n: usize) {
    let mut client = server.join_as(user, room).await;
    for i in 0..n {
        let text = format!("{} #{i}", user.name);
        client.say(&text).await;
        while client.expect("chat_message").await["message"] != text.as_str() {}
    }
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
    /// The `history` event received on joining.
    pub history: Value,
    /// The `user_list` event received on joining.
    pub users: Value,
    /// The person's read marker sent on joining (`Null`: none).
    pub read: Value,
    /// In a direct conversation, how far the other person has read, as
    /// sent on joining (`Null`: not shared, or nothing read).
    pub seen: Value,
}

/// How an upgrade was refused: the HTTP status and the JSON body.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: Value,
}

impl Client {
    pub async fn connect(url: &str, headers: &[(&str, &str)]) -> Result<Self, Refused> {
        let mut request = url.into_client_request().unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_str(value).unwrap(),
            );
        }
        match connect_async(request).await {
            Ok((ws, _)) => Ok(Self {
                ws,
                history: Value::Null,
                users: Value::Null,
                read: Value::Null,
                seen: Value::Null,
            }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let status = response.status().as_u16();
                let body = response
                    .body()
                    .as_deref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or(Value::Null);
                Err(Refused { status, body })
            }
            Err(e) => panic!("connect to {url}: {e}"),
        }
    }

    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.ws.send(Message::text(text.into())).await.unwrap();
    }

    pub async fn send_json(&mut self, value: Value) {
        self.send_text(value.to_string()).await;
    }

    pub async fn say(&mut self, message: &str) {
        self.send_json(serde_json::json!({ "message": message }))
            .await;
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.unwrap();
    }

    /// The next frame, whatever it is (panics after [`ARRIVES`]).
    pub async fn next_frame(&mut self) -> Option<Message> {
        self.next_frame_within(ARRIVES)
            .await
            .expect("a frame should arrive")
    }

    /// The next frame, or `Err` if none comes within `wait`.
    pub async fn next_frame_within(
        &mut self,
        wait: Duration,
    ) -> Result<Option<Message>, tokio::time::error::Elapsed> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next()).await?;
            match frame {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(m)) => return Ok(Some(m)),
                Some(Err(_)) | None => return Ok(None),
            }
        }
    }

    /// The next event as JSON (panics if none comes or the socket closes).
    pub async fn event(&mut self) -> Value {
        match self.next_frame().await {
            Some(Message::Text(text)) => serde_json::from_str(&text).expect("events are JSON"),
            other => panic!("expected an event, got {other:?}"),
        }
    }

    /// The seqs of the messages in a history event.
    pub fn seqs(history: &Value) -> Vec<u64> {
        history["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["seq"].as_u64().unwrap())
            .collect()
    }

    /// The next event of `kind`, passing over presence and typing events
    /// (which tests about other things do not care about); any other event
    /// in between fails the test.
    pub async fn expect(&mut self, kind: &str) -> Value {
        loop {
            let event = self.event().await;
            if event["type"] == kind {
                return event;
            }
            let background = ["user_join", "user_leave", "user_count", "typing"];
            assert!(
                background.contains(&event["type"].as_str().unwrap_or("")),
                "expected {kind}, got {event}"
            );
        }
    }

    /// Every event until none comes for `quiet`.
    pub async fn events_until_quiet(&mut self, quiet: Duration) -> Vec<Value> {
        let mut events = Vec::new();
        while let Ok(Some(Message::Text(text))) = self.next_frame_within(quiet).await {
            events.push(serde_json::from_str(&text).expect("events are JSON"));
        }
        events
    }

    /// Asserts that nothing arrives for a while.
    pub async fn assert_silent(&mut self) {
        if let Ok(frame) = tokio::time::timeout(SILENCE, self.ws.next()).await {
            panic!("expected silence, got {frame:?}");
        }
    }
}
