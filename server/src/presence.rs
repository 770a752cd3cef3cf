//! Who is in which room: signed-in people counted once however many tabs
//! (connections) they have open. In memory and exact for one process.

use app::names::RoomName;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct Presence {
    // room → username → open connections
    rooms: Mutex<HashMap<RoomName, HashMap<String, usize>>>,
}

impl Presence {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RoomName, HashMap<String, usize>>> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a connection; true if it is the person's first in the room.
    pub fn join(&self, room: &RoomName, user: &str) -> bool {
        let mut rooms = self.lock();
        let count = rooms
            .entry(room.clone())
            .or_default()
            .entry(user.to_owned())
            .or_insert(0);
        *count += 1;
        *count == 1
    }

    /// Forgets a connection; true if it was the person's last in the room.
    pub fn leave(&self, room: &RoomName, user: &str) -> bool {
        let mut rooms = self.lock();
        let Some(users) = rooms.get_mut(room) else {
            return false;
        };
        let Some(count) = users.get_mut(user) else {
            return false;
        };
        *count -= 1;
        if *count > 0 {
            return false;
        }
        users.remove(user);
        if users.is_empty() {
            rooms.remove(room);
        }
        true
    }

    /// Distinct people in the room.
    pub fn online(&self, room: &RoomName) -> usize {
        self.lock().get(room).map_or(0, HashMap::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_tabs_are_one_person() {
        let p = Presence::default();
        let room = RoomName::parse("r").unwrap();
        assert!(p.join(&room, "alice"));
        assert!(!p.join(&room, "alice"));
        assert!(p.join(&room, "bob"));
        assert_eq!(p.online(&room), 2);
        assert!(!p.leave(&room, "alice"));
        assert_eq!(p.online(&room), 2);
        assert!(p.leave(&room, "alice"));
        assert_eq!(p.online(&room), 1);
        assert!(!p.leave(&room, "nobody"));
    }
}
