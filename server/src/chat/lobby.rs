//! The lobby's live room list. Whatever changes a room's line (someone
//! enters or leaves, a message is stored, an admin changes the room)
//! [`LobbyFeed::touch`]es it; a task gathers the touched rooms for
//! [`GATHER`], reads their lines in a handful of queries however many there
//! are, and tells the lobby groups over the channel layer, so every
//! process's lobby hears of every process's rooms. A busy room thus costs
//! the lobby at most a few updates a second, not one per message; a line
//! equal to the one last sent is not sent again, and more changed lines
//! than a page become one snapshot of the list, so a crowd of visitors
//! cannot overflow a viewer's queue.
//!
//! Hidden (admin-only) rooms go to the admins' lobby group only: the
//! public group never hears their names, except one removal line when a
//! listed room becomes hidden ([`LobbyFeed::hide`]). [`subscribe`] is one
//! lobby viewer: its own channel in the right group, the whole list
//! first, then each change; a signed-in viewer's feed also listens to the
//! person's inbox, for their read markers (unread counts), and ends on any
//! change of rights or logout, so a demoted admin's feed reconnects into
//! the public list.
//! Must never import the consumer (`ws/`) or HTTP types.

use super::{Chat, control, groups};
use crate::{
    layer::{ChannelLayer, ChannelName, LayerError, Payload},
    presence::Presence,
    storage::{RoomRecord, Storage, StorageError},
};
use app::{account::SessionUser, names::RoomName, protocol::LobbyEvent, server_fns::RoomSummary};
use futures::Stream;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::sync::{Notify, watch};

/// How long touched rooms gather before the lobby hears of them: the
/// lobby is at most this late, and a room updates it at most 1/GATHER
/// times a second per process.
pub const GATHER: Duration = Duration::from_millis(250);

/// Lines remembered as last sent; beyond it the memory starts over (a few
/// lines are then sent twice, never missed).
const REMEMBERED: usize = 10_000;

/// Why a room's line is to be sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Mark {
    /// Its line changed.
    Changed,
    /// It was just made admin-only: the public list hears it removed once.
    Hidden,
    /// A hidden room was deleted: only the admins' list hears of it.
    HiddenGone,
}

/// The rooms touched since the last update.
#[derive(Default)]
pub struct LobbyFeed {
    touched: Mutex<HashMap<RoomName, Mark>>,
    wake: Notify,
}

impl LobbyFeed {
    /// Marks the room's lobby line as changed. Cheap: the writer calls it
    /// for every stored message, and a room already marked costs a lookup,
    /// not a copy of its name.
    pub fn touch(&self, room: &RoomName) {
        self.mark(room, Mark::Changed);
    }

    /// The room, listed in public until now, was just made admin-only:
    /// admins see its line, everyone else one line taking it off their
    /// list. (A room the public list could not show is only `touch`ed: its
    /// name never reaches the public.)
    pub fn hide(&self, room: &RoomName) {
        self.mark(room, Mark::Hidden);
    }

    /// A hidden room was deleted: the admins' list drops it, and nobody
    /// else hears its name.
    pub fn hidden_gone(&self, room: &RoomName) {
        self.mark(room, Mark::HiddenGone);
    }

    fn mark(&self, room: &RoomName, mark: Mark) {
        // A direct conversation is its two people's business: never listed.
        if room.is_direct() {
            return;
        }
        let mut touched = self.lock();
        match touched.get_mut(room) {
            Some(was) if *was >= mark => return,
            Some(was) => *was = mark,
            None => {
                touched.insert(room.clone(), mark);
            }
        }
        drop(touched);
        self.wake.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RoomName, Mark>> {
        self.touched.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take(&self) -> Vec<(RoomName, Mark)> {
        self.lock().drain().collect()
    }

    /// Tells the lobby about touched rooms until `shutdown` turns true.
    pub async fn run(self: Arc<Self>, lobby: Lobby, mut shutdown: watch::Receiver<bool>) {
        let mut sent = LastSent::default();
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => return,
                () = self.wake.notified() => {}
            }
            tokio::time::sleep(GATHER).await;
            let rooms = self.take();
            if let Err(e) = lobby.update(&mut sent, rooms).await {
                tracing::warn!("lobby update: {e}");
            }
        }
    }
}

/// What the lobby's task reads and tells with.
pub struct Lobby {
    pub storage: Storage,
    pub presence: Arc<dyn Presence>,
    pub layer: Arc<dyn ChannelLayer>,
    /// `ROOMS_LISTED`: the most lines one update sends to a group before
    /// it sends the whole list instead.
    pub page: usize,
}

/// The line last sent for each room, per group (admins or everyone).
#[derive(Default)]
struct LastSent(HashMap<(bool, RoomName), RoomSummary>);

impl LastSent {
    /// Whether `line` differs from the last one sent to that group (and
    /// remembers it). A removal line is forgotten once sent.
    fn changed(&mut self, admins: bool, line: &RoomSummary) -> bool {
        let key = (admins, line.name.clone());
        if self.0.get(&key) == Some(line) {
            return false;
        }
        if self.0.len() >= REMEMBERED {
            self.0.clear();
        }
        match listable(line) || line.readers > 0 {
            true => self.0.insert(key, line.clone()),
            false => self.0.remove(&key),
        };
        true
    }
}

impl Lobby {
    /// Reads the rooms' lines and tells both lobby groups what changed.
    async fn update(
        &self,
        sent: &mut LastSent,
        rooms: Vec<(RoomName, Mark)>,
    ) -> Result<(), StorageError> {
        let names: Vec<RoomName> = rooms.iter().map(|(n, _)| n.clone()).collect();
        let stored = self.storage.rooms_named(&names).await?;
        let (records, marks): (Vec<RoomRecord>, Vec<Mark>) = rooms
            .into_iter()
            .map(|(name, mark)| {
                let record = stored.iter().find(|r| r.name == name).cloned();
                let record =
                    record.unwrap_or_else(|| RoomRecord::unstored(name, mark == Mark::HiddenGone));
                (record, mark)
            })
            .unzip();
        let hidden: Vec<bool> = records.iter().map(|r| r.admin_only).collect();
        let summaries = summarise(self.presence.as_ref(), records).await;
        let (mut everyone, mut admins) = (Vec::new(), Vec::new());
        for ((summary, hidden), mark) in summaries.into_iter().zip(hidden).zip(marks) {
            let public = match (hidden, mark) {
                (false, _) => Some(summary.clone()),
                (true, Mark::Hidden) => Some(gone(&summary.name)),
                (true, _) => None,
            };
            if let Some(line) = public.filter(|l| sent.changed(false, l)) {
                everyone.push(line);
            }
            if sent.changed(true, &summary) {
                admins.push(summary);
            }
        }
        let sends = [(false, everyone), (true, admins)]
            .into_iter()
            .filter(|(_, lines)| !lines.is_empty());
        let mut payloads = Vec::new();
        for (admin, lines) in sends {
            let group = groups::lobby(admin);
            if lines.len() > self.page {
                let rooms =
                    summaries_for(&self.storage, self.presence.as_ref(), self.page, admin).await?;
                // One list for everyone: markers are each viewer's own.
                let read = Vec::new();
                payloads.push((group, event(LobbyEvent::Rooms { rooms, read })));
                continue;
            }
            for line in lines {
                payloads.push((group.clone(), event(LobbyEvent::RoomSummary(line))));
            }
        }
        if let Err(e) = self.layer.group_send_all(payloads).await {
            tracing::warn!("telling the lobby: {e}");
        }
        Ok(())
    }
}

/// Whether a lobby shows the line (as the page decides too): someone
/// signed in is there, or it has messages.
pub fn listable(line: &RoomSummary) -> bool {
    line.online > 0 || line.last_message_at.is_some()
}

/// The line that takes a room off the list.
fn gone(name: &RoomName) -> RoomSummary {
    RoomSummary {
        name: name.clone(),
        online: 0,
        readers: 0,
        last_message_at: None,
        last_seq: 0,
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
            last_seq: r.last_seq,
            online,
            readers,
        })
        .collect()
}

/// What the lobby lists: the busiest rooms and the most recently active
/// stored ones (`limit` of each at most), busiest first, then most
/// recently active, cut to `limit`. A handful of reads however many rooms
/// exist. Rooms nobody has posted in appear only while signed-in people
/// are in them; admin-only rooms only if `admin` is viewing.
pub async fn summaries_for(
    storage: &Storage,
    presence: &dyn Presence,
    limit: usize,
    admin: bool,
) -> Result<Vec<RoomSummary>, StorageError> {
    let busiest = presence.busiest(limit).await;
    let mut rooms = storage.recent_rooms(limit, admin).await?;
    let unlisted: Vec<RoomName> = busiest
        .iter()
        .map(|(room, _)| room)
        .filter(|room| !room.is_direct() && !rooms.iter().any(|r| &r.name == *room))
        .cloned()
        .collect();
    let stored = storage.rooms_named(&unlisted).await?;
    for name in unlisted {
        match stored.iter().find(|r| r.name == name) {
            Some(record) if record.admin_only && !admin => {}
            Some(record) => rooms.push(record.clone()),
            // Not stored yet: people are in it, nobody has posted.
            None => rooms.push(RoomRecord::unstored(name, false)),
        }
    }
    let mut summaries = summarise(presence, rooms).await;
    // RFC 3339 UTC strings sort as times; None (never posted) last.
    summaries.sort_by(|a, b| {
        b.online
            .cmp(&a.online)
            .then_with(|| b.last_message_at.cmp(&a.last_message_at))
    });
    summaries.truncate(limit);
    Ok(summaries)
}

/// Why a lobby viewer could not be subscribed.
#[derive(Debug)]
pub enum SubscribeError {
    Layer(LayerError),
    Storage(StorageError),
}

/// Most read markers the first list carries (the viewer's most recently
/// active rooms).
const MARKERS_SENT: u32 = 500;

/// One lobby viewer: the whole list, then each change, until the server
/// stops, the viewer falls behind (its client reconnects and gets the
/// whole list again) or goes away (the stream is dropped). A signed-in
/// `viewer` also gets their read markers, first with the list and then
/// as they move (their inbox hears of it), and their feed ends when
/// their rights change or they log out.
pub async fn subscribe(
    chat: &Chat,
    viewer: Option<&SessionUser>,
) -> Result<impl Stream<Item = Payload> + Send + use<>, SubscribeError> {
    let layer = chat.layer.clone();
    let channel = layer.new_channel().await.map_err(SubscribeError::Layer)?;
    let guard = Leaves {
        layer: layer.clone(),
        name: channel.name().clone(),
        inbox: viewer.map(|v| groups::inbox(&v.username)),
    };
    if let Some(inbox) = &guard.inbox {
        layer
            .group_add(inbox, channel.name())
            .await
            .map_err(SubscribeError::Layer)?;
    }
    let admin = viewer.is_some_and(|v| v.is_admin);
    // Joined before the list is read: a change in between arrives after it.
    layer
        .group_add(&groups::lobby(admin), channel.name())
        .await
        .map_err(SubscribeError::Layer)?;
    let rooms = chat
        .room_summaries(admin)
        .await
        .map_err(SubscribeError::Storage)?;
    let read = match viewer {
        Some(v) => chat
            .storage
            .read_markers(v.id, admin, MARKERS_SENT)
            .await
            .map_err(SubscribeError::Storage)?,
        None => Vec::new(),
    };
    let first = event(LobbyEvent::Rooms { rooms, read });
    let shutdown = chat.shutdown.clone();
    let changes = futures::stream::unfold(
        (channel, shutdown, guard),
        |(mut channel, mut shutdown, guard)| async move {
            loop {
                let next = tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => None,
                    payload = channel.receive() => payload.ok(),
                };
                let payload = next?;
                match Feed::of(&payload) {
                    Feed::Line => return Some((payload, (channel, shutdown, guard))),
                    // Rights changed, a logout, the account disabled:
                    // the feed ends and its client reconnects as it now is.
                    Feed::End => return None,
                    Feed::Other => continue,
                }
            }
        },
    );
    Ok(futures::StreamExt::chain(
        futures::stream::once(async move { first }),
        changes,
    ))
}

/// What a lobby viewer's channel received.
enum Feed {
    /// A lobby line or list, or the viewer's read marker, private message
    /// or mention: sent on.
    Line,
    /// A signal or `session_ended` in the viewer's inbox.
    End,
    /// Anything else in the inbox (a `/pm` receipt, typing): not the lobby's.
    Other,
}

impl Feed {
    fn of(payload: &Payload) -> Self {
        let text = payload.text().as_str();
        if text.starts_with(control::PREFIX) || text.starts_with(r#"{"type":"session_ended""#) {
            Self::End
        } else if [
            r#"{"type":"room"#,
            r#"{"type":"read""#,
            r#"{"type":"private_message""#,
            r#"{"type":"mention""#,
        ]
        .iter()
        .any(|kind| text.starts_with(kind))
        {
            Self::Line
        } else {
            Self::Other
        }
    }
}

/// Takes a lobby viewer's channel out of the layer when its stream ends.
struct Leaves {
    layer: Arc<dyn ChannelLayer>,
    name: ChannelName,
    inbox: Option<crate::layer::GroupName>,
}

impl Drop for Leaves {
    fn drop(&mut self) {
        let (layer, name, inbox) = (self.layer.clone(), self.name.clone(), self.inbox.take());
        // Drop cannot wait; the runtime is there while streams are served.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Some(inbox) = inbox {
                    let _ = layer.group_discard(&inbox, &name).await;
                }
                layer.close_channel(&name).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{layer::MemoryLayer, presence::MemoryPresence};

    /// A lobby with rooms `names` touched, people in each; what the public
    /// group hears after two updates.
    #[tokio::test]
    async fn more_lines_than_a_page_become_one_list_and_repeats_are_not_sent() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("chat.db").display());
        let layer: Arc<dyn ChannelLayer> = Arc::new(MemoryLayer::new(64));
        let presence: Arc<dyn Presence> = Arc::new(MemoryPresence::default());
        let lobby = Lobby {
            storage: Storage::open(&url).await.unwrap(),
            presence: presence.clone(),
            layer: layer.clone(),
            page: 3,
        };
        let mut viewer = layer.new_channel().await.unwrap();
        layer
            .group_add(&groups::lobby(false), viewer.name())
            .await
            .unwrap();
        let rooms: Vec<RoomName> = (0..5)
            .map(|n| RoomName::parse(&format!("room{n}")).unwrap())
            .collect();
        for room in &rooms {
            presence.join(room, "alice").await;
        }
        let mut sent = LastSent::default();
        let touched =
            |rooms: &[RoomName]| rooms.iter().map(|r| (r.clone(), Mark::Changed)).collect();
        lobby.update(&mut sent, touched(&rooms)).await.unwrap();
        let heard = viewer.receive().await.unwrap();
        assert!(
            heard.text().starts_with(r#"{"type":"rooms""#),
            "{}",
            heard.text()
        );
        // Nothing changed: nothing is sent.
        lobby.update(&mut sent, touched(&rooms[..2])).await.unwrap();
        presence.leave(&rooms[0], "alice").await;
        lobby.update(&mut sent, touched(&rooms[..2])).await.unwrap();
        let line = viewer.receive().await.unwrap();
        assert!(line.text().contains(r#""name":"room0""#), "{}", line.text());
        let more = tokio::time::timeout(Duration::from_millis(50), viewer.receive());
        assert!(more.await.is_err(), "only room0's line changed");
    }
}
