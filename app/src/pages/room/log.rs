//! The room's log as a plain type, with no signals and no browser in it
//! (todomvc's `Todos`): room messages kept in `seq` order without
//! duplicates whatever order they arrive in, private messages shown where
//! they arrived among them, and the questions the page asks of it (oldest,
//! newest, where a reconnect resumes). Tested below without a browser.

use crate::protocol::{ChatMessage, Reaction};

/// One line of the log: a room message, or a private message shown where it
/// arrived among them.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    Chat(ChatMessage),
    Private {
        /// Sorts after the room message it arrived after.
        key: (u64, u32),
        incoming: bool,
        peer: String,
        message: String,
    },
}

impl Entry {
    pub fn key(&self) -> (u64, u32) {
        match self {
            Self::Chat(m) => (m.seq, 0),
            Self::Private { key, .. } => *key,
        }
    }

    /// The room seq of a room message.
    pub fn seq(&self) -> Option<u64> {
        match self {
            Self::Chat(m) => Some(m.seq),
            Self::Private { .. } => None,
        }
    }

    /// The key the log renders by: changes when a message is edited,
    /// deleted or reacted to, so that line is drawn again.
    pub fn render_key(&self) -> (u64, u32, u64) {
        use std::hash::{Hash, Hasher};
        let (seq, n) = self.key();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        if let Self::Chat(m) = self {
            (&m.message, &m.edited_at, m.deleted).hash(&mut hasher);
            for r in &m.reactions {
                (&r.emoji, &r.users).hash(&mut hasher);
            }
        }
        (seq, n, hasher.finish())
    }
}

/// The log of one room page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoomLog {
    entries: Vec<Entry>,
    /// Private messages shown so far: orders those after the same message.
    privates: u32,
}

impl RoomLog {
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Keeps the log ordered (room messages by `seq`) and free of duplicates,
    /// whatever order messages arrive in.
    pub fn insert(&mut self, entry: Entry) {
        let key = entry.key();
        match self.entries.last() {
            Some(last) if last.key() >= key => {
                if let Err(at) = self.entries.binary_search_by_key(&key, Entry::key) {
                    self.entries.insert(at, entry);
                }
            }
            _ => self.entries.push(entry),
        }
    }

    /// Adds a private message after the newest room message shown.
    pub fn add_private(&mut self, incoming: bool, peer: String, message: String) {
        self.privates += 1;
        let key = (self.newest_seq(), self.privates);
        self.insert(Entry::Private {
            key,
            incoming,
            peer,
            message,
        });
    }

    /// Applies `change` to the room message `seq`, if shown.
    pub fn change(&mut self, seq: u64, change: impl FnOnce(&mut ChatMessage)) {
        if let Ok(at) = self.entries.binary_search_by_key(&(seq, 0), Entry::key)
            && let Entry::Chat(m) = &mut self.entries[at]
        {
            change(m);
        }
    }

    /// Message `seq` was edited.
    pub fn edit(&mut self, seq: u64, message: String, edited_at: String) {
        self.change(seq, |m| {
            m.message = message;
            m.edited_at = Some(edited_at);
        });
    }

    /// Our edit of message `seq` is stored (acked as a repeat: its
    /// `message_edited` was lost with a socket); its time is not known
    /// here, so the one shown stays.
    pub fn edit_acked(&mut self, seq: u64, message: String) {
        self.change(seq, |m| m.message = message);
    }

    /// Message `seq` was deleted: a tombstone stays.
    pub fn delete(&mut self, seq: u64) {
        self.change(seq, |m| {
            m.message.clear();
            m.deleted = true;
            m.reactions.clear();
        });
    }

    /// Who now reacts to message `seq` with `emoji` (empty: nobody).
    pub fn react(&mut self, seq: u64, emoji: String, users: Vec<String>) {
        self.change(seq, |m| {
            match m.reactions.iter().position(|r| r.emoji == emoji) {
                Some(at) if users.is_empty() => {
                    m.reactions.remove(at);
                }
                Some(at) => m.reactions[at].users = users,
                None if users.is_empty() => {}
                None => m.reactions.push(Reaction { emoji, users }),
            }
        });
    }

    /// Whether room message `seq` is shown.
    pub fn has_seq(&self, seq: u64) -> bool {
        self.entries
            .binary_search_by_key(&(seq, 0), Entry::key)
            .is_ok()
    }

    /// Whether the message its sender gave this id is shown.
    pub fn has_client_id(&self, id: &crate::protocol::ClientId) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e, Entry::Chat(m) if m.client_id.as_ref() == Some(id)))
    }

    pub fn oldest_seq(&self) -> Option<u64> {
        self.entries.iter().find_map(Entry::seq)
    }

    pub fn newest_seq(&self) -> u64 {
        self.entries.iter().rev().find_map(Entry::seq).unwrap_or(0)
    }

    /// The newest room seq below `seq`, if any.
    pub fn newest_before(&self, seq: u64) -> Option<u64> {
        self.entries
            .iter()
            .filter_map(Entry::seq)
            .filter(|s| *s < seq)
            .max()
    }

    /// The newest seq with nothing missing between it and the oldest message
    /// shown: where a reconnect resumes from.
    pub fn contiguous_up_to(&self) -> Option<u64> {
        let mut seqs = self.entries.iter().filter_map(Entry::seq);
        let mut last = seqs.next()?;
        for seq in seqs {
            if seq != last + 1 {
                break;
            }
            last = seq;
        }
        Some(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::RoomName;

    fn msg(seq: u64) -> ChatMessage {
        ChatMessage {
            room: RoomName::parse("r").unwrap(),
            seq,
            id: seq.to_string(),
            user: "u".into(),
            message: "m".into(),
            ts: "2026-11-21T10:05:00Z".into(),
            edited_at: None,
            deleted: false,
            reactions: Vec::new(),
            client_id: None,
        }
    }

    fn log_of(seqs: &[u64]) -> RoomLog {
        let mut log = RoomLog::default();
        for seq in seqs {
            log.insert(Entry::Chat(msg(*seq)));
        }
        log
    }

    #[test]
    fn edits_and_reactions_change_the_render_key_not_the_order() {
        let mut log = log_of(&[1, 2]);
        let before = log.entries()[1].render_key();
        log.change(2, |m| m.edited_at = Some("t".into()));
        assert_ne!(log.entries()[1].render_key(), before);
        assert_eq!(log.entries()[1].key(), (2, 0));
        log.change(9, |m| m.deleted = true);
        assert!(
            log.entries()
                .iter()
                .all(|e| matches!(e, Entry::Chat(m) if !m.deleted))
        );
    }

    #[test]
    fn log_stays_ordered_without_duplicates() {
        let mut log = log_of(&[1, 3, 2, 3, 5, 4, 1]);
        let pm = Entry::Private {
            key: (3, 1),
            incoming: true,
            peer: "a".into(),
            message: "x".into(),
        };
        log.insert(pm);
        let keys: Vec<_> = log.entries().iter().map(Entry::key).collect();
        assert_eq!(keys, [(1, 0), (2, 0), (3, 0), (3, 1), (4, 0), (5, 0)]);
        assert_eq!(log.oldest_seq(), Some(1));
        assert_eq!(log.newest_seq(), 5);
        assert_eq!(log.contiguous_up_to(), Some(5));
        log.insert(Entry::Chat(msg(7)));
        assert_eq!(log.contiguous_up_to(), Some(5), "6 is missing");
        assert_eq!(RoomLog::default().contiguous_up_to(), None);
    }

    #[test]
    fn private_messages_follow_the_newest_message_in_arrival_order() {
        let mut log = log_of(&[1, 2]);
        log.add_private(true, "bo".into(), "first".into());
        log.add_private(false, "bo".into(), "second".into());
        log.insert(Entry::Chat(msg(3)));
        let keys: Vec<_> = log.entries().iter().map(Entry::key).collect();
        assert_eq!(keys, [(1, 0), (2, 0), (2, 1), (2, 2), (3, 0)]);
        assert_eq!(log.newest_before(3), Some(2));
    }

    #[test]
    fn edits_deletes_and_reactions_change_the_message_in_place() {
        let mut log = log_of(&[1]);
        log.react(1, "👍".into(), vec!["al".into()]);
        log.react(1, "🎉".into(), vec!["bo".into()]);
        log.react(1, "👍".into(), Vec::new());
        log.edit(1, "fixed".into(), "t".into());
        let Entry::Chat(m) = &log.entries()[0] else {
            panic!("a room message")
        };
        assert_eq!(m.message, "fixed");
        assert_eq!(m.reactions.len(), 1);
        assert_eq!(m.reactions[0].emoji, "🎉");
        log.delete(1);
        let Entry::Chat(m) = &log.entries()[0] else {
            panic!("a room message")
        };
        assert!(m.deleted && m.message.is_empty() && m.reactions.is_empty());
    }
}
