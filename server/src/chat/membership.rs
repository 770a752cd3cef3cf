//! Entering and leaving a room: presence counts the connection, the
//! layer's room group (and a signed-in person's inbox) takes its channel,
//! the room hears `user_join` with a person's first connection and
//! `user_leave` with their last (a big room, their count: [`super::crowd`]),
//! and the lobby hears that the room's line changed. Presence also *reports* people who left with a process that
//! died without a word ([`Departures`]); [`tell_departures`] words and
//! tells those, so presence itself never broadcasts.
//! Must never import the consumer (`ws/`) or HTTP types.

use super::{Chat, crowd::Crowds, groups};
use crate::{
    layer::{ChannelLayer, ChannelName, LayerError},
    presence::Departures,
};
use app::{names::RoomName, protocol::ServerEvent};
use std::sync::Arc;

impl Chat {
    /// Joins channel `me` to `room` (and `user`'s inbox, when signed in).
    /// An anonymous visitor counts as a reader. `stored`: the room is in
    /// storage.
    pub async fn enter(
        &self,
        room: &RoomName,
        user: Option<&str>,
        me: &ChannelName,
        stored: bool,
    ) -> Result<(), LayerError> {
        let group = groups::room(room);
        match user {
            None => self.presence.reader_joined(room).await,
            Some(user) => {
                let change = self.presence.join(room, user).await;
                if change.person {
                    // Told before we join the group: we learn of ourselves from user_list.
                    let event = ServerEvent::UserJoin {
                        user: user.to_owned(),
                        online: change.online,
                    };
                    self.tell_presence(room, change.online, event).await;
                }
                self.layer.group_add(&groups::inbox(user), me).await?;
            }
        }
        self.touch_if_listed(room, user, stored).await;
        self.layer.group_add(&group, me).await
    }

    /// Takes channel `me` out of `room`'s groups; the room hears
    /// `user_leave` if this was the person's last connection.
    pub async fn exit(&self, room: &RoomName, user: Option<&str>, me: &ChannelName, stored: bool) {
        let group = groups::room(room);
        let _ = self.layer.group_discard(&group, me).await;
        match user {
            None => self.presence.reader_left(room).await,
            Some(user) => {
                let _ = self.layer.group_discard(&groups::inbox(user), me).await;
                let change = self.presence.leave(room, user).await;
                if change.person {
                    let event = ServerEvent::UserLeave {
                        user: user.to_owned(),
                        online: change.online,
                    };
                    self.tell_presence(room, change.online, event).await;
                }
            }
        }
        self.touch_if_listed(room, user, stored).await;
    }

    /// Tells the lobby the room's line changed, if a lobby can list the
    /// room: a person signed in came or went, it is stored, or people are
    /// in it. A visitor alone in a made-up room changes nothing there, so
    /// a crowd of them cannot flood the lobby's viewers.
    async fn touch_if_listed(&self, room: &RoomName, user: Option<&str>, stored: bool) {
        if user.is_some() || stored || self.presence.online(room).await > 0 {
            self.lobby.touch(room);
        }
    }
}

/// Tells each room the people presence reports gone with a dead process
/// (a big room, its count), until presence stops reporting (its last
/// sender is dropped). `listed`: `USER_LIST_MAX`.
pub async fn tell_departures(
    layer: Arc<dyn ChannelLayer>,
    crowds: Arc<Crowds>,
    listed: usize,
    mut departures: Departures,
) {
    while let Some(gone) = departures.recv().await {
        let event = ServerEvent::UserLeave {
            user: gone.user,
            online: gone.online,
        };
        let (layer, crowds) = (layer.as_ref(), crowds.as_ref());
        super::crowd::tell_presence(layer, crowds, listed, &gone.room, gone.online, event).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{layer::MemoryLayer, presence::Departure};

    #[tokio::test]
    async fn a_reported_departure_is_told_to_its_room_only() {
        let layer: Arc<dyn ChannelLayer> = Arc::new(MemoryLayer::new(8));
        let hall = RoomName::parse("hall").unwrap();
        let mut inside = layer.new_channel().await.unwrap();
        let mut elsewhere = layer.new_channel().await.unwrap();
        layer
            .group_add(&groups::room(&hall), inside.name())
            .await
            .unwrap();
        let other = RoomName::parse("other").unwrap();
        layer
            .group_add(&groups::room(&other), elsewhere.name())
            .await
            .unwrap();
        let (report, departures) = tokio::sync::mpsc::channel(4);
        let crowds = Arc::new(Crowds::default());
        let telling = tokio::spawn(tell_departures(layer.clone(), crowds, 10, departures));
        let user = "bob".to_owned();
        let online = 3;
        report
            .send(Departure {
                room: hall,
                user,
                online,
            })
            .await
            .unwrap();
        drop(report);
        telling.await.unwrap();
        let told = inside.receive().await.unwrap();
        assert_eq!(told, r#"{"type":"user_leave","user":"bob","online":3}"#);
        let nothing =
            tokio::time::timeout(std::time::Duration::from_millis(50), elsewhere.receive());
        assert!(nothing.await.is_err(), "another room hears nothing");
    }
}
