//! The error codes of `error` events, and why a client frame was refused.

use super::{ErrorEvent, ServerEvent};
use serde::{Deserialize, Serialize};

/// The error codes the server uses, so neither side spells them by hand.
/// On the wire each is its name in snake_case (`rate_limited`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidJson,
    InvalidFrame,
    InvalidMessage,
    EmptyMessage,
    MessageTooLong,
    UnknownType,
    BinaryNotSupported,
    /// The server could not do it right now (a backend is down); try again.
    Unavailable,
    /// Anonymous visitors may read but not post.
    NotAuthenticated,
    /// A `/command` used wrongly (e.g. `/pm` without a name).
    InvalidCommand,
    /// `/pm` to a name nobody has.
    UnknownUser,
    /// `/pm` to someone with no connection open. No longer sent: private
    /// messages are stored and wait for their reader (kept for clients
    /// that know it).
    UserOffline,
    /// Edit, delete or react to a seq the room does not have (or a deleted message).
    UnknownMessage,
    /// Editing or deleting someone else's message, or after the edit window.
    Forbidden,
    /// Not a single emoji, or one more distinct emoji than a message may carry.
    InvalidEmoji,
    /// The room's name looks like an existing room's (`gеneral` with a
    /// Cyrillic е beside `general`): post in that room instead.
    RoomNameTaken,
    /// Too many messages, edits or reactions too fast; see `retry_after_ms`.
    RateLimited,
    /// A code this build does not know (sent by a newer server): read the
    /// message.
    #[serde(other)]
    Other,
}
/// Why a client frame was refused; becomes an `error` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameError {
    pub code: ErrorCode,
    pub message: String,
}

impl FrameError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl FrameError {
    /// As the `error` event the server would send for it.
    pub fn into_event(self) -> ErrorEvent {
        ErrorEvent {
            code: self.code,
            message: self.message,
            retry_after_ms: None,
            client_id: None,
        }
    }
}

impl From<FrameError> for ServerEvent {
    fn from(e: FrameError) -> Self {
        ServerEvent::Error(e.into_event())
    }
}
