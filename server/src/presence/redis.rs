//! Presence shared by every process on one Redis.
//!
//! Every key starts with `REDIS_PREFIX` (`chat` below, the default).
//!
//! - `chat:presence:<room>` is a hash of `<user>|<process>` → open
//!   connections. Joins and leaves are Lua scripts, so "first connection of
//!   this person anywhere" and "last one" are decided atomically across
//!   processes: two tabs on two processes are still one person.
//! - `chat:online` is a sorted set of rooms by how many people are in them,
//!   recounted by the same scripts, so the lobby reads the busiest rooms in
//!   one command however many rooms exist.
//! - Each process refreshes `chat:alive:<process>` (expiring after
//!   [`ALIVE_FOR`]) every [`HEARTBEAT`]. Any process that finds another's
//!   key gone claims it, removes its entries, and announces `user_leave` for
//!   the people who had no other connection: a crashed process leaves no
//!   ghosts for longer than about `ALIVE_FOR + HEARTBEAT`.
//! - The process keeps its own entries in memory too, and writes them back
//!   if Redis comes back empty (restarted).
//!
//! While Redis is unreachable, answers come from this process's own entries.

use super::{MemoryPresence, Presence};
use crate::{
    chat::groups,
    layer::{ChannelLayer, Payload, connection_manager},
};
use app::{names::RoomName, protocol::ServerEvent};
use async_trait::async_trait;
use redis::{AsyncCommands, Script, aio::ConnectionManager};
use std::{
    collections::BTreeSet,
    sync::{Arc, Weak},
    time::Duration,
};

/// How often a process says it is alive (and looks for dead ones).
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long a process counts as alive after its last heartbeat.
pub const ALIVE_FOR: Duration = Duration::from_secs(6);

const TOTAL_FOR_USER: &str = r"
local prefix = ARGV[1] .. '|'
local total = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if string.sub(all[i], 1, #prefix) == prefix then total = total + tonumber(all[i + 1]) end
end
return total";

/// Sets the room's entry in the `chat:online` sorted set to the number of
/// distinct people in its presence hash (KEYS[1]); KEYS[`zset`] is the
/// set, ARGV[`room`] the room. Recounting (rather than adding and
/// subtracting) makes the set right again after any lost update.
const RECOUNT: &str = r"
local function recount(hash, zset, room)
  local seen, n = {}, 0
  for _, field in ipairs(redis.call('HKEYS', hash)) do
    local user = string.match(field, '^(.*)|[^|]*$')
    if user and not seen[user] then seen[user] = true; n = n + 1 end
  end
  if n > 0 then redis.call('ZADD', zset, n, room) else redis.call('ZREM', zset, room) end
end";

const REAP: &str = r"
local suffix = '|' .. ARGV[1]
local gone = {}
for i, v in ipairs(redis.call('HGETALL', KEYS[1])) do
  if i % 2 == 1 and #v > #suffix and string.sub(v, -#suffix) == suffix then
    redis.call('HDEL', KEYS[1], v)
    table.insert(gone, string.sub(v, 1, #v - #suffix))
  end
end
local rest = redis.call('HGETALL', KEYS[1])
local left = {}
for _, user in ipairs(gone) do
  local prefix = user .. '|'
  local still = false
  for i = 1, #rest, 2 do
    if string.sub(rest[i], 1, #prefix) == prefix then still = true end
  end
  if not still then table.insert(left, user) end
end
recount(KEYS[1], KEYS[2], ARGV[2])
return left";

pub struct RedisPresence {
    inner: Arc<Inner>,
}

struct Inner {
    /// Every key starts with this (`REDIS_PREFIX`).
    ns: String,
    process: String,
    conn: ConnectionManager,
    local: MemoryPresence,
    layer: Arc<dyn ChannelLayer>,
    join: Script,
    leave: Script,
    reap: Script,
    recount: Script,
}

impl RedisPresence {
    /// Connects, and starts the heartbeat; `layer` carries the `user_leave`
    /// announcements for people of dead processes.
    pub async fn connect(
        url: &str,
        prefix: &str,
        layer: Arc<dyn ChannelLayer>,
    ) -> Result<Self, redis::RedisError> {
        let conn = connection_manager(redis::Client::open(url)?).await?;
        let inner = Arc::new(Inner {
            ns: prefix.to_owned(),
            process: format!("{:016x}", uuid::Uuid::new_v4().as_u64_pair().0),
            conn,
            local: MemoryPresence::default(),
            layer,
            join: Script::new(&format!(
                "{RECOUNT}
                 redis.call('HINCRBY', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 1)
                 redis.call('SADD', KEYS[2], ARGV[3])
                 recount(KEYS[1], KEYS[3], ARGV[3])
                 {TOTAL_FOR_USER}"
            )),
            leave: Script::new(&format!(
                "{RECOUNT}
                 local field = ARGV[1] .. '|' .. ARGV[2]
                 if redis.call('HINCRBY', KEYS[1], field, -1) <= 0 then
                   redis.call('HDEL', KEYS[1], field)
                 end
                 recount(KEYS[1], KEYS[3], ARGV[3])
                 {TOTAL_FOR_USER}"
            )),
            reap: Script::new(&format!("{RECOUNT}\n{REAP}")),
            recount: Script::new(&format!("{RECOUNT}\nrecount(KEYS[1], KEYS[2], ARGV[1])")),
        });
        inner.heartbeat().await;
        tokio::spawn(heartbeat(Arc::downgrade(&inner)));
        Ok(Self { inner })
    }
}

async fn heartbeat(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        let Some(inner) = inner.upgrade() else { return };
        inner.heartbeat().await;
    }
}

impl Inner {
    /// Rooms by how many people are in them (a sorted set).
    fn online_key(&self) -> String {
        format!("{}:online", self.ns)
    }

    fn presence_key(&self, room: &RoomName) -> String {
        format!("{}:presence:{room}", self.ns)
    }

    fn rooms_of_key(&self, process: &str) -> String {
        format!("{}:rooms-of:{process}", self.ns)
    }

    fn alive_key(&self, process: &str) -> String {
        format!("{}:alive:{process}", self.ns)
    }

    fn processes_key(&self) -> String {
        format!("{}:processes", self.ns)
    }

    /// Says this process is alive, restores its entries if Redis lost them,
    /// and clears out dead processes.
    async fn heartbeat(&self) {
        if let Err(e) = self.try_heartbeat().await {
            tracing::debug!("presence heartbeat: {e}");
        }
    }

    async fn try_heartbeat(&self) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        let previous: Option<String> = redis::cmd("SET")
            .arg(self.alive_key(&self.process))
            .arg(1)
            .arg("EX")
            .arg(ALIVE_FOR.as_secs())
            .arg("GET")
            .query_async(&mut conn)
            .await?;
        let _: () = conn.sadd(self.processes_key(), &self.process).await?;
        if previous.is_none() {
            // First beat, or Redis restarted empty: write our entries (back).
            for (room, user, n) in self.local.snapshot() {
                let _: () = conn
                    .hset(
                        self.presence_key(&room),
                        format!("{user}|{}", self.process),
                        n,
                    )
                    .await?;
                let _: () = conn
                    .sadd(self.rooms_of_key(&self.process), room.as_str())
                    .await?;
                let _: () = self
                    .recount
                    .key(self.presence_key(&room))
                    .key(self.online_key())
                    .arg(room.as_str())
                    .invoke_async(&mut conn)
                    .await?;
            }
        }
        let processes: Vec<String> = conn.smembers(self.processes_key()).await?;
        for dead in processes {
            if dead == self.process || conn.exists(self.alive_key(&dead)).await? {
                continue;
            }
            // One process reaps each dead one.
            let claimed: bool = redis::cmd("SET")
                .arg(format!("{}:reaping:{dead}", self.ns))
                .arg(&self.process)
                .arg("NX")
                .arg("EX")
                .arg(30)
                .query_async::<Option<String>>(&mut conn)
                .await?
                .is_some();
            if claimed {
                self.reap(&mut conn, &dead).await?;
            }
        }
        Ok(())
    }

    async fn reap(&self, conn: &mut ConnectionManager, dead: &str) -> redis::RedisResult<()> {
        let rooms: Vec<String> = conn.smembers(self.rooms_of_key(dead)).await?;
        for room in rooms.iter().filter_map(|r| RoomName::parse(r).ok()) {
            let left: Vec<String> = self
                .reap
                .key(self.presence_key(&room))
                .key(self.online_key())
                .arg(dead)
                .arg(room.as_str())
                .invoke_async(conn)
                .await?;
            for user in left {
                tracing::info!(%room, %user, process = dead, "left with a dead process");
                let event = ServerEvent::UserLeave { user }.to_json();
                let _ = self
                    .layer
                    .group_send(&groups::room(&room), Payload::event(event))
                    .await;
            }
        }
        let _: () = conn.del(self.rooms_of_key(dead)).await?;
        let _: () = conn.srem(self.processes_key(), dead).await?;
        Ok(())
    }

    /// Runs a join or leave script; the person's connections across all processes.
    async fn total(&self, script: &Script, room: &RoomName, user: &str) -> redis::RedisResult<i64> {
        script
            .key(self.presence_key(room))
            .key(self.rooms_of_key(&self.process))
            .key(self.online_key())
            .arg(user)
            .arg(&self.process)
            .arg(room.as_str())
            .invoke_async(&mut self.conn.clone())
            .await
    }
}

#[async_trait]
impl Presence for RedisPresence {
    async fn join(&self, room: &RoomName, user: &str) -> bool {
        let inner = &self.inner;
        let first_here = inner.local.join(room, user).await;
        match inner.total(&inner.join, room, user).await {
            Ok(total) => total == 1,
            Err(e) => {
                tracing::debug!("presence join: {e}");
                first_here
            }
        }
    }

    async fn leave(&self, room: &RoomName, user: &str) -> bool {
        let inner = &self.inner;
        let last_here = inner.local.leave(room, user).await;
        match inner.total(&inner.leave, room, user).await {
            Ok(total) => total <= 0,
            Err(e) => {
                tracing::debug!("presence leave: {e}");
                last_here
            }
        }
    }

    async fn users(&self, room: &RoomName) -> Vec<String> {
        let fields: redis::RedisResult<Vec<String>> = self
            .inner
            .conn
            .clone()
            .hkeys(self.inner.presence_key(room))
            .await;
        match fields {
            Ok(fields) => fields
                .iter()
                .filter_map(|f| f.split_once('|').map(|(user, _)| user.to_owned()))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            Err(_) => self.inner.local.users(room).await,
        }
    }

    async fn busiest(&self, limit: usize) -> Vec<(RoomName, usize)> {
        let stop = isize::try_from(limit).unwrap_or(isize::MAX) - 1;
        let top: redis::RedisResult<Vec<(String, f64)>> = self
            .inner
            .conn
            .clone()
            .zrevrange_withscores(self.inner.online_key(), 0, stop)
            .await;
        match top {
            Ok(top) => top
                .into_iter()
                .filter_map(|(room, n)| Some((RoomName::parse(&room).ok()?, n as usize)))
                .collect(),
            Err(_) => self.inner.local.busiest(limit).await,
        }
    }

    async fn counts(&self, rooms: &[RoomName]) -> Vec<usize> {
        if rooms.is_empty() {
            return Vec::new();
        }
        let names: Vec<&str> = rooms.iter().map(RoomName::as_str).collect();
        let scores: redis::RedisResult<Vec<Option<f64>>> = redis::cmd("ZMSCORE")
            .arg(self.inner.online_key())
            .arg(&names)
            .query_async(&mut self.inner.conn.clone())
            .await;
        match scores {
            Ok(scores) => scores
                .into_iter()
                .map(|n| n.unwrap_or(0.0) as usize)
                .collect(),
            Err(_) => self.inner.local.counts(rooms).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{MemoryLayer, RedisLayer};
    use crate::testing::RedisServer;

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).unwrap()
    }

    #[tokio::test]
    async fn two_processes_share_one_view_and_tabs_across_them_are_one_person() {
        let redis = RedisServer::start();
        let layer: Arc<dyn ChannelLayer> = Arc::new(MemoryLayer::new(8));
        let one = RedisPresence::connect(&redis.url(), "chat", layer.clone())
            .await
            .unwrap();
        let two = RedisPresence::connect(&redis.url(), "chat", layer)
            .await
            .unwrap();
        let r = room("hall");
        assert!(one.join(&r, "alice").await);
        assert!(!two.join(&r, "alice").await, "second tab, other process");
        assert!(two.join(&r, "bob").await);
        assert_eq!(one.users(&r).await, ["alice", "bob"]);
        assert_eq!(two.online(&r).await, 2);
        assert!(!one.leave(&r, "alice").await, "a tab is still open on two");
        assert!(two.leave(&r, "alice").await);
        assert_eq!(one.users(&r).await, ["bob"]);
        // The lobby's view, without reading each room.
        let quiet = room("quiet");
        assert_eq!(one.busiest(5).await, [(r.clone(), 1)]);
        assert_eq!(two.counts(&[r.clone(), quiet]).await, [1, 0]);
        assert!(two.leave(&r, "bob").await);
        assert_eq!(one.busiest(5).await, []);
    }

    #[tokio::test]
    async fn a_dead_process_has_its_people_leave() {
        let redis = RedisServer::start();
        let layer: Arc<dyn ChannelLayer> =
            Arc::new(RedisLayer::connect(&redis.url(), "chat", 8).await.unwrap());
        let mut watcher = layer.new_channel().await.unwrap();
        layer
            .group_add(&groups::room(&room("hall")), watcher.name())
            .await
            .unwrap();
        let survivor = RedisPresence::connect(&redis.url(), "chat", layer.clone())
            .await
            .unwrap();
        let doomed = RedisPresence::connect(&redis.url(), "chat", layer)
            .await
            .unwrap();
        let r = room("hall");
        survivor.join(&r, "alice").await;
        doomed.join(&r, "bob").await;
        doomed.join(&r, "alice").await;
        // The process dies without a word: its heartbeat stops.
        drop(doomed);
        let left = tokio::time::timeout(ALIVE_FOR + HEARTBEAT * 3, watcher.receive())
            .await
            .expect("bob leaves within the expiry")
            .unwrap();
        assert_eq!(left, r#"{"type":"user_leave","user":"bob"}"#);
        // Alice still has a connection on the survivor.
        assert_eq!(survivor.users(&r).await, ["alice"]);
    }

    #[tokio::test]
    async fn entries_come_back_after_redis_restarts_empty() {
        let mut redis = RedisServer::start();
        let layer: Arc<dyn ChannelLayer> = Arc::new(MemoryLayer::new(8));
        let p = RedisPresence::connect(&redis.url(), "chat", layer)
            .await
            .unwrap();
        p.join(&room("r"), "alice").await;
        redis.restart();
        let deadline = tokio::time::Instant::now() + HEARTBEAT * 4;
        while p.users(&room("r")).await != ["alice"] {
            assert!(
                tokio::time::Instant::now() < deadline,
                "restored by the heartbeat"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
