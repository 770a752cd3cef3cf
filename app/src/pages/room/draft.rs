//! What the composer holds between keystrokes: the text box, the message
//! being edited, the last message sent and not yet seen back, the server's
//! "wait until", and the notice line. One `Copy` part of
//! [`RoomState`](super::state::RoomState); `composer.rs` draws it.

use crate::browser::now_ms;
use leptos::{html, prelude::*};

/// How long a "slow down" notice stays up at least.
const SLOW_DOWN_SHOWN_MS: f64 = 3_000.0;

/// A refusal from the server (or the page), shown under the log.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub text: String,
    /// Offer the log-in link (the server said: log in to post).
    pub login: bool,
    /// Sending again does not clear it before this time (ms since the
    /// epoch): "slow down" must stay readable while someone keeps typing.
    pub keep_until: f64,
}

impl Notice {
    /// A notice that the next message sent clears.
    pub fn brief(text: String) -> Self {
        Self {
            text,
            login: false,
            keep_until: 0.0,
        }
    }

    /// "Slow down": stays readable for a while however fast one types.
    pub fn slow_down(text: String) -> Self {
        Self {
            text,
            login: false,
            keep_until: now_ms() + SLOW_DOWN_SHOWN_MS,
        }
    }

    /// Whether sending again may clear it now.
    pub fn expired(&self) -> bool {
        self.keep_until <= now_ms()
    }
}

#[derive(Clone, Copy)]
pub struct Draft {
    /// The composer's text box.
    pub input: NodeRef<html::Input>,
    /// The message being edited, if any.
    pub editing: RwSignal<Option<u64>>,
    /// Until when (ms since the epoch) the server asked us to wait.
    pub wait_until: RwSignal<Option<f64>>,
    pub notice: RwSignal<Option<Notice>>,
}

impl Draft {
    pub fn new() -> Self {
        Self {
            input: NodeRef::new(),
            editing: RwSignal::new(None),
            wait_until: RwSignal::new(None),
            notice: RwSignal::new(None),
        }
    }

    /// Puts `text` in the message box and focuses it.
    pub fn fill(self, text: &str) -> bool {
        let Some(field) = self.input.get() else {
            return false;
        };
        field.set_value(text);
        let _ = field.focus();
        true
    }

    /// Starts editing message `seq`, whose text is `text`.
    pub fn edit(self, seq: u64, text: &str) {
        if self.fill(text) {
            self.editing.set(Some(seq));
        }
    }

    /// The server refused a message for coming too fast: the composer
    /// counts down `ms`; the outbox sends what waits when it ends.
    pub fn wait(self, ms: u64) {
        self.wait_until.set(Some(now_ms() + ms as f64));
    }
}
