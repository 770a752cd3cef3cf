//! What the lobby's live feed (`GET /api/rooms/live`, server-sent events)
//! sends: the whole list once when it opens, then one room at a time as it
//! changes. Each is one SSE `data:` line of JSON with a `type`, like the
//! room's events.

use crate::server_fns::RoomSummary;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LobbyEvent {
    /// The list as `GET /api/rooms` gives it, sent first (and again after
    /// every reconnect, so nothing missed while away matters).
    /// For a signed-in viewer, `read` holds their read marker in each room
    /// they have read (unread = `last_seq` − marker).
    Rooms {
        rooms: Vec<RoomSummary>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        read: Vec<ReadMarker>,
    },
    /// One room changed: people came or went, or someone posted. A room
    /// with nobody in it and no message (deleted, or made admin-only for
    /// a viewer who is not an admin) drops off the list.
    RoomSummary(RoomSummary),
    /// The viewer's read marker in `room` moved (on any of their devices).
    Read(ReadMarker),
    /// A private message to the viewer, stored as `seq` in the direct
    /// conversation `room` (the room socket's event, as their inbox hears it).
    PrivateMessage {
        user: String,
        message: String,
        #[serde(default)]
        room: Option<crate::names::RoomName>,
        #[serde(default)]
        seq: Option<u64>,
    },
    /// Message `seq` of `room` mentions the viewer (the room socket's
    /// event, as their inbox hears it).
    Mention {
        room: crate::names::RoomName,
        seq: u64,
    },
}

/// A person's read marker: they have seen `room` up to `seq`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMarker {
    pub room: crate::names::RoomName,
    pub seq: u64,
    /// The room's newest seq, on the first list (a direct conversation has
    /// no lobby line to say it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<u64>,
    /// On the first list: the unread messages (newer than `seq`) that
    /// mention the person, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<u64>,
}

impl LobbyEvent {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("lobby events serialize")
    }
}
