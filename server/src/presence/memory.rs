//! Exact presence for one process, in memory.

use super::{Change, Presence};
use app::names::RoomName;
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Exact presence for one process.
#[derive(Default)]
pub struct MemoryPresence {
    inner: Mutex<Rooms>,
}

#[derive(Default)]
struct Rooms {
    // room → username → open connections
    rooms: HashMap<RoomName, BTreeMap<String, usize>>,
    // room → anonymous connections
    readers: HashMap<RoomName, usize>,
}

impl MemoryPresence {
    /// Every (room, user, connections) entry, to copy elsewhere.
    pub fn snapshot(&self) -> Vec<(RoomName, String, usize)> {
        self.lock()
            .rooms
            .iter()
            .flat_map(|(room, users)| {
                users
                    .iter()
                    .map(move |(user, n)| (room.clone(), user.clone(), *n))
            })
            .collect()
    }

    /// Every (room, anonymous connections) entry, to copy elsewhere.
    pub fn reader_snapshot(&self) -> Vec<(RoomName, usize)> {
        let r = self.lock();
        r.readers
            .iter()
            .map(|(room, n)| (room.clone(), *n))
            .collect()
    }

    /// Nobody, person or reader, is in `room` here.
    pub fn is_empty_in(&self, room: &RoomName) -> bool {
        let r = self.lock();
        !r.rooms.contains_key(room) && !r.readers.contains_key(room)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Rooms> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Presence for MemoryPresence {
    async fn join(&self, room: &RoomName, user: &str) -> Change {
        let mut r = self.lock();
        let users = r.rooms.entry(room.clone()).or_default();
        let count = users.entry(user.to_owned()).or_insert(0);
        *count += 1;
        let person = *count == 1;
        let online = users.len();
        Change { person, online }
    }

    async fn leave(&self, room: &RoomName, user: &str) -> Change {
        let mut r = self.lock();
        let Some(users) = r.rooms.get_mut(room) else {
            return Change {
                person: false,
                online: 0,
            };
        };
        let Some(count) = users.get_mut(user) else {
            let online = users.len();
            return Change {
                person: false,
                online,
            };
        };
        *count -= 1;
        let person = *count == 0;
        if person {
            users.remove(user);
        }
        let online = users.len();
        if online == 0 {
            r.rooms.remove(room);
        }
        Change { person, online }
    }

    async fn users(&self, room: &RoomName) -> Vec<String> {
        self.lock()
            .rooms
            .get(room)
            .map(|users| users.keys().cloned().collect())
            .unwrap_or_default()
    }

    async fn some_users(&self, room: &RoomName, max: usize) -> Vec<String> {
        self.lock()
            .rooms
            .get(room)
            .map(|users| users.keys().take(max).cloned().collect())
            .unwrap_or_default()
    }

    async fn online(&self, room: &RoomName) -> usize {
        self.lock().rooms.get(room).map_or(0, BTreeMap::len)
    }

    /// Only rooms with someone in them are in the map, so this is as cheap
    /// as the number of occupied rooms.
    async fn busiest(&self, limit: usize) -> Vec<(RoomName, usize)> {
        let mut rooms: Vec<_> = self
            .lock()
            .rooms
            .iter()
            .map(|(room, users)| (room.clone(), users.len()))
            .collect();
        rooms.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        rooms.truncate(limit);
        rooms
    }

    async fn counts(&self, rooms: &[RoomName]) -> Vec<usize> {
        let r = self.lock();
        rooms
            .iter()
            .map(|room| r.rooms.get(room).map_or(0, BTreeMap::len))
            .collect()
    }

    async fn reader_joined(&self, room: &RoomName) {
        *self.lock().readers.entry(room.clone()).or_insert(0) += 1;
    }

    async fn reader_left(&self, room: &RoomName) {
        let mut r = self.lock();
        if let Some(n) = r.readers.get_mut(room) {
            *n -= 1;
            if *n == 0 {
                r.readers.remove(room);
            }
        }
    }

    async fn readers(&self, rooms: &[RoomName]) -> Vec<usize> {
        let r = self.lock();
        rooms
            .iter()
            .map(|room| r.readers.get(room).copied().unwrap_or(0))
            .collect()
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
        let change = |person, online| Change { person, online };
        assert_eq!(p.join(&room, "alice").await, change(true, 1));
        assert_eq!(p.join(&room, "alice").await, change(false, 1));
        assert_eq!(p.join(&room, "bob").await, change(true, 2));
        assert_eq!(p.join(&other, "alice").await, change(true, 1));
        assert_eq!(p.users(&room).await, ["alice", "bob"]);
        assert_eq!(p.online(&room).await, 2);
        assert_eq!(p.leave(&room, "alice").await, change(false, 2));
        assert_eq!(p.online(&room).await, 2);
        assert_eq!(p.leave(&room, "alice").await, change(true, 1));
        assert_eq!(p.users(&room).await, ["bob"]);
        assert_eq!(p.leave(&other, "alice").await, change(true, 0));
        assert_eq!(p.leave(&room, "nobody").await, change(false, 1));
    }

    #[tokio::test]
    async fn some_users_are_the_first_few_of_a_big_room() {
        let p = MemoryPresence::default();
        let room = RoomName::parse("big").unwrap();
        for n in 0..1000 {
            p.join(&room, &format!("u{n:04}")).await;
        }
        assert_eq!(p.some_users(&room, 3).await, ["u0000", "u0001", "u0002"]);
        assert_eq!(p.some_users(&room, 5000).await.len(), 1000);
        assert_eq!(p.online(&room).await, 1000);
    }

    #[tokio::test]
    async fn busiest_rooms_first_and_counts_in_one_go() {
        let p = MemoryPresence::default();
        let (a, b) = (RoomName::parse("a").unwrap(), RoomName::parse("b").unwrap());
        p.join(&a, "alice").await;
        p.join(&b, "alice").await;
        p.join(&b, "bob").await;
        assert_eq!(p.busiest(1).await, [(b.clone(), 2)]);
        let empty = RoomName::parse("empty").unwrap();
        assert_eq!(p.counts(&[a, b, empty]).await, [1, 2, 0]);
    }

    #[tokio::test]
    async fn readers_are_counted_apart_from_people() {
        let p = MemoryPresence::default();
        let (a, b) = (RoomName::parse("a").unwrap(), RoomName::parse("b").unwrap());
        p.reader_joined(&a).await;
        p.reader_joined(&a).await;
        p.reader_joined(&b).await;
        p.reader_left(&b).await;
        p.reader_left(&b).await; // one too many: no underflow
        assert_eq!(p.readers(&[a.clone(), b]).await, [2, 0]);
        assert_eq!(p.online(&a).await, 0, "readers are not people");
        assert!(p.users(&a).await.is_empty());
    }
}
