//! The WebSocket consumer for `/ws/chat/<room>/`, one per connection, like a
//! Channels `AsyncWebsocketConsumer`: on connect it gets a channel and joins
//! the room's group; each chat frame is numbered, encoded once and
//! `group_send` to the room; whatever the layer delivers to its channel goes
//! out on the socket. Bad frames get an `error` event and the socket stays
//! up; frames over 64 KiB close it with 1009; a consumer that cannot keep up
//! is closed with 4008 so its client reconnects.

use crate::{
    AppState,
    error::ApiError,
    layer::{Channel, ChannelClosed, GroupName, Payload},
};
use app::{
    names::RoomName,
    protocol::{ChatMessage, ClientFrame, ErrorCode, FRAME_MAX_BYTES, ServerEvent},
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

/// Until accounts exist, everyone posts as this.
const ANONYMOUS: &str = "anonymous";

/// How long a close frame may take to go out before we just drop the socket.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

pub async fn upgrade(
    State(state): State<AppState>,
    Path(raw_room): Path<String>,
    headers: HeaderMap,
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
    ws.max_message_size(FRAME_MAX_BYTES)
        .max_frame_size(FRAME_MAX_BYTES)
        .on_upgrade(move |socket| run(socket, room, state))
}

async fn run(socket: WebSocket, room: RoomName, state: AppState) {
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
    let consumer = Consumer {
        state: state.clone(),
        room,
        group,
        user: ANONYMOUS.to_owned(),
    };
    if let Err(e) = state.layer.group_add(&consumer.group, channel.name()).await {
        tracing::error!("cannot join {}: {e}", consumer.group);
    } else {
        consumer.pump(socket, &mut channel).await;
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
    user: String,
}

impl Consumer {
    /// Moves frames both ways until either side ends.
    async fn pump(&self, socket: WebSocket, channel: &mut Channel) {
        let (mut sink, mut stream) = socket.split();
        loop {
            let outgoing = tokio::select! {
                delivered = channel.receive() => match delivered {
                    Ok(payload) => payload,
                    Err(ChannelClosed::Lagging) => {
                        return close(&mut sink, close_code::LAGGING, "lagging").await;
                    }
                    Err(ChannelClosed::Closed) => {
                        return close(&mut sink, close_code::INTERNAL, "channel closed").await;
                    }
                },
                frame = stream.next() => match frame {
                    Some(Ok(Message::Text(text))) => match self.on_text(&text).await {
                        Some(reply) => Payload::from(reply.to_json()),
                        None => continue,
                    },
                    Some(Ok(Message::Binary(_))) => Payload::from(
                        ServerEvent::error(
                            ErrorCode::BinaryNotSupported,
                            "Binary frames are not supported: send JSON text frames.",
                        )
                        .to_json(),
                    ),
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
    async fn on_text(&self, text: &str) -> Option<ServerEvent> {
        let ClientFrame::Chat(message) = match ClientFrame::parse(text) {
            Ok(frame) => frame,
            Err(refusal) => return Some(refusal.into()),
        };
        let event = ServerEvent::ChatMessage(ChatMessage {
            room: self.room.clone(),
            seq: self.state.sequencer.next(&self.room),
            id: uuid::Uuid::new_v4().to_string(),
            user: self.user.clone(),
            message: message.into_string(),
            ts: now_rfc3339(),
        });
        // Encoded once; every member gets the same bytes.
        let payload = Payload::from(event.to_json());
        match self.state.layer.group_send(&self.group, payload).await {
            Ok(_) => None,
            Err(e) => {
                tracing::error!("group_send to {}: {e}", self.group);
                Some(ServerEvent::error(
                    ErrorCode::Unavailable,
                    "Your message could not be delivered; try again.",
                ))
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

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
