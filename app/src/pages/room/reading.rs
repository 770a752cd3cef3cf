//! How far this person has read the room, kept on the server so that every
//! device of theirs agrees: the page reports the newest message it shows
//! while the tab is visible and the log is at the bottom (at most once a
//! second), and hears the marker back, from this device or any other,
//! through the person's inbox. Another device's reading moves the "New
//! messages" line here; this page's own does not (the person left off
//! where it is). Visitors have no marker: their count is the tab's own.
//!
//! Methods of [`RoomState`], kept here so `state.rs` stays a router.

use super::{log::RoomLog, state::RoomState};
use crate::{
    browser::{now_ms, page_hidden},
    names::RoomName,
    protocol::ClientFrame,
};
use leptos::prelude::*;

/// At most one report a second: a busy room costs the server one marker
/// write per reader per second, not one per message.
const REPORT_EVERY_MS: f64 = 1_000.0;

#[derive(Clone, Copy)]
pub struct Reading {
    /// The person's marker here as the server last said (`None`: a
    /// visitor, or a room they have never read).
    pub marker: RwSignal<Option<u64>>,
    /// The newest seq this page has reported.
    reported: RwSignal<u64>,
    last_report_at: StoredValue<f64>,
    /// A report is waiting for its second to come.
    waiting: StoredValue<bool>,
    /// The greeting is over (the user list came): the marker, if the
    /// person has one here, has been heard. Nothing is reported before,
    /// or the page's own report would hide where they left off.
    greeted: StoredValue<bool>,
    /// In a direct conversation: how far the other person has read (if
    /// they share it).
    pub peer_seen: RwSignal<Option<u64>>,
}

impl Reading {
    pub fn new() -> Self {
        Self {
            marker: RwSignal::new(None),
            reported: RwSignal::new(0),
            last_report_at: StoredValue::new(f64::MIN),
            waiting: StoredValue::new(false),
            greeted: StoredValue::new(false),
            peer_seen: RwSignal::new(None),
        }
    }

    /// Read up to here, as far as this page knows (tracked).
    pub fn read_up_to(self) -> Option<u64> {
        let reported = self.reported.get();
        match self.marker.get() {
            Some(m) => Some(m.max(reported)),
            None if reported > 0 => Some(reported),
            None => None,
        }
    }
}

impl RoomState {
    /// Unread messages here for a signed-in person with a marker (tracked).
    pub fn unread_by_marker(self) -> Option<u64> {
        let read = self.reading.read_up_to()?;
        Some(self.log.with(RoomLog::newest_seq).saturating_sub(read))
    }

    /// The person may have seen more (the log grew, was scrolled, or the
    /// tab was shown): reports the newest message if they can see it.
    pub fn report_reading(self) {
        let reading = self.reading;
        if !reading.greeted.get_value()
            || self.me.name_untracked().is_none()
            || page_hidden()
            || !self.scroll.at_bottom()
        {
            return;
        }
        let newest = self.log.with_untracked(RoomLog::newest_seq);
        let known = reading.marker.get_untracked().unwrap_or(0);
        if newest <= known.max(reading.reported.get_untracked()) || reading.waiting.get_value() {
            return;
        }
        let since = now_ms() - reading.last_report_at.get_value();
        if since < REPORT_EVERY_MS {
            reading.waiting.set_value(true);
            let wait = std::time::Duration::from_millis((REPORT_EVERY_MS - since) as u64);
            set_timeout(
                move || {
                    reading.waiting.set_value(false);
                    self.report_reading();
                },
                wait,
            );
            return;
        }
        reading.last_report_at.set_value(now_ms());
        reading.reported.set(newest);
        self.send(ClientFrame::Read { seq: newest });
    }

    /// The last of this person's own messages the other person in a direct
    /// conversation has read: "Seen" goes under it (tracked).
    pub fn seen_mark(self) -> Option<u64> {
        let seen = self.reading.peer_seen.get()?;
        let me = self.me.name_untracked()?;
        self.log.with(|log| {
            log.entries()
                .iter()
                .rev()
                .filter_map(|e| match e {
                    super::log::Entry::Chat(m) if m.seq <= seen && m.user == me => Some(m.seq),
                    _ => None,
                })
                .next()
        })
    }

    /// The other person in this direct conversation has read up to `seq`.
    pub(super) fn on_seen(self, room: RoomName, user: String, seq: u64) {
        if room == self.room.get_value() && self.peer.get_value().as_deref() == Some(user.as_str())
        {
            self.reading
                .peer_seen
                .update(|s| *s = Some(s.unwrap_or(0).max(seq)));
        }
    }

    /// The greeting is over: from now on what the person sees is reported.
    pub(super) fn greeted(self) {
        self.reading.greeted.set_value(true);
        self.report_reading();
    }

    /// The server says the person's marker in `room` is `seq`.
    pub(super) fn on_read(self, room: RoomName, seq: u64) {
        if room != self.room.get_value() {
            return;
        }
        let reading = self.reading;
        reading.marker.set(Some(seq));
        let reported = reading.reported.get_untracked();
        if reported > 0 && seq <= reported {
            return; // This page's own report, coming back.
        }
        // Read elsewhere (or when this page opened): the line goes just
        // after it, or away if nothing newer is here.
        let newest = self.log.with_untracked(RoomLog::newest_seq);
        self.unread.first.set((newest > seq).then_some(seq + 1));
        self.report_reading();
    }
}
