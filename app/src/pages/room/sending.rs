//! Posting so that a message is stored exactly once whatever the network
//! does. A message typed here goes into the outbox ([`Outbox`]): shown at
//! once as "Sending…", kept in durable storage with its client id, and
//! sent whenever the socket is open, again after every reconnect and
//! after a reload or a closed tab (the server acknowledges a repeat of an
//! id without storing it twice). It leaves when its own copy comes back
//! (live or in the history); a refusal marks it failed, with Retry and
//! Discard. A `/pm` waits there too; it is stored in another room (the
//! direct conversation), so it leaves on its `ack` and shows then as
//! "to bob: …". An edit waits there too, and leaves when its
//! `message_edited` (which names its id) or `ack` comes. Visitors' posts
//! go as before (refused: nothing to keep).
//!
//! Methods of [`RoomState`], kept here so `state.rs` stays a router.

use super::{
    outbox::{Outbox, Pending, new_client_id},
    state::RoomState,
};
use crate::{
    browser::{now_ms, random},
    durable::{self, Store},
    protocol::{ClientFrame, ClientId, ErrorCode, ErrorEvent, MessageText},
};
use leptos::prelude::*;

/// The outbox and whether a frame sent now reaches the server.
#[derive(Clone, Copy)]
pub struct Sending {
    pub outbox: RwSignal<Outbox>,
    /// The socket is open (it may still be catching up).
    open: StoredValue<bool>,
}

impl Sending {
    pub fn new() -> Self {
        Self {
            outbox: RwSignal::new(Outbox::default()),
            open: StoredValue::new(false),
        }
    }
}

impl RoomState {
    /// Posts `text` as this person: into the outbox, and to the server now
    /// if it can be reached.
    pub fn post(self, text: MessageText) {
        self.queue(text, None);
    }

    /// Changes our message `seq` to `text`, through the outbox as a post
    /// goes (a repeat of the edit's id is not applied twice).
    pub fn edit(self, seq: u64, text: MessageText) {
        self.queue(text, Some(seq));
    }

    fn queue(self, text: MessageText, edit_of: Option<u64>) {
        let Some(user) = self.me.name_untracked() else {
            // A visitor is told to log in; there is nothing to keep.
            self.send(ClientFrame::Chat {
                text,
                client_id: None,
            });
            return;
        };
        let pending = Pending {
            client_id: new_client_id(now_ms(), [random(), random()]),
            user,
            room: self.room.get_value().to_string(),
            text: text.into_string(),
            failed: None,
            stored_as: None,
            edit_of,
        };
        keep(&pending);
        self.sending.outbox.update(|o| {
            o.add(pending.clone());
        });
        if self.may_send() {
            self.send_pending(&pending);
        }
    }

    /// Not while the socket is down (the reconnect sends everything due)
    /// nor while the server asked us to wait (the countdown's end does).
    fn may_send(self) -> bool {
        self.sending.open.get_value() && self.draft.wait_until.get_untracked().is_none()
    }

    /// Sends every message still due, in the order they were typed.
    pub fn flush(self) {
        if !self.may_send() {
            return;
        }
        let due: Vec<Pending> = self
            .sending
            .outbox
            .with_untracked(|o| o.due().cloned().collect());
        for pending in &due {
            self.send_pending(pending);
        }
    }

    fn send_pending(self, pending: &Pending) {
        let client_id = Some(pending.client_id.clone());
        let frame = match pending.edit_of {
            Some(seq) => MessageText::parse(&pending.text).map(|text| ClientFrame::Edit {
                seq,
                text,
                client_id,
            }),
            None => ClientFrame::post(&pending.text, client_id),
        };
        if let Ok(frame) = frame {
            self.send_on_this_session(frame);
        }
    }

    /// The socket opened (`true`) or dropped: on opening, what is due goes.
    pub(super) fn socket_open(self, open: bool) {
        self.sending.open.set_value(open);
        if open {
            self.flush();
        }
    }

    /// The server stored our post `id` as `seq`: it is not sent again, and
    /// leaves the outbox once the log shows it. A `/pm` never comes back
    /// to this room: it leaves now, shown as sent.
    pub(super) fn on_ack(self, id: ClientId, seq: u64) {
        durable::delete(Store::Outbox, id.as_str());
        let Some(pending) = self.sending.outbox.with_untracked(|o| o.find(&id).cloned()) else {
            return;
        };
        // An edit applied already (its `message_edited` went with a
        // dropped socket): the log takes its text now.
        if let Some(seq) = pending.edit_of {
            self.sending.outbox.update(|o| drop(o.remove(&id)));
            let text = pending.text;
            self.log.update(|l| l.edit_acked(seq, text));
            return;
        }
        if let Ok(ClientFrame::PrivateMessage { to, text, .. }) =
            ClientFrame::post(&pending.text, None)
        {
            self.sending.outbox.update(|o| drop(o.remove(&id)));
            if !self.is_conversation_with(to.as_str()) {
                let text = text.into_string();
                self.log
                    .update(|l| l.add_private(false, to.to_string(), text));
            }
            return;
        }
        let shown = self.log.with_untracked(|l| l.has_seq(seq));
        self.sending.outbox.update(|o| match shown {
            true => drop(o.remove(&id)),
            false => o.stored(&id, seq),
        });
    }

    /// A message of ours reached the log (live, or in the history after a
    /// reconnect): it is shown there, so it leaves the outbox.
    pub(super) fn seen_own(self, id: &ClientId) {
        if self.sending.outbox.with_untracked(|o| o.find(id).is_some()) {
            durable::delete(Store::Outbox, id.as_str());
            self.sending.outbox.update(|o| drop(o.remove(id)));
        }
    }

    /// The server refused our post `id`. Too fast (`waits`): it stays due
    /// and goes when the countdown ends. Anything else (a wait past the
    /// countdown included: a room limit an hour long): it waits for Retry
    /// or Discard, saying why.
    pub(super) fn on_refused(self, id: ClientId, waits: bool, why: String) {
        if waits {
            return;
        }
        self.sending.outbox.update(|o| {
            if let Some(failed) = o.failed(&id, why) {
                keep(failed);
            }
        });
    }

    /// "Retry" on a failed message.
    pub fn retry(self, id: &ClientId) {
        let mut again = None;
        self.sending.outbox.update(|o| again = o.retry(id).cloned());
        if let Some(pending) = again {
            keep(&pending);
            if self.may_send() {
                self.send_pending(&pending);
            }
        }
    }

    /// "Discard" on a failed message: it is gone for good.
    pub fn discard(self, id: &ClientId) {
        durable::delete(Store::Outbox, id.as_str());
        self.sending.outbox.update(|o| drop(o.remove(id)));
    }

    /// Brings back what this person typed here on an earlier visit and
    /// the server has not acknowledged (a reload, a closed tab, a crash),
    /// and sends it. Browser only: called from an effect.
    pub fn restore_outbox(self) {
        let Some(me) = self.me.name_untracked() else {
            return;
        };
        let room = self.room.get_value().to_string();
        leptos::task::spawn_local(async move {
            let kept: Vec<Pending> = durable::all(Store::Outbox)
                .await
                .iter()
                .filter_map(|json| serde_json::from_str::<Pending>(json).ok())
                .filter(|p| p.user == me && p.room == room)
                .collect();
            // Stored while the page was away, and shown already.
            let shown = |p: &Pending| self.log.with_untracked(|l| l.has_client_id(&p.client_id));
            let (shown, kept): (Vec<_>, Vec<_>) = kept.into_iter().partition(shown);
            for p in shown {
                durable::delete(Store::Outbox, p.client_id.as_str());
            }
            if kept.is_empty() {
                return;
            }
            self.sending.outbox.update(|o| o.restore(kept));
            self.flush();
        });
    }
}

/// The longest wait the composer counts down (and a post waits out in
/// the outbox); a longer one is a refusal to show.
const LONGEST_COUNTDOWN_MS: u64 = 60_000;

/// How long to wait before sending again, if the refusal is a short
/// `rate_limited` one.
pub fn countdown_for(e: &ErrorEvent) -> Option<u64> {
    let wait = e.retry_after_ms.filter(|ms| *ms <= LONGEST_COUNTDOWN_MS)?;
    (e.code == ErrorCode::RateLimited).then_some(wait)
}

/// Keeps (or updates) the durable copy of a message in the outbox.
fn keep(pending: &Pending) {
    if let Ok(json) = serde_json::to_string(pending) {
        durable::put(Store::Outbox, pending.client_id.as_str(), json);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_wait_is_counted_down_and_an_hour_is_a_refusal() {
        let refusal = |code, retry_after_ms| ErrorEvent {
            code,
            message: "m".into(),
            retry_after_ms,
            client_id: None,
        };
        assert_eq!(
            countdown_for(&refusal(ErrorCode::RateLimited, Some(1_500))),
            Some(1_500)
        );
        assert_eq!(
            countdown_for(&refusal(ErrorCode::RateLimited, Some(3_600_000))),
            None
        );
        assert_eq!(countdown_for(&refusal(ErrorCode::RateLimited, None)), None);
        assert_eq!(
            countdown_for(&refusal(ErrorCode::Forbidden, Some(1_000))),
            None
        );
    }
}
