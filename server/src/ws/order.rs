//! Per-connection ordering of a room's log: every chat message goes out in
//! `seq` order, exactly once, even though the layer is at-most-once and
//! several processes may broadcast their messages in a different order than
//! they were numbered. A message that arrives ahead of a hole is held; when
//! the hole is filled it is released, and if the hole is still there after a
//! short wait (its message was lost on the way, say while Redis was away) it
//! is filled from storage.
//!
//! Used by the consumer only; pure bookkeeping that must never import
//! storage, the layer or the socket.

use axum::extract::ws::Utf8Bytes;
use std::collections::BTreeMap;
use tokio::time::{Duration, Instant};

/// How long a hole may wait for its message before storage fills it.
pub const HOLE_WAIT: Duration = Duration::from_millis(250);
/// Held messages beyond this fill the hole at once.
const MAX_HELD: usize = 512;

#[derive(Default)]
pub struct LogOrder {
    /// The next seq to send; `None` until the first is known.
    next: Option<u64>,
    held: BTreeMap<u64, Utf8Bytes>,
    hole_since: Option<Instant>,
}

/// What may be sent now, in order.
pub enum Release {
    One(Option<Utf8Bytes>),
    Many(std::vec::IntoIter<Utf8Bytes>),
}

impl Iterator for Release {
    type Item = Utf8Bytes;
    fn next(&mut self) -> Option<Utf8Bytes> {
        match self {
            Release::One(one) => one.take(),
            Release::Many(many) => many.next(),
        }
    }
}

impl LogOrder {
    /// Everything up to and including `seq` has been sent (as history).
    pub fn sent_up_to(&mut self, seq: u64) {
        self.next = Some(seq + 1);
    }

    /// The next seq expected, if known.
    pub fn next(&self) -> Option<u64> {
        self.next
    }

    /// Takes a message from the layer; returns what can be sent now.
    pub fn accept(&mut self, seq: u64, text: Utf8Bytes) -> Release {
        let next = *self.next.get_or_insert(seq);
        if seq < next {
            return Release::One(None); // already sent
        }
        if seq > next {
            self.held.insert(seq, text);
            self.hole_since.get_or_insert_with(Instant::now);
            return Release::One(None);
        }
        self.next = Some(seq + 1);
        if self.held.is_empty() {
            return Release::One(Some(text));
        }
        let mut out = vec![text];
        self.release_held(&mut out);
        Release::Many(out.into_iter())
    }

    /// When the current hole should be filled from storage, if there is one.
    pub fn fill_deadline(&self) -> Option<Instant> {
        let since = self.hole_since?;
        if self.held.len() >= MAX_HELD {
            Some(since)
        } else {
            Some(since + HOLE_WAIT)
        }
    }

    /// The seqs missing before the first held message: `(after, count)`.
    pub fn missing(&self) -> Option<(u64, u64)> {
        let next = self.next?;
        let first_held = *self.held.keys().next()?;
        Some((next - 1, first_held - next))
    }

    /// Fills the hole with `found` (oldest first, from storage); whatever is
    /// still missing is given up on, so one lost message cannot stall the room.
    pub fn fill(&mut self, found: impl IntoIterator<Item = (u64, Utf8Bytes)>) -> Release {
        let mut out = Vec::new();
        for (seq, text) in found {
            if Some(seq) == self.next {
                out.push(text);
                self.next = Some(seq + 1);
            }
        }
        if let Some(&first) = self.held.keys().next()
            && self.next.is_some_and(|n| n < first)
        {
            tracing::warn!(
                "seq {} to {} could not be recovered; skipping",
                self.next.unwrap_or(0),
                first - 1
            );
            self.next = Some(first);
        }
        self.release_held(&mut out);
        Release::Many(out.into_iter())
    }

    fn release_held(&mut self, out: &mut Vec<Utf8Bytes>) {
        while let Some(next) = self.next
            && let Some(text) = self.held.remove(&next)
        {
            out.push(text);
            self.next = Some(next + 1);
        }
        if self.held.is_empty() {
            self.hole_since = None;
        } else {
            // A new hole starts now.
            self.hole_since = Some(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seq: u64) -> Utf8Bytes {
        Utf8Bytes::from(seq.to_string())
    }

    fn seqs(release: Release) -> Vec<String> {
        release.map(|t| t.to_string()).collect()
    }

    #[test]
    fn in_order_passes_straight_through_and_duplicates_are_dropped() {
        let mut o = LogOrder::default();
        o.sent_up_to(10);
        assert!(seqs(o.accept(9, t(9))).is_empty());
        assert_eq!(seqs(o.accept(11, t(11))), ["11"]);
        assert_eq!(seqs(o.accept(12, t(12))), ["12"]);
        assert!(seqs(o.accept(12, t(12))).is_empty());
        assert_eq!(o.fill_deadline(), None);
    }

    #[test]
    fn early_messages_wait_for_the_hole() {
        let mut o = LogOrder::default();
        o.sent_up_to(0);
        assert!(seqs(o.accept(3, t(3))).is_empty());
        assert!(seqs(o.accept(2, t(2))).is_empty());
        assert!(o.fill_deadline().is_some());
        assert_eq!(o.missing(), Some((0, 1)));
        assert_eq!(seqs(o.accept(1, t(1))), ["1", "2", "3"]);
        assert_eq!(o.fill_deadline(), None);
    }

    #[test]
    fn storage_fills_a_lasting_hole_and_a_lost_one_is_skipped() {
        let mut o = LogOrder::default();
        o.sent_up_to(4);
        o.accept(8, t(8));
        assert_eq!(o.missing(), Some((4, 3)));
        assert_eq!(seqs(o.fill([(5, t(5)), (6, t(6))])), ["5", "6", "8"]);
        assert_eq!(o.next(), Some(9));
        assert_eq!(o.fill_deadline(), None);
    }

    #[test]
    fn the_first_message_sets_the_start_when_history_is_unknown() {
        let mut o = LogOrder::default();
        assert_eq!(seqs(o.accept(7, t(7))), ["7"]);
        assert_eq!(o.next(), Some(8));
    }
}
