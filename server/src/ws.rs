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
//! told to the room; posting is flood-controlled per person
//! ([`crate::flood`]). A `session_ended` event from the layer (account
//! disabled, room deleted or made admin-only) closes the socket with 4003.
//!
//! History, then live, with no gap and no duplicate: the consumer joins the
//! group *before* reading history, and messages are broadcast only after
//! they are committed. So every message is in the history page, or arrives
//! live afterwards, or both; the "both" are dropped by seq.

use crate::{
    AppState, auth,
    error::ApiError,
    flood::Action,
    layer::{Channel, ChannelClosed, ChannelName, GroupName, LayerError, Payload},
    moderation,
    ordering::{LogOrder, Release},
    storage::{MessageMeta, Page, writer::Post},
};
use app::{
    account::SessionUser,
    names::{RoomName, Username},
    protocol::{
        ClientFrame, EDIT_WINDOW_SECS, Emoji, ErrorCode, FRAME_MAX_BYTES, HISTORY_MAX,
        HISTORY_PAGE, MessageText, ServerEvent,
    },
};
use axum::{
    extract::{
        Path, Query, State,
        ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade},
    },
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use futures::{SinkExt, StreamExt, stream::SplitSink};
use std::time::Duration;
use tower_sessions::Session;

/// Close codes this server uses besides the standard ones.
pub mod close_code {
    /// The connection fell too far behind the room and was dropped; reconnect
    /// and fetch what was missed.
    pub const LAGGING: u16 = 4008;
    /// RFC 6455: a message was bigger than we accept.
    pub const TOO_BIG: u16 = 1009;
    /// RFC 6455: the server hit an internal error.
    pub const INTERNAL: u16 = 1011;
    /// RFC 6455: the server is restarting; reconnect shortly.
    pub const RESTART: u16 = 1012;
    /// The server ended this connection for good (the account was disabled,
    /// the room deleted or made admin-only); a `session_ended` event says
    /// why. Do not reconnect automatically.
    pub const ENDED: u16 = 4003;
}

/// How a `session_ended` event begins, so a consumer spots one among the
/// payloads it forwards without parsing each.
const SESSION_ENDED_PREFIX: &str = r#"{"type":"session_ended""#;

/// How long a close frame may take to go out before we just drop the socket.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// `?after_seq=N` on the upgrade: the client has shown the room up to N;
/// it is sent everything after N instead of the latest page.
#[derive(serde::Deserialize)]
pub struct Resume {
    after_seq: Option<String>,
}

pub async fn upgrade(
    State(state): State<AppState>,
    Path(raw_room): Path<String>,
    Query(resume): Query<Resume>,
    headers: HeaderMap,
    session: Session,
    ws: WebSocketUpgrade,
) -> Response {
    if let Err(refused) = state.origins.check(&headers) {
        return ApiError::new(StatusCode::FORBIDDEN, "origin_not_allowed", refused.0)
            .into_response();
    }
    let room = match RoomName::parse(&raw_room) {
        Ok(room) => room,
        Err(e) => {
            return ApiError::new(StatusCode::BAD_REQUEST, "invalid_room", e.to_string())
                .into_response();
        }
    };
    let user = match auth::current_account(&state, &session).await {
        Ok(user) => user,
        Err(refusal) => return refusal.into_response(),
    };
    match state.storage.room(&room).await {
        Ok(Some(record)) if record.admin_only && !user.as_ref().is_some_and(|u| u.is_admin) => {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "admin_only",
                format!("{room} is for admins only."),
            )
            .into_response();
        }
        Ok(_) => {}
        Err(e) => tracing::error!("reading room {room}: {e}"),
    }
    if let Err(e) = state.storage.ensure_room(&room).await {
        tracing::error!("cannot create room {room}: {e}");
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "The room cannot be opened right now; try again.",
        )
        .into_response();
    }
    let resume_after = match resume.after_seq.as_deref().map(str::parse::<u64>) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "after_seq must be a whole number.",
            )
            .into_response();
        }
    };
    ws.max_message_size(FRAME_MAX_BYTES)
        .max_frame_size(FRAME_MAX_BYTES)
        // tungstenite reserves its read buffer up front (128 KiB by default):
        // most chat frames are tiny, and 10,000 idle sockets must stay cheap.
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| run(socket, room, user, resume_after, state))
}

async fn run(
    socket: WebSocket,
    room: RoomName,
    user: Option<SessionUser>,
    resume_after: Option<u64>,
    state: AppState,
) {
    let _counted = state.metrics.connection();
    let mut channel = match state.layer.new_channel().await {
        Ok(channel) => channel,
        Err(e) => {
            tracing::error!("cannot open a channel: {e}");
            let (mut sink, _) = socket.split();
            close(&mut sink, close_code::INTERNAL, "try again").await;
            return;
        }
    };
    let mut consumer = Consumer {
        state,
        group: GroupName::room(&room),
        room,
        user,
        order: LogOrder::default(),
        last_typing: None,
        ended: false,
    };
    let me = channel.name().clone();
    // Rare, large futures are boxed so they do not swell every idle
    // connection's task to their size (10,000 sockets must stay cheap).
    match Box::pin(consumer.enter(&me)).await {
        Ok(()) => consumer.pump(socket, &mut channel, resume_after).await,
        Err(e) => {
            tracing::error!("cannot join {}: {e}", consumer.group);
            let (mut sink, _) = socket.split();
            close(&mut sink, close_code::INTERNAL, "try again").await;
        }
    }
    Box::pin(consumer.exit(&me)).await;
    consumer.state.layer.close_channel(&me).await;
}

/// Most frames put into one socket write.
const WRITE_BATCH: usize = 64;

/// Writes the frames (emptying `frames`) and flushes once: tungstenite
/// buffers each frame, so the socket sees one write for the lot.
async fn write_all(
    sink: &mut SplitSink<WebSocket, Message>,
    frames: &mut Vec<Utf8Bytes>,
) -> Result<(), axum::Error> {
    for text in frames.drain(..) {
        sink.feed(Message::Text(text)).await?;
    }
    sink.flush().await
}

/// Initial read buffer per socket; it grows for the rare big frame.
const READ_BUFFER: usize = 1024;

/// Most missed messages sent on a reconnect before falling back to the latest page.
const CATCH_UP_MAX: usize = 5_000;

/// Typing signals closer together than this are dropped (clients send one
/// every 2 s at most).
const TYPING_INTERVAL: Duration = Duration::from_secs(1);

struct Consumer {
    state: AppState,
    room: RoomName,
    group: GroupName,
    /// `None` for an anonymous visitor.
    user: Option<SessionUser>,
    /// Puts the room's messages in seq order, without duplicates (history
    /// included) or holes.
    order: LogOrder,
    last_typing: Option<tokio::time::Instant>,
    /// A `session_ended` event was forwarded: close once it is written.
    ended: bool,
}

impl Consumer {
    /// Joins the room's group and, for a signed-in person, their inbox; the
    /// room hears `user_join` if this is the person's first connection.
    async fn enter(&self, me: &ChannelName) -> Result<(), LayerError> {
        if let Some(user) = &self.user {
            if self.state.presence.join(&self.room, &user.username).await {
                // Sent before we join the group: we learn of ourselves from user_list.
                self.broadcast(ServerEvent::UserJoin {
                    user: user.username.clone(),
                })
                .await;
            }
            let inbox = GroupName::inbox(&user.username);
            self.state.layer.group_add(&inbox, me).await?;
        }
        self.state.layer.group_add(&self.group, me).await
    }

    /// Leaves the groups; the room hears `user_leave` if this was the
    /// person's last connection.
    async fn exit(&self, me: &ChannelName) {
        let _ = self.state.layer.group_discard(&self.group, me).await;
        if let Some(user) = &self.user {
            let inbox = GroupName::inbox(&user.username);
            let _ = self.state.layer.group_discard(&inbox, me).await;
            if self.state.presence.leave(&self.room, &user.username).await {
                self.broadcast(ServerEvent::UserLeave {
                    user: user.username.clone(),
                })
                .await;
            }
        }
    }

    /// Sends an event to everyone in the room.
    async fn broadcast(&self, event: ServerEvent) {
        let payload = Payload::event(event.to_json());
        if let Err(e) = self.state.layer.group_send(&self.group, payload).await {
            tracing::warn!("broadcast to {}: {e}", self.group);
        }
    }

    /// Sends the latest history, then moves frames both ways until either side ends.
    async fn pump(&mut self, socket: WebSocket, channel: &mut Channel, resume_after: Option<u64>) {
        let me = channel.name().clone();
        let (mut sink, mut stream) = socket.split();
        let mut first = match resume_after {
            Some(after) => Box::pin(self.catch_up(after)).await,
            None => vec![Box::pin(self.history(None, HISTORY_PAGE)).await],
        };
        let sent_up_to = first
            .iter()
            .filter_map(|e| match e {
                ServerEvent::History(h) => h.messages.last().map(|m| m.seq),
                _ => None,
            })
            .max();
        match sent_up_to {
            Some(seq) => self.order.sent_up_to(seq),
            // Nothing to catch up on: continue after what the client has,
            // or after the room's newest message if the client claims more
            // (a message stored since our query is then still taken live).
            None => match self
                .state
                .storage
                .messages(&self.room, Page::Latest { limit: 1 })
                .await
            {
                Ok(h) => {
                    let newest = h.messages.last().map_or(0, |m| m.seq);
                    self.order.sent_up_to(newest.min(resume_after.unwrap_or(0)));
                }
                Err(e) => tracing::error!("reading {}: {e}", self.room),
            },
        }
        first.push(ServerEvent::UserList {
            users: self.state.presence.users(&self.room).await,
        });
        let mut shutdown = self.state.shutdown.clone();
        for event in first {
            if sink
                .send(Message::Text(event.to_json().into()))
                .await
                .is_err()
            {
                return;
            }
        }
        let mut frames = Vec::with_capacity(WRITE_BATCH);
        loop {
            let fill_at = self.order.fill_deadline();
            let outgoing = tokio::select! {
                () = stopping(&mut shutdown) => {
                    return close(&mut sink, close_code::RESTART, "server restart").await;
                }
                () = sleep_until_some(fill_at) => Box::pin(self.fill_hole()).await,
                delivered = channel.receive() => match delivered {
                    Ok(payload) => self.release(payload),
                    Err(ChannelClosed::Lagging) => {
                        return close(&mut sink, close_code::LAGGING, "lagging").await;
                    }
                    Err(ChannelClosed::Closed) => {
                        return close(&mut sink, close_code::INTERNAL, "channel closed").await;
                    }
                },
                frame = stream.next() => match frame {
                    Some(Ok(Message::Text(text))) => match Box::pin(self.on_text(&text, &me)).await {
                        Some(reply) => Release::One(Some(reply.to_json().into())),
                        None => continue,
                    },
                    Some(Ok(Message::Binary(_))) => Release::One(Some(ServerEvent::error(
                        ErrorCode::BinaryNotSupported,
                        "Binary frames are not supported: send JSON text frames.",
                    )
                    .to_json()
                    .into())),
                    // tungstenite answers pings by itself.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | None => return,
                    Some(Err(e)) => {
                        if is_too_big(e) {
                            close(&mut sink, close_code::TOO_BIG, "frames are limited to 64 KiB").await;
                        }
                        return;
                    }
                },
            };
            // Whatever else is already queued goes out in the same write:
            // one syscall for many frames when a room is busy.
            frames.extend(outgoing);
            while frames.len() < WRITE_BATCH {
                let Some(payload) = channel.try_receive() else {
                    break;
                };
                frames.extend(self.release(payload));
            }
            if frames.is_empty() {
                continue;
            }
            // A socket nobody reads blocks this write; the layer may drop
            // us meanwhile, and then we stop waiting.
            tokio::select! {
                sent = write_all(&mut sink, &mut frames) => if sent.is_err() { return },
                () = channel.lagged() => {
                    return close(&mut sink, close_code::LAGGING, "lagging").await;
                }
            }
            if self.ended {
                return close(&mut sink, close_code::ENDED, "ended by the server").await;
            }
        }
    }

    /// What a delivered payload lets us send: a log message goes through
    /// [`LogOrder`], anything else straight out.
    fn release(&mut self, payload: Payload) -> Release {
        match payload.seq() {
            Some(seq) => self.order.accept(seq, payload.into_text()),
            None => {
                let text = payload.into_text();
                if text.as_str().starts_with(SESSION_ENDED_PREFIX) {
                    self.ended = true;
                }
                Release::One(Some(text))
            }
        }
    }

    /// Fills a hole in the room's log from storage (its message was lost or
    /// is slow to arrive).
    async fn fill_hole(&mut self) -> Release {
        let Some((after, count)) = self.order.missing() else {
            return self.order.fill([]);
        };
        let limit = count.clamp(1, u64::from(HISTORY_MAX)) as u32;
        let found = match self
            .state
            .storage
            .messages(&self.room, Page::After { seq: after, limit })
            .await
        {
            Ok(page) => page.messages,
            Err(e) => {
                tracing::error!("filling a hole in {}: {e}", self.room);
                Vec::new()
            }
        };
        self.order.fill(found.into_iter().map(|m| {
            let seq = m.seq;
            (seq, ServerEvent::ChatMessage(m).to_json().into())
        }))
    }

    /// Handles one text frame; returns the reply for this connection only.
    async fn on_text(&mut self, text: &str, me: &ChannelName) -> Option<ServerEvent> {
        match ClientFrame::parse(text) {
            Err(refusal) => Some(refusal.into()),
            Ok(ClientFrame::PrivateMessage { to, text }) => {
                if let Err(slow_down) = self.flood_check(Action::Message) {
                    return Some(*slow_down);
                }
                Some(self.private_message(to, text).await)
            }
            Ok(ClientFrame::Edit { seq, text }) => self.edit(seq, text).await,
            Ok(ClientFrame::Delete { seq }) => self.delete(seq).await,
            Ok(ClientFrame::React { seq, emoji }) => self.react(seq, emoji).await,
            Ok(ClientFrame::Typing) => {
                let user = self.user.as_ref()?;
                let now = tokio::time::Instant::now();
                if self.last_typing.is_some_and(|t| now - t < TYPING_INTERVAL) {
                    return None;
                }
                self.last_typing = Some(now);
                let user = user.username.clone();
                self.broadcast(ServerEvent::Typing { user }).await;
                None
            }
            Ok(ClientFrame::History { before_seq, limit }) => {
                Some(self.history(before_seq, limit).await)
            }
            Ok(ClientFrame::Chat(message)) => {
                let Some(user) = &self.user else {
                    return Some(ServerEvent::error(
                        ErrorCode::NotAuthenticated,
                        "Log in to post.",
                    ));
                };
                let user = user.clone();
                if let Err(slow_down) = self.flood_check(Action::Message) {
                    return Some(*slow_down);
                }
                // A sent message ends the typing; the next keystroke may signal at once.
                self.last_typing = None;
                let post = Post {
                    room: self.room.clone(),
                    user_id: user.id,
                    // Always the session's name, never anything from the frame.
                    username: user.username.clone(),
                    text: message.into_string(),
                    reply_to: me.clone(),
                };
                // The writer stores it and broadcasts it to the room, us included.
                match self.state.writer.post(post).await {
                    Ok(()) => None,
                    Err(e) => {
                        tracing::error!("storing a message in {}: {e}", self.room);
                        Some(ServerEvent::error(
                            ErrorCode::Unavailable,
                            "Your message could not be saved; try again.",
                        ))
                    }
                }
            }
        }
    }

    /// Takes a token from the person's bucket, or says how long to wait.
    fn flood_check(&self, action: Action) -> Result<(), Box<ServerEvent>> {
        let Some(user) = &self.user else {
            return Ok(());
        };
        self.state
            .flood
            .check(action, &user.username)
            .map_err(|wait| {
                let what = match action {
                    Action::Message => "messages",
                    Action::Reaction => "reactions",
                };
                Box::new(ServerEvent::rate_limited(
                    what,
                    wait.as_millis().max(1) as u64,
                ))
            })
    }

    /// Checks that this person may change message `seq`: signed in, not
    /// flooding, the message exists and is not deleted, and it is their own
    /// and within the edit window (admins may delete any message).
    async fn may_change(
        &self,
        seq: u64,
        admin_may: bool,
    ) -> Result<&SessionUser, Box<ServerEvent>> {
        let Some(user) = &self.user else {
            return Err(Box::new(ServerEvent::error(
                ErrorCode::NotAuthenticated,
                "Log in to change messages.",
            )));
        };
        self.flood_check(Action::Message)?;
        let meta = self.live_message(seq).await?;
        if admin_may && user.is_admin {
            return Ok(user);
        }
        if meta.user_id != user.id {
            return Err(Box::new(ServerEvent::error(
                ErrorCode::Forbidden,
                "You can only change your own messages.",
            )));
        }
        let age = time::OffsetDateTime::now_utc() - meta.created_at;
        if age > time::Duration::seconds(EDIT_WINDOW_SECS) {
            return Err(Box::new(ServerEvent::error(
                ErrorCode::Forbidden,
                "Messages can only be changed within 10 minutes of sending them.",
            )));
        }
        Ok(user)
    }

    /// Message `seq` of this room, if it exists and is not deleted.
    async fn live_message(&self, seq: u64) -> Result<MessageMeta, Box<ServerEvent>> {
        match self.state.storage.message_meta(&self.room, seq).await {
            Ok(Some(meta)) if !meta.deleted => Ok(meta),
            Ok(_) => Err(Box::new(ServerEvent::error(
                ErrorCode::UnknownMessage,
                format!("This room has no message {seq}."),
            ))),
            Err(e) => {
                tracing::error!("reading {} #{seq}: {e}", self.room);
                Err(Box::new(ServerEvent::error(
                    ErrorCode::Unavailable,
                    "Try again in a moment.",
                )))
            }
        }
    }

    /// `{"type":"edit"}`: the room hears `message_edited`.
    async fn edit(&self, seq: u64, text: MessageText) -> Option<ServerEvent> {
        if let Err(refusal) = self.may_change(seq, false).await {
            return Some(*refusal);
        }
        let text = text.into_string();
        match self
            .state
            .storage
            .edit_message(&self.room, seq, &text)
            .await
        {
            Ok(edited_at) => {
                self.broadcast(ServerEvent::MessageEdited {
                    room: self.room.clone(),
                    seq,
                    message: text,
                    edited_at,
                })
                .await;
                None
            }
            Err(e) => {
                tracing::error!("editing {} #{seq}: {e}", self.room);
                Some(ServerEvent::error(
                    ErrorCode::Unavailable,
                    "Your edit could not be saved; try again.",
                ))
            }
        }
    }

    /// `{"type":"delete"}`: the room hears `message_deleted`.
    async fn delete(&self, seq: u64) -> Option<ServerEvent> {
        if let Err(refusal) = self.may_change(seq, true).await {
            return Some(*refusal);
        }
        match moderation::delete_message(&self.state, &self.room, seq).await {
            Ok(()) => None,
            Err(e) => {
                tracing::error!("deleting {} #{seq}: {e}", self.room);
                Some(ServerEvent::error(
                    ErrorCode::Unavailable,
                    "The message could not be deleted; try again.",
                ))
            }
        }
    }

    /// `{"type":"react"}`: toggles the reaction; the room hears `reaction`
    /// with everyone who now reacts with that emoji.
    async fn react(&self, seq: u64, emoji: Emoji) -> Option<ServerEvent> {
        let Some(user) = &self.user else {
            return Some(ServerEvent::error(
                ErrorCode::NotAuthenticated,
                "Log in to react.",
            ));
        };
        if let Err(slow_down) = self.flood_check(Action::Reaction) {
            return Some(*slow_down);
        }
        if let Err(refusal) = self.live_message(seq).await {
            return Some(*refusal);
        }
        let toggled = self
            .state
            .storage
            .toggle_reaction(&self.room, seq, user.id, &user.username, emoji.as_str())
            .await;
        match toggled {
            Ok(toggled) => {
                self.broadcast(ServerEvent::Reaction {
                    room: self.room.clone(),
                    seq,
                    emoji: emoji.as_str().to_owned(),
                    users: toggled.users,
                })
                .await;
                None
            }
            Err(e) => {
                tracing::error!("reacting to {} #{seq}: {e}", self.room);
                Some(ServerEvent::error(
                    ErrorCode::Unavailable,
                    "Your reaction could not be saved; try again.",
                ))
            }
        }
    }

    /// Delivers `/pm <to> <text>` to every connection of `to` and answers
    /// the sender with a receipt or the reason it could not be delivered.
    async fn private_message(&self, to: Username, text: MessageText) -> ServerEvent {
        let Some(user) = &self.user else {
            return ServerEvent::error(
                ErrorCode::NotAuthenticated,
                "Log in to send private messages.",
            );
        };
        match self.state.storage.user_by_name(to.as_str()).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                return ServerEvent::error(
                    ErrorCode::UnknownUser,
                    format!("There is no user named {:?}.", to.as_str()),
                );
            }
            Err(e) => {
                tracing::error!("looking up {to}: {e}");
                return ServerEvent::error(ErrorCode::Unavailable, "Try again in a moment.");
            }
        }
        let message = text.into_string();
        let event = ServerEvent::PrivateMessage {
            user: user.username.clone(),
            message: message.clone(),
        };
        let inbox = GroupName::inbox(to.as_str());
        match self
            .state
            .layer
            .group_send(&inbox, Payload::event(event.to_json()))
            .await
        {
            Ok(delivery) if delivery.delivered > 0 => ServerEvent::PrivateMessageDelivered {
                target: to.to_string(),
                message,
            },
            Ok(_) => ServerEvent::error(
                ErrorCode::UserOffline,
                format!("{to} is not online; private messages reach people who are."),
            ),
            Err(e) => {
                tracing::error!("private message to {to}: {e}");
                ServerEvent::error(ErrorCode::Unavailable, "Try again in a moment.")
            }
        }
    }

    /// Everything after `after`, as `history` events of up to 200 messages
    /// (at most [`CATCH_UP_MAX`] in all; a client that missed more gets the
    /// latest page and can scroll back).
    async fn catch_up(&self, after: u64) -> Vec<ServerEvent> {
        let mut events = Vec::new();
        let mut after = after;
        let mut sent = 0;
        loop {
            let page = Page::After {
                seq: after,
                limit: HISTORY_MAX,
            };
            match self.state.storage.messages(&self.room, page).await {
                Ok(history) => {
                    let more = history.has_more;
                    sent += history.messages.len();
                    if let Some(last) = history.messages.last() {
                        after = last.seq;
                    }
                    events.push(ServerEvent::History(history));
                    if !more {
                        return events;
                    }
                    if sent >= CATCH_UP_MAX {
                        return vec![self.history(None, HISTORY_PAGE).await];
                    }
                }
                Err(e) => {
                    tracing::error!("catching up in {}: {e}", self.room);
                    events.push(ServerEvent::error(
                        ErrorCode::Unavailable,
                        "Missed messages cannot be loaded right now; reload the page.",
                    ));
                    return events;
                }
            }
        }
    }

    /// A page of the room's log: the latest, or older than `before_seq`.
    async fn history(&self, before_seq: Option<u64>, limit: u32) -> ServerEvent {
        let page = match before_seq {
            Some(seq) => Page::Before { seq, limit },
            None => Page::Latest { limit },
        };
        match self.state.storage.messages(&self.room, page).await {
            Ok(history) => ServerEvent::History(history),
            Err(e) => {
                tracing::error!("reading history of {}: {e}", self.room);
                ServerEvent::error(ErrorCode::Unavailable, "History cannot be read right now.")
            }
        }
    }
}

/// Resolves when the server starts shutting down.
async fn stopping(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopping| *stopping).await;
}

/// Waits until `deadline`, or forever without one.
async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn is_too_big(e: axum::Error) -> bool {
    matches!(
        e.into_inner().downcast_ref::<tungstenite::Error>(),
        Some(tungstenite::Error::Capacity(_))
    )
}

async fn close(sink: &mut SplitSink<WebSocket, Message>, code: u16, reason: &'static str) {
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.send(frame)).await;
}
