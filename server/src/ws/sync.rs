//! Bringing a client up to date: the greeting (the latest page, or on a
//! reconnect everything after what the client has, then the user list),
//! history pages asked for later, and holes in the live log filled from
//! storage. Must never import the layer.

use super::{Consumer, order::Release, refusal::Refusal, socket::Socket};
use crate::storage::Page;
use app::protocol::{ErrorCode, HISTORY_MAX, HISTORY_PAGE, ServerEvent};

/// Most missed messages sent on a reconnect before falling back to the latest page.
const CATCH_UP_MAX: usize = 5_000;

impl Consumer {
    /// Sends the latest history (or, resuming, what the client missed) and
    /// the user list, and tells the ordering where the live log goes on.
    pub(super) async fn greet(
        &mut self,
        socket: &mut Socket,
        resume_after: Option<u64>,
    ) -> Result<(), axum::Error> {
        let mut first = match resume_after {
            Some(after) => self.catch_up(after).await,
            None => vec![self.history(None, HISTORY_PAGE).await],
        };
        let sent_up_to = first
            .iter()
            .filter_map(|e| match e {
                ServerEvent::History(h) => h.messages.last().map(|m| m.seq),
                _ => None,
            })
            .max();
        match sent_up_to {
            Some(seq) => self.order.sent_up_to(seq),
            None => self.continue_after(resume_after.unwrap_or(0)).await,
        }
        first.push(ServerEvent::UserList {
            users: self.state.presence.users(&self.room).await,
        });
        for event in &first {
            socket.send_event(event).await?;
        }
        Ok(())
    }

    /// Nothing to catch up on: continue after what the client has, or after
    /// the room's newest message if the client claims more (a message
    /// stored since our query is then still taken live).
    async fn continue_after(&mut self, client_has: u64) {
        let latest = Page::Latest { limit: 1 };
        match self.state.storage.messages(&self.room, latest).await {
            Ok(h) => {
                let newest = h.messages.last().map_or(0, |m| m.seq);
                self.order.sent_up_to(newest.min(client_has));
            }
            Err(e) => tracing::error!("reading {}: {e}", self.room),
        }
    }

    /// Everything after `after`, as `history` events of up to 200 messages
    /// (at most [`CATCH_UP_MAX`] in all; a client that missed more gets the
    /// latest page and can scroll back).
    async fn catch_up(&self, mut after: u64) -> Vec<ServerEvent> {
        let mut events = Vec::new();
        let mut sent = 0;
        loop {
            let page = Page::After {
                seq: after,
                limit: HISTORY_MAX,
            };
            let history = match self.state.storage.messages(&self.room, page).await {
                Ok(history) => history,
                Err(e) => {
                    tracing::error!("catching up in {}: {e}", self.room);
                    events.push(ServerEvent::error(
                        ErrorCode::Unavailable,
                        "Missed messages cannot be loaded right now; reload the page.",
                    ));
                    return events;
                }
            };
            let more = history.has_more;
            sent += history.messages.len();
            if let Some(last) = history.messages.last() {
                after = last.seq;
            }
            events.push(ServerEvent::History(history));
            if !more {
                return events;
            }
            if sent >= CATCH_UP_MAX {
                return vec![self.history(None, HISTORY_PAGE).await];
            }
        }
    }

    /// A page of the room's log: the latest, or older than `before_seq`.
    pub(super) async fn history(&self, before_seq: Option<u64>, limit: u32) -> ServerEvent {
        let page = match before_seq {
            Some(seq) => Page::Before { seq, limit },
            None => Page::Latest { limit },
        };
        match self.state.storage.messages(&self.room, page).await {
            Ok(history) => ServerEvent::History(history),
            Err(e) => Refusal::unavailable(
                format_args!("reading history of {}", self.room),
                e,
                "History cannot be read right now.",
            )
            .into(),
        }
    }

    /// Fills a hole in the room's log from storage (its message was lost or
    /// is slow to arrive).
    pub(super) async fn fill_hole(&mut self) -> Release {
        let Some((after, count)) = self.order.missing() else {
            return self.order.fill([]);
        };
        let limit = count.clamp(1, u64::from(HISTORY_MAX)) as u32;
        let page = Page::After { seq: after, limit };
        let found = match self.state.storage.messages(&self.room, page).await {
            Ok(page) => page.messages,
            Err(e) => {
                tracing::error!("filling a hole in {}: {e}", self.room);
                Vec::new()
            }
        };
        self.order.fill(found.into_iter().map(|m| {
            let seq = m.seq;
            (seq, ServerEvent::ChatMessage(m).to_json().into())
        }))
    }
}
