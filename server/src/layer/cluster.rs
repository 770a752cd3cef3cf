//! The Redis Cluster backend of the channel layer (`REDIS_CLUSTER_URLS`):
//! sharded pub/sub (Redis 7). A group's topic is a sharded channel, owned
//! by the node that serves its slot: `SPUBLISH` goes to that node alone and
//! only its subscribers hear it, so every node added carries its share of
//! the groups (a plain `PUBLISH` in a cluster is copied to every node,
//! which caps the whole cluster at what one node can fan out). A process's
//! own topic is a sharded channel too. Everything else is
//! [`super::pubsub`]'s, shared with one Redis.
//!
//! One RESP3 connection per node carries commands and pushes. Losing a
//! node degrades only the groups on its slots: their sends fail fast and
//! reach local members directly, until a replica takes over and the client
//! follows the new slot map (the shared keeper subscribes again there).
//!
//! TRANSPORT only: must never import the chat.

use super::{
    LayerError,
    pubsub::{PubSub, PubSubLayer, Starting},
    target::cluster_with_pushes,
};
use async_trait::async_trait;
use redis::{AsyncCommands, RedisResult, cluster_async::ClusterConnection, cluster_routing::Slot};

/// The channel layer on a Redis Cluster.
pub type ClusterLayer = PubSubLayer<Cluster>;

/// A Redis Cluster, over one RESP3 connection per node.
pub struct Cluster {
    conn: ClusterConnection,
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
        let starting = Starting::new::<Cluster>(prefix, capacity);
        let conn = cluster_with_pushes(nodes, starting.push_sender())
            .map_err(redis_error)?
            .get_async_connection()
            .await
            .map_err(redis_error)?;
        Self::start(starting, Cluster { conn }).await
    }
}

#[async_trait]
impl PubSub for Cluster {
    const PUBLISH: &'static str = "SPUBLISH";
    const ONE_NODE: bool = false;
    const DEGRADED: &'static str =
        "redis cluster node unreachable: its groups serve local members only";
    const NAME: &'static str = "redis cluster";

    type Shard = Slot;

    /// A cluster pipeline cannot span slots.
    fn shard(topic: &str) -> Slot {
        Slot::for_key(topic)
    }

    async fn publish(&self, topic: String, body: Vec<u8>) -> RedisResult<usize> {
        self.conn.clone().spublish(topic, body).await
    }

    async fn publish_pipeline(&self, pipe: redis::Pipeline) -> RedisResult<()> {
        pipe.query_async(&mut self.conn.clone()).await
    }

    async fn subscribe(&self, topic: String) -> RedisResult<()> {
        self.conn.clone().ssubscribe(topic).await
    }

    async fn unsubscribe(&self, topic: String) -> RedisResult<()> {
        self.conn.clone().sunsubscribe(topic).await
    }
}
