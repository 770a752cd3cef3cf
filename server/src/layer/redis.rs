//! The one-Redis backend of the channel layer (`REDIS_URL`): plain
//! `PUBLISH`/`SUBSCRIBE` over one RESP3 connection that carries commands
//! and pushes. Everything else is [`super::pubsub`]'s, shared with the
//! cluster. Measured against the dedicated RESP2 pub/sub connection this
//! replaced: the same CPU per delivery and latency within noise
//! (`bench/NOTES.md`), in half the code.
//!
//! A dropped connection loses every subscription at once, so the layer
//! stops trying Redis until they are back (sends reach local members
//! directly meanwhile), and redis-rs reconnects when the keeper next
//! subscribes.
//!
//! TRANSPORT only: must never import the chat.

use super::{
    LayerError,
    pubsub::{PubSub, PubSubLayer, Starting},
    target::fail_fast,
};
use async_trait::async_trait;
use redis::{
    AsyncCommands, IntoConnectionInfo, ProtocolVersion, RedisResult, aio::ConnectionManager,
};

/// The channel layer on one Redis server.
pub type RedisLayer = PubSubLayer<OneRedis>;

/// One Redis server, over one self-reconnecting RESP3 connection.
pub struct OneRedis {
    conn: ConnectionManager,
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
        let starting = Starting::new::<OneRedis>(prefix, capacity);
        let config = fail_fast()
            .set_push_sender(starting.push_sender())
            .set_automatic_resubscription();
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(redis_error)?;
        Self::start(starting, OneRedis { conn }).await
    }
}

#[async_trait]
impl PubSub for OneRedis {
    const PUBLISH: &'static str = "PUBLISH";
    const ONE_NODE: bool = true;
    const DEGRADED: &'static str = "redis unreachable: serving local members only";
    const NAME: &'static str = "redis";

    type Shard = ();

    fn shard(_topic: &str) {}

    async fn publish(&self, topic: String, body: Vec<u8>) -> RedisResult<usize> {
        self.conn.clone().publish(topic, body).await
    }

    async fn publish_pipeline(&self, pipe: redis::Pipeline) -> RedisResult<()> {
        pipe.query_async(&mut self.conn.clone()).await
    }

    async fn subscribe(&self, topic: String) -> RedisResult<()> {
        self.conn.clone().subscribe(topic).await
    }

    async fn unsubscribe(&self, topic: String) -> RedisResult<()> {
        self.conn.clone().unsubscribe(topic).await
    }
}
