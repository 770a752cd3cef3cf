//! The channel layer, in Django Channels' vocabulary: every connection has a
//! named **channel** with its own bounded queue; channels join and leave
//! named **groups**; `send` addresses one channel, `group_send` every member
//! of a group.
//!
//! One trait, [`ChannelLayer`], with an in-memory implementation
//! ([`MemoryLayer`], the default: nothing to install) and one over Redis
//! pub/sub that lets several server processes share groups (`pubsub.rs`),
//! with two backends: [`RedisLayer`] on one Redis (`REDIS_URL`) and
//! [`ClusterLayer`] on a Redis Cluster (`REDIS_CLUSTER_URLS`, sharded
//! pub/sub). Messages are
//! [`Payload`]s: a broadcast is encoded to JSON once and every member gets
//! a cheap clone of the same bytes.
//!
//! Unlike channels_redis, a member whose queue is full is never skipped
//! silently: the layer drops it from every group, counts it, and tells its
//! consumer ([`ChannelClosed::Lagging`]), which closes the socket with a
//! dedicated close code so the client reconnects and catches up.
//!
//! TRANSPORT only: must never import the chat (`app`'s names or protocol,
//! `crate::chat`), storage or the consumer. Group names are opaque strings;
//! `crate::chat::groups` says which group a room or an inbox is.

mod cluster;
mod memory;
mod pubsub;
mod queue;
mod redis;
mod registry;
mod target;
#[cfg(test)]
mod tests;
mod wire;

pub use cluster::ClusterLayer;
pub use memory::MemoryLayer;
pub use redis::RedisLayer;
pub use target::{RedisConn, RedisTarget};

/// The channel layer for `target`: every topic starts with `prefix`.
pub async fn connect_redis(
    target: &RedisTarget,
    prefix: &str,
    capacity: usize,
) -> Result<Arc<dyn ChannelLayer>, LayerError> {
    Ok(match target {
        RedisTarget::Single(url) => Arc::new(RedisLayer::connect(url, prefix, capacity).await?),
        RedisTarget::Cluster(nodes) => {
            Arc::new(ClusterLayer::connect(nodes, prefix, capacity).await?)
        }
    })
}

use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use std::{fmt, sync::Arc};
use tokio::sync::watch;

/// An encoded event: UTF-8 JSON shared by reference count, ready to become
/// a WebSocket text frame without copying. A message from a room's log also
/// carries its `seq`, so a consumer can drop what it already sent as history
/// without parsing the JSON.
///
/// One pointer wide: every connection's queue allocates its slots in
/// blocks of 32 up front, so a 40-byte payload cost each idle socket
/// 1.25 KB (heaptrack); 8-byte slots make it 256 bytes. The extra
/// allocation is once per event, not per member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload(Arc<Encoded>);

#[derive(Debug, PartialEq, Eq)]
struct Encoded {
    seq: u64,
    text: Utf8Bytes,
}

impl Payload {
    /// An event that is not part of a room's log (an error, a presence change …).
    pub fn event(text: impl Into<Utf8Bytes>) -> Self {
        Self::logged(0, text)
    }

    /// A stored chat message with its room seq (≥ 1).
    pub fn logged(seq: u64, text: impl Into<Utf8Bytes>) -> Self {
        Self(Arc::new(Encoded {
            seq,
            text: text.into(),
        }))
    }

    pub fn seq(&self) -> Option<u64> {
        (self.0.seq > 0).then_some(self.0.seq)
    }

    pub fn text(&self) -> &Utf8Bytes {
        &self.0.text
    }

    pub fn into_text(self) -> Utf8Bytes {
        Arc::try_unwrap(self.0).map_or_else(|shared| shared.text.clone(), |own| own.text)
    }
}

impl PartialEq<&str> for Payload {
    fn eq(&self, other: &&str) -> bool {
        self.0.text.as_str() == *other
    }
}

/// Queue length per channel unless configured otherwise. As many events
/// as the bench's reference server keeps per room (bench/NOTES.md): at
/// 30,000 msg/s in 10 rooms, 256 was 80 ms of a member's traffic, and one
/// consumer waiting that long for a core (the load tool shares them) was
/// closed; 1,024 is about a third of a second there, and ten seconds of a
/// room at 100 msg/s. A queue takes memory only for what it holds: 8 bytes
/// an event (the text is shared by the room's members).
pub const DEFAULT_CHANNEL_CAPACITY: usize = 1024;

/// The name of one channel (one connection's inbox).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChannelName(Arc<str>);

/// The name of a group of channels.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupName(Arc<str>);

impl ChannelName {
    pub(crate) fn new(name: String) -> Self {
        Self(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl GroupName {
    /// Any non-empty string names a group, Unicode included (the chat's
    /// names for rooms and inboxes are `crate::chat::groups`).
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Self(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The receiving end of a channel, owned by its consumer.
pub struct Channel {
    name: ChannelName,
    queue: queue::QueueRx,
    lagging: watch::Receiver<bool>,
}

/// Why [`Channel::receive`] has nothing more to give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelClosed {
    /// The queue filled up: the layer dropped this member. Whatever was
    /// still queued is abandoned; the client recovers it from history.
    Lagging,
    /// The layer closed the channel.
    Closed,
}

impl Channel {
    pub fn name(&self) -> &ChannelName {
        &self.name
    }

    /// The next message, in the order it was sent. Reports
    /// [`ChannelClosed::Lagging`] as soon as the member has been dropped,
    /// even if messages are still queued.
    pub async fn receive(&mut self) -> Result<Payload, ChannelClosed> {
        tokio::select! {
            biased;
            () = lagged(&mut self.lagging) => Err(ChannelClosed::Lagging),
            payload = self.queue.recv() => payload.ok_or(ChannelClosed::Closed),
        }
    }

    /// The next message if one is already queued, without waiting; `None`
    /// when the queue is empty or the member has been dropped (then
    /// [`Channel::receive`] says why). Lets a consumer put everything
    /// queued into one socket write.
    pub fn try_receive(&mut self) -> Option<Payload> {
        if self.is_lagging() {
            return None;
        }
        self.queue.try_recv().ok()
    }

    /// Whether the layer dropped this member for lagging. Asked before
    /// every delivery, so it reads the flag's version (one atomic load)
    /// rather than the flag (a lock); the flag is only ever set once, to
    /// true, and only its sender's end (the member dropped) needs a look.
    fn is_lagging(&self) -> bool {
        match self.lagging.has_changed() {
            Ok(changed) => changed,
            Err(_) => *self.lagging.borrow(),
        }
    }

    /// For a loop that waits on deliveries many times a second: one future
    /// that resolves once the member is dropped for lagging (a consumer
    /// blocked writing to a slow socket waits on it too), made once and
    /// kept pinned, with [`Channel::next`] for the messages. Each call of
    /// [`Channel::receive`] registers with the signal anew (measured: a few
    /// % of the server's CPU with 100 busy sockets).
    pub fn lag_signal(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut flag = self.lagging.clone();
        async move { lagged(&mut flag).await }
    }

    /// The next message, in the order it was sent, for a loop that watches
    /// [`Channel::lag_signal`] while it is busy elsewhere: refuses once the
    /// member is dropped, but does not itself wake on that. (A member is
    /// dropped only when its queue is full, so one waiting here has
    /// already been woken by what filled it.)
    pub async fn next(&mut self) -> Result<Payload, ChannelClosed> {
        if self.is_lagging() {
            return Err(ChannelClosed::Lagging);
        }
        self.queue.recv().await.ok_or(ChannelClosed::Closed)
    }
}

async fn lagged(flag: &mut watch::Receiver<bool>) {
    if flag.wait_for(|lagging| *lagging).await.is_err() {
        // The layer forgot the channel without it lagging: never resolve.
        std::future::pending::<()>().await;
    }
}

/// What a send reached. `lagging` lists members that were dropped because
/// their queue was full: they did **not** get the message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    pub delivered: usize,
    pub lagging: Vec<ChannelName>,
}

/// The layer could not do what was asked (a backend is unreachable, say).
#[derive(Debug)]
pub struct LayerError(pub String);

impl fmt::Display for LayerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "channel layer: {}", self.0)
    }
}

impl std::error::Error for LayerError {}

/// The channel layer. Implementations must be cheap to call concurrently
/// from every connection task.
#[async_trait]
pub trait ChannelLayer: Send + Sync + 'static {
    /// A new channel with its own bounded queue.
    async fn new_channel(&self) -> Result<Channel, LayerError>;

    /// Delivers to one channel.
    async fn send(&self, to: &ChannelName, payload: Payload) -> Result<Delivery, LayerError>;

    async fn group_add(&self, group: &GroupName, channel: &ChannelName) -> Result<(), LayerError>;

    async fn group_discard(
        &self,
        group: &GroupName,
        channel: &ChannelName,
    ) -> Result<(), LayerError>;

    /// Delivers to every member of the group.
    async fn group_send(&self, group: &GroupName, payload: Payload)
    -> Result<Delivery, LayerError>;

    /// Delivers each payload to its group, in order: what the message
    /// writer does after every commit. A layer with a network round trip
    /// per send overrides this to pay for one round trip per batch.
    async fn group_send_all(&self, sends: Vec<(GroupName, Payload)>) -> Result<(), LayerError> {
        for (group, payload) in sends {
            self.group_send(&group, payload).await?;
        }
        Ok(())
    }

    /// Forgets a channel whose consumer has ended: it leaves every group.
    async fn close_channel(&self, channel: &ChannelName);

    /// Members dropped for lagging since start, for `/metrics`.
    fn lagging_total(&self) -> u64;

    /// Why the layer is only partly working (e.g. its backend is
    /// unreachable and only local members are served), if it is.
    fn degraded(&self) -> Option<String>;
}
