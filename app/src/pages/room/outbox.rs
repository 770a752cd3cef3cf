//! The room page's outbox as a plain type (no signals, no browser): the
//! messages this person typed that the server has not stored yet, each
//! with the client id that makes sending it again safe, in the order they
//! were typed. A message leaves it when it is seen in the log (matched by
//! its id, however it came back: live, or in the history after a
//! reconnect) or is discarded. Tested below without a browser; the page
//! keeps a copy of each in durable storage (`state.rs`).

use crate::protocol::ClientId;
use serde::{Deserialize, Serialize};

/// One message on its way, as it is kept across reloads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub client_id: ClientId,
    /// Who typed it: a browser shared by two people sends each only theirs.
    pub user: String,
    pub room: String,
    pub text: String,
    /// An edit of this message (seq) of ours, not a new post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit_of: Option<u64>,
    /// Why the server refused it; `None` while it is being sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// The server stored it as this seq; it leaves once the log shows it.
    #[serde(skip)]
    pub stored_as: Option<u64>,
}

impl Pending {
    /// Whether it should be sent (again) now.
    pub fn due(&self) -> bool {
        self.failed.is_none() && self.stored_as.is_none()
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outbox {
    items: Vec<Pending>,
}

impl Outbox {
    pub fn items(&self) -> &[Pending] {
        &self.items
    }

    /// Adds a message at the end, unless its id is there already.
    pub fn add(&mut self, pending: Pending) -> bool {
        let known = self.find(&pending.client_id).is_some();
        if !known {
            self.items.push(pending);
        }
        !known
    }

    /// Adds messages kept from an earlier visit, in the order they were
    /// typed (their ids sort by time), before any typed since.
    pub fn restore(&mut self, mut kept: Vec<Pending>) {
        kept.retain(|p| self.find(&p.client_id).is_none());
        kept.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        kept.append(&mut self.items);
        self.items = kept;
    }

    /// The message with this id, if it is still here.
    pub fn find(&self, id: &ClientId) -> Option<&Pending> {
        self.items.iter().find(|p| p.client_id == *id)
    }

    fn find_mut(&mut self, id: &ClientId) -> Option<&mut Pending> {
        self.items.iter_mut().find(|p| p.client_id == *id)
    }

    /// Takes the message out (seen in the log, or discarded).
    pub fn remove(&mut self, id: &ClientId) -> Option<Pending> {
        let at = self.items.iter().position(|p| p.client_id == *id)?;
        Some(self.items.remove(at))
    }

    /// The server stored it as `seq`: it is no longer sent again.
    pub fn stored(&mut self, id: &ClientId, seq: u64) {
        if let Some(p) = self.find_mut(id) {
            p.stored_as = Some(seq);
        }
    }

    /// The server refused it: it waits for Retry or Discard.
    pub fn failed(&mut self, id: &ClientId, why: String) -> Option<&Pending> {
        let p = self.find_mut(id)?;
        p.failed = Some(why);
        Some(p)
    }

    /// Retry: it is due again.
    pub fn retry(&mut self, id: &ClientId) -> Option<&Pending> {
        let p = self.find_mut(id)?;
        p.failed = None;
        Some(p)
    }

    /// What to send, in order.
    pub fn due(&self) -> impl Iterator<Item = &Pending> {
        self.items.iter().filter(|p| p.due())
    }
}

/// A new client id: the time in milliseconds, then 64 random bits, so that
/// ids sort in the order they were made (a reload sends kept messages in
/// the order they were typed) and never repeat for one person.
pub fn new_client_id(now_ms: f64, random: [f64; 2]) -> ClientId {
    let bits = |r: f64| (r * f64::from(u32::MAX)) as u32;
    let raw = format!(
        "{:012x}-{:08x}{:08x}",
        now_ms as u64,
        bits(random[0]),
        bits(random[1])
    );
    ClientId::parse(&raw).expect("hex digits and a dash make a client id")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(id: &str, text: &str) -> Pending {
        Pending {
            client_id: ClientId::parse(id).unwrap(),
            user: "al".into(),
            room: "r".into(),
            text: text.into(),
            failed: None,
            stored_as: None,
            edit_of: None,
        }
    }

    fn texts(outbox: &Outbox) -> Vec<&str> {
        outbox.items().iter().map(|p| p.text.as_str()).collect()
    }

    #[test]
    fn a_message_is_due_until_stored_or_refused_and_leaves_once_seen() {
        let mut outbox = Outbox::default();
        assert!(outbox.add(pending("a", "one")));
        assert!(outbox.add(pending("b", "two")));
        assert!(!outbox.add(pending("a", "one again")), "one entry per id");
        let id = |s| ClientId::parse(s).unwrap();
        outbox.stored(&id("a"), 7);
        outbox.failed(&id("b"), "too long".into());
        assert_eq!(outbox.due().count(), 0);
        assert_eq!(texts(&outbox), ["one", "two"], "still shown");
        outbox.retry(&id("b"));
        let due: Vec<_> = outbox.due().map(|p| p.text.as_str()).collect();
        assert_eq!(due, ["two"]);
        assert_eq!(outbox.remove(&id("a")).unwrap().stored_as, Some(7));
        assert!(outbox.remove(&id("a")).is_none());
        assert_eq!(texts(&outbox), ["two"]);
    }

    #[test]
    fn kept_messages_come_back_in_the_order_they_were_typed_before_new_ones() {
        let mut outbox = Outbox::default();
        outbox.add(pending("3", "typed after the reload"));
        outbox.restore(vec![
            pending("2", "second"),
            pending("1", "first"),
            pending("3", "typed after the reload"),
        ]);
        assert_eq!(
            texts(&outbox),
            ["first", "second", "typed after the reload"]
        );
    }

    #[test]
    fn ids_sort_by_time_and_differ_within_one_millisecond() {
        let early = new_client_id(1_780_000_000_000.0, [0.5, 0.25]);
        let late = new_client_id(1_780_000_000_001.0, [0.0, 0.0]);
        let twin = new_client_id(1_780_000_000_000.0, [0.5, 0.26]);
        assert!(early < late);
        assert_ne!(early, twin);
        assert_eq!(early.as_str().len(), 29);
    }
}
