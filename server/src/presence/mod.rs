//! Who is in which room. Signed-in people are counted once however many
//! tabs (connections) they have open: `join` reports a person's first
//! connection to a room and `leave` their last, which is when the room hears
//! `user_join` / `user_leave`. Anonymous viewers are not tracked.
//!
//! Two implementations: [`MemoryPresence`], exact for one process (the
//! default), and [`RedisPresence`], shared by every process on one Redis,
//! with per-process heartbeats so that a process that dies without saying
//! goodbye has its people leave.

mod memory;
mod redis;

pub use memory::MemoryPresence;
pub use redis::RedisPresence;

use app::names::RoomName;
use async_trait::async_trait;

#[async_trait]
pub trait Presence: Send + Sync + 'static {
    /// Records a connection; true if it is the person's first in the room.
    async fn join(&self, room: &RoomName, user: &str) -> bool;
    /// Forgets a connection; true if it was the person's last in the room.
    async fn leave(&self, room: &RoomName, user: &str) -> bool;
    /// The people in the room, sorted.
    async fn users(&self, room: &RoomName) -> Vec<String>;
    /// How many people are in the room.
    async fn online(&self, room: &RoomName) -> usize {
        self.users(room).await.len()
    }
}
