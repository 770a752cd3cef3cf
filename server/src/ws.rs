//! The WebSocket consumer for `/ws/chat/<room>/`, one per connection, like a
//! Channels `AsyncWebsocketConsumer`: on connect it reads the session, gets a
//! channel, joins the room's group and sends the latest history; then each
//! chat frame from a signed-in user goes to the message writer (stored,
//! numbered, then broadcast to the group), and whatever the layer delivers
//! goes out on the socket. Anonymous visitors read but cannot post. Bad
//! frames get an `error` event and the socket stays up; frames over 64 KiB
//! close it with 1009; a consumer that cannot keep up is closed with 4008
//! so its client reconnects.
//!
//! History, then live, with no gap and no duplicate: the consumer joins the
//! group *before* reading history, and messages are broadcast only after
//! they are committed. So every message is in the history page, or arrives
//! live afterwards, or both; the "both" are dropped by seq.

use crate::{
    AppState, auth,
    error::ApiError,
    layer::{Channel, ChannelClosed, ChannelName, GroupName},
    storage::{Page, writer::Post},
};
use app::{
    account::SessionUser,
    names::RoomName,
    protocol::{ClientFrame, ErrorCode, FRAME_MAX_BYTES, HISTORY_PAGE, ServerEvent},
};
use axum::{
    extract::{
        Path, State,
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
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
}

/// How long a close frame may take to go out before we just drop the socket.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

pub async fn upgrade(
    State(state): State<AppState>,
    Path(raw_room): Path<String>,
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
    if let Err(e) = state.storage.ensure_room(&room).await {
        tracing::error!("cannot create room {room}: {e}");
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "The room cannot be opened right now; try again.",
        )
        .into_response();
    }
    let user = auth::current_user(&session).await;
    ws.max_message_size(FRAME_MAX_BYTES)
        .max_frame_size(FRAME_MAX_BYTES)
        .on_upgrade(move |socket| run(socket, room, user, state))
}

async fn run(socket: WebSocket, room: RoomName, user: Option<SessionUser>, state: AppState) {
    let group = GroupName::room(&room);
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
        state: state.clone(),
        room,
        group,
        user,
        live_after: 0,
    };
    if let Err(e) = state.layer.group_add(&consumer.group, channel.name()).await {
        tracing::error!("cannot join {}: {e}", consumer.group);
    } else {
        if let Some(user) = &consumer.user {
            state.presence.join(&consumer.room, &user.username);
        }
        consumer.pump(socket, &mut channel).await;
        if let Some(user) = &consumer.user {
            state.presence.leave(&consumer.room, &user.username);
        }
        let _ = state
            .layer
            .group_discard(&consumer.group, channel.name())
            .await;
    }
    state.layer.close_channel(channel.name()).await;
}

struct Consumer {
    state: AppState,
    room: RoomName,
    group: GroupName,
    /// `None` for an anonymous visitor.
    user: Option<SessionUser>,
    /// The newest seq sent as history on joining: live copies of messages
    /// up to it are duplicates.
    live_after: u64,
}

impl Consumer {
    /// Sends the latest history, then moves frames both ways until either side ends.
    async fn pump(&mut self, socket: WebSocket, channel: &mut Channel) {
        let me = channel.name().clone();
        let (mut sink, mut stream) = socket.split();
        let history = self.history(None, HISTORY_PAGE).await;
        if let ServerEvent::History(h) = &history {
            self.live_after = h.messages.last().map_or(0, |m| m.seq);
        }
        if sink
            .send(Message::Text(history.to_json().into()))
            .await
            .is_err()
        {
            return;
        }
        loop {
            let outgoing = tokio::select! {
                delivered = channel.receive() => match delivered {
                    Ok(payload) if payload.seq().is_some_and(|seq| seq <= self.live_after) => continue,
                    Ok(payload) => payload.into_text(),
                    Err(ChannelClosed::Lagging) => {
                        return close(&mut sink, close_code::LAGGING, "lagging").await;
                    }
                    Err(ChannelClosed::Closed) => {
                        return close(&mut sink, close_code::INTERNAL, "channel closed").await;
                    }
                },
                frame = stream.next() => match frame {
                    Some(Ok(Message::Text(text))) => match self.on_text(&text, &me).await {
                        Some(reply) => reply.to_json().into(),
                        None => continue,
                    },
                    Some(Ok(Message::Binary(_))) => ServerEvent::error(
                        ErrorCode::BinaryNotSupported,
                        "Binary frames are not supported: send JSON text frames.",
                    )
                    .to_json()
                    .into(),
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
            // A socket nobody reads blocks this write; the layer may drop us
            // meanwhile, and then we stop waiting.
            tokio::select! {
                sent = sink.send(Message::Text(outgoing)) => if sent.is_err() { return },
                () = channel.lagged() => {
                    return close(&mut sink, close_code::LAGGING, "lagging").await;
                }
            }
        }
    }

    /// Handles one text frame; returns the reply for this connection only.
    async fn on_text(&self, text: &str, me: &ChannelName) -> Option<ServerEvent> {
        match ClientFrame::parse(text) {
            Err(refusal) => Some(refusal.into()),
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
