//! Per-room message numbering: each room's messages get `seq` 1, 2, 3 …
//! Kept in memory for now; it moves into storage (assigned in the same
//! transaction that stores the message) when messages are stored.

use app::names::RoomName;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct Sequencer {
    last: Mutex<HashMap<RoomName, u64>>,
}

impl Sequencer {
    /// The next `seq` for the room, starting at 1.
    pub fn next(&self, room: &RoomName) -> u64 {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let seq = last.entry(room.clone()).or_insert(0);
        *seq += 1;
        *seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_room_from_one() {
        let s = Sequencer::default();
        let a = RoomName::parse("a").unwrap();
        let b = RoomName::parse("b").unwrap();
        assert_eq!(
            [s.next(&a), s.next(&a), s.next(&b), s.next(&a)],
            [1, 2, 1, 3]
        );
    }
}
