//! The Redis channel layer on one Redis server (`REDIS_URL`): several
//! server processes share every group. (A Redis Cluster is
//! [`super::ClusterLayer`]'s.)
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
//! One RESP3 connection carries commands and pushes; what arrives is routed
//! to local members right in the push callback (non-blocking), and redis-rs
//! subscribes again by itself after it reconnects. Measured against the
//! dedicated RESP2 pub/sub connection this replaced: the same CPU per
//! delivery and latency within noise (`bench/NOTES.md`), in half the code.
//!
//! Losing Redis does not stop the server: group sends then reach local
//! members directly, the loss is logged once and reported by
//! [`ChannelLayer::degraded`], and a background task pings until Redis
//! answers again (which makes the connection reconnect and resubscribe).
//! Clients recover what they missed from storage.
//!
//! TRANSPORT only: must never import the chat.

use super::target::fail_fast;
use super::{
    Channel, ChannelLayer, ChannelName, Delivery, GroupName, LayerError, Payload,
    wire::{Router, encode, encode_direct},
};
use async_trait::async_trait;
use redis::{
    AsyncCommands, IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind, Value,
    aio::ConnectionManager,
};
use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use tokio::sync::Mutex;

/// How often a lost connection is tried again.
const RECONNECT_EVERY: Duration = Duration::from_millis(250);

pub struct RedisLayer {
    inner: Arc<Inner>,
}

struct Inner {
    router: Arc<Router>,
    conn: ConnectionManager,
    connected: Arc<AtomicBool>,
    groups: Mutex<HashSet<GroupName>>,
}

fn redis_error(e: redis::RedisError) -> LayerError {
    LayerError(format!("redis: {e}"))
}

impl RedisLayer {
    /// Connects (failing if Redis does not answer) and subscribes to this
    /// process's own topic; every topic starts with `prefix`
    /// (`REDIS_PREFIX`), so deployments with different prefixes share
    /// nothing on one Redis.
    pub async fn connect(url: &str, prefix: &str, capacity: usize) -> Result<Self, LayerError> {
        let info = url.into_connection_info().map_err(redis_error)?;
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client = redis::Client::open(info.set_redis_settings(settings)).map_err(redis_error)?;
        let router = Arc::new(Router::new(prefix, capacity));
        let connected = Arc::new(AtomicBool::new(true));
        let (to, up) = (Arc::downgrade(&router), connected.clone());
        let pushes = move |push: PushInfo| -> Result<(), ()> {
            match (push.kind, push.data.as_slice()) {
                (PushKind::Message, [Value::BulkString(topic), Value::BulkString(body)]) => {
                    if let Some(router) = to.upgrade() {
                        router.dispatch(topic, body);
                    }
                }
                (PushKind::Disconnection, _) if up.swap(false, Ordering::Relaxed) => {
                    tracing::error!(
                        "lost the redis connection; serving local members until it is back"
                    );
                }
                _ => {}
            }
            Ok(())
        };
        let config = fail_fast()
            .set_push_sender(pushes)
            .set_automatic_resubscription();
        let mut conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(redis_error)?;
        conn.subscribe(router.own_topic())
            .await
            .map_err(redis_error)?;
        let inner = Arc::new(Inner {
            router,
            conn,
            connected,
            groups: Mutex::new(HashSet::new()),
        });
        tokio::spawn(watch(Arc::downgrade(&inner)));
        Ok(Self { inner })
    }
}

/// While disconnected, pings until Redis answers again: the ping makes
/// the connection reconnect, and it resubscribes before answering.
async fn watch(inner: std::sync::Weak<Inner>) {
    loop {
        tokio::time::sleep(RECONNECT_EVERY).await;
        let Some(inner) = inner.upgrade() else { return };
        if !inner.connected.load(Ordering::Relaxed) {
            let pong: redis::RedisResult<String> = redis::cmd("PING")
                .query_async(&mut inner.conn.clone())
                .await;
            if pong.is_ok() && inner.subscribe_all().await {
                inner.connected.store(true, Ordering::Relaxed);
                tracing::info!("redis is back; groups resubscribed");
            }
        }
    }
}

impl Inner {
    /// Subscribes (again) to every group with local members: redis-rs
    /// resubscribes only what Redis had confirmed, not a group joined while
    /// Redis was away. Subscribing twice is harmless.
    async fn subscribe_all(&self) -> bool {
        let groups = self.groups.lock().await;
        let mut conn = self.conn.clone();
        for group in groups.iter() {
            if conn
                .subscribe(self.router.group_topic(group))
                .await
                .is_err()
            {
                return false;
            }
        }
        conn.subscribe(self.router.own_topic()).await.is_ok()
    }

    async fn unsubscribe_if_empty(&self, groups: &mut HashSet<GroupName>, group: &GroupName) {
        if self.router.registry.has_members(group) || !groups.remove(group) {
            return;
        }
        let _ = self
            .conn
            .clone()
            .unsubscribe(self.router.group_topic(group))
            .await;
    }
}

#[async_trait]
impl ChannelLayer for RedisLayer {
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
            .publish(router.owner_topic(to), encode_direct(to, &payload))
            .await
            .map_err(redis_error)?;
        Ok(Delivery {
            delivered: receivers,
            lagging: vec![],
        })
    }

    async fn group_add(&self, group: &GroupName, channel: &ChannelName) -> Result<(), LayerError> {
        let inner = &self.inner;
        let mut groups = inner.groups.lock().await;
        if !inner.router.registry.group_add(group, channel) {
            return Err(LayerError(format!("no channel named {channel}")));
        }
        if groups.insert(group.clone())
            && let Err(e) = inner
                .conn
                .clone()
                .subscribe(inner.router.group_topic(group))
                .await
        {
            // Still a local member; subscribed once Redis answers again.
            tracing::warn!("subscribing to {group}: {e}");
            inner.connected.store(false, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn group_discard(
        &self,
        group: &GroupName,
        channel: &ChannelName,
    ) -> Result<(), LayerError> {
        let inner = &self.inner;
        let mut groups = inner.groups.lock().await;
        inner.router.registry.group_discard(group, channel);
        inner.unsubscribe_if_empty(&mut groups, group).await;
        Ok(())
    }

    async fn group_send(
        &self,
        group: &GroupName,
        payload: Payload,
    ) -> Result<Delivery, LayerError> {
        let inner = &self.inner;
        if inner.connected.load(Ordering::Relaxed) {
            let published: redis::RedisResult<usize> = inner
                .conn
                .clone()
                .publish(inner.router.group_topic(group), encode(&payload))
                .await;
            if let Ok(processes) = published {
                return Ok(Delivery {
                    delivered: processes,
                    lagging: vec![],
                });
            }
        }
        Ok(inner.router.registry.group_send(group, payload))
    }

    async fn group_send_all(&self, sends: Vec<(GroupName, Payload)>) -> Result<(), LayerError> {
        let inner = &self.inner;
        if inner.connected.load(Ordering::Relaxed) {
            let mut pipe = redis::pipe();
            for (group, payload) in &sends {
                pipe.publish(inner.router.group_topic(group), encode(payload))
                    .ignore();
            }
            let published: redis::RedisResult<()> = pipe.query_async(&mut inner.conn.clone()).await;
            if published.is_ok() {
                return Ok(());
            }
        }
        for (group, payload) in sends {
            inner.router.registry.group_send(&group, payload);
        }
        Ok(())
    }

    async fn close_channel(&self, channel: &ChannelName) {
        let inner = &self.inner;
        let mut groups = inner.groups.lock().await;
        for group in inner.router.registry.close_channel(channel) {
            inner.unsubscribe_if_empty(&mut groups, &group).await;
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
