//! What the server sends: [`ServerEvent`], tagged by `type` as the
//! tutorials name them, and the rows it carries.

use super::ErrorCode;
use crate::names::RoomName;
use serde::{Deserialize, Serialize};

/// Everything the server sends to a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEvent {
    ChatMessage(ChatMessage),
    /// A page of the room's log, oldest first. Sent on joining (the latest
    /// page) and in answer to a `history` frame.
    History(History),
    /// The signed-in people in the room, sent on connecting. Extension:
    /// `online`, how many they are. In a big room (more than the server's
    /// `USER_LIST_MAX`) `users` holds only some of them, and arrivals and
    /// departures come as [`ServerEvent::UserCount`] instead of
    /// `user_join` / `user_leave`.
    UserList {
        users: Vec<String>,
        #[serde(default)]
        online: usize,
    },
    /// How many people are in a big room now: its arrivals and departures,
    /// gathered (at most a few a second).
    UserCount {
        count: usize,
    },
    /// A person's first connection to the room opened. Extension:
    /// `online`, how many people are in the room now.
    UserJoin {
        user: String,
        #[serde(default)]
        online: usize,
    },
    /// A person's last connection to the room closed (`online`: as in
    /// `user_join`).
    UserLeave {
        user: String,
        #[serde(default)]
        online: usize,
    },
    /// A private message to this person, from `user`. Extensions: the
    /// direct conversation it is stored in (`room`, `@alice+bob`) and its
    /// `seq` there.
    PrivateMessage {
        user: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<RoomName>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// Receipt for the sender: the private message reached `target`.
    /// Extension: the post's `client_id`, when it had one (its `ack`
    /// follows once it is stored).
    PrivateMessageDelivered {
        target: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<super::ClientId>,
    },
    /// `user` is typing in the room (sent at most every 2 s while they type).
    Typing {
        user: String,
    },
    /// The author changed message `seq`. Extension: the edit's
    /// `client_id`, when it had one (the author's copy is its ack).
    MessageEdited {
        room: RoomName,
        seq: u64,
        message: String,
        edited_at: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<super::ClientId>,
    },
    /// Message `seq` was deleted (by its author or an admin); it stays in
    /// the log as a tombstone so seqs remain contiguous.
    MessageDeleted {
        room: RoomName,
        seq: u64,
    },
    /// Who now reacts to message `seq` with `emoji` (empty: nobody).
    Reaction {
        room: RoomName,
        seq: u64,
        emoji: String,
        users: Vec<String>,
    },
    /// This connection is being closed by the server (the account was
    /// disabled); the socket closes right after. `code` (an extension:
    /// absent from older servers) says why in a word a page can translate.
    SessionEnded {
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<EndCode>,
    },
    /// To the sender only: the post with this `client_id` is stored as
    /// `seq` (sent again, with the same `seq`, for a repeat of the id).
    Ack {
        client_id: super::ClientId,
        seq: u64,
    },
    /// To every connection of one person: their read marker in `room`
    /// is `seq` (sent on joining a room they have read before, and
    /// whenever any of their devices moves it).
    Read {
        room: RoomName,
        seq: u64,
    },
    /// In a direct conversation: the other person (`user`) has read it up
    /// to `seq` (only if they share read receipts). Sent on joining and
    /// whenever their marker moves.
    Seen {
        room: RoomName,
        user: String,
        seq: u64,
    },
    /// To every connection of one person: message `seq` of `room`, one of
    /// their rooms (they have a read marker there), mentions them
    /// (`@name`). The lobby and the sidebar count these as a badge.
    Mention {
        room: RoomName,
        seq: u64,
    },
    Error(ErrorEvent),
}
/// Why the server ended a session, stable for pages to translate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndCode {
    LoggedOut,
    AccountDisabled,
    AdminsOnly,
    RoomDeleted,
    /// A code this build does not know: read the reason.
    #[serde(other)]
    Other,
}

impl EndCode {
    /// The reason in English, as `reason` carries it (`locales/en.json`).
    pub fn reason(self) -> &'static str {
        crate::lang::end_text(crate::lang::Locale::en, self)
    }
}

/// One emoji on a message and who reacted with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: String,
    pub users: Vec<String>,
}

/// A page of stored messages, oldest first. `has_more`: there are older
/// ones (or, for `after_seq` queries, newer ones) beyond this page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub messages: Vec<ChatMessage>,
    pub has_more: bool,
}

/// One stored chat message as everyone in the room sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub room: RoomName,
    /// Position in the room's log: 1, 2, 3 … with no gaps.
    pub seq: u64,
    pub id: String,
    pub user: String,
    pub message: String,
    /// RFC 3339 UTC time at which the server accepted the message.
    pub ts: String,
    /// When the author last edited it, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<String>,
    /// Deleted: `message` is then empty.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// The id its sender gave it (an extension: absent when none was
    /// given): a page that sent it recognises its own message however it
    /// comes back (live, or in the history after a reconnect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<super::ClientId>,
}

/// A refusal addressed to one connection; the connection stays open.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorEvent {
    /// Stable, machine-readable.
    pub code: ErrorCode,
    /// For people: says what was wrong and what to do instead.
    pub message: String,
    /// With `rate_limited`: when the next attempt will be accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// The refused post's `client_id`, when it had one (an extension):
    /// which message of the sender's outbox was not stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<super::ClientId>,
}
impl ServerEvent {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error(ErrorEvent {
            code,
            message: message.into(),
            retry_after_ms: None,
            client_id: None,
        })
    }

    /// `rate_limited`, saying when to try again.
    pub fn rate_limited(what: &str, retry_after_ms: u64) -> Self {
        let secs = (retry_after_ms as f64 / 1000.0).max(0.1);
        Self::Error(ErrorEvent {
            code: ErrorCode::RateLimited,
            message: format!("Slow down: too many {what}. Try again in {secs:.1} s."),
            retry_after_ms: Some(retry_after_ms),
            client_id: None,
        })
    }

    /// `session_ended`, with the reason in English and its code.
    pub fn session_ended(code: EndCode) -> Self {
        Self::SessionEnded {
            reason: code.reason().to_owned(),
            code: Some(code),
        }
    }

    /// The same event naming the post it refuses (errors only).
    pub fn about(self, post: Option<super::ClientId>) -> Self {
        match self {
            Self::Error(e) => Self::Error(ErrorEvent {
                client_id: post,
                ..e
            }),
            other => other,
        }
    }

    pub fn to_json(&self) -> String {
        // Serializing these plain structs cannot fail.
        serde_json::to_string(self).expect("server events serialize")
    }
}
