//! Where the log is scrolled: follow the newest message while the reader is
//! at the bottom, keep their place when older messages go on top, and say
//! when they are near the top (time to load older ones). One `Copy` part of
//! [`RoomState`](super::state::RoomState); it knows nothing of messages or
//! the socket.

use leptos::{html, prelude::*};

/// How close to the bottom (px) still counts as "reading the newest", so
/// new messages keep the log scrolled down.
const STICK_TO_BOTTOM_PX: i32 = 48;
/// How close to the top (px) starts loading older messages.
const LOAD_OLDER_PX: i32 = 80;

#[derive(Clone, Copy)]
pub struct Scroll {
    /// The scrolling log.
    pub view: NodeRef<html::Ol>,
    /// Whether the server has older messages than the oldest shown, and
    /// whether a request for them is on its way.
    pub older_available: RwSignal<bool>,
    pub loading_older: RwSignal<bool>,
    stick_to_bottom: StoredValue<bool>,
    /// Scroll height before older messages were put on top, to keep the view still.
    height_before_prepend: StoredValue<Option<i32>>,
}

impl Scroll {
    pub fn new() -> Self {
        Self {
            view: NodeRef::new(),
            older_available: RwSignal::new(false),
            loading_older: RwSignal::new(false),
            stick_to_bottom: StoredValue::new(true),
            height_before_prepend: StoredValue::new(None),
        }
    }

    /// Older messages are about to go on top: remember the height, so
    /// [`Scroll::keep_place`] can keep what the reader was looking at.
    pub fn before_prepend(self) {
        let height = self.view.get_untracked().map(|l| l.scroll_height());
        self.height_before_prepend.set_value(height);
    }

    /// The reader scrolled the log: follow new messages only while at the
    /// bottom. True when near the top, where older ones should load.
    pub fn on_scroll(self) -> bool {
        let Some(log) = self.view.get() else {
            return false;
        };
        let from_bottom = log.scroll_height() - log.scroll_top() - log.client_height();
        self.stick_to_bottom
            .set_value(from_bottom < STICK_TO_BOTTOM_PX);
        log.scroll_top() < LOAD_OLDER_PX
    }

    /// After the log changed: keep following the newest message unless the
    /// reader scrolled up; when older ones were put on top, keep what the
    /// reader was looking at.
    pub fn keep_place(self) {
        let Some(log) = self.view.get() else {
            return;
        };
        if let Some(before) = self.height_before_prepend.get_value() {
            self.height_before_prepend.set_value(None);
            log.set_scroll_top(log.scroll_top() + log.scroll_height() - before);
        } else if self.stick_to_bottom.get_value() {
            log.set_scroll_top(log.scroll_height());
        }
    }

    /// Whether the reader is at the bottom, where the newest message is.
    pub fn at_bottom(self) -> bool {
        self.stick_to_bottom.get_value()
    }

    /// The person sent something: the log follows it to the bottom.
    pub fn follow(self) {
        self.stick_to_bottom.set_value(true);
    }

    /// Goes to the newest message now, and keeps following.
    pub fn to_bottom(self) {
        self.follow();
        if let Some(log) = self.view.get() {
            log.set_scroll_top(log.scroll_height());
        }
    }
}
