//! The Redis channel layer on one Redis server (`REDIS_URL`): several
//! server processes share every group. (A Redis Cluster is
//! [`super::ClusterLayer`]'s.)
//!
//! Fan-out is pub/sub. A group is a topic; a process subscribes to it while
//! it has at least one local member and unsubscribes when the last leaves,
//! so `group_send` publishes once per group (not once per member) and each
//! process hands the one decoded payload to its local members (see
//! `super::registry`). Every process also has a topic of its own for `send`s
//! addressed to one of its channels; channel names start with the process
//! id, so the sender knows where to publish.
//!
//! Losing Redis does not stop the server: group sends then reach local
//! members directly, the loss is logged once and reported by
//! [`ChannelLayer::degraded`], and a background task reconnects with
//! backoff and subscribes again to every group that has local members.
//! Clients recover what they missed from storage.
//!
//! The topics and their encoding are `super::wire`'s. It keeps a dedicated
//! pub/sub connection beside the command one.

use super::{
    Channel, ChannelLayer, ChannelName, Delivery, GroupName, LayerError, Payload,
    target::connection_manager,
    wire::{Router, encode, encode_direct},
};
use async_trait::async_trait;
use futures::StreamExt;
use redis::{AsyncCommands, aio::ConnectionManager, aio::PubSubSink};
use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use tokio::sync::Mutex;

/// Longest wait between reconnection attempts.
const RECONNECT_MAX: Duration = Duration::from_secs(2);

pub struct RedisLayer {
    inner: Arc<Inner>,
}

struct Inner {
    /// Topic names, and the local members what arrives goes to.
    router: Router,
    publisher: ConnectionManager,
    connected: AtomicBool,
    /// Subscription state. An async lock, held across SUBSCRIBE/UNSUBSCRIBE
    /// so that a join and a leave of the same group cannot interleave and
    /// leave a member without a subscription. Joins and leaves only; the
    /// message path never takes it.
    subs: Mutex<Subscriptions>,
}

#[derive(Default)]
struct Subscriptions {
    /// `None` while disconnected.
    sink: Option<PubSubSink>,
    /// Groups with local members: subscribed now, or again after a reconnect.
    groups: HashSet<GroupName>,
}

fn redis_error(e: redis::RedisError) -> LayerError {
    LayerError(format!("redis: {e}"))
}

impl RedisLayer {
    /// Connects to Redis (failing if it cannot) and starts the subscriber task.
    /// Connects; every topic starts with `prefix` (`REDIS_PREFIX`), so
    /// deployments with different prefixes share nothing on one Redis.
    pub async fn connect(url: &str, prefix: &str, capacity: usize) -> Result<Self, LayerError> {
        let client = redis::Client::open(url).map_err(redis_error)?;
        let publisher = connection_manager(client.clone())
            .await
            .map_err(redis_error)?;
        let inner = Arc::new(Inner {
            router: Router::new(prefix, capacity),
            publisher,
            connected: AtomicBool::new(false),
            subs: Mutex::new(Subscriptions::default()),
        });
        let (ready, is_ready) = tokio::sync::oneshot::channel();
        tokio::spawn(subscriber(client, Arc::downgrade(&inner), ready));
        // Wait for the first subscription so nothing sent right after start is missed.
        let _ = tokio::time::timeout(Duration::from_secs(5), is_ready).await;
        Ok(Self { inner })
    }
}

/// Keeps a pub/sub connection open: (re)subscribes, then dispatches what
/// arrives; on loss, logs once and retries with backoff.
async fn subscriber(
    client: redis::Client,
    inner: std::sync::Weak<Inner>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut backoff = Duration::from_millis(100);
    let mut reported_down = false;
    loop {
        let Some(layer) = inner.upgrade() else { return };
        let connected = async {
            let (mut sink, stream) = client.get_async_pubsub().await?.split();
            let mut subs = layer.subs.lock().await;
            sink.subscribe(layer.router.own_topic()).await?;
            for group in &subs.groups {
                sink.subscribe(layer.router.group_topic(group)).await?;
            }
            subs.sink = Some(sink);
            Ok::<_, redis::RedisError>(stream)
        }
        .await;
        match connected {
            Ok(mut stream) => {
                layer.connected.store(true, Ordering::Relaxed);
                if reported_down {
                    tracing::info!("redis is back; groups resubscribed");
                }
                backoff = Duration::from_millis(100);
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
                drop(layer);
                while let Some(msg) = stream.next().await {
                    let Some(layer) = inner.upgrade() else { return };
                    layer
                        .router
                        .dispatch(msg.get_channel_name().as_bytes(), msg.get_payload_bytes());
                }
                let Some(layer) = inner.upgrade() else { return };
                layer.connected.store(false, Ordering::Relaxed);
                layer.subs.lock().await.sink = None;
                tracing::error!(
                    "lost the redis connection; serving local members until it is back"
                );
                reported_down = true;
            }
            Err(e) => {
                layer.connected.store(false, Ordering::Relaxed);
                layer.subs.lock().await.sink = None;
                if !reported_down {
                    tracing::error!("cannot reach redis ({e}); serving local members and retrying");
                    reported_down = true;
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(RECONNECT_MAX);
    }
}

#[async_trait]
impl ChannelLayer for RedisLayer {
    async fn new_channel(&self) -> Result<Channel, LayerError> {
        Ok(self.inner.router.registry.new_channel())
    }

    async fn send(&self, to: &ChannelName, payload: Payload) -> Result<Delivery, LayerError> {
        let inner = &self.inner;
        if inner.router.registry.owns(to) {
            return Ok(inner.router.registry.send(to, payload));
        }
        let receivers: usize = inner
            .publisher
            .clone()
            .publish(inner.router.owner_topic(to), encode_direct(to, &payload))
            .await
            .map_err(redis_error)?;
        Ok(Delivery {
            delivered: receivers,
            lagging: vec![],
        })
    }

    async fn group_add(&self, group: &GroupName, channel: &ChannelName) -> Result<(), LayerError> {
        let inner = &self.inner;
        let mut subs = inner.subs.lock().await;
        if !inner.router.registry.group_add(group, channel) {
            return Err(LayerError(format!("no channel named {channel}")));
        }
        if subs.groups.insert(group.clone())
            && let Some(sink) = subs.sink.as_mut()
            && let Err(e) = sink.subscribe(inner.router.group_topic(group)).await
        {
            // Still a local member; the reconnect loop subscribes again.
            tracing::warn!("subscribing to {group}: {e}");
        }
        Ok(())
    }

    async fn group_discard(
        &self,
        group: &GroupName,
        channel: &ChannelName,
    ) -> Result<(), LayerError> {
        let inner = &self.inner;
        let mut subs = inner.subs.lock().await;
        inner.router.registry.group_discard(group, channel);
        unsubscribe_if_empty(inner, &mut subs, group).await;
        Ok(())
    }

    async fn group_send(
        &self,
        group: &GroupName,
        payload: Payload,
    ) -> Result<Delivery, LayerError> {
        let inner = &self.inner;
        if inner.connected.load(Ordering::Relaxed) {
            let published: Result<usize, _> = inner
                .publisher
                .clone()
                .publish(inner.router.group_topic(group), encode(&payload))
                .await;
            match published {
                // Our own subscription delivers to local members.
                Ok(processes) => {
                    return Ok(Delivery {
                        delivered: processes,
                        lagging: vec![],
                    });
                }
                Err(e) => tracing::warn!("publishing to {group}: {e}; delivering locally"),
            }
        }
        // Redis is away: at least the people on this process keep talking.
        Ok(inner.router.registry.group_send(group, payload))
    }

    /// One pipeline for the whole batch: Redis runs the PUBLISHes in
    /// order, and the writer waits for one round trip instead of one per
    /// message (which capped throughput at ~2,000 messages a second).
    async fn group_send_all(&self, sends: Vec<(GroupName, Payload)>) -> Result<(), LayerError> {
        let inner = &self.inner;
        if inner.connected.load(Ordering::Relaxed) {
            let mut pipe = redis::pipe();
            for (group, payload) in &sends {
                pipe.publish(inner.router.group_topic(group), encode(payload))
                    .ignore();
            }
            let published: Result<(), _> = pipe.query_async(&mut inner.publisher.clone()).await;
            match published {
                Ok(()) => return Ok(()),
                // Some may have gone out: logged messages carry their seq,
                // so a consumer drops a second copy.
                Err(e) => tracing::warn!(
                    "publishing {} messages: {e}; delivering locally",
                    sends.len()
                ),
            }
        }
        for (group, payload) in sends {
            inner.router.registry.group_send(&group, payload);
        }
        Ok(())
    }

    async fn close_channel(&self, channel: &ChannelName) {
        let inner = &self.inner;
        let mut subs = inner.subs.lock().await;
        for group in inner.router.registry.close_channel(channel) {
            unsubscribe_if_empty(inner, &mut subs, &group).await;
        }
    }

    fn lagging_total(&self) -> u64 {
        self.inner.router.registry.lagging_total()
    }

    fn degraded(&self) -> Option<String> {
        (!self.inner.connected.load(Ordering::Relaxed))
            .then(|| "redis unreachable: serving local members only".to_owned())
    }
}

async fn unsubscribe_if_empty(inner: &Inner, subs: &mut Subscriptions, group: &GroupName) {
    if inner.router.registry.has_members(group) || !subs.groups.remove(group) {
        return;
    }
    if let Some(sink) = subs.sink.as_mut()
        && let Err(e) = sink.unsubscribe(inner.router.group_topic(group)).await
    {
        tracing::warn!("unsubscribing from {group}: {e}");
    }
}
