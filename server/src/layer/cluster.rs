//! The Redis channel layer on a Redis Cluster (`REDIS_CLUSTER_URLS`).
//!
//! Fan-out is sharded pub/sub (Redis 7). A group's topic is a sharded
//! channel, owned by the node that serves its slot: `SPUBLISH` goes to that
//! node alone and only its subscribers hear it, so every node added carries
//! its share of the groups (a plain `PUBLISH` in a cluster is copied to
//! every node, which caps the whole cluster at what one node can fan out).
//! As on one Redis, a process `SSUBSCRIBE`s to a group while it has local
//! members and publishes once per group send; its own topic (for `send`s to
//! one of its channels) is a sharded channel too.
//!
//! One RESP3 connection per node carries commands and pushes; what arrives
//! is routed to local members right in the push callback (non-blocking).
//! redis-rs subscribes again after it reconnects to the same node, but a
//! process that only listens never learns that a dead primary's slots
//! moved to its replica (it refreshes its slot map only when a command
//! fails), so this layer keeps its subscriptions itself: when any node's
//! connection drops, or a node unsubscribes us (a slot moved), it
//! subscribes again until the node that now owns each slot confirms, and
//! keeps confirming every subscription for a few seconds after the last
//! disturbance (see [`SETTLE_FOR`]).
//!
//! Losing a node degrades only the groups on its slots: their sends fail
//! fast and reach local members directly, until a replica takes over and
//! the client follows the new slot map. Clients recover what they missed
//! from storage, as after a Redis restart.
//!
//! TRANSPORT only: must never import the chat.

use super::{
    Channel, ChannelLayer, ChannelName, Delivery, GroupName, LayerError, Payload,
    target::cluster_with_pushes,
    wire::{Router, encode, encode_direct},
};
use async_trait::async_trait;
use redis::{
    AsyncCommands, PushInfo, PushKind, Value, cluster_async::ClusterConnection,
    cluster_routing::Slot,
};
use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::sync::{Mutex, mpsc};

/// How long after a failed publish or subscribe the layer reports itself
/// degraded.
const DEGRADED_FOR: Duration = Duration::from_secs(2);
/// How often lost subscriptions are tried again.
const RETRY_EVERY: Duration = Duration::from_millis(250);
/// After a node's connection drops, every subscription is asserted again
/// once a second until this long has passed with all of them held. While
/// the slot map settles, redis-rs may replace a node's connection right
/// after it confirmed our SSUBSCRIBE, and the new one does not always
/// carry it (seen in about 1 run in 3 of the failover test: the new
/// primary had one process subscribed and the other not, for good, with
/// no push to tell us). SSUBSCRIBE of a held topic changes nothing.
const SETTLE_FOR: Duration = Duration::from_secs(5);
const REASSERT_EVERY: Duration = Duration::from_secs(1);

pub struct ClusterLayer {
    inner: Arc<Inner>,
}

struct Inner {
    router: Arc<Router>,
    conn: ClusterConnection,
    /// Held across SSUBSCRIBE/SUNSUBSCRIBE so that a join and a leave of
    /// one group cannot interleave; never on the message path.
    subs: Mutex<Subscriptions>,
    health: Health,
}

#[derive(Default)]
struct Subscriptions {
    /// Groups with local members.
    groups: HashSet<GroupName>,
    /// Of those, the ones to subscribe to (again): their SSUBSCRIBE failed
    /// or their node went away.
    due: HashSet<GroupName>,
    /// This process's own topic is to be subscribed to again.
    own_due: bool,
}

impl Subscriptions {
    fn all_due(&mut self) {
        self.due = self.groups.clone();
        self.own_due = true;
    }
}

/// What the push callback tells the subscription keeper.
enum Lost {
    /// A node's connection dropped: any subscription may be gone.
    All,
    /// A node unsubscribed us from this topic (its slot moved).
    Topic(Vec<u8>),
}

/// When a node last failed us, for [`ChannelLayer::degraded`].
struct Health {
    started: Instant,
    /// Milliseconds after `started`; 0 = never.
    last_failure: AtomicU64,
}

impl Health {
    fn now(&self) -> u64 {
        (self.started.elapsed().as_millis() as u64).max(1)
    }

    /// Records a failure; true if it starts a degraded spell (worth a log line).
    fn failed(&self) -> bool {
        let now = self.now();
        let before = self.last_failure.swap(now, Ordering::Relaxed);
        before == 0 || now - before > DEGRADED_FOR.as_millis() as u64
    }

    fn degraded(&self) -> bool {
        let last = self.last_failure.load(Ordering::Relaxed);
        last != 0 && self.now() - last < DEGRADED_FOR.as_millis() as u64
    }
}

fn redis_error(e: redis::RedisError) -> LayerError {
    LayerError(format!("redis cluster: {e}"))
}

impl ClusterLayer {
    /// Connects to the cluster through any of `nodes` (failing if none
    /// answers) and subscribes to this process's own topic; every topic
    /// starts with `prefix` (`REDIS_PREFIX`).
    pub async fn connect(
        nodes: &[String],
        prefix: &str,
        capacity: usize,
    ) -> Result<Self, LayerError> {
        let router = Arc::new(Router::new(prefix, capacity));
        let (lost, losses) = mpsc::unbounded_channel();
        let to = Arc::downgrade(&router);
        let pushes = move |push: PushInfo| -> Result<(), ()> {
            on_push(&to, &lost, push);
            Ok(())
        };
        let mut conn = cluster_with_pushes(nodes, pushes)
            .map_err(redis_error)?
            .get_async_connection()
            .await
            .map_err(redis_error)?;
        conn.ssubscribe(router.own_topic())
            .await
            .map_err(redis_error)?;
        let inner = Arc::new(Inner {
            router,
            conn,
            subs: Mutex::new(Subscriptions::default()),
            health: Health {
                started: Instant::now(),
                last_failure: AtomicU64::new(0),
            },
        });
        tokio::spawn(keep_subscriptions(Arc::downgrade(&inner), losses));
        Ok(Self { inner })
    }
}

/// A push from any node: a sharded message goes to local members; a lost
/// connection or subscription goes to the keeper. Must not block.
fn on_push(router: &Weak<Router>, lost: &mpsc::UnboundedSender<Lost>, push: PushInfo) {
    match (push.kind, push.data.as_slice()) {
        (PushKind::SMessage, [Value::BulkString(topic), Value::BulkString(body)]) => {
            if let Some(router) = router.upgrade() {
                router.dispatch(topic, body);
            }
        }
        (PushKind::Disconnection, _) => {
            let _ = lost.send(Lost::All);
        }
        (PushKind::SUnsubscribe, [Value::BulkString(topic), ..]) => {
            let _ = lost.send(Lost::Topic(topic.clone()));
        }
        _ => {}
    }
}

/// Subscribes again to what was lost, and to groups whose node was away
/// when they were joined, every [`RETRY_EVERY`] until it holds.
async fn keep_subscriptions(inner: Weak<Inner>, mut losses: mpsc::UnboundedReceiver<Lost>) {
    let mut settle = Settling::default();
    loop {
        let first = match tokio::time::timeout(RETRY_EVERY, losses.recv()).await {
            Ok(None) => return,
            Ok(Some(lost)) => Some(lost),
            Err(_elapsed) => None,
        };
        let Some(inner) = inner.upgrade() else { return };
        let (due, own_due) = {
            let mut subs = inner.subs.lock().await;
            // The whole burst at once (every node's connection may drop).
            let burst = first
                .into_iter()
                .chain(std::iter::from_fn(|| losses.try_recv().ok()));
            for lost in burst.collect::<Vec<_>>() {
                match lost {
                    Lost::All => {
                        subs.all_due();
                        settle.disturbed();
                    }
                    Lost::Topic(topic) => inner.lost_topic(&mut subs, &topic),
                }
            }
            if settle.reassert_now(!subs.due.is_empty() || subs.own_due) {
                subs.all_due();
            }
            (subs.due.iter().cloned().collect::<Vec<_>>(), subs.own_due)
        };
        inner.resubscribe(due, own_due).await;
    }
}

/// The few seconds after a node's connection dropped, during which every
/// subscription is asserted again now and then ([`SETTLE_FOR`]).
#[derive(Default)]
struct Settling {
    /// Start of the quiet period: the last disturbance, or the last pass
    /// on which some subscription was still due; `None` when settled.
    since: Option<Instant>,
    last_reassert: Option<Instant>,
}

impl Settling {
    fn disturbed(&mut self) {
        self.since = Some(Instant::now());
    }

    /// Whether to assert every subscription on this pass. `pending`: some
    /// are still due, so the quiet period has not begun.
    fn reassert_now(&mut self, pending: bool) -> bool {
        let Some(since) = self.since else {
            return false;
        };
        let now = Instant::now();
        if pending {
            self.since = Some(now);
            return false;
        }
        if now.duration_since(since) > SETTLE_FOR {
            self.since = None;
            return false;
        }
        if self
            .last_reassert
            .is_some_and(|at| now.duration_since(at) < REASSERT_EVERY)
        {
            return false;
        }
        self.last_reassert = Some(now);
        true
    }
}

impl Inner {
    /// A node unsubscribed us from `topic`: wanted again if it is our own
    /// or a group that still has local members.
    fn lost_topic(&self, subs: &mut Subscriptions, topic: &[u8]) {
        if topic == self.router.own_topic().as_bytes() {
            subs.own_due = true;
        } else if let Some(group) = subs
            .groups
            .iter()
            .find(|g| self.router.group_topic(g).as_bytes() == topic)
        {
            subs.due.insert(group.clone());
        }
    }

    /// Tries every subscription that is due, many at once and without
    /// holding up joins and leaves (a dead node's take up to a second to
    /// fail); what fails stays due.
    async fn resubscribe(&self, due: Vec<GroupName>, own_due: bool) {
        use futures::StreamExt;
        if own_due && self.subscribe_to(self.router.own_topic(), "own").await {
            self.subs.lock().await.own_due = false;
        }
        let tried: Vec<(GroupName, bool)> = futures::stream::iter(due)
            .map(|group| async move {
                let held = self.subscribe(&group).await;
                (group, held)
            })
            .buffer_unordered(32)
            .collect()
            .await;
        let mut subs = self.subs.lock().await;
        for (group, held) in tried {
            if !held {
                continue;
            }
            subs.due.remove(&group);
            if !subs.groups.contains(&group) {
                // Its last member left meanwhile.
                let _ = self
                    .conn
                    .clone()
                    .sunsubscribe(self.router.group_topic(&group))
                    .await;
            }
        }
    }

    async fn subscribe(&self, group: &GroupName) -> bool {
        self.subscribe_to(self.router.group_topic(group), group.as_str())
            .await
    }

    async fn subscribe_to(&self, topic: String, what: &str) -> bool {
        match self.conn.clone().ssubscribe(topic).await {
            Ok(()) => true,
            Err(e) => {
                if self.health.failed() {
                    tracing::warn!("subscribing to {what}: {e}; retrying");
                }
                false
            }
        }
    }

    async fn unsubscribe_if_empty(&self, subs: &mut Subscriptions, group: &GroupName) {
        if self.router.registry.has_members(group) || !subs.groups.remove(group) {
            return;
        }
        subs.due.remove(group);
        if let Err(e) = self
            .conn
            .clone()
            .sunsubscribe(self.router.group_topic(group))
            .await
        {
            tracing::debug!("unsubscribing from {group}: {e}");
        }
    }

    /// A publish that failed: its node is away. Logged once per spell.
    fn publish_failed(&self, what: &str, e: &redis::RedisError) {
        if self.health.failed() {
            tracing::warn!("publishing {what}: {e}; delivering locally until its node is back");
        }
    }

    /// One pipeline per slot (a cluster pipeline cannot span slots), all
    /// sent at once; a group's messages share a slot, so stay in order.
    /// Returns the sends of slots that could not be published.
    async fn publish_by_slot(&self, sends: Vec<(GroupName, Payload)>) -> Vec<(GroupName, Payload)> {
        let mut by_slot: HashMap<Slot, (redis::Pipeline, Vec<(GroupName, Payload)>)> =
            HashMap::new();
        for (group, payload) in sends {
            let topic = self.router.group_topic(&group);
            let (pipe, batch) = by_slot.entry(Slot::for_key(&topic)).or_default();
            pipe.cmd("SPUBLISH")
                .arg(topic)
                .arg(encode(&payload))
                .ignore();
            batch.push((group, payload));
        }
        let published = by_slot.into_values().map(|(pipe, batch)| async move {
            let result: redis::RedisResult<()> = pipe.query_async(&mut self.conn.clone()).await;
            match result {
                Ok(()) => Vec::new(),
                Err(e) => {
                    self.publish_failed(&format!("{} messages", batch.len()), &e);
                    batch
                }
            }
        });
        futures::future::join_all(published)
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}

#[async_trait]
impl ChannelLayer for ClusterLayer {
    async fn new_channel(&self) -> Result<Channel, LayerError> {
        Ok(self.inner.router.registry.new_channel())
    }

    async fn send(&self, to: &ChannelName, payload: Payload) -> Result<Delivery, LayerError> {
        let router = &self.inner.router;
        if router.registry.owns(to) {
            return Ok(router.registry.send(to, payload));
        }
        let receivers: usize = self
            .inner
            .conn
            .clone()
            .spublish(router.owner_topic(to), encode_direct(to, &payload))
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
        // Still a local member if this fails; retried in the background.
        if subs.groups.insert(group.clone()) && !inner.subscribe(group).await {
            subs.due.insert(group.clone());
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
        inner.unsubscribe_if_empty(&mut subs, group).await;
        Ok(())
    }

    async fn group_send(
        &self,
        group: &GroupName,
        payload: Payload,
    ) -> Result<Delivery, LayerError> {
        let inner = &self.inner;
        let published: redis::RedisResult<usize> = inner
            .conn
            .clone()
            .spublish(inner.router.group_topic(group), encode(&payload))
            .await;
        match published {
            // Our own subscription delivers to local members.
            Ok(processes) => Ok(Delivery {
                delivered: processes,
                lagging: vec![],
            }),
            Err(e) => {
                inner.publish_failed(group.as_str(), &e);
                Ok(inner.router.registry.group_send(group, payload))
            }
        }
    }

    async fn group_send_all(&self, sends: Vec<(GroupName, Payload)>) -> Result<(), LayerError> {
        // Some of a failed slot's messages may have gone out: logged
        // messages carry their seq, so a consumer drops a second copy.
        for (group, payload) in self.inner.publish_by_slot(sends).await {
            self.inner.router.registry.group_send(&group, payload);
        }
        Ok(())
    }

    async fn close_channel(&self, channel: &ChannelName) {
        let inner = &self.inner;
        let mut subs = inner.subs.lock().await;
        for group in inner.router.registry.close_channel(channel) {
            inner.unsubscribe_if_empty(&mut subs, &group).await;
        }
    }

    fn lagging_total(&self) -> u64 {
        self.inner.router.registry.lagging_total()
    }

    fn degraded(&self) -> Option<String> {
        self.inner.health.degraded().then(|| {
            "redis cluster node unreachable: its groups serve local members only".to_owned()
        })
    }
}
