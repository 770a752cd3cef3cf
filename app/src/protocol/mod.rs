//! The WebSocket protocol, defined once and used by both ends: what the
//! server sends ([`ServerEvent`]) and what a client may send ([`ClientFrame`]).
//!
//! The shapes are the contract in DESIGN.md: the tutorials' `{"message": …}`
//! works unchanged, and every event carries a `type`.
//!
//! One file per part: [`server_event`] (what the server sends),
//! [`client_frame`] (what a client may send, one small parser per kind),
//! [`text`] (message text and emoji, checked once), [`error`] (the error
//! codes and why a frame was refused), [`lobby`] (the lobby's live room
//! list). The paths `app::protocol::X` are
//! re-exported here. Must never import anything browser- or server-only.

mod client_frame;
mod error;
mod lobby;
mod server_event;
#[cfg(test)]
mod tests;
mod text;

pub use client_frame::{ClientFrame, private_command};
pub use error::{ErrorCode, FrameError};
pub use lobby::{LobbyEvent, ReadMarker};
pub use server_event::{ChatMessage, EndCode, ErrorEvent, History, Reaction, ServerEvent};
pub use text::{CLIENT_ID_MAX_CHARS, ClientId, Emoji, MessageText, REACTIONS_PER_MESSAGE};

/// Longest chat message, in characters.
pub const MESSAGE_MAX_CHARS: usize = 4_000;
/// Largest WebSocket frame or message the server reads; bigger ones close the
/// socket with 1009 (message too big).
pub const FRAME_MAX_BYTES: usize = 64 * 1024;
/// Messages in one `history` page unless the client asks for fewer.
pub const HISTORY_PAGE: u32 = 50;
/// Most messages one `history` request may ask for.
pub const HISTORY_MAX: u32 = 200;
/// How long after posting its author may edit or delete a message.
pub const EDIT_WINDOW_SECS: i64 = 10 * 60;
