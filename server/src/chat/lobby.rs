//! The lobby's live room list. Whatever changes a room's line (someone
//! enters or leaves, a message is stored, an admin changes the room)
//! [`LobbyFeed::touch`]es it; a task gathers the touched rooms for
//! [`GATHER`], reads their lines in a handful of queries however many there
//! are, and tells the lobby groups over the channel layer, so every
//! process's lobby hears of every process's rooms. A busy room thus costs
//! the lobby at most a few updates a second, not one per message.
//!
//! Admin-only rooms go to the admins' lobby group only; everyone else
//! hears them drop off the list. [`subscribe`] is one lobby viewer: its
//! own channel in the right group, the whole list first, then each change.
//! Must never import the consumer (`ws/`) or HTTP types.

use super::{Chat, groups};
use crate::{
    layer::{ChannelLayer, ChannelName, LayerError, Payload},
    presence::Presence,
    storage::{RoomRecord, Storage, StorageError},
};
use app::{names::RoomName, protocol::LobbyEvent, server_fns::RoomSummary};
use futures::Stream;
use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::sync::{Notify, watch};

/// How long touched rooms gather before the lobby hears of them: the
/// lobby is at most this late, and a room updates it at most 1/GATHER
/// times a second per process.
pub const GATHER: Duration = Duration::from_millis(250);

/// The rooms touched since the last update.
#[derive(Default)]
pub struct LobbyFeed {
    touched: Mutex<HashSet<RoomName>>,
    wake: Notify,
}

impl LobbyFeed {
    /// Marks the room's lobby line as changed. Cheap: the writer calls it
    /// for every stored message, and a room already marked costs a lookup,
    /// not a copy of its name.
    pub fn touch(&self, room: &RoomName) {
        let mut touched = self.lock();
        if touched.contains(room) {
            return;
        }
        touched.insert(room.clone());
        drop(touched);
        self.wake.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<RoomName>> {
        self.touched.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take(&self) -> Vec<RoomName> {
        self.lock().drain().collect()
    }

    /// Tells the lobby about touched rooms until `shutdown` turns true.
    pub async fn run(
        self: Arc<Self>,
        storage: Storage,
        presence: Arc<dyn Presence>,
        layer: Arc<dyn ChannelLayer>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => return,
                () = self.wake.notified() => {}
            }
            tokio::time::sleep(GATHER).await;
            let rooms = self.take();
            if let Err(e) = update(&storage, presence.as_ref(), layer.as_ref(), rooms).await {
                tracing::warn!("lobby update: {e}");
            }
        }
    }
}

/// Reads the rooms' lines and tells both lobby groups.
async fn update(
    storage: &Storage,
    presence: &dyn Presence,
    layer: &dyn ChannelLayer,
    rooms: Vec<RoomName>,
) -> Result<(), StorageError> {
    let stored = storage.rooms_named(&rooms).await?;
    let records = rooms
        .into_iter()
        .map(|name| {
            stored
                .iter()
                .find(|r| r.name == name)
                .cloned()
                .unwrap_or(RoomRecord {
                    name,
                    last_message_at: None,
                    admin_only: false,
                })
        })
        .collect::<Vec<_>>();
    let hidden: Vec<bool> = records.iter().map(|r| r.admin_only).collect();
    let mut sends = Vec::with_capacity(records.len() * 2);
    for (summary, hidden) in summarise(presence, records).await.into_iter().zip(hidden) {
        let everyone = match hidden {
            true => gone(&summary.name),
            false => summary.clone(),
        };
        sends.push((
            groups::lobby(false),
            event(LobbyEvent::RoomSummary(everyone)),
        ));
        sends.push((groups::lobby(true), event(LobbyEvent::RoomSummary(summary))));
    }
    if let Err(e) = layer.group_send_all(sends).await {
        tracing::warn!("telling the lobby: {e}");
    }
    Ok(())
}

/// The line that takes a room off the list.
fn gone(name: &RoomName) -> RoomSummary {
    RoomSummary {
        name: name.clone(),
        online: 0,
        readers: 0,
        last_message_at: None,
    }
}

fn event(event: LobbyEvent) -> Payload {
    Payload::event(event.to_json())
}

/// The rooms' lobby lines: who is in each and reading it, in two reads.
pub async fn summarise(presence: &dyn Presence, rooms: Vec<RoomRecord>) -> Vec<RoomSummary> {
    let names: Vec<RoomName> = rooms.iter().map(|r| r.name.clone()).collect();
    let (online, readers) = tokio::join!(presence.counts(&names), presence.readers(&names));
    rooms
        .into_iter()
        .zip(online.into_iter().zip(readers))
        .map(|(r, (online, readers))| RoomSummary {
            name: r.name,
            last_message_at: r.last_message_at,
            online,
            readers,
        })
        .collect()
}

/// Why a lobby viewer could not be subscribed.
#[derive(Debug)]
pub enum SubscribeError {
    Layer(LayerError),
    Storage(StorageError),
}

/// One lobby viewer: the whole list, then each change, until the server
/// stops, the viewer falls behind (its client reconnects and gets the
/// whole list again) or goes away (the stream is dropped).
pub async fn subscribe(
    chat: &Chat,
    admin: bool,
) -> Result<impl Stream<Item = Payload> + Send + use<>, SubscribeError> {
    let layer = chat.layer.clone();
    let channel = layer.new_channel().await.map_err(SubscribeError::Layer)?;
    let guard = Leaves {
        layer: layer.clone(),
        name: channel.name().clone(),
    };
    // Joined before the list is read: a change in between arrives after it.
    layer
        .group_add(&groups::lobby(admin), channel.name())
        .await
        .map_err(SubscribeError::Layer)?;
    let rooms = chat
        .room_summaries(admin)
        .await
        .map_err(SubscribeError::Storage)?;
    let first = event(LobbyEvent::Rooms { rooms });
    let shutdown = chat.shutdown.clone();
    let changes = futures::stream::unfold(
        (channel, shutdown, guard),
        |(mut channel, mut shutdown, guard)| async move {
            let next = tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => None,
                payload = channel.receive() => payload.ok(),
            };
            next.map(|payload| (payload, (channel, shutdown, guard)))
        },
    );
    Ok(futures::StreamExt::chain(
        futures::stream::once(async move { first }),
        changes,
    ))
}

/// Takes a lobby viewer's channel out of the layer when its stream ends.
struct Leaves {
    layer: Arc<dyn ChannelLayer>,
    name: ChannelName,
}

impl Drop for Leaves {
    fn drop(&mut self) {
        let (layer, name) = (self.layer.clone(), self.name.clone());
        // Drop cannot wait; the runtime is there while streams are served.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { layer.close_channel(&name).await });
        }
    }
}
