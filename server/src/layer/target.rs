//! Where Redis is, and a command connection to it: one server
//! (`REDIS_URL`) or a Redis Cluster (`REDIS_CLUSTER_URLS`, seed nodes).
//! Presence and the layers send their commands through [`RedisConn`]
//! without caring which; a cluster routes each command by its key's slot,
//! so every multi-key command and script must touch keys of one slot only
//! (hash-tag them).
//!
//! Both connections fail fast while a node is away (the defaults retry for
//! seconds, stalling whoever waits), so the server carries on with what it
//! has locally.
//!
//! TRANSPORT only: must never import the chat.

use redis::{
    Cmd, ProtocolVersion, RedisFuture, RedisResult, Value,
    aio::{AsyncPushSender, ConnectionLike, ConnectionManager, ConnectionManagerConfig},
    cluster::{ClusterClient, ClusterClientBuilder},
    cluster_async::ClusterConnection,
};
use std::time::Duration;

/// How long one attempt to reach a node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a command may wait for its answer, retries included.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedisTarget {
    /// One Redis server.
    Single(String),
    /// Seed nodes of a Redis Cluster; the client learns the rest.
    Cluster(Vec<String>),
}

impl RedisTarget {
    /// `REDIS_CLUSTER_URLS`: comma-separated, blanks ignored.
    pub fn cluster(urls: &str) -> Option<Self> {
        let nodes: Vec<String> = urls
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect();
        (!nodes.is_empty()).then_some(Self::Cluster(nodes))
    }

    /// A command connection (no pushes).
    pub async fn connect(&self) -> RedisResult<RedisConn> {
        match self {
            Self::Single(url) => Ok(RedisConn::Single(
                connection_manager(redis::Client::open(url.as_str())?).await?,
            )),
            Self::Cluster(nodes) => Ok(RedisConn::Cluster(
                cluster_builder(nodes)
                    .build()?
                    .get_async_connection()
                    .await?,
            )),
        }
    }
}

/// A self-reconnecting connection to one Redis that fails fast.
pub(crate) async fn connection_manager(
    client: redis::Client,
) -> redis::RedisResult<ConnectionManager> {
    ConnectionManager::new_with_config(client, fail_fast()).await
}

/// Settings for a connection to one Redis that fails fast: one quick retry.
pub(crate) fn fail_fast() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
}

/// A cluster client that fails fast: a few quick retries (enough to follow
/// a MOVED after a failover), one second in all.
fn cluster_builder(nodes: &[String]) -> ClusterClientBuilder {
    ClusterClientBuilder::new(nodes.iter().map(String::as_str))
        .connection_timeout(CONNECT_TIMEOUT)
        .response_timeout(RESPONSE_TIMEOUT)
        .retries(3)
        .min_retry_wait(50)
        .max_retry_wait(300)
}

/// A RESP3 cluster client whose pushes (sharded pub/sub messages) go to
/// `pushes`; it subscribes again by itself after reconnects and slot moves.
pub(crate) fn cluster_with_pushes(
    nodes: &[String],
    pushes: impl AsyncPushSender,
) -> RedisResult<ClusterClient> {
    cluster_builder(nodes)
        .use_protocol(ProtocolVersion::RESP3)
        .push_sender(pushes)
        .build()
}

/// A command connection to one Redis or to a cluster; cheap to clone (both
/// are multiplexed handles).
#[derive(Clone)]
pub enum RedisConn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls_are_comma_separated_and_blanks_ignored() {
        assert_eq!(
            RedisTarget::cluster(" redis://a:7000, ,redis://b:7001 "),
            Some(RedisTarget::Cluster(vec![
                "redis://a:7000".into(),
                "redis://b:7001".into()
            ]))
        );
        assert_eq!(RedisTarget::cluster(" , "), None);
    }
}
