//! Presence in big rooms. A room hears each person come and go by name
//! (`user_join` / `user_leave`) while it has at most `USER_LIST_MAX`
//! people; past that, every arrival or departure would go to everyone in
//! the room, and a room of n people coming back at once (a restart, a
//! network blip) would cost n² deliveries. So a big room's changes are
//! [`Crowds::changed`]-marked instead, and a task tells each marked room
//! its head count (`user_count`) once per [`GATHER`]: a storm of
//! thousands of joins costs each member a handful of small events.
//! Must never import the consumer (`ws/`) or HTTP types.

use super::{Chat, groups, tell};
use crate::{layer::ChannelLayer, presence::Presence};
use app::{names::RoomName, protocol::ServerEvent};
use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::sync::{Notify, watch};

/// How long a big room's changes gather before its count is told: each
/// process tells a room at most 1/GATHER times a second.
pub const GATHER: Duration = Duration::from_millis(500);

/// Big rooms whose head count changed since it was last told.
#[derive(Default)]
pub struct Crowds {
    changed: Mutex<HashSet<RoomName>>,
    wake: Notify,
}

impl Crowds {
    /// Marks a big room's head count as changed.
    pub fn changed(&self, room: &RoomName) {
        let mut changed = self.lock();
        if !changed.contains(room) {
            changed.insert(room.clone());
            drop(changed);
            self.wake.notify_one();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<RoomName>> {
        self.changed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells each marked room its count until `shutdown` turns true. The
    /// count is read when told, so it is the latest whichever process
    /// counted the changes.
    pub async fn run(
        self: Arc<Self>,
        layer: Arc<dyn ChannelLayer>,
        presence: Arc<dyn Presence>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => return,
                () = self.wake.notified() => {}
            }
            tokio::time::sleep(GATHER).await;
            let rooms: Vec<RoomName> = self.lock().drain().collect();
            for room in rooms {
                let count = presence.online(&room).await;
                let event = ServerEvent::UserCount { count };
                tell(layer.as_ref(), &groups::room(&room), event).await;
            }
        }
    }
}

impl Chat {
    /// Tells `room` that a person came or went (`event`, a `user_join` or
    /// `user_leave`), now that it has `online` people: by name in a room
    /// small enough to list, as a gathered count in a bigger one.
    pub async fn tell_presence(&self, room: &RoomName, online: usize, event: ServerEvent) {
        tell_presence(
            self.layer.as_ref(),
            &self.crowds,
            self.limits.user_list_max,
            room,
            online,
            event,
        )
        .await;
    }
}

/// [`Chat::tell_presence`], for the tasks that run without a [`Chat`].
pub async fn tell_presence(
    layer: &dyn ChannelLayer,
    crowds: &Crowds,
    listed: usize,
    room: &RoomName,
    online: usize,
    event: ServerEvent,
) {
    if online <= listed {
        tell(layer, &groups::room(room), event).await;
    } else {
        crowds.changed(room);
    }
}
