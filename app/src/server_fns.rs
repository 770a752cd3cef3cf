//! Server functions the pages call: who is signed in, the room list, who
//! may enter a room, and the admin page's lists.
//! Their bodies run only on the server (`ssr`), reading what the server
//! provides as context; in the browser each is a POST to the server.

use crate::{account::Me, admin::AdminOverview, names::RoomName, protocol::History};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One line of the room list (`GET /api/rooms` has the same shape).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    pub name: RoomName,
    /// Distinct signed-in people in the room now (tabs are not people).
    pub online: usize,
    /// Anonymous connections reading the room now.
    #[serde(default)]
    pub readers: usize,
    pub last_message_at: Option<String>,
    /// The seq of its newest message (0: none yet): with a person's read
    /// marker, how many they have not read.
    #[serde(default)]
    pub last_seq: u64,
}

/// Whether a person may open a room page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    Open,
    /// Admin-only, and the viewer is not an admin (HTTP 403).
    AdminsOnly,
    /// Not a room yet, and its name looks like this existing room's (HTTP
    /// 409): `gеneral` with a Cyrillic е beside `general`.
    LooksLike(RoomName),
}

/// The signed-in person, or `None` for an anonymous visitor.
#[server]
pub async fn current_user() -> Result<Option<Me>, ServerFnError> {
    let Some(user) = ssr::session_user().await? else {
        return Ok(None);
    };
    // As the database has them now: admin rights given or taken since they
    // logged in count at once, and a disabled account is signed out.
    ssr::backend()?
        .me(user.username)
        .await
        .map_err(ServerFnError::new)
}

/// Rooms with who is online and when they were last active, busiest first.
/// Admin-only rooms are listed for admins only.
#[server]
pub async fn list_rooms() -> Result<Vec<RoomSummary>, ServerFnError> {
    let viewer = ssr::session_user().await?.map(|u| u.username);
    ssr::backend()?
        .rooms(viewer)
        .await
        .map_err(ServerFnError::new)
}

/// Whether this person may open the room; the page answers 403 for an
/// admin-only room and 409 for a lookalike of an existing room. A fixed
/// address (`/api/may_enter`), so tests can ask it as a stranger would.
#[server(endpoint = "may_enter")]
pub async fn may_enter(room: RoomName) -> Result<Entry, ServerFnError> {
    let viewer = ssr::session_user().await?.map(|u| u.username);
    let entry = ssr::backend()?.may_enter(viewer, room).await.map_err(|e| {
        // Fails closed: the page says so, with 503.
        ssr::status(503);
        ServerFnError::new(e)
    })?;
    match entry {
        Entry::Open => {}
        Entry::AdminsOnly => ssr::status(403),
        Entry::LooksLike(_) => ssr::status(409),
    }
    Ok(entry)
}

/// The admin page's lists; `None` (and HTTP 403) for anyone but an admin.
#[server]
pub async fn admin_lists() -> Result<Option<AdminOverview>, ServerFnError> {
    let viewer = ssr::session_user().await?.map(|u| u.username);
    let overview = ssr::backend()?
        .admin_overview(viewer)
        .await
        .map_err(ServerFnError::new)?;
    if overview.is_none() {
        ssr::forbidden();
    }
    Ok(overview)
}

/// Whether the signed-in person shows the people they talk to directly
/// what they have read ("Seen"); `false` for a visitor.
#[server(endpoint = "read_receipts")]
pub async fn read_receipts() -> Result<bool, ServerFnError> {
    let Some(user) = ssr::session_user().await? else {
        return Ok(false);
    };
    ssr::backend()?
        .receipts(user.id)
        .await
        .map_err(ServerFnError::new)
}

/// Turns the signed-in person's read receipts on or off.
#[server(endpoint = "set_read_receipts")]
pub async fn set_read_receipts(on: bool) -> Result<(), ServerFnError> {
    let Some(user) = ssr::session_user().await? else {
        ssr::status(401);
        return Err(ServerFnError::new("Log in first."));
    };
    ssr::backend()?
        .set_receipts(user.username, on)
        .await
        .map_err(ServerFnError::new)
}

/// The newest messages of a room its page shows before its socket is
/// open (and without JavaScript): `None` for a room the viewer may not
/// read, or once the client's history reads are spent.
#[server(endpoint = "room_preview")]
pub async fn room_preview(room: RoomName) -> Result<Option<History>, ServerFnError> {
    let viewer = ssr::session_user().await?.map(|u| u.username);
    let Some(request) = use_context::<http::request::Parts>() else {
        return Ok(None);
    };
    ssr::backend()?
        .preview(viewer, request, room)
        .await
        .map_err(ServerFnError::new)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! What the server hands the app: the [`Backend`] context (storage and
    //! presence behind it), and helpers for the server functions.
    use super::RoomSummary;
    use crate::{
        account::{Me, SessionUser},
        admin::AdminOverview,
        names::RoomName,
        protocol::History,
    };
    use leptos::prelude::*;
    use std::{future::Future, pin::Pin, sync::Arc};

    pub type Answer<T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send>>;

    /// The server's side of the server functions. `viewer` is the signed-in
    /// username; the server checks their current rights itself.
    pub trait Backend: Send + Sync {
        /// The person as they are now; `None` if disabled or gone.
        fn me(&self, viewer: String) -> Answer<Option<Me>>;
        fn rooms(&self, viewer: Option<String>) -> Answer<Vec<RoomSummary>>;
        fn may_enter(&self, viewer: Option<String>, room: RoomName) -> Answer<super::Entry>;
        /// The newest page of the room's log for its page, if the viewer
        /// may read the room and the client (`request`'s address) has
        /// history reads left; otherwise `None`.
        fn preview(
            &self,
            viewer: Option<String>,
            request: http::request::Parts,
            room: RoomName,
        ) -> Answer<Option<History>>;
        /// `None` unless the viewer is an admin.
        fn admin_overview(&self, viewer: Option<String>) -> Answer<Option<AdminOverview>>;
        /// The person's read-receipt setting, and changing it.
        fn receipts(&self, user_id: i64) -> Answer<bool>;
        fn set_receipts(&self, viewer: String, on: bool) -> Answer<()>;
    }

    /// Provided as context by the server.
    #[derive(Clone)]
    pub struct BackendContext(pub Arc<dyn Backend>);

    pub fn backend() -> Result<Arc<dyn Backend>, ServerFnError> {
        use_context::<BackendContext>()
            .map(|b| b.0)
            .ok_or_else(|| ServerFnError::new("the server provides no backend"))
    }

    /// The session's user, if signed in.
    pub async fn session_user() -> Result<Option<SessionUser>, ServerFnError> {
        let Some(parts) = use_context::<http::request::Parts>() else {
            return Ok(None);
        };
        let Some(session) = parts.extensions.get::<tower_sessions::Session>() else {
            return Ok(None);
        };
        session
            .get::<SessionUser>(SessionUser::KEY)
            .await
            .map_err(|e| ServerFnError::new(format!("session: {e}")))
    }

    /// Answers this page with 403.
    pub fn forbidden() {
        status(403);
    }

    /// Answers this page with `code`.
    pub fn status(code: u16) {
        if let (Some(response), Ok(code)) = (
            use_context::<leptos_axum::ResponseOptions>(),
            http::StatusCode::from_u16(code),
        ) {
            response.set_status(code);
        }
    }
}
