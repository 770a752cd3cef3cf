//! The chat domain: "store, then tell". [`Chat`] is its handle, the one
//! axum substate every handler that touches rooms takes (`State<Chat>`):
//! storage, the channel layer, presence, the lobby feed, the message writer
//! and the limits they run under. This is the only place, with the consumer
//! (`ws/`), where storage meets the channel layer, and the only place that
//! words [`ServerEvent`]s for things other modules report: presence reports
//! people who left with a dead process ([`membership`]), `auth` returns the
//! session a logout ended ([`control`]). It names the groups a room and a
//! person's inbox are ([`groups`]), tells a group an event ([`tell`]), says
//! who may open a room ([`access`]), keeps direct conversations
//! ([`direct`]), runs the message writer ([`writer`]:
//! store a batch, then broadcast it), carries out moderation
//! ([`moderation`]) and keeps the lobby's room list live ([`lobby`]).
//!
//! Must never import the consumer (`ws/`), HTTP types or the app's whole
//! state: `grep -rn 'App[S]tate' server/src/chat` prints nothing (the
//! brackets keep this line from matching itself).

pub mod access;
pub mod control;
pub mod crowd;
pub mod direct;
pub mod lobby;
pub mod membership;
pub mod mentions;
pub mod moderation;
pub mod writer;

use crate::{
    config::Limits,
    edge::throttle::Throttle,
    layer::{ChannelLayer, GroupName, LayerError, Payload},
    presence::Presence,
    storage::{Storage, StorageError},
};
use app::{protocol::ServerEvent, server_fns::RoomSummary};
use lobby::LobbyFeed;
use std::sync::Arc;
use tokio::sync::watch;
use writer::MessageWriter;

/// The domain's handle: what storing and telling need, and nothing of the
/// edges (origins, admission, metrics' token). Cheap to clone.
#[derive(Clone)]
pub struct Chat {
    pub storage: Storage,
    pub layer: Arc<dyn ChannelLayer>,
    pub presence: Arc<dyn Presence>,
    /// Rooms whose lobby line changed, for the live lobby.
    pub lobby: Arc<LobbyFeed>,
    /// Big rooms whose head count changed, told as a count.
    pub crowds: Arc<crowd::Crowds>,
    pub writer: MessageWriter,
    pub limits: Arc<Limits>,
    /// New rooms per person (`ROOMS_PER_HOUR`), keyed by user id.
    pub rooms_started: Arc<Throttle<i64>>,
    /// Turns true when the server begins shutting down: sockets close with
    /// 1012 and lobby feeds end.
    pub shutdown: watch::Receiver<bool>,
}

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

    /// Everyone looking at the lobby: admins, who also see admin-only
    /// rooms, in a group of their own.
    pub fn lobby(admins: bool) -> GroupName {
        GroupName::new(if admins { "lobby.admins" } else { "lobby" })
    }
}

/// Tells everyone in `group`; a layer failure is logged (what was stored
/// stays stored, and clients recover it from history).
pub async fn tell(layer: &dyn ChannelLayer, group: &GroupName, event: ServerEvent) {
    tell_text(layer, group, event.to_json()).await;
}

/// Sends `text` as it is to everyone in `group`; a failure is logged.
async fn tell_text(layer: &dyn ChannelLayer, group: &GroupName, text: String) {
    if let Err(e) = layer.group_send(group, Payload::event(text)).await {
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

impl Chat {
    /// Tells everyone in `group`; a layer failure is logged.
    pub async fn tell(&self, group: &GroupName, event: ServerEvent) {
        tell(self.layer.as_ref(), group, event).await;
    }

    /// What the lobby lists ([`lobby::summaries_for`]) under `ROOMS_LISTED`.
    pub async fn room_summaries(&self, admin: bool) -> Result<Vec<RoomSummary>, StorageError> {
        let limit = self.limits.rooms_listed;
        lobby::summaries_for(&self.storage, self.presence.as_ref(), limit, admin).await
    }
}
