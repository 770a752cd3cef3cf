//! The fastest peer issue 17 compares us with, measured by `make bench` in
//! the same sitting and with the same load tool: socketioxide (Rust,
//! in-memory adapter) behind axum, written the way its README shows.
//! Clients connect to `/socket.io/` (Engine.IO 4 over WebSocket), name their
//! room and user in the connect packet's auth (`40{"room":…,"user":…}`),
//! get a `user_list` event once they are in the room, and post
//! `chat_message` events `{"message": …}`, which go to everyone in the room,
//! sender included, with the same fields as ours. No accounts, no storage:
//! like `bench/reference`, it is a floor, not a product. It must never
//! import the chat server or the reference.
//!
//! `socketio-peer [ADDR]` (default 127.0.0.1:3200) serves until killed.

use axum::{Router, routing::get, serve::ListenerExt};
use serde::{Deserialize, Serialize};
use socketioxide::{
    SocketIo,
    extract::{Data, SocketRef},
};
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

/// Packets a socket may have waiting before `emit` refuses (socketioxide's
/// default is 128): the reference's room buffer, so both drop at one depth.
const SOCKET_BUFFER: usize = 1024;

/// Each room's message counter, for the `seq` field ours and the reference send.
#[derive(Default)]
struct Rooms(Mutex<HashMap<String, Arc<AtomicU64>>>);

impl Rooms {
    fn counter(&self, name: &str) -> Arc<AtomicU64> {
        let mut rooms = self.0.lock().unwrap_or_else(|e| e.into_inner());
        rooms.entry(name.to_owned()).or_default().clone()
    }
}

/// What a client says when it connects (the Socket.IO auth payload).
#[derive(Deserialize)]
struct Hello {
    room: String,
    user: String,
}

#[derive(Deserialize)]
struct Post {
    message: String,
}

#[derive(Serialize)]
struct UserList<'a> {
    users: [&'a str; 1],
}

#[derive(Serialize)]
struct ChatMessage<'a> {
    room: &'a str,
    seq: u64,
    id: String,
    user: &'a str,
    message: &'a str,
    ts: String,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3200".into());
    let (layer, io) = SocketIo::builder()
        .max_buffer_size(SOCKET_BUFFER)
        .build_layer();
    let rooms = Arc::new(Rooms::default());
    io.ns("/", move |socket: SocketRef, Data(hello): Data<Hello>| {
        join(socket, hello, &rooms);
        async {}
    });
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .layer(layer);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "socketio-peer: listening on http://{}",
        listener.local_addr()?
    );
    // No Nagle delay, as ours and the reference.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}

/// Puts the socket in its room, tells it so, and relays its posts to the room.
fn join(socket: SocketRef, hello: Hello, rooms: &Rooms) {
    let room: Arc<str> = hello.room.into();
    let user: Arc<str> = hello.user.into();
    let seq = rooms.counter(&room);
    socket.join(room.to_string());
    let _ = socket.emit("user_list", &UserList { users: [&user] });
    socket.on(
        "chat_message",
        move |socket: SocketRef, Data(post): Data<Post>| {
            let (room, user, seq) = (room.clone(), user.clone(), seq.clone());
            async move {
                let seq = seq.fetch_add(1, Ordering::Relaxed) + 1;
                let event = ChatMessage {
                    room: &room,
                    seq,
                    id: format!("{seq:016x}"),
                    user: &user,
                    message: &post.message,
                    ts: now(),
                };
                // A full socket buffer drops the event for that socket, as
                // socketioxide does; the load tool counts it as lost.
                let _ = socket
                    .within(room.to_string())
                    .emit("chat_message", &event)
                    .await;
            }
        },
    );
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
