//! Who is in which room. Signed-in people are counted once however many
//! tabs (connections) they have open, and each room's count is kept as it
//! changes, so the lobby reads the busiest rooms without visiting every
//! room: `join` reports a person's first
//! connection to a room and `leave` their last, which is when the room hears
//! `user_join` / `user_leave`. Anonymous viewers are counted apart, per
//! room, as connections (two anonymous tabs cannot be told apart): the
//! lobby's "5 reading".
//!
//! Two implementations: [`MemoryPresence`], exact for one process (the
//! default), and [`RedisPresence`], shared by every process on one Redis,
//! with per-process heartbeats so that a process that dies without saying
//! goodbye has its people leave. Presence never tells anyone: `join` and
//! `leave` answer their caller, and the people who left with a dead process
//! are *reported* as [`Departure`]s, which `chat/` words and tells.
//! Must never import the chat domain, the app's state or protocol events:
//! `grep -rn 'App[S]tate\|crate::c[h]at\|Server[E]vent' server/src/presence`
//! prints nothing.

mod memory;
mod redis;

pub use memory::MemoryPresence;
pub use redis::RedisPresence;

use app::names::RoomName;
use async_trait::async_trait;

/// Someone who left a room without their connection saying so: the
/// process that held their last one died.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Departure {
    pub room: RoomName,
    pub user: String,
    /// How many people are in the room after they left.
    pub online: usize,
}

/// What a connection joining or leaving changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    /// The person's first connection to the room opened (a join) or their
    /// last closed (a leave): the room may hear of the person.
    pub person: bool,
    /// How many people are in the room now.
    pub online: usize,
}

/// Where presence reports departures, for `chat/` to tell the rooms.
pub type Departures = tokio::sync::mpsc::Receiver<Departure>;

#[async_trait]
pub trait Presence: Send + Sync + 'static {
    /// Records a connection. Costs the same however many are in the room:
    /// a restart brings a big room's people back all at once.
    async fn join(&self, room: &RoomName, user: &str) -> Change;
    /// Forgets a connection; as cheap as [`Presence::join`].
    async fn leave(&self, room: &RoomName, user: &str) -> Change;
    /// The people in the room, sorted: as costly as the room is big.
    async fn users(&self, room: &RoomName) -> Vec<String>;
    /// Up to `max` of the people in the room, sorted: costs `max`, not the
    /// room's size (what a joining connection is sent).
    async fn some_users(&self, room: &RoomName, max: usize) -> Vec<String>;
    /// How many people are in the room; as cheap as a join.
    async fn online(&self, room: &RoomName) -> usize;
    /// The `limit` rooms with the most people in them, most first: what
    /// the lobby lists besides recently active rooms. Costs the same
    /// however many rooms exist.
    async fn busiest(&self, limit: usize) -> Vec<(RoomName, usize)>;
    /// How many people are in each of `rooms`, in one go.
    async fn counts(&self, rooms: &[RoomName]) -> Vec<usize>;
    /// Records an anonymous visitor's connection.
    async fn reader_joined(&self, room: &RoomName);
    /// Forgets an anonymous visitor's connection.
    async fn reader_left(&self, room: &RoomName);
    /// Anonymous connections in each of `rooms`, in one go.
    async fn readers(&self, rooms: &[RoomName]) -> Vec<usize>;
}
