//! The app's server functions, answered from the server's state: the room
//! list, who may enter a room, and the admin page's lists. The viewer's
//! rights are read from the database each time, so making someone an admin
//! (or no longer one) counts at once. Failures are logged and answered
//! with a generic sentence ([`quiet`]). Answered by [`Pages`]: the chat
//! domain's handle, [`Chat`], and the per-address history budget the
//! room page's first messages count against, never the whole app state.

use crate::{
    chat::{Chat, access::Refused, moderation},
    edge::{
        proxy::{ClientAddr, ClientKey, TrustedProxies},
        throttle::Throttle,
    },
    storage::{Page, Reader},
};
use app::{
    account::Me,
    admin::AdminOverview,
    names::RoomName,
    protocol::{HISTORY_PAGE, History},
    server_fns::{
        Entry, RoomSummary,
        ssr::{Answer, Backend},
    },
};
use std::sync::Arc;

/// What the pages' server functions are answered from.
#[derive(Clone)]
pub struct Pages {
    pub chat: Chat,
    /// History pages per client address (`HISTORY_RATE`): a room page's
    /// first messages are one, as over HTTP and the socket.
    pub history_reads: Arc<Throttle<ClientKey>>,
    pub trusted_proxies: Arc<TrustedProxies>,
}

impl Pages {
    /// The client's address as every limit counts it (the TCP peer, or
    /// what a trusted proxy says).
    fn client(&self, request: &axum::http::request::Parts) -> ClientKey {
        ClientAddr::of(&self.trusted_proxies, request).0
    }
}

/// A failure as the page hears of it: the detail goes to the log, the
/// page gets a sentence (never a database's error text).
fn quiet(e: impl std::fmt::Display) -> String {
    tracing::error!("server function: {e}");
    "Something went wrong on our side; try again in a moment.".to_owned()
}

impl Chat {
    /// Whether `viewer` is an admin now (and not disabled).
    pub async fn is_admin(&self, viewer: Option<&str>) -> Result<bool, String> {
        let Some(name) = viewer else { return Ok(false) };
        let record = self.storage.active_user(name).await.map_err(quiet)?;
        Ok(record.is_some_and(|r| r.is_admin))
    }
}

impl Backend for Pages {
    fn me(&self, viewer: String) -> Answer<Option<Me>> {
        let chat = self.chat.clone();
        Box::pin(async move {
            let record = chat.storage.active_user(&viewer).await.map_err(quiet)?;
            Ok(record.map(|r| Me {
                username: r.username,
                is_admin: r.is_admin,
            }))
        })
    }

    fn rooms(&self, viewer: Option<String>) -> Answer<Vec<RoomSummary>> {
        let chat = self.chat.clone();
        Box::pin(async move {
            let admin = chat.is_admin(viewer.as_deref()).await?;
            chat.room_summaries(admin).await.map_err(quiet)
        })
    }

    fn may_enter(&self, viewer: Option<String>, room: RoomName) -> Answer<Entry> {
        let chat = self.chat.clone();
        Box::pin(async move {
            // A conversation's name is never a room's page: nobody learns
            // here whether two people talk.
            if room.is_direct() {
                return Err("Not a room.".to_owned());
            }
            // Fails closed: if storage cannot answer, neither does the page.
            let admin = chat.is_admin(viewer.as_deref()).await?;
            Ok(match chat.access(&room, admin).await.map_err(quiet)? {
                Ok(_) => Entry::Open,
                Err(Refused::AdminsOnly(_)) => Entry::AdminsOnly,
                Err(Refused::LooksLike { like, .. }) => Entry::LooksLike(like),
            })
        })
    }

    fn preview(
        &self,
        viewer: Option<String>,
        request: axum::http::request::Parts,
        room: RoomName,
    ) -> Answer<Option<History>> {
        let (chat, client) = (self.chat.clone(), self.client(&request));
        let budget = self.history_reads.check(&client);
        Box::pin(async move {
            // Out of history reads: the page comes without its messages,
            // and the socket brings them (counted there).
            if budget.is_err() || room.is_direct() {
                return Ok(None);
            }
            // The same rule as the socket and the HTTP history: fails closed.
            let admin = chat.is_admin(viewer.as_deref()).await?;
            if chat.access(&room, admin).await.map_err(quiet)?.is_err() {
                return Ok(None);
            }
            let page = Page::Latest {
                limit: HISTORY_PAGE,
            };
            let history = chat
                .storage
                .messages(&room, page, Reader::admin(admin))
                .await;
            history.map(Some).map_err(quiet)
        })
    }

    fn receipts(&self, user_id: i64) -> Answer<bool> {
        let chat = self.chat.clone();
        Box::pin(async move { chat.storage.shares_receipts(user_id).await.map_err(quiet) })
    }

    fn set_receipts(&self, viewer: String, on: bool) -> Answer<()> {
        let chat = self.chat.clone();
        Box::pin(async move { chat.storage.set_receipts(&viewer, on).await.map_err(quiet) })
    }

    fn admin_overview(&self, viewer: Option<String>) -> Answer<Option<AdminOverview>> {
        let chat = self.chat.clone();
        Box::pin(async move {
            if !chat.is_admin(viewer.as_deref()).await? {
                return Ok(None);
            }
            moderation::overview(&chat).await.map(Some).map_err(quiet)
        })
    }
}
