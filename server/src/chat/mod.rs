//! The chat domain's glue: "store, then tell". This is the only place,
//! with the consumer (`ws/`), where storage meets the channel layer: it
//! names the groups a room and a person's inbox are ([`groups`]), tells a
//! group an event ([`tell`]), runs the message writer ([`writer`]: store a
//! batch, then broadcast it) and carries out moderation ([`moderation`]).
//! Must never import the consumer (`ws/`) or HTTP types.

pub mod moderation;
pub mod writer;

use crate::{
    AppState,
    layer::{ChannelLayer, GroupName, LayerError, Payload},
    storage::StorageError,
};
use app::{protocol::ServerEvent, server_fns::RoomSummary};

/// The layer's groups, named for what they are in the chat. The layer
/// itself knows no rooms or people; any name we accept is a valid group
/// name, Unicode included.
pub mod groups {
    use crate::layer::GroupName;
    use app::names::RoomName;

    /// The group every connection to a room joins.
    pub fn room(room: &RoomName) -> GroupName {
        GroupName::new(format!("room.{room}"))
    }

    /// A person's inbox: every connection they have, in any room, joins it.
    pub fn inbox(user: &str) -> GroupName {
        GroupName::new(format!("user.{user}"))
    }
}

/// Tells everyone in `group`; a layer failure is logged (what was stored
/// stays stored, and clients recover it from history).
pub async fn tell(layer: &dyn ChannelLayer, group: &GroupName, event: ServerEvent) {
    if let Err(e) = tell_reached(layer, group, event).await {
        tracing::warn!("telling {group}: {e}");
    }
}

/// Tells everyone in `group`; how many connections it reached.
pub async fn tell_reached(
    layer: &dyn ChannelLayer,
    group: &GroupName,
    event: ServerEvent,
) -> Result<usize, LayerError> {
    let delivery = layer
        .group_send(group, Payload::event(event.to_json()))
        .await?;
    Ok(delivery.delivered)
}

impl AppState {
    /// Rooms with their online counts, busiest first, then most recently
    /// active; admin-only rooms only if `admin` is viewing.
    pub async fn room_summaries(&self, admin: bool) -> Result<Vec<RoomSummary>, StorageError> {
        let mut rooms = Vec::new();
        for r in self.storage.rooms().await? {
            if r.admin_only && !admin {
                continue;
            }
            rooms.push(RoomSummary {
                online: self.presence.online(&r.name).await,
                name: r.name,
                last_message_at: r.last_message_at,
            });
        }
        // Stable: rooms with equal counts keep storage's recency order.
        rooms.sort_by_key(|r| std::cmp::Reverse(r.online));
        Ok(rooms)
    }
}
