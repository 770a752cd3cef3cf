//! What arrived while the page was hidden: the tab title's count, where the
//! "New messages" divider goes, and the private messages behind the ✉
//! badge. One `Copy` part of [`RoomState`](super::state::RoomState); the
//! page's hidden/shown signal comes from `alerts.rs`.

use crate::browser::page_hidden;
use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct Unread {
    /// Messages and PMs that arrived while hidden (the title's count).
    pub count: RwSignal<usize>,
    /// The first such message: the divider goes above it.
    pub first: RwSignal<Option<u64>>,
    /// Private messages that arrived while hidden (the badge).
    pub pms: RwSignal<usize>,
}

impl Unread {
    pub fn new() -> Self {
        Self {
            count: RwSignal::new(0),
            first: RwSignal::new(None),
            pms: RwSignal::new(0),
        }
    }

    /// The page was hidden or shown again. Hiding starts a new count (and
    /// moves the divider); showing clears the title's count but keeps the
    /// divider where the person left off.
    pub fn on_visibility(self, hidden: bool) {
        self.count.set(0);
        if hidden {
            self.first.set(None);
        }
    }

    /// A message (`seq`) or a PM (`None`) arrived: counted if unseen.
    pub fn arrived(self, seq: Option<u64>) {
        if !page_hidden() {
            return;
        }
        self.count.update(|n| *n += 1);
        if let Some(seq) = seq
            && self.first.get_untracked().is_none()
        {
            self.first.set(Some(seq));
        }
    }

    /// A private message arrived: the badge counts it if unseen.
    pub fn pm_arrived(self) {
        self.arrived(None);
        if page_hidden() {
            self.pms.update(|n| *n += 1);
        }
    }

    /// The person saw their PMs (clicked the badge, or answered one).
    pub fn pms_read(self) {
        self.pms.set(0);
    }
}
