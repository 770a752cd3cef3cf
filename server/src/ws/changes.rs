//! Changing a message already in the log: edit, delete, react. Each is
//! checked here (signed in, not flooding, the message exists, own message
//! within the edit window; admins may delete any), stored, then told to the
//! room. Must never import storage's SQL or a layer implementation.

use super::{Consumer, flood::Action, frames::Answer, refusal::Refusal};
use crate::{
    chat,
    storage::{Edited, MessageMeta, NotToggled},
};
use app::{
    account::SessionUser,
    protocol::{
        ClientId, EDIT_WINDOW_SECS, Emoji, MessageText, REACTIONS_PER_MESSAGE, ServerEvent,
    },
};

impl Consumer {
    /// `{"type":"edit"}`: the room hears `message_edited`.
    /// With a client id, the author's copy of `message_edited` carries it
    /// (their ack), and a repeat of it is acked without editing again.
    pub(super) async fn edit(
        &self,
        seq: u64,
        text: MessageText,
        client_id: Option<ClientId>,
    ) -> Answer {
        self.may_change(seq, false).await?;
        let text = text.into_string();
        let edited = self
            .chat
            .storage
            .edit_message(&self.room, seq, &text, client_id.as_ref())
            .await
            .map_err(|e| {
                Refusal::unavailable(
                    format_args!("editing {} #{seq}", self.room),
                    e,
                    "Your edit could not be saved; try again.",
                )
            })?;
        let edited_at = match (edited, client_id.clone()) {
            (Edited::Done(at), _) => at,
            (Edited::Repeat, Some(client_id)) => {
                return Ok(Some(ServerEvent::Ack { client_id, seq }));
            }
            // Deleted since the check above: nothing was written.
            (Edited::Gone | Edited::Repeat, _) => return Err(Refusal::NoSuchMessage(seq)),
        };
        self.broadcast(ServerEvent::MessageEdited {
            room: self.room.clone(),
            seq,
            message: text,
            edited_at,
            client_id,
        })
        .await;
        Ok(None)
    }

    /// `{"type":"delete"}`: the room hears `message_deleted`.
    pub(super) async fn delete(&self, seq: u64) -> Answer {
        self.may_change(seq, true).await?;
        chat::moderation::delete_message(&self.chat, &self.room, seq)
            .await
            .map_err(|e| {
                Refusal::unavailable(
                    format_args!("deleting {} #{seq}", self.room),
                    e,
                    "The message could not be deleted; try again.",
                )
            })?;
        Ok(None)
    }

    /// `{"type":"react"}`: toggles the reaction; the room hears `reaction`
    /// with everyone who now reacts with that emoji.
    pub(super) async fn react(&self, seq: u64, emoji: Emoji) -> Answer {
        let user = self.signed_in("Log in to react.")?;
        self.flood_check(Action::Reaction)?;
        self.live_message(seq).await?;
        let toggled = self
            .chat
            .storage
            .toggle_reaction(
                &self.room,
                seq,
                user.id,
                &user.username,
                emoji.as_str(),
                REACTIONS_PER_MESSAGE,
            )
            .await
            .map_err(|e| {
                Refusal::unavailable(
                    format_args!("reacting to {} #{seq}", self.room),
                    e,
                    "Your reaction could not be saved; try again.",
                )
            })?
            .map_err(|not| match not {
                NotToggled::TooMany => Refusal::TooManyReactions,
                NotToggled::Gone => Refusal::NoSuchMessage(seq),
            })?;
        self.broadcast(ServerEvent::Reaction {
            room: self.room.clone(),
            seq,
            emoji: emoji.as_str().to_owned(),
            users: toggled.users,
        })
        .await;
        Ok(None)
    }

    /// Checks that this person may change message `seq`: signed in, not
    /// flooding, the message exists and is not deleted, and it is their own
    /// and within the edit window (admins may delete any message).
    async fn may_change(&self, seq: u64, admin_may: bool) -> Result<&SessionUser, Refusal> {
        let user = self.signed_in("Log in to change messages.")?;
        self.flood_check(Action::Message)?;
        let meta = self.live_message(seq).await?;
        // Admin rights are read again for each use, so rights given or
        // taken a moment ago (on any process) count even before this
        // socket's `recheck` signal arrives.
        let maybe_admin = meta.user_id != user.id || user.is_admin;
        if admin_may && maybe_admin && self.still_admin(user).await? {
            return Ok(user);
        }
        if meta.user_id != user.id {
            return Err(Refusal::NotYours);
        }
        let age = time::OffsetDateTime::now_utc() - meta.created_at;
        if age > time::Duration::seconds(EDIT_WINDOW_SECS) {
            return Err(Refusal::TooLate);
        }
        Ok(user)
    }

    /// Whether the account is an admin (and enabled) now; fails closed.
    async fn still_admin(&self, user: &SessionUser) -> Result<bool, Refusal> {
        match self.chat.storage.active_user(&user.username).await {
            Ok(record) => Ok(record.is_some_and(|r| r.is_admin)),
            Err(e) => Err(Refusal::unavailable(
                format_args!("reading account {}", user.username),
                e,
                "Try again in a moment.",
            )),
        }
    }

    /// Message `seq` of this room, if it exists and is not deleted.
    async fn live_message(&self, seq: u64) -> Result<MessageMeta, Refusal> {
        match self.chat.storage.message_meta(&self.room, seq).await {
            Ok(Some(meta)) if !meta.deleted => Ok(meta),
            Ok(_) => Err(Refusal::NoSuchMessage(seq)),
            Err(e) => Err(Refusal::unavailable(
                format_args!("reading {} #{seq}", self.room),
                e,
                "Try again in a moment.",
            )),
        }
    }
}
