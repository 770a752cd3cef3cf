//! What a client's text frame does: one dispatch over [`ClientFrame`], one
//! handler per kind (chat, `/pm`, typing, history here; edit, delete and
//! react in `changes`). A handler answers this connection with an event,
//! with nothing (what it did reaches the room through the layer), or with
//! a [`Refusal`]. Must never import storage's SQL or a layer implementation.

use super::{Consumer, close_code::POLICY, flood::Action, refusal::Refusal};
use crate::{
    chat,
    chat::{direct::DirectRefused, writer::Post},
    layer::ChannelName,
    storage::{Created, NewMessage},
};
use app::{
    account::SessionUser,
    names::{RoomName, Username},
    protocol::{ClientFrame, ClientId, ErrorCode, MessageText, ServerEvent},
};
use std::time::Duration;

/// Typing signals closer together than this are dropped (clients send one
/// every 2 s at most).
const TYPING_INTERVAL: Duration = Duration::from_secs(1);

/// What a handler says to this connection: an event, or nothing.
pub(super) type Answer = Result<Option<ServerEvent>, Refusal>;

impl Consumer {
    /// Handles one text frame; returns the reply for this connection only
    /// (once its bad-frame budget is spent, the last words before it is
    /// closed: see [`Consumer::noise`]).
    pub(super) async fn on_text(&mut self, text: &str, me: &ChannelName) -> Option<ServerEvent> {
        let (answer, post) = match ClientFrame::parse(text) {
            Err(refusal) => (Err(refusal.into()), None),
            Ok(frame) => {
                let post = frame.client_id().cloned();
                (self.dispatch(frame, me).await, post)
            }
        };
        // A refused post is named, so the sender's outbox knows which.
        let about = |refusal: Refusal| ServerEvent::from(refusal).about(post.clone());
        match answer {
            Ok(reply) => reply,
            Err(Refusal::Quiet) => self.noise(None),
            Err(refusal @ (Refusal::Frame(_) | Refusal::SignInFirst(_))) => {
                self.noise(Some(about(refusal)))
            }
            Err(refusal) => Some(about(refusal)),
        }
    }

    /// Counts a bad frame against `BAD_FRAMES_PER_10_S`: a few mistakes
    /// get their refusal; a client that keeps at it hears why, and the
    /// pump closes it with 1008 once that is written.
    pub(super) fn noise(&mut self, refusal: Option<ServerEvent>) -> Option<ServerEvent> {
        if self.noise_budget.take().is_ok() {
            return refusal;
        }
        self.close_after = Some((POLICY, "too many bad frames"));
        Some(ServerEvent::error(
            ErrorCode::InvalidFrame,
            "Too many invalid frames: this connection is being closed.",
        ))
    }

    async fn dispatch(&mut self, frame: ClientFrame, me: &ChannelName) -> Answer {
        match frame {
            ClientFrame::Chat { text, client_id } => self.chat(text, client_id, me).await,
            ClientFrame::PrivateMessage {
                to,
                text,
                client_id,
            } => self.private_message(to, text, client_id, me).await,
            ClientFrame::Typing => self.typing().await,
            ClientFrame::History { before_seq, limit } => {
                self.history_budget
                    .take()
                    .map_err(|wait| Refusal::SlowDown {
                        what: "history requests",
                        wait,
                    })?;
                Ok(Some(self.history(before_seq, limit).await))
            }
            ClientFrame::Edit {
                seq,
                text,
                client_id,
            } => self.edit(seq, text, client_id).await,
            ClientFrame::Delete { seq } => self.delete(seq).await,
            ClientFrame::React { seq, emoji } => self.react(seq, emoji).await,
            ClientFrame::Read { seq } => self.read(seq).await,
        }
    }

    /// The signed-in person, or the refusal an anonymous visitor gets.
    pub(super) fn signed_in(&self, say: &'static str) -> Result<&SessionUser, Refusal> {
        self.user.as_ref().ok_or(Refusal::SignInFirst(say))
    }

    /// Takes a token from the person's bucket, or says how long to wait.
    pub(super) fn flood_check(&self, action: Action) -> Result<(), Refusal> {
        let Some(user) = &self.user else {
            return Ok(());
        };
        self.flood
            .check(action, &user.username)
            .map_err(|wait| Refusal::SlowDown {
                what: match action {
                    Action::Message => "messages",
                    Action::Reaction => "reactions",
                },
                wait,
            })
    }

    /// A chat message: the writer stores it and broadcasts it to the room,
    /// us included.
    /// With a `client_id`, the writer acks it to us with the stored seq,
    /// and a repeat of it is acked again instead of stored twice.
    async fn chat(
        &mut self,
        text: MessageText,
        client_id: Option<ClientId>,
        me: &ChannelName,
    ) -> Answer {
        let user = self.signed_in("Log in to post.")?.clone();
        self.typing_excused = true;
        self.flood_check(Action::Message)?;
        if !self.stored {
            match self.room.is_direct() {
                true => self.may_start_direct(&user, &self.room.clone()).await?,
                false => self.may_start_room(&user).await?,
            }
            self.stored = true;
        }
        // A sent message ends the typing; the next keystroke may signal at once.
        self.last_typing = None;
        let post = Post {
            message: NewMessage::new(
                self.room.clone(),
                user.id,
                // Always the session's name, never anything from the frame.
                user.username,
                text.into_string(),
            )
            .with_client_id(client_id),
            reply_to: me.clone(),
            by_admin: user.is_admin,
            ack_apart: false,
        };
        self.chat.writer.post(post).await.map_err(|e| {
            Refusal::unavailable(
                format_args!("storing a message in {}", self.room),
                e,
                "Your message could not be saved; try again.",
            )
        })?;
        Ok(None)
    }

    /// The first message brings a room into being: at most
    /// `ROOMS_PER_HOUR` new rooms per person.
    /// The room is stored here, before its first message, so that its
    /// lookalike key is claimed (two lookalikes started at once: one wins).
    async fn may_start_room(&mut self, user: &SessionUser) -> Result<(), Refusal> {
        let storage = &self.chat.storage;
        let failed = |e| {
            Refusal::unavailable(
                format_args!("starting room {}", self.room),
                e,
                "Your message could not be saved; try again.",
            )
        };
        if storage.room(&self.room).await.map_err(failed)?.is_none() {
            self.chat
                .rooms_started
                .check(&user.id)
                .map_err(Refusal::TooManyRooms)?;
            match storage
                .create_room(&self.room, false)
                .await
                .map_err(failed)?
            {
                Created::Created | Created::Exists => {}
                // A hidden room's name is never spelled out to a non-admin.
                Created::LooksLike(like) => {
                    let named = !like.admin_only || user.is_admin;
                    return Err(Refusal::LooksLike(named.then_some(like.name)));
                }
            }
        }
        Ok(())
    }

    /// The first message of a direct conversation opens it for both
    /// people (stored and listed for them), within `ROOMS_PER_HOUR` as a
    /// new room is.
    async fn may_start_direct(&self, user: &SessionUser, room: &RoomName) -> Result<(), Refusal> {
        let failed = |e| {
            Refusal::unavailable(
                format_args!("opening conversation {room}"),
                e,
                "Your message could not be saved; try again.",
            )
        };
        let storage = &self.chat.storage;
        if storage.room(room).await.map_err(failed)?.is_some() {
            return Ok(());
        }
        self.chat
            .rooms_started
            .check(&user.id)
            .map_err(Refusal::TooManyRooms)?;
        storage.open_direct(room).await.map_err(failed)
    }

    /// `{"type":"typing"}`: the room hears who types, at most once a second.
    /// Signals dropped (too fast, or from a visitor) count as bad frames.
    async fn typing(&mut self) -> Answer {
        let Some(user) = &self.user else {
            return Err(Refusal::Quiet);
        };
        let now = tokio::time::Instant::now();
        if self.last_typing.is_some_and(|t| now - t < TYPING_INTERVAL) {
            // Too early to tell the room again. After a chat frame that is
            // what a page does (dropped, not a mistake); otherwise noise.
            return match std::mem::take(&mut self.typing_excused) {
                true => Ok(None),
                false => Err(Refusal::Quiet),
            };
        }
        self.typing_excused = false;
        self.last_typing = Some(now);
        let user = user.username.clone();
        self.broadcast(ServerEvent::Typing { user }).await;
        Ok(None)
    }

    /// `/pm <to> <text>`: stored in the direct conversation with `to` (who
    /// need not be online: it waits for them), which reaches every
    /// connection of theirs as `private_message` once stored. The sender
    /// hears `private_message_delivered` at once (the writer says so if
    /// it cannot be stored after all); with a client id, also `ack` once
    /// it is stored (again, without storing twice, for a repeat of it).
    async fn private_message(
        &mut self,
        to: Username,
        text: MessageText,
        client_id: Option<ClientId>,
        me: &ChannelName,
    ) -> Answer {
        self.flood_check(Action::Message)?;
        let user = self.signed_in("Log in to send private messages.")?.clone();
        let room = match chat::direct::conversation(&self.chat, &user, &to).await {
            Ok(room) => room,
            Err(DirectRefused::NoSuchUser(to)) => return Err(Refusal::NoSuchUser(to.to_string())),
            Err(DirectRefused::Yourself) => return Err(Refusal::Yourself),
            Err(DirectRefused::Storage(e)) => {
                return Err(Refusal::unavailable(
                    format_args!("looking up {to}"),
                    e,
                    "Try again in a moment.",
                ));
            }
        };
        self.may_start_direct(&user, &room).await?;
        let message = text.into_string();
        let post = Post {
            message: NewMessage::new(room, user.id, user.username, message.clone())
                .with_client_id(client_id.clone()),
            reply_to: me.clone(),
            by_admin: user.is_admin,
            ack_apart: true,
        };
        self.chat.writer.post(post).await.map_err(|e| {
            Refusal::unavailable(
                format_args!("storing a private message to {to}"),
                e,
                "Your message could not be saved; try again.",
            )
        })?;
        Ok(Some(ServerEvent::PrivateMessageDelivered {
            target: to.to_string(),
            message,
            client_id,
        }))
    }

    /// `{"type":"read","seq":42}`: moves the person's read marker forward
    /// and tells every connection of theirs (their inbox: other tabs,
    /// other devices, the lobby), so all agree on what is unread.
    async fn read(&mut self, seq: u64) -> Answer {
        let user = self.signed_in("Log in to keep your place in a room.")?;
        self.read_budget.take().map_err(|wait| Refusal::SlowDown {
            what: "read markers",
            wait,
        })?;
        let moved = self
            .chat
            .storage
            .mark_read(user.id, &self.room, seq)
            .await
            .map_err(|e| {
                Refusal::unavailable(
                    format_args!("moving a read marker in {}", self.room),
                    e,
                    "Your place in the room could not be saved; it will be tried again.",
                )
            })?;
        if let Some(seq) = moved {
            let inbox = chat::groups::inbox(&user.username);
            let room = self.room.clone();
            self.chat
                .tell(&inbox, ServerEvent::Read { room, seq })
                .await;
            if self.room.is_direct() {
                let (user_id, name) = (user.id, user.username.clone());
                chat::direct::tell_seen(&self.chat, &self.room, user_id, &name, seq).await;
            }
        }
        Ok(None)
    }
}
