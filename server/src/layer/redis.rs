//! The Redis channel layer: several server processes share every group.
//!
//! Fan-out is pub/sub. A group is a topic; a process subscribes to it while
//! it has at least one local member and unsubscribes when the last leaves,
//! so `group_send` publishes once per group (not once per member) and each
//! process hands the one decoded payload to its local members (see
//! [`Registry`]). Every process also has a topic of its own for `send`s
//! addressed to one of its channels; channel names start with the process
//! id, so the sender knows where to publish.
//!
//! Losing Redis does not stop the server: group sends then reach local
//! members directly, the loss is logged once and reported by
//! [`ChannelLayer::degraded`], and a background task reconnects with
//! backoff and subscribes again to every group that has local members.
//! Clients recover what they missed from storage.
//!
//! Wire format of a published message: `<seq> <json>` (seq 0 when the event
//! is not part of a room's log); on a process topic, prefixed with
//! `<channel name>\n`.

use super::{
    Channel, ChannelLayer, ChannelName, Delivery, GroupName, LayerError, Payload,
    registry::Registry,
};
use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
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
    /// Topic names start with this, so several deployments can share a Redis.
    namespace: String,
    /// `<namespace>:g:`, the start of every group topic (built once: it is
    /// checked for every message that arrives).
    group_prefix: String,
    process: String,
    registry: Registry,
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

/// A self-reconnecting Redis connection that fails fast while Redis is
/// away (the default retries for seconds, stalling whoever is waiting),
/// so the server can carry on with what it has locally.
pub(crate) async fn connection_manager(
    client: redis::Client,
) -> redis::RedisResult<ConnectionManager> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_connection_timeout(Some(Duration::from_millis(500)))
        .set_response_timeout(Some(Duration::from_secs(1)));
    ConnectionManager::new_with_config(client, config).await
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
        let process = format!("p{:016x}", rand_u64());
        let inner = Arc::new(Inner {
            namespace: prefix.to_owned(),
            group_prefix: format!("{prefix}:g:"),
            registry: Registry::new(process.clone(), capacity),
            process,
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

fn rand_u64() -> u64 {
    let uuid = uuid::Uuid::new_v4();
    let (hi, _) = uuid.as_u64_pair();
    hi
}

impl Inner {
    fn group_topic(&self, group: &GroupName) -> String {
        format!("{}{}", self.group_prefix, group.as_str())
    }

    fn process_topic(&self, process: &str) -> String {
        format!("{}:p:{process}", self.namespace)
    }

    /// Routes one published message to local members.
    fn dispatch(&self, topic: &str, body: &[u8]) {
        if let Some(group) = topic.strip_prefix(self.group_prefix.as_str()) {
            if let Some(payload) = decode(body) {
                self.registry.group_send(&GroupName(group.into()), payload);
            }
        } else if let Some(at) = body.iter().position(|b| *b == b'\n') {
            let (name, rest) = body.split_at(at);
            if let (Ok(name), Some(payload)) = (std::str::from_utf8(name), decode(&rest[1..])) {
                self.registry
                    .send(&ChannelName::new(name.to_owned()), payload);
            }
        }
    }
}

fn encode(payload: &Payload) -> Vec<u8> {
    let text = payload.text().as_bytes();
    let mut out = Vec::with_capacity(text.len() + 21);
    out.extend_from_slice(payload.seq().unwrap_or(0).to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(text);
    out
}

/// Decodes `<seq> <json>` once per process; members share the result.
fn decode(body: &[u8]) -> Option<Payload> {
    let space = body.iter().position(|b| *b == b' ')?;
    let seq: u64 = std::str::from_utf8(&body[..space]).ok()?.parse().ok()?;
    let text = Utf8Bytes::try_from(bytes::Bytes::copy_from_slice(&body[space + 1..])).ok()?;
    Some(if seq == 0 {
        Payload::event(text)
    } else {
        Payload::logged(seq, text)
    })
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
            sink.subscribe(layer.process_topic(&layer.process)).await?;
            for group in &subs.groups {
                sink.subscribe(layer.group_topic(group)).await?;
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
                    layer.dispatch(msg.get_channel_name(), msg.get_payload_bytes());
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
        Ok(self.inner.registry.new_channel())
    }

    async fn send(&self, to: &ChannelName, payload: Payload) -> Result<Delivery, LayerError> {
        let inner = &self.inner;
        if inner.registry.owns(to) {
            return Ok(inner.registry.send(to, payload));
        }
        let process = to.as_str().split('!').next().unwrap_or_default();
        let mut body = to.as_str().as_bytes().to_vec();
        body.push(b'\n');
        body.extend_from_slice(&encode(&payload));
        let receivers: usize = inner
            .publisher
            .clone()
            .publish(inner.process_topic(process), body)
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
        if !inner.registry.group_add(group, channel) {
            return Err(LayerError(format!("no channel named {channel}")));
        }
        if subs.groups.insert(group.clone())
            && let Some(sink) = subs.sink.as_mut()
            && let Err(e) = sink.subscribe(inner.group_topic(group)).await
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
        inner.registry.group_discard(group, channel);
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
                .publish(inner.group_topic(group), encode(&payload))
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
        Ok(inner.registry.group_send(group, payload))
    }

    /// One pipeline for the whole batch: Redis runs the PUBLISHes in
    /// order, and the writer waits for one round trip instead of one per
    /// message (which capped throughput at ~2,000 messages a second).
    async fn group_send_all(&self, sends: Vec<(GroupName, Payload)>) -> Result<(), LayerError> {
        let inner = &self.inner;
        if inner.connected.load(Ordering::Relaxed) {
            let mut pipe = redis::pipe();
            for (group, payload) in &sends {
                pipe.publish(inner.group_topic(group), encode(payload))
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
            inner.registry.group_send(&group, payload);
        }
        Ok(())
    }

    async fn close_channel(&self, channel: &ChannelName) {
        let inner = &self.inner;
        let mut subs = inner.subs.lock().await;
        for group in inner.registry.close_channel(channel) {
            unsubscribe_if_empty(inner, &mut subs, &group).await;
        }
    }

    fn lagging_total(&self) -> u64 {
        self.inner.registry.lagging_total()
    }

    fn degraded(&self) -> Option<String> {
        (!self.inner.connected.load(Ordering::Relaxed))
            .then(|| "redis unreachable: serving local members only".to_owned())
    }
}

async fn unsubscribe_if_empty(inner: &Inner, subs: &mut Subscriptions, group: &GroupName) {
    if inner.registry.has_members(group) || !subs.groups.remove(group) {
        return;
    }
    if let Some(sink) = subs.sink.as_mut()
        && let Err(e) = sink.unsubscribe(inner.group_topic(group)).await
    {
        tracing::warn!("unsubscribing from {group}: {e}");
    }
}
