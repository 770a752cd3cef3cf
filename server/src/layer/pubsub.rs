//! The Redis channel layer, once, over a small [`PubSub`] trait with two
//! backends: one Redis server ([`super::redis`], `PUBLISH`/`SUBSCRIBE`) and
//! a Redis Cluster ([`super::cluster`], sharded `SPUBLISH`/`SSUBSCRIBE`).
//! What differs between them is only the commands, how a batch is split
//! into pipelines, and whether a lost connection loses every subscription
//! or one node's; everything else is here.
//!
//! Fan-out is pub/sub. A group is a topic; a process subscribes to it while
//! it has at least one local member and unsubscribes when the last leaves,
//! so `group_send` publishes once per group (not once per member) and each
//! process hands the one decoded payload to its local members (see
//! `super::registry`). Every process also has a topic of its own for
//! `send`s addressed to one of its channels; channel names start with the
//! process id, so the sender knows where to publish. The topics and their
//! encoding are `super::wire`'s.
//!
//! What arrives is routed to local members right in the connection's push
//! callback (non-blocking). Subscriptions are kept here, not left to the
//! client library: a process that only listens never learns that a dead
//! cluster primary's slots moved to its replica, and redis-rs resubscribes
//! only what Redis had confirmed (not a group joined while Redis was
//! away). So when a connection drops, or a node unsubscribes us (a slot
//! moved), [`keep_subscriptions`] subscribes again until each topic's node
//! confirms, and keeps confirming every subscription for a few seconds
//! after the last disturbance ([`SETTLE_FOR`]).
//!
//! Losing Redis (or a node) does not stop the server: sends that cannot be
//! published reach local members directly, the loss is logged once and
//! reported by [`ChannelLayer::degraded`], and clients recover what they
//! missed from storage.
//!
//! TRANSPORT only: must never import the chat.

use super::{
    Channel, ChannelLayer, ChannelName, Delivery, GroupName, LayerError, Payload,
    wire::{Router, encode, encode_direct},
};
use async_trait::async_trait;
use redis::{PushInfo, PushKind, RedisResult, Value};
use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::sync::{Mutex, mpsc};

/// How long after a failed publish or subscribe the layer reports itself
/// degraded.
const DEGRADED_FOR: Duration = Duration::from_secs(2);
/// How often lost subscriptions are tried again.
const RETRY_EVERY: Duration = Duration::from_millis(250);
/// After a connection drops, every subscription is asserted again once a
/// second until this long has passed with all of them held. While a
/// cluster's slot map settles, redis-rs may replace a node's connection
/// right after it confirmed our SSUBSCRIBE, and the new one does not always
/// carry it (seen in about 1 run in 3 of the failover test: the new primary
/// had one process subscribed and the other not, for good, with no push to
/// tell us). Subscribing to a held topic changes nothing.
const SETTLE_FOR: Duration = Duration::from_secs(5);
const REASSERT_EVERY: Duration = Duration::from_secs(1);

/// What one Redis and a Redis Cluster do differently.
#[async_trait]
pub trait PubSub: Send + Sync + 'static {
    /// The publish command: `PUBLISH` or `SPUBLISH`.
    const PUBLISH: &'static str;
    /// Whether a dropped connection loses every subscription at once (one
    /// Redis: publishing is then skipped until they are back) rather than
    /// one node's (a cluster: the other nodes' groups carry on).
    const ONE_NODE: bool;
    /// What [`ChannelLayer::degraded`] says while it is.
    const DEGRADED: &'static str;
    /// Starts every error message.
    const NAME: &'static str;

    /// What a batch of publishes is split by: one pipeline each.
    type Shard: std::hash::Hash + Eq + Send;
    /// Which pipeline a topic's publish goes in (a cluster pipeline cannot
    /// span slots; one Redis takes the whole batch in one).
    fn shard(topic: &str) -> Self::Shard;
    /// Publishes one message; how many processes heard it.
    async fn publish(&self, topic: String, body: Vec<u8>) -> RedisResult<usize>;
    /// Runs a pipeline of publishes.
    async fn publish_pipeline(&self, pipe: redis::Pipeline) -> RedisResult<()>;
    async fn subscribe(&self, topic: String) -> RedisResult<()>;
    async fn unsubscribe(&self, topic: String) -> RedisResult<()>;
}

/// The channel layer over Redis pub/sub (`B`: one Redis or a cluster).
pub struct PubSubLayer<B: PubSub> {
    inner: Arc<Inner<B>>,
}

struct Inner<B> {
    router: Arc<Router>,
    pubsub: B,
    /// Held across subscribing and unsubscribing so that a join and a
    /// leave of one group cannot interleave; never on the message path.
    subs: Mutex<Subscriptions>,
    health: Health,
}

#[derive(Default)]
struct Subscriptions {
    /// Groups with local members.
    groups: HashSet<GroupName>,
    /// Of those, the ones to subscribe to (again): their subscribe failed
    /// or their connection went away.
    due: HashSet<GroupName>,
    /// This process's own topic is to be subscribed to again.
    own_due: bool,
}

impl Subscriptions {
    fn all_due(&mut self) {
        self.due = self.groups.clone();
        self.own_due = true;
    }

    fn any_due(&self) -> bool {
        self.own_due || !self.due.is_empty()
    }
}

/// One group send of a batch.
type GroupSend = (GroupName, Payload);

/// What the push callback tells the subscription keeper.
enum Lost {
    /// A connection dropped: any subscription may be gone.
    All,
    /// A node unsubscribed us from this topic (its slot moved, or we left).
    Topic(Vec<u8>),
}

/// How the layer is doing, for [`ChannelLayer::degraded`].
struct Health {
    started: Instant,
    /// When a publish or subscribe last failed: milliseconds after
    /// `started`; 0 = never.
    last_failure: AtomicU64,
    /// One Redis only: every subscription was lost and not all are back;
    /// sends go to local members without trying Redis meanwhile.
    down: Arc<AtomicBool>,
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
        self.down.load(Ordering::Relaxed)
            || (last != 0 && self.now() - last < DEGRADED_FOR.as_millis() as u64)
    }
}

/// The push callback's half: routes messages to local members and reports
/// losses to the keeper. Built before the connection, which needs it.
struct Pushes {
    router: Weak<Router>,
    lost: mpsc::UnboundedSender<Lost>,
    /// Set at once on a dropped connection of one Redis.
    down: Option<Arc<AtomicBool>>,
}

impl Pushes {
    /// A push from any connection. Must not block.
    fn on_push(&self, push: PushInfo) {
        match (push.kind, push.data.as_slice()) {
            (
                PushKind::Message | PushKind::SMessage,
                [Value::BulkString(topic), Value::BulkString(body)],
            ) => {
                if let Some(router) = self.router.upgrade() {
                    router.dispatch(topic, body);
                }
            }
            (PushKind::Disconnection, _) => {
                if let Some(down) = &self.down
                    && !down.swap(true, Ordering::Relaxed)
                {
                    tracing::error!(
                        "lost the redis connection; serving local members until it is back"
                    );
                }
                let _ = self.lost.send(Lost::All);
            }
            (PushKind::Unsubscribe | PushKind::SUnsubscribe, [Value::BulkString(topic), ..]) => {
                let _ = self.lost.send(Lost::Topic(topic.clone()));
            }
            _ => {}
        }
    }
}

/// What [`PubSubLayer::start`] needs, made before the connection (which
/// needs its push callback): the router, and the keeper's end of the losses.
pub(crate) struct Starting {
    router: Arc<Router>,
    pushes: Arc<Pushes>,
    losses: mpsc::UnboundedReceiver<Lost>,
    down: Arc<AtomicBool>,
}

impl Starting {
    /// Topics start with `prefix` (`REDIS_PREFIX`); a channel's queue holds
    /// `capacity` events.
    pub(crate) fn new<B: PubSub>(prefix: &str, capacity: usize) -> Self {
        let router = Arc::new(Router::new(prefix, capacity));
        let (lost, losses) = mpsc::unbounded_channel();
        let down = Arc::new(AtomicBool::new(false));
        let pushes = Arc::new(Pushes {
            router: Arc::downgrade(&router),
            lost,
            down: B::ONE_NODE.then(|| down.clone()),
        });
        Self {
            router,
            pushes,
            losses,
            down,
        }
    }

    /// The push callback to give the connection.
    pub(crate) fn push_sender(
        &self,
    ) -> impl Fn(PushInfo) -> Result<(), ()> + Clone + Send + Sync + 'static {
        let pushes = self.pushes.clone();
        move |push| {
            pushes.on_push(push);
            Ok(())
        }
    }
}

impl<B: PubSub> PubSubLayer<B> {
    /// Subscribes to this process's own topic (failing if Redis does not
    /// answer) and starts keeping the subscriptions.
    pub(crate) async fn start(starting: Starting, pubsub: B) -> Result<Self, LayerError> {
        pubsub
            .subscribe(starting.router.own_topic())
            .await
            .map_err(|e| LayerError(format!("{}: {e}", B::NAME)))?;
        let inner = Arc::new(Inner {
            router: starting.router,
            pubsub,
            subs: Mutex::new(Subscriptions::default()),
            health: Health {
                started: Instant::now(),
                last_failure: AtomicU64::new(0),
                down: starting.down,
            },
        });
        tokio::spawn(keep_subscriptions(Arc::downgrade(&inner), starting.losses));
        Ok(Self { inner })
    }
}

/// Subscribes again to what was lost, and to groups whose node was away
/// when they were joined, every [`RETRY_EVERY`] until it holds.
async fn keep_subscriptions<B: PubSub>(
    inner: Weak<Inner<B>>,
    mut losses: mpsc::UnboundedReceiver<Lost>,
) {
    let mut settle = Settling::default();
    // A connection dropped and not every subscription is back yet: what
    // ends one Redis's `down` (set by the push itself, before this loop
    // hears of the loss, so a pass in between must not end it).
    let mut recovering = false;
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
                        recovering = true;
                    }
                    Lost::Topic(topic) => inner.lost_topic(&mut subs, &topic),
                }
            }
            if settle.reassert_now(subs.any_due()) {
                subs.all_due();
            }
            (subs.due.iter().cloned().collect::<Vec<_>>(), subs.own_due)
        };
        let all_held = inner.resubscribe(due, own_due).await;
        if recovering && all_held {
            recovering = false;
            if inner.health.down.swap(false, Ordering::Relaxed) {
                tracing::info!("redis is back; groups resubscribed");
            }
        }
    }
}

/// The few seconds after a connection dropped, during which every
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

impl<B: PubSub> Inner<B> {
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
    /// fail); what fails stays due. True if nothing is left due.
    async fn resubscribe(&self, due: Vec<GroupName>, own_due: bool) -> bool {
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
                    .pubsub
                    .unsubscribe(self.router.group_topic(&group))
                    .await;
            }
        }
        !subs.any_due()
    }

    async fn subscribe(&self, group: &GroupName) -> bool {
        self.subscribe_to(self.router.group_topic(group), group.as_str())
            .await
    }

    async fn subscribe_to(&self, topic: String, what: &str) -> bool {
        match self.pubsub.subscribe(topic).await {
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
            .pubsub
            .unsubscribe(self.router.group_topic(group))
            .await
        {
            tracing::debug!("unsubscribing from {group}: {e}");
        }
    }

    /// Whether to try Redis at all: not while one Redis is known to be away.
    fn reachable(&self) -> bool {
        !self.health.down.load(Ordering::Relaxed)
    }

    /// A publish that failed: its node is away. Logged once per spell.
    fn publish_failed(&self, what: &str, e: &redis::RedisError) {
        if self.health.failed() {
            tracing::warn!("publishing {what}: {e}; delivering locally until its node is back");
        }
    }

    /// One pipeline per shard, all sent at once; a group's messages share
    /// a shard, so stay in order. Returns the sends that could not be
    /// published.
    async fn publish_by_shard(&self, sends: Vec<GroupSend>) -> Vec<GroupSend> {
        let mut by_shard: HashMap<B::Shard, (redis::Pipeline, Vec<GroupSend>)> = HashMap::new();
        for (group, payload) in sends {
            let topic = self.router.group_topic(&group);
            let (pipe, batch) = by_shard.entry(B::shard(&topic)).or_default();
            pipe.cmd(B::PUBLISH)
                .arg(topic)
                .arg(encode(&payload))
                .ignore();
            batch.push((group, payload));
        }
        let published = by_shard.into_values().map(|(pipe, batch)| async move {
            match self.pubsub.publish_pipeline(pipe).await {
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
impl<B: PubSub> ChannelLayer for PubSubLayer<B> {
    async fn new_channel(&self) -> Result<Channel, LayerError> {
        Ok(self.inner.router.registry.new_channel())
    }

    async fn send(&self, to: &ChannelName, payload: Payload) -> Result<Delivery, LayerError> {
        let router = &self.inner.router;
        if router.registry.owns(to) {
            return Ok(router.registry.send(to, payload));
        }
        let receivers = self
            .inner
            .pubsub
            .publish(router.owner_topic(to), encode_direct(to, &payload))
            .await
            .map_err(|e| LayerError(format!("{}: {e}", B::NAME)))?;
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
        if inner.reachable() {
            let topic = inner.router.group_topic(group);
            match inner.pubsub.publish(topic, encode(&payload)).await {
                // Our own subscription delivers to local members.
                Ok(processes) => {
                    return Ok(Delivery {
                        delivered: processes,
                        lagging: vec![],
                    });
                }
                Err(e) => inner.publish_failed(group.as_str(), &e),
            }
        }
        Ok(inner.router.registry.group_send(group, payload))
    }

    async fn group_send_all(&self, sends: Vec<GroupSend>) -> Result<(), LayerError> {
        let inner = &self.inner;
        // Some of a failed shard's messages may have gone out: logged
        // messages carry their seq, so a consumer drops a second copy.
        let local = match inner.reachable() {
            true => inner.publish_by_shard(sends).await,
            false => sends,
        };
        for (group, payload) in local {
            inner.router.registry.group_send(&group, payload);
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
        self.inner.health.degraded().then(|| B::DEGRADED.to_owned())
    }
}
