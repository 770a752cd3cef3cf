//! Server functions the pages call: who is signed in, and the room list.
//! Their bodies run only on the server (`ssr`), reading what the server
//! provides as context; in the browser each is a POST to the server.

use crate::{account::Me, names::RoomName};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One line of the room list (`GET /api/rooms` has the same shape).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    pub name: RoomName,
    /// Distinct signed-in people in the room now (tabs are not people).
    pub online: usize,
    pub last_message_at: Option<String>,
}

/// The signed-in person, or `None` for an anonymous visitor.
#[server]
pub async fn current_user() -> Result<Option<Me>, ServerFnError> {
    use crate::account::SessionUser;
    let Some(parts) = use_context::<http::request::Parts>() else {
        return Ok(None);
    };
    let Some(session) = parts.extensions.get::<tower_sessions::Session>() else {
        return Ok(None);
    };
    let user = session
        .get::<SessionUser>(SessionUser::KEY)
        .await
        .map_err(|e| ServerFnError::new(format!("session: {e}")))?;
    Ok(user.map(|u| u.me()))
}

/// Rooms with who is online and when they were last active, busiest first.
#[server]
pub async fn list_rooms() -> Result<Vec<RoomSummary>, ServerFnError> {
    let directory = use_context::<ssr::RoomDirectory>()
        .ok_or_else(|| ServerFnError::new("the server provides no room directory"))?;
    (directory.0)().await.map_err(ServerFnError::new)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! What the server hands the app as context.
    use super::RoomSummary;
    use std::{future::Future, pin::Pin, sync::Arc};

    type ListRooms = dyn Fn() -> Pin<Box<dyn Future<Output = Result<Vec<RoomSummary>, String>> + Send>>
        + Send
        + Sync;

    /// Lists the rooms (the server's storage and presence behind it).
    #[derive(Clone)]
    pub struct RoomDirectory(pub Arc<ListRooms>);
}
