//! Direct conversations: a room only its two people may join or read,
//! named `@alice+bob` ([`RoomName::direct`]), never listed, never reachable
//! through `/ws/chat/` (no room name has `@`). It is opened, stored and
//! listed for both ([`Storage::open_direct`]) by its first message, which
//! counts against `ROOMS_PER_HOUR` as a new room does; each message in it
//! also reaches the other person's inbox as `private_message` (so their
//! open pages notify as they always have), and moves the sender's own
//! read marker (what they wrote is read).
//! Must never import HTTP types or the consumer (`ws/`).

use super::{Chat, groups};
use crate::{
    layer::ChannelLayer,
    storage::{NewMessage, Storage, StorageError},
};
use app::{
    account::SessionUser,
    names::{RoomName, Username},
    protocol::{ChatMessage, ServerEvent},
};
use std::sync::Arc;

/// Why a direct conversation cannot be had.
#[derive(Debug)]
pub enum DirectRefused {
    /// Nobody has that name (or the account is disabled).
    NoSuchUser(Username),
    /// One's own name.
    Yourself,
    Storage(StorageError),
}

/// The conversation between `user` and `peer`, if `peer` is someone else
/// who exists.
pub async fn conversation(
    chat: &Chat,
    user: &SessionUser,
    peer: &Username,
) -> Result<RoomName, DirectRefused> {
    if peer.as_str() == user.username {
        return Err(DirectRefused::Yourself);
    }
    let found = chat
        .storage
        .active_user(peer.as_str())
        .await
        .map_err(DirectRefused::Storage)?;
    if found.is_none() {
        return Err(DirectRefused::NoSuchUser(peer.clone()));
    }
    let me = Username::parse_existing(&user.username).map_err(|_| DirectRefused::Yourself)?;
    Ok(RoomName::direct(&me, peer))
}

/// After a batch is stored: each direct message reaches the other
/// person's inbox as `private_message` (with its room and seq), and
/// moves its sender's read marker, off the writer's path.
pub async fn after_stored(
    layer: &Arc<dyn ChannelLayer>,
    storage: &Storage,
    stored: &[(&NewMessage, &ChatMessage)],
) {
    for (new, message) in stored.iter().filter(|(_, m)| m.room.is_direct()) {
        let Some(peer) = message.room.peer_of(&message.user) else {
            continue;
        };
        let event = ServerEvent::PrivateMessage {
            user: message.user.clone(),
            message: message.message.clone(),
            room: Some(message.room.clone()),
            seq: Some(message.seq),
        };
        super::tell(layer.as_ref(), &groups::inbox(peer), event).await;
        let (storage, room, seq, sender) = (
            storage.clone(),
            message.room.clone(),
            message.seq,
            (new.user_id, message.user.clone()),
        );
        let layer = layer.clone();
        tokio::spawn(async move {
            match storage.mark_read(sender.0, &room, seq).await {
                Ok(Some(seq)) => {
                    let read = ServerEvent::Read {
                        room: room.clone(),
                        seq,
                    };
                    super::tell(layer.as_ref(), &groups::inbox(&sender.1), read).await;
                    seen(layer.as_ref(), &storage, &room, sender.0, &sender.1, seq).await;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("moving {}'s marker in {room}: {e}", sender.1),
            }
        });
    }
}

/// `person` has read the conversation `room` up to `seq`: both its pages
/// hear `seen`, if they share read receipts.
pub async fn tell_seen(chat: &Chat, room: &RoomName, user_id: i64, person: &str, seq: u64) {
    seen(
        chat.layer.as_ref(),
        &chat.storage,
        room,
        user_id,
        person,
        seq,
    )
    .await;
}

async fn seen(
    layer: &dyn ChannelLayer,
    storage: &Storage,
    room: &RoomName,
    user_id: i64,
    person: &str,
    seq: u64,
) {
    match storage.shares_receipts(user_id).await {
        Ok(true) => {
            let event = ServerEvent::Seen {
                room: room.clone(),
                user: person.to_owned(),
                seq,
            };
            super::tell(layer, &groups::room(room), event).await;
        }
        Ok(false) => {}
        Err(e) => tracing::warn!("reading {person}'s read-receipt setting: {e}"),
    }
}
