//! Bringing a client up to date: the greeting (the latest page, or on a
//! reconnect everything after what the client has, then the user list),
//! history pages asked for later, and holes in the live log filled from
//! storage. Must never import the layer.

use super::{Consumer, order::Release, refusal::Refusal, socket::Socket};
use crate::storage::{Page, Reader};
use app::protocol::{ErrorCode, HISTORY_MAX, HISTORY_PAGE, ServerEvent};

/// Most missed messages sent on a reconnect before falling back to the latest page.
const CATCH_UP_MAX: u64 = 5_000;

/// Sends one history page (or the refusal in its place); the newest seq it
/// carried.
async fn send_page(socket: &mut Socket, event: ServerEvent) -> Result<Option<u64>, axum::Error> {
    let newest = match &event {
        ServerEvent::History(h) => h.messages.last().map(|m| m.seq),
        _ => None,
    };
    socket.send_event(&event).await?;
    Ok(newest)
}

impl Consumer {
    /// Who reads, as this connection's rights stand now: storage keeps an
    /// admin-only room's log from anyone else, whatever the upgrade saw.
    fn reader(&self) -> Reader {
        Reader::admin(self.user.as_ref().is_some_and(|u| u.is_admin))
    }

    /// Sends the latest history (or, resuming, what the client missed) and
    /// the user list, and tells the ordering where the live log goes on.
    pub(super) async fn greet(
        &mut self,
        socket: &mut Socket,
        resume_after: Option<u64>,
    ) -> Result<(), axum::Error> {
        let sent_up_to = match resume_after {
            Some(after) => self.catch_up(socket, after).await?,
            None => {
                let latest = self.history(None, HISTORY_PAGE).await;
                send_page(socket, latest).await?
            }
        };
        match sent_up_to {
            Some(seq) => self.order.sent_up_to(seq),
            None => self.continue_after(resume_after.unwrap_or(0)).await,
        }
        self.send_read_marker(socket).await?;
        // Some names, not all: every one of a big room's people joining
        // would otherwise be sent every name (n² again).
        let presence = &self.chat.presence;
        let users = ServerEvent::UserList {
            users: presence
                .some_users(&self.room, self.chat.limits.user_list_max)
                .await,
            online: presence.online(&self.room).await,
        };
        socket.send_event(&users).await
    }

    /// A signed-in person who has read the room before hears how far, so
    /// the page can mark where they left off. Nothing if storage cannot
    /// say: the marker comes with the next one that moves.
    async fn send_read_marker(&self, socket: &mut Socket) -> Result<(), axum::Error> {
        let Some(user) = &self.user else {
            return Ok(());
        };
        match self.chat.storage.read_marker(user.id, &self.room).await {
            Ok(Some(seq)) => {
                let room = self.room.clone();
                socket.send_event(&ServerEvent::Read { room, seq }).await?;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("reading a read marker in {}: {e}", self.room),
        }
        // In a direct conversation: how far the other person has read.
        let Some(peer) = self.room.peer_of(&user.username) else {
            return Ok(());
        };
        match self.chat.storage.seen_by(&self.room, peer).await {
            Ok(Some(seq)) => {
                let (room, user) = (self.room.clone(), peer.to_owned());
                socket
                    .send_event(&ServerEvent::Seen { room, user, seq })
                    .await
            }
            Ok(None) => Ok(()),
            Err(e) => {
                tracing::warn!("reading {peer}'s marker in {}: {e}", self.room);
                Ok(())
            }
        }
    }

    /// Nothing to catch up on: continue after what the client has, or after
    /// the room's newest message if the client claims more (a message
    /// stored since our query is then still taken live).
    async fn continue_after(&mut self, client_has: u64) {
        match self.newest_seq().await {
            Ok(newest) => self.order.sent_up_to(newest.min(client_has)),
            Err(e) => tracing::error!("reading {}: {e}", self.room),
        }
    }

    /// The seq of the room's newest message (0 for an empty room).
    async fn newest_seq(&self) -> Result<u64, crate::storage::StorageError> {
        let latest = Page::Latest { limit: 1 };
        let page = self
            .chat
            .storage
            .messages(&self.room, latest, self.reader())
            .await?;
        Ok(page.messages.last().map_or(0, |m| m.seq))
    }

    /// Everything after `after`, streamed as `history` events of up to 200
    /// messages: each page is written before the next is read, and each
    /// takes from the connection's history budget, so a catch-up holds one
    /// page in memory (never thousands of messages) and a slow reader is
    /// dropped by the write timeout. A client that missed more than
    /// [`CATCH_UP_MAX`] gets the latest page and can scroll back. Returns
    /// the newest seq sent.
    async fn catch_up(
        &mut self,
        socket: &mut Socket,
        mut after: u64,
    ) -> Result<Option<u64>, axum::Error> {
        let unavailable = || {
            ServerEvent::error(
                ErrorCode::Unavailable,
                "Missed messages cannot be loaded right now; reload the page.",
            )
        };
        match self.newest_seq().await {
            Ok(newest) if newest.saturating_sub(after) > CATCH_UP_MAX => {
                let latest = self.history(None, HISTORY_PAGE).await;
                return send_page(socket, latest).await;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!("catching up in {}: {e}", self.room);
                return send_page(socket, unavailable()).await;
            }
        }
        let mut sent_up_to = None;
        loop {
            self.history_budget.wait().await;
            let page = Page::After {
                seq: after,
                limit: HISTORY_MAX,
            };
            let history = match self
                .chat
                .storage
                .messages(&self.room, page, self.reader())
                .await
            {
                Ok(history) => history,
                Err(e) => {
                    tracing::error!("catching up in {}: {e}", self.room);
                    socket.send_event(&unavailable()).await?;
                    return Ok(sent_up_to);
                }
            };
            let more = history.has_more;
            if let Some(last) = history.messages.last() {
                after = last.seq;
                sent_up_to = Some(after);
            }
            socket.send_event(&ServerEvent::History(history)).await?;
            if !more {
                return Ok(sent_up_to);
            }
        }
    }

    /// A page of the room's log: the latest, or older than `before_seq`.
    pub(super) async fn history(&self, before_seq: Option<u64>, limit: u32) -> ServerEvent {
        let page = match before_seq {
            Some(seq) => Page::Before { seq, limit },
            None => Page::Latest { limit },
        };
        match self
            .chat
            .storage
            .messages(&self.room, page, self.reader())
            .await
        {
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
        let found = match self
            .chat
            .storage
            .messages(&self.room, page, self.reader())
            .await
        {
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
