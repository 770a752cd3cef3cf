//! The WebSocket consumer for `/ws/chat/<room>/`, one per connection, like a
//! Channels `AsyncWebsocketConsumer`: on connect it reads the session, gets a
//! channel, joins the room's group and sends the latest history; then each
//! chat frame from a signed-in user goes to the message writer (stored,
//! numbered, then broadcast to the group), and whatever the layer delivers
//! goes out on the socket. Anonymous visitors read but cannot post. Bad
//! frames get an `error` event and the socket stays up; frames over 64 KiB
//! close it with 1009; a consumer that cannot keep up is closed with 4008
//! so its client reconnects. Edits, deletes and reactions are checked
//! (own message, 10-minute window, admins may delete any), stored, then
//! told to the room; posting is flood-controlled per person ([`flood`]).
//! A `session_ended` event from the layer (account disabled, room deleted)
//! closes the socket with 4003. Rights count at once: a `recheck` signal
//! (admin rights given or taken, the room made admin-only) makes the
//! consumer read its account and room again, and a `logged_out` signal for
//! its session ends it; an admin's delete of another's message is checked
//! against storage each time.
//!
//! What a stranger can make one socket cost is bounded ([`admission`]:
//! sockets per process, per client address and per person; history pages and bad frames per
//! connection; pings every `PING_INTERVAL_SECS` and a close after
//! `IDLE_TIMEOUT_SECS` of silence; every write times out). Looking at a
//! room never stores it: its first message does, within `ROOMS_PER_HOUR`.
//!
//! History, then live, with no gap and no duplicate: the consumer joins the
//! group *before* reading history, and messages are broadcast only after
//! they are committed. So every message is in the history page, or arrives
//! live afterwards, or both; the "both" are dropped by seq ([`order`]).
//!
//! The files: this one (upgrade, close codes, the consumer's state),
//! [`admission`] (connection caps), [`consumer`] (joining, the pump loop
//! and heartbeat), `sync` (greeting, streamed catch-up,
//! history, filling holes), `frames` (chat, `/pm`, typing, history),
//! `changes` (edit, delete, react), `refusal` (what a frame is refused
//! with), `socket` (writing events). Only the consumer uses [`order`]
//! and [`flood`], so they live here too.
//!
//! Must never import storage's SQL or the layer's implementations: it talks
//! to the chat domain's handle ([`Chat`]: storage's methods, the
//! `ChannelLayer` trait, presence) and to [`crate::chat`]'s rules.

pub mod admission;
mod changes;
pub mod consumer;
pub mod flood;
mod frames;
pub mod order;
mod refusal;
mod socket;
mod sync;
mod wake;

use crate::{
    auth,
    chat::{self, Chat, control::Control},
    edge::{
        origin::OriginPolicy,
        proxy::{ClientAddr, Scheme},
        throttle::Budget,
    },
    error::ApiError,
    layer::GroupName,
};
use admission::Admission;
use app::{
    account::SessionUser,
    names::{RoomName, Username},
    protocol::FRAME_MAX_BYTES,
};
use axum::{
    extract::{Path, Query, State, ws::WebSocketUpgrade},
    http::HeaderMap,
    response::Response,
};
use order::LogOrder;
use std::sync::Arc;
use tower_sessions::Session;

/// Close codes. The standard ones are RFC 6455's, as axum names them; the
/// two of our own are in the 4000 range applications may use.
pub mod close_code {
    pub use axum::extract::ws::close_code::{ERROR as INTERNAL, RESTART, SIZE as TOO_BIG};
    /// The connection fell too far behind the room and was dropped; reconnect
    /// and fetch what was missed.
    pub const LAGGING: u16 = 4008;
    pub use axum::extract::ws::close_code::{
        AWAY as IDLE, INVALID as INVALID_DATA, POLICY, PROTOCOL,
    };
    /// The server ended this connection for good (the account was disabled,
    /// the room deleted or made admin-only); a `session_ended` event says
    /// why. Do not reconnect automatically.
    pub const ENDED: u16 = 4003;
}

/// Initial read buffer per socket; it grows for the rare big frame.
const READ_BUFFER: usize = 1024;

/// The window `BAD_FRAMES_PER_10_S` counts over.
const NOISE_WINDOW: std::time::Duration = std::time::Duration::from_secs(10);

/// `?after_seq=N` on the upgrade: the client has shown the room up to N;
/// it is sent everything after N instead of the latest page.
#[derive(serde::Deserialize)]
pub struct Resume {
    after_seq: Option<String>,
}

impl Resume {
    fn after(&self) -> Result<Option<u64>, ApiError> {
        self.after_seq
            .as_deref()
            .map(str::parse::<u64>)
            .transpose()
            .map_err(|_| ApiError::invalid_request("after_seq must be a whole number."))
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "axum extractors: the signature lists what the upgrade touches"
)]
pub async fn upgrade(
    State(chat): State<Chat>,
    State(origins): State<Arc<OriginPolicy>>,
    State(admission): State<Arc<Admission>>,
    State(flood): State<Arc<flood::FloodControl>>,
    ClientAddr(client): ClientAddr,
    scheme: Scheme,
    Path(raw_room): Path<String>,
    Query(resume): Query<Resume>,
    headers: HeaderMap,
    session: Session,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    origins
        .check(&headers, scheme)
        .map_err(|refused| ApiError::forbidden("origin_not_allowed", refused.0))?;
    let room = RoomName::parse(&raw_room)
        .map_err(|e| ApiError::bad_request("invalid_room", e.to_string()))?;
    let resume_after = resume.after()?;
    // Places first: a crowd from one address is refused before the
    // session is read or the database asked anything.
    let mut ticket = admission.admit(client)?;
    let user = auth::current_account(&chat.storage, &session).await?;
    if let Some(user) = &user {
        ticket.claim(&user.username)?;
    }
    let tag = match &user {
        Some(_) => Some(auth::socket_tag(&session).await?),
        None => None,
    };
    let admin = user.as_ref().is_some_and(|u| u.is_admin);
    // Fails closed: if storage cannot answer, the socket is refused.
    let open = chat.access(&room, admin).await.map_err(|e| {
        ApiError::from(e).saying("The room cannot be opened right now; try again.")
    })??;
    let consumer = Consumer::new(chat, flood, room, user.map(|u| (u, tag)), open.stored);
    Ok(accept(ws, consumer, resume_after, ticket))
}

/// `/ws/dm/<peer>/`: the signed-in person's direct conversation with
/// `peer`, a room only those two can join (`@alice+bob`, never listed).
/// Refused: a visitor (401), a name nobody has (404), oneself (400).
#[expect(
    clippy::too_many_arguments,
    reason = "axum extractors: the signature lists what the upgrade touches"
)]
pub async fn upgrade_direct(
    State(chat): State<Chat>,
    State(origins): State<Arc<OriginPolicy>>,
    State(admission): State<Arc<Admission>>,
    State(flood): State<Arc<flood::FloodControl>>,
    ClientAddr(client): ClientAddr,
    scheme: Scheme,
    Path(raw_peer): Path<String>,
    Query(resume): Query<Resume>,
    headers: HeaderMap,
    session: Session,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    origins
        .check(&headers, scheme)
        .map_err(|refused| ApiError::forbidden("origin_not_allowed", refused.0))?;
    let peer = Username::parse_existing(&raw_peer)
        .map_err(|e| ApiError::bad_request("invalid_user", e.to_string()))?;
    let resume_after = resume.after()?;
    let mut ticket = admission.admit(client)?;
    let Some(user) = auth::current_account(&chat.storage, &session).await? else {
        return Err(ApiError::unauthorized(
            "not_authenticated",
            "Log in to talk to someone directly.",
        ));
    };
    ticket.claim(&user.username)?;
    let room = chat::direct::conversation(&chat, &user, &peer).await?;
    let stored = chat.storage.room(&room).await.map_err(|e| {
        ApiError::from(e).saying("The conversation cannot be opened right now; try again.")
    })?;
    let tag = auth::socket_tag(&session).await?;
    let consumer = Consumer::new(chat, flood, room, Some((user, Some(tag))), stored.is_some());
    Ok(accept(ws, consumer, resume_after, ticket))
}

/// Upgrades to a socket served by `consumer`.
fn accept(
    ws: WebSocketUpgrade,
    consumer: Consumer,
    resume_after: Option<u64>,
    ticket: admission::Ticket,
) -> Response {
    ws.max_message_size(FRAME_MAX_BYTES)
        .max_frame_size(FRAME_MAX_BYTES)
        // tungstenite reserves its read buffer up front (128 KiB by default):
        // most chat frames are tiny, and 10,000 idle sockets must stay cheap.
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| {
            // Boxed: an async fn keeps its arguments and the locals they
            // move into side by side, so each by value would be held
            // twice in every connection's task (measured: 3,944 bytes).
            consumer::run(Box::new(socket), Box::new(consumer), resume_after, ticket)
        })
}

/// One connection's consumer. Defined here so that every file of the
/// folder, each with its own `impl Consumer`, sees the fields.
struct Consumer {
    chat: Chat,
    /// Messages and reactions per person (`FLOOD_RATE`, `FLOOD_BURST`).
    flood: Arc<flood::FloodControl>,
    room: RoomName,
    group: GroupName,
    /// `None` for an anonymous visitor. Its admin flag is refreshed when a
    /// [`Control::Recheck`](crate::chat::control::Control) arrives.
    user: Option<SessionUser>,
    /// The signed-in session's socket tag: a `logged_out` signal with it
    /// ends this connection.
    session_tag: Option<String>,
    /// Signals that arrived with deliveries, to act on after the write.
    controls: Vec<Control>,
    /// Puts the room's messages in seq order, without duplicates (history
    /// included) or holes.
    order: LogOrder,
    last_typing: Option<tokio::time::Instant>,
    /// A chat frame came since the last typing signal: the page starts a
    /// new one as it sends, so one early signal after it is no mistake
    /// (even when the message itself was refused for flooding).
    typing_excused: bool,
    /// Close with this once what is queued is written (a `session_ended`
    /// event was forwarded, or the client sent too many bad frames).
    close_after: Option<(u16, &'static str)>,
    /// The room is in storage (false until its first message is posted).
    stored: bool,
    /// History pages this connection may read (catch-up included).
    history_budget: Budget,
    /// Read-marker reports it may send.
    read_budget: Budget,
    /// Malformed or refused frames it may send before it is closed.
    noise_budget: Budget,
    /// When the client last sent anything (a pong included).
    last_heard: tokio::time::Instant,
}

impl Consumer {
    fn new(
        chat: Chat,
        flood: Arc<flood::FloodControl>,
        room: RoomName,
        user: Option<(SessionUser, Option<String>)>,
        stored: bool,
    ) -> Self {
        let limits = &chat.limits;
        let (user, session_tag) = user.unzip();
        Self {
            session_tag: session_tag.flatten(),
            controls: Vec::new(),
            history_budget: Budget::per_second(limits.history_rate, limits.history_burst),
            read_budget: Budget::per_second(
                limits.read_markers_per_second,
                (limits.read_markers_per_second * 3.0).ceil() as u32,
            ),
            noise_budget: Budget::per(limits.bad_frames_per_10_s, NOISE_WINDOW),
            group: chat::groups::room(&room),
            room,
            user,
            order: LogOrder::default(),
            last_typing: None,
            typing_excused: false,
            close_after: None,
            stored,
            last_heard: tokio::time::Instant::now(),
            chat,
            flood,
        }
    }
}
