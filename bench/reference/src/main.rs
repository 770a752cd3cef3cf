//! The bare reference `make bench` measures our server against, in the same
//! sitting and with the same load tool: axum + tokio, one `broadcast`
//! channel per room, no accounts, no storage, no limits. It speaks just
//! enough of our wire protocol for `loadtest`: `POST /api/register` hands
//! out a cookie (nothing is stored), `/ws/chat/{room}/` sends `user_list`
//! on joining and relays `{"message": …}` frames to the room as
//! `chat_message` events of the same shape as ours, encoded once per
//! message. It must never import the chat server: it is the floor we
//! compare with, so it stays what a careful person would write in an hour.
//!
//! For the pages section it also answers `/pages/{name}` with the bytes of
//! file `name` in the directory `PAGES_DIR` names, read once at start-up
//! and served from memory as HTML: the floor for serving a page.
//!
//! `reference [ADDR]` (default 127.0.0.1:3100) serves until killed.

use axum::{
    Router,
    body::Bytes,
    extract::{
        Path, State,
        ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade},
    },
    http::{HeaderMap, StatusCode, header},
    response::IntoResponse,
    routing::{get, post},
    serve::ListenerExt,
};
use serde::{Deserialize, Serialize};
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};
use tokio::sync::broadcast;

/// Messages a room keeps for a slow member before it lags (closed 4008).
const ROOM_BUFFER: usize = 1024;

struct Room {
    events: broadcast::Sender<Utf8Bytes>,
    seq: AtomicU64,
}

#[derive(Default)]
struct Rooms(Mutex<HashMap<String, Arc<Room>>>);

impl Rooms {
    fn get(&self, name: &str) -> Arc<Room> {
        let mut rooms = self.0.lock().unwrap_or_else(|e| e.into_inner());
        rooms
            .entry(name.to_owned())
            .or_insert_with(|| {
                Arc::new(Room {
                    events: broadcast::channel(ROOM_BUFFER).0,
                    seq: AtomicU64::new(0),
                })
            })
            .clone()
    }
}

#[derive(Deserialize)]
struct Post {
    message: String,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event<'a> {
    UserList {
        users: [&'a str; 1],
    },
    ChatMessage {
        room: &'a str,
        seq: u64,
        id: String,
        user: &'a str,
        message: &'a str,
        ts: String,
    },
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3100".into());
    let pages = Arc::new(pages_from(std::env::var_os("PAGES_DIR"))?);
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/register", post(register))
        .route("/ws/chat/{room}/", get(upgrade))
        .with_state(Arc::new(Rooms::default()))
        .route("/pages/{name}", get(page).with_state(pages));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("reference: listening on http://{}", listener.local_addr()?);
    // No Nagle delay, as ours: otherwise latency measures the delayed ACK.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}

/// Every file in `dir` (none without one), by name, as bytes to serve.
fn pages_from(dir: Option<std::ffi::OsString>) -> std::io::Result<HashMap<String, Bytes>> {
    let mut pages = HashMap::new();
    let Some(dir) = dir else { return Ok(pages) };
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        pages.insert(name, Bytes::from(std::fs::read(entry.path())?));
    }
    Ok(pages)
}

/// A page's bytes from memory.
async fn page(
    State(pages): State<Arc<HashMap<String, Bytes>>>,
    Path(name): Path<String>,
) -> impl IntoResponse {
    match pages.get(&name) {
        Some(bytes) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            bytes.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// No account: a cookie naming a fresh guest, so the load tool's flow runs.
async fn register() -> impl IntoResponse {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let cookie = format!("chat_session=guest{n}; Path=/; HttpOnly");
    (StatusCode::CREATED, [(header::SET_COOKIE, cookie)], "{}")
}

async fn upgrade(
    ws: WebSocketUpgrade,
    Path(room): Path<String>,
    headers: HeaderMap,
    State(rooms): State<Arc<Rooms>>,
) -> impl IntoResponse {
    let user = headers
        .get(header::COOKIE)
        .and_then(|c| c.to_str().ok())
        .and_then(|c| {
            c.split(';')
                .find_map(|c| c.trim().strip_prefix("chat_session="))
        })
        .unwrap_or("guest")
        .to_owned();
    let joined = rooms.get(&room);
    // tungstenite reserves 128 KiB of read buffer per socket by default;
    // ours asks for 1 KiB, and so does the floor we compare it with.
    ws.read_buffer_size(1024)
        .on_upgrade(move |socket| serve(socket, room, user, joined))
}

/// One member: relays the room's events to the socket and the socket's
/// posts to the room, in one task.
async fn serve(mut socket: WebSocket, name: String, user: String, room: Arc<Room>) {
    let mut events = room.events.subscribe();
    let hello = encode(&Event::UserList { users: [&user] });
    if socket.send(Message::Text(hello)).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            frame = socket.recv() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let Ok(post) = serde_json::from_str::<Post>(&text) else { continue };
                    let seq = room.seq.fetch_add(1, Ordering::Relaxed) + 1;
                    let event = Event::ChatMessage {
                        room: &name, seq, id: format!("{seq:016x}"), user: &user,
                        message: &post.message, ts: now(),
                    };
                    // No receivers is fine: the sender is always subscribed.
                    let _ = room.events.send(encode(&event));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
            event = events.recv() => match event {
                Ok(text) => if socket.send(Message::Text(text)).await.is_err() { return },
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let close = CloseFrame { code: 4008, reason: "too slow".into() };
                    let _ = socket.send(Message::Close(Some(close))).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

fn encode(event: &Event<'_>) -> Utf8Bytes {
    serde_json::to_string(event).unwrap_or_default().into()
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
