//! Who is in which room. Signed-in people are counted once however many
//! tabs (connections) they have open: `join` reports a person's first
//! connection to a room and `leave` their last, which is when the room hears
//! `user_join` / `user_leave`. Anonymous viewers are not tracked.
//!
//! Behind the [`Presence`] trait so that a shared implementation (Redis,
//! with per-process heartbeats and expiry) can replace the in-memory one,
//! which is exact for a single process.

use app::names::RoomName;
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

#[async_trait]
pub trait Presence: Send + Sync + 'static {
    /// Records a connection; true if it is the person's first in the room.
    async fn join(&self, room: &RoomName, user: &str) -> bool;
    /// Forgets a connection; true if it was the person's last in the room.
    async fn leave(&self, room: &RoomName, user: &str) -> bool;
    /// The people in the room, sorted.
    async fn users(&self, room: &RoomName) -> Vec<String>;
    /// How many people are in the room.
    async fn online(&self, room: &RoomName) -> usize;
    /// Whether the person has a connection open in any room.
    async fn is_online(&self, user: &str) -> bool;
}

/// Exact presence for one process.
#[derive(Default)]
pub struct MemoryPresence {
    inner: Mutex<Rooms>,
}

#[derive(Default)]
struct Rooms {
    // room → username → open connections
    rooms: HashMap<RoomName, BTreeMap<String, usize>>,
    // username → open connections in all rooms
    people: HashMap<String, usize>,
}

impl MemoryPresence {
    fn lock(&self) -> std::sync::MutexGuard<'_, Rooms> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Presence for MemoryPresence {
    async fn join(&self, room: &RoomName, user: &str) -> bool {
        let mut r = self.lock();
        *r.people.entry(user.to_owned()).or_insert(0) += 1;
        let count = r
            .rooms
            .entry(room.clone())
            .or_default()
            .entry(user.to_owned())
            .or_insert(0);
        *count += 1;
        *count == 1
    }

    async fn leave(&self, room: &RoomName, user: &str) -> bool {
        let mut r = self.lock();
        let Some(users) = r.rooms.get_mut(room) else {
            return false;
        };
        let Some(count) = users.get_mut(user) else {
            return false;
        };
        *count -= 1;
        let last = *count == 0;
        if last {
            users.remove(user);
            if users.is_empty() {
                r.rooms.remove(room);
            }
        }
        if let Some(n) = r.people.get_mut(user) {
            *n -= 1;
            if *n == 0 {
                r.people.remove(user);
            }
        }
        last
    }

    async fn users(&self, room: &RoomName) -> Vec<String> {
        self.lock()
            .rooms
            .get(room)
            .map(|users| users.keys().cloned().collect())
            .unwrap_or_default()
    }

    async fn online(&self, room: &RoomName) -> usize {
        self.lock().rooms.get(room).map_or(0, BTreeMap::len)
    }

    async fn is_online(&self, user: &str) -> bool {
        self.lock().people.contains_key(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn two_tabs_are_one_person() {
        let p = MemoryPresence::default();
        let room = RoomName::parse("r").unwrap();
        let other = RoomName::parse("other").unwrap();
        assert!(p.join(&room, "alice").await);
        assert!(!p.join(&room, "alice").await);
        assert!(p.join(&room, "bob").await);
        assert!(p.join(&other, "alice").await);
        assert_eq!(p.users(&room).await, ["alice", "bob"]);
        assert_eq!(p.online(&room).await, 2);
        assert!(!p.leave(&room, "alice").await);
        assert_eq!(p.online(&room).await, 2);
        assert!(p.leave(&room, "alice").await);
        assert_eq!(p.users(&room).await, ["bob"]);
        assert!(p.is_online("alice").await, "still in the other room");
        assert!(p.leave(&other, "alice").await);
        assert!(!p.is_online("alice").await);
        assert!(!p.leave(&room, "nobody").await);
    }
}
