//! `/api/rooms`, its live feed `/api/rooms/live` and
//! `/api/rooms/{room}/messages`.

use crate::{
    auth,
    chat::{
        Chat,
        lobby::{self, SubscribeError},
    },
    edge::{
        proxy::{ClientAddr, ClientKey},
        throttle::Throttle,
    },
    error::ApiError,
    storage::{Page, Reader},
    ws::admission::Admission,
};
use app::{
    names::RoomName,
    protocol::{HISTORY_MAX, HISTORY_PAGE, History},
    server_fns::RoomSummary,
};
use axum::{
    Json,
    extract::{Path, Query, State},
    response::{
        IntoResponse,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::StreamExt;
use std::{collections::HashMap, sync::Arc};
use tower_sessions::Session;

/// Admin-only rooms are listed for admins only.
pub async fn list(
    State(chat): State<Chat>,
    session: Session,
) -> Result<Json<Vec<RoomSummary>>, ApiError> {
    let viewer = auth::current_account(&chat.storage, &session).await?;
    let admin = viewer.is_some_and(|u| u.is_admin);
    let rooms = chat
        .room_summaries(admin)
        .await
        .map_err(|e| ApiError::from(e).saying("Rooms cannot be listed right now."))?;
    Ok(Json(rooms))
}

/// How often an idle feed sends a comment, so proxies and the browser
/// see the connection alive (and a vanished client is noticed).
const FEED_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// The lobby's live list as server-sent events: `{"type":"rooms"}` with
/// the whole list, then a `{"type":"room_summary"}` per changed room. A
/// feed holds a place among the open connections (`MAX_CONNECTIONS`,
/// `CONNECTIONS_PER_ADDRESS`, `CONNECTIONS_PER_USER`) as a WebSocket does; it ends when the server
/// stops or the viewer falls behind, and the browser's EventSource
/// reconnects by itself (`retry` below).
pub async fn live(
    State(chat): State<Chat>,
    State(admission): State<Arc<Admission>>,
    ClientAddr(client): ClientAddr,
    session: Session,
) -> Result<impl IntoResponse, ApiError> {
    // Places first, before the session or the database is touched.
    let mut ticket = admission.admit(client)?;
    let viewer = auth::current_account(&chat.storage, &session).await?;
    if let Some(viewer) = &viewer {
        ticket.claim(&viewer.username)?;
    }
    let feed = lobby::subscribe(&chat, viewer.as_ref())
        .await
        .map_err(|e| match e {
            SubscribeError::Storage(e) => {
                ApiError::from(e).saying("Rooms cannot be listed right now.")
            }
            SubscribeError::Layer(e) => {
                tracing::warn!("lobby feed: {e}");
                ApiError::unavailable("The live room list is unavailable right now.")
            }
        })?;
    let mut first = true;
    let events = feed.map(move |payload| {
        // The ticket lives as long as the stream.
        let _held = &ticket;
        let event = Event::default().data(payload.text().as_str());
        let event = match std::mem::take(&mut first) {
            true => event.retry(FEED_RETRY),
            false => event,
        };
        Ok::<_, std::convert::Infallible>(event)
    });
    let sse = Sse::new(events).keep_alive(KeepAlive::new().interval(FEED_KEEP_ALIVE));
    // nginx buffers responses unless told not to; events must flow.
    Ok(([("x-accel-buffering", "no")], sse))
}

/// How long the browser waits before reconnecting a dropped feed.
const FEED_RETRY: std::time::Duration = std::time::Duration::from_secs(2);

/// A whole number in `range` from the query string.
fn number(
    query: &HashMap<String, String>,
    name: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, ApiError> {
    match query.get(name).map(String::as_str) {
        None | Some("") => Ok(None),
        Some(raw) => match raw.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::invalid_request(format!(
                "{name} must be a whole number from {} to {}.",
                range.start(),
                range.end()
            ))),
        },
    }
}

/// `HISTORY_RATE` pages a second per client address (bursts of
/// `HISTORY_BURST`): `?before_seq=` older than a seq, `?after_seq=` newer than one, or neither
/// for the latest; `limit` 1–200 (default 50). Oldest first.
pub async fn messages(
    State(chat): State<Chat>,
    State(history_reads): State<Arc<Throttle<ClientKey>>>,
    ClientAddr(client): ClientAddr,
    Path(room): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    session: Session,
) -> Result<Json<History>, ApiError> {
    // Pages per client address, as the socket's history frames are per connection.
    history_reads
        .check(&client)
        .map_err(|wait| ApiError::rate_limited("Too many history requests; slow down.", wait))?;
    let room =
        RoomName::parse(&room).map_err(|e| ApiError::bad_request("invalid_room", e.to_string()))?;
    let viewer = auth::current_account(&chat.storage, &session).await?;
    let admin = viewer.is_some_and(|u| u.is_admin);
    // Fails closed: if the room cannot be read, neither can its history.
    chat.access(&room, admin)
        .await
        .map_err(|e| ApiError::from(e).saying("History cannot be read right now."))??;
    let limit = number(&query, "limit", 1..=HISTORY_MAX.into())?.map_or(HISTORY_PAGE, |n| n as u32);
    let page = match (
        number(&query, "before_seq", 1..=i64::MAX as u64)?,
        // after_seq=0: from the very start.
        number(&query, "after_seq", 0..=i64::MAX as u64)?,
    ) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_request(
                "Give before_seq or after_seq, not both.",
            ));
        }
        (Some(seq), None) => Page::Before { seq, limit },
        (None, Some(seq)) => Page::After { seq, limit },
        (None, None) => Page::Latest { limit },
    };
    let history = chat
        .storage
        .messages(&room, page, Reader::admin(admin))
        .await
        .map_err(|e| ApiError::from(e).saying("History cannot be read right now."))?;
    Ok(Json(history))
}
