//! The signed-in person's own rooms and direct conversations, each with
//! how many messages they have not read and how many of those mention
//! them, as a plain type ([`Mine`]): fed by the lobby feed's events (the
//! first list with their read markers, each room's line, each marker that
//! moves, each private message, each mention), read
//! by the lobby's lists and the room page's sidebar. A room is theirs once
//! they have a read marker in it (they have read it, or someone wrote to
//! them). No signals and no browser here: tested below.

use crate::{
    names::RoomName,
    protocol::{LobbyEvent, ReadMarker},
};

/// One of the person's rooms or conversations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub room: RoomName,
    /// In a direct conversation, the other person.
    pub peer: Option<String>,
    pub unread: u64,
    /// Unread messages that mention the person.
    pub mentions: u64,
}

impl Place {
    /// What people call it: the room's name, or the other person's.
    pub fn label(&self) -> &str {
        self.peer.as_deref().unwrap_or(self.room.as_str())
    }

    /// Its page.
    pub fn page_path(&self) -> String {
        match &self.peer {
            Some(peer) => RoomName::direct_page_path(peer),
            None => self.room.page_path(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mine {
    /// Each room's marker and newest seq (`last_seq`, kept current).
    markers: Vec<ReadMarker>,
}

impl Mine {
    /// Takes in one event of the lobby feed.
    pub fn apply(&mut self, event: &LobbyEvent) {
        match event {
            LobbyEvent::Rooms { rooms, read } => {
                for marker in read {
                    self.merge(marker.clone());
                }
                for line in rooms {
                    self.newest(&line.name, line.last_seq);
                }
            }
            LobbyEvent::RoomSummary(line) => self.newest(&line.name, line.last_seq),
            LobbyEvent::Read(marker) => self.merge(marker.clone()),
            LobbyEvent::PrivateMessage {
                room: Some(room),
                seq: Some(seq),
                ..
            } => self.merge(ReadMarker {
                room: room.clone(),
                seq: 0,
                last_seq: Some(*seq),
                mentions: Vec::new(),
            }),
            LobbyEvent::PrivateMessage { .. } => {}
            LobbyEvent::Mention { room, seq } => {
                if let Some(m) = self.markers.iter_mut().find(|m| &m.room == room) {
                    m.last_seq = m.last_seq.max(Some(*seq));
                    if *seq > m.seq && !m.mentions.contains(seq) {
                        m.mentions.push(*seq);
                    }
                }
            }
        }
    }

    /// Markers only move forward, and so do rooms; a mention is counted
    /// until the marker passes it.
    fn merge(&mut self, new: ReadMarker) {
        match self.markers.iter_mut().find(|m| m.room == new.room) {
            Some(m) => {
                m.seq = m.seq.max(new.seq);
                m.last_seq = m.last_seq.max(new.last_seq);
                for seq in new.mentions {
                    if !m.mentions.contains(&seq) {
                        m.mentions.push(seq);
                    }
                }
                let read = m.seq;
                m.mentions.retain(|s| *s > read);
            }
            None => self.markers.push(new),
        }
    }

    /// One of the person's rooms has messages up to `last_seq`.
    fn newest(&mut self, room: &RoomName, last_seq: u64) {
        if let Some(m) = self.markers.iter_mut().find(|m| &m.room == room) {
            m.last_seq = m.last_seq.max(Some(last_seq));
        }
    }

    /// Unread messages in `room`; `None` if it is not one of theirs.
    pub fn unread(&self, room: &RoomName) -> Option<u64> {
        let m = self.markers.iter().find(|m| &m.room == room)?;
        Some(m.last_seq.unwrap_or(0).saturating_sub(m.seq))
    }

    /// Unread messages in `room` that mention the person.
    pub fn mentions(&self, room: &RoomName) -> u64 {
        self.markers
            .iter()
            .find(|m| &m.room == room)
            .map_or(0, |m| m.mentions.len() as u64)
    }

    /// The person's rooms (`direct`: false) or conversations (true), as
    /// `me` sees them: unread first, then by name.
    pub fn places(&self, me: &str, direct: bool) -> Vec<Place> {
        let mut list: Vec<Place> = self
            .markers
            .iter()
            .filter(|m| m.room.is_direct() == direct)
            .filter_map(|m| {
                let peer = match direct {
                    true => Some(m.room.peer_of(me)?.to_owned()),
                    false => None,
                };
                Some(Place {
                    room: m.room.clone(),
                    peer,
                    unread: m.last_seq.unwrap_or(0).saturating_sub(m.seq),
                    mentions: m.mentions.len() as u64,
                })
            })
            .collect();
        list.sort_by(|a, b| {
            (b.unread > 0)
                .cmp(&(a.unread > 0))
                .then_with(|| a.label().cmp(b.label()))
        });
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server_fns::RoomSummary;

    fn marker(room: &str, seq: u64, last_seq: Option<u64>) -> ReadMarker {
        ReadMarker {
            room: RoomName::parse_stored(room).unwrap(),
            seq,
            last_seq,
            mentions: Vec::new(),
        }
    }

    #[test]
    fn mentions_count_until_the_marker_passes_them() {
        let mut mine = Mine::default();
        let room = RoomName::parse("team").unwrap();
        mine.apply(&LobbyEvent::Rooms {
            rooms: vec![line("team", 6)],
            read: vec![ReadMarker {
                mentions: vec![6, 4],
                ..marker("team", 3, Some(6))
            }],
        });
        assert_eq!(mine.mentions(&room), 2);
        mine.apply(&LobbyEvent::Mention {
            room: room.clone(),
            seq: 8,
        });
        mine.apply(&LobbyEvent::Mention {
            room: room.clone(),
            seq: 8,
        });
        assert_eq!((mine.mentions(&room), mine.unread(&room)), (3, Some(5)));
        let elsewhere = RoomName::parse("not-mine").unwrap();
        mine.apply(&LobbyEvent::Mention {
            room: elsewhere.clone(),
            seq: 1,
        });
        assert_eq!(mine.mentions(&elsewhere), 0, "not one of theirs");
        mine.apply(&LobbyEvent::Read(marker("team", 6, None)));
        assert_eq!(mine.mentions(&room), 1, "4 and 6 read; 8 not");
        assert_eq!(mine.places("me", false)[0].mentions, 1);
        mine.apply(&LobbyEvent::Read(marker("team", 8, None)));
        assert_eq!(mine.mentions(&room), 0);
    }

    fn line(room: &str, last_seq: u64) -> RoomSummary {
        RoomSummary {
            name: RoomName::parse(room).unwrap(),
            online: 1,
            readers: 0,
            last_message_at: None,
            last_seq,
        }
    }

    #[test]
    fn unread_counts_follow_the_feed_and_markers_only_move_forward() {
        let mut mine = Mine::default();
        let room = RoomName::parse("mine").unwrap();
        mine.apply(&LobbyEvent::Rooms {
            rooms: vec![line("mine", 7), line("other", 9)],
            read: vec![marker("mine", 3, Some(5))],
        });
        assert_eq!(mine.unread(&room), Some(4), "the list's line is newer");
        mine.apply(&LobbyEvent::Read(marker("mine", 2, None)));
        assert_eq!(mine.unread(&room), Some(4), "never back");
        mine.apply(&LobbyEvent::RoomSummary(line("mine", 8)));
        assert_eq!(mine.unread(&room), Some(5));
        mine.apply(&LobbyEvent::Read(marker("mine", 8, None)));
        assert_eq!(mine.unread(&room), Some(0));
        let other = RoomName::parse("other").unwrap();
        assert_eq!(mine.unread(&other), None, "never read: not theirs");
    }

    #[test]
    fn conversations_are_named_by_the_other_person_unread_first() {
        let mut mine = Mine::default();
        mine.apply(&LobbyEvent::Rooms {
            rooms: Vec::new(),
            read: vec![
                marker("@ala+bob", 1, Some(1)),
                marker("@bob+cyd", 0, Some(0)),
                marker("zoo", 1, Some(1)),
            ],
        });
        mine.apply(&LobbyEvent::PrivateMessage {
            user: "cyd".into(),
            message: "hi".into(),
            room: RoomName::parse_stored("@bob+cyd").ok(),
            seq: Some(2),
        });
        let places = mine.places("bob", true);
        let seen: Vec<_> = places.iter().map(|p| (p.label(), p.unread)).collect();
        assert_eq!(seen, [("cyd", 2), ("ala", 0)]);
        assert_eq!(places[0].page_path(), "/chat/dm/cyd/");
        let rooms = mine.places("bob", false);
        assert_eq!(rooms.len(), 1);
        assert_eq!(rooms[0].page_path(), "/chat/zoo/");
    }
}
