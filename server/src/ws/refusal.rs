//! Why the consumer refuses a frame: a small typed enum that becomes the
//! `error` event for this connection only (the socket stays open). The
//! texts are what people read; the codes are the protocol's. A fault of
//! ours is logged once, where it is made ([`Refusal::unavailable`]), and
//! the client hears only that it may try again. Must never import storage.

use app::{
    names::RoomName,
    protocol::{ErrorCode, ErrorEvent, FrameError, REACTIONS_PER_MESSAGE, ServerEvent},
};
use std::{fmt, time::Duration};

#[derive(Debug)]
pub(super) enum Refusal {
    /// Anonymous visitors read but cannot do this ("Log in to …").
    SignInFirst(&'static str),
    /// The person's flood bucket is empty for `what` (messages, reactions).
    SlowDown { what: &'static str, wait: Duration },
    /// Someone else's message.
    NotYours,
    /// Past the edit window.
    TooLate,
    /// The room has no (live) message with this seq.
    NoSuchMessage(u64),
    /// `/pm` to a name nobody has.
    NoSuchUser(String),
    /// `/pm` to oneself.
    Yourself,
    /// A backend failed; the text says what to do.
    Unavailable(&'static str),
    /// The frame itself was malformed.
    Frame(FrameError),
    /// Dropped without a word (a typing signal too soon, or from a
    /// visitor); still counts as a bad frame.
    Quiet,
    /// The person has started `ROOMS_PER_HOUR` rooms this hour.
    TooManyRooms(Duration),
    /// This (new) room's name looks like that existing room's (named only
    /// if the poster may see it).
    LooksLike(Option<RoomName>),
    /// The message carries `REACTIONS_PER_MESSAGE` distinct emojis already.
    TooManyReactions,
}

impl Refusal {
    /// Logs what failed and why, and refuses with `say`.
    pub(super) fn unavailable(
        what: fmt::Arguments<'_>,
        why: impl fmt::Display,
        say: &'static str,
    ) -> Self {
        tracing::error!("{what}: {why}");
        Self::Unavailable(say)
    }
}

impl From<FrameError> for Refusal {
    fn from(e: FrameError) -> Self {
        Self::Frame(e)
    }
}

impl From<Refusal> for ServerEvent {
    fn from(refusal: Refusal) -> Self {
        use ErrorCode as C;
        match refusal {
            Refusal::SignInFirst(say) => ServerEvent::error(C::NotAuthenticated, say),
            Refusal::SlowDown { what, wait } => {
                ServerEvent::rate_limited(what, wait.as_millis().max(1) as u64)
            }
            Refusal::NotYours => {
                ServerEvent::error(C::Forbidden, "You can only change your own messages.")
            }
            Refusal::TooLate => ServerEvent::error(
                C::Forbidden,
                "Messages can only be changed within 10 minutes of sending them.",
            ),
            Refusal::NoSuchMessage(seq) => ServerEvent::error(
                C::UnknownMessage,
                format!("This room has no message {seq}."),
            ),
            Refusal::NoSuchUser(name) => {
                ServerEvent::error(C::UnknownUser, format!("There is no user named {name:?}."))
            }
            Refusal::Yourself => ServerEvent::error(
                C::InvalidCommand,
                "A private message goes to someone else: /pm <name> <message>.",
            ),
            Refusal::Unavailable(say) => ServerEvent::error(C::Unavailable, say),
            Refusal::Frame(e) => e.into(),
            Refusal::Quiet => ServerEvent::error(C::InvalidFrame, "Ignored."),
            Refusal::TooManyRooms(wait) => ServerEvent::Error(ErrorEvent {
                code: C::RateLimited,
                message: format!(
                    "You have started as many new rooms as you may this hour. Post in an existing room, or try again in {} min.",
                    wait.as_secs().div_ceil(60).max(1)
                ),
                retry_after_ms: Some(wait.as_millis().max(1) as u64),
                client_id: None,
            }),
            Refusal::LooksLike(Some(room)) => ServerEvent::error(
                C::RoomNameTaken,
                format!(
                    "This room's name looks like {room}'s, so it cannot be started: post in {room} instead."
                ),
            ),
            Refusal::LooksLike(None) => ServerEvent::error(
                C::RoomNameTaken,
                "This room's name looks like another room's, so it cannot be started.",
            ),
            Refusal::TooManyReactions => ServerEvent::error(
                C::InvalidEmoji,
                format!(
                    "This message has {REACTIONS_PER_MESSAGE} different reactions already: add yours to one of them."
                ),
            ),
        }
    }
}
