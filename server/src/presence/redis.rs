//! Presence shared by every process on one Redis or one Redis Cluster.
//!
//! Every key starts with `REDIS_PREFIX` (`chat` below, the default). Every
//! script touches the keys of one room only, hash-tagged by the room
//! (`{<room>}`) so that they share a cluster slot; what spans rooms or
//! processes is separate single-key commands.
//!
//! - `chat:{<room>}:presence` is a hash of `<user>|<process>` → open
//!   connections. Joins and leaves are Lua scripts on it, so "first
//!   connection of this person anywhere" and "last one" are decided
//!   atomically across processes: two tabs on two processes are still one
//!   person. Each also bumps `chat:{<room>}:version` and returns the room's
//!   new head count with that version.
//! - `chat:{online}` is a sorted set of rooms by how many people are in
//!   them, so the lobby reads the busiest rooms in one command however many
//!   rooms exist. It lives on another slot than the rooms, so each count is
//!   written after the room's script, by a script that keeps the highest
//!   version seen per room (`chat:{online}:version`): counts from two
//!   processes that arrive out of order cannot leave the older one.
//! - `chat:{online}:readers` is a hash of `<room>|<process>` → anonymous
//!   connections: one key, so a lobby reads every listed room's readers
//!   with one `HMGET` (fields for each live process).
//! - `chat:rooms-of:<process>` lists the rooms a process has people or
//!   readers in.
//!   Each process refreshes `chat:alive:<process>` (expiring after
//!   [`ALIVE_FOR`]) every [`HEARTBEAT`]. Any process that finds another's
//!   key gone claims it, removes its entries room by room, and reports a
//!   [`Departure`] for each person who had no other connection (`chat/`
//!   tells the room `user_leave`): a crashed process leaves no ghosts for
//!   longer than about `ALIVE_FOR + HEARTBEAT`.
//! - The process keeps its own entries in memory too, and writes them back
//!   if Redis comes back empty (restarted).
//!
//! While Redis is unreachable, answers come from this process's own entries.

use super::{Departure, Departures, MemoryPresence, Presence};
use crate::layer::{RedisConn, RedisTarget};
use app::names::RoomName;
use async_trait::async_trait;
use redis::{AsyncCommands, Script};
use std::{
    collections::BTreeSet,
    sync::{Arc, Weak},
    time::Duration,
};

/// How often a process says it is alive (and looks for dead ones).
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long a process counts as alive after its last heartbeat.
pub const ALIVE_FOR: Duration = Duration::from_secs(6);
/// Departures reported and not yet told; reaping waits when it is full.
const DEPARTURES_QUEUED: usize = 1024;

/// `count(hash)`: distinct people in a room's presence hash.
const COUNT: &str = r"
local function count(hash)
  local seen, n = {}, 0
  for _, field in ipairs(redis.call('HKEYS', hash)) do
    local user = string.match(field, '^(.*)|[^|]*$')
    if user and not seen[user] then seen[user] = true; n = n + 1 end
  end
  return n
end";

/// `total_for(hash, user)`: that person's connections across processes.
const TOTAL_FOR: &str = r"
local function total_for(hash, user)
  local prefix = user .. '|'
  local total = 0
  local all = redis.call('HGETALL', hash)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, #prefix) == prefix then total = total + tonumber(all[i + 1]) end
  end
  return total
end";

/// KEYS: presence, version; ARGV: user, process. Returns
/// {the person's connections, head count, version}.
const JOIN: &str = r"
redis.call('HINCRBY', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 1)
return {total_for(KEYS[1], ARGV[1]), count(KEYS[1]), redis.call('INCR', KEYS[2])}";

const LEAVE: &str = r"
local field = ARGV[1] .. '|' .. ARGV[2]
if redis.call('HINCRBY', KEYS[1], field, -1) <= 0 then redis.call('HDEL', KEYS[1], field) end
return {total_for(KEYS[1], ARGV[1]), count(KEYS[1]), redis.call('INCR', KEYS[2])}";

/// KEYS: presence, version; ARGV: field, connections. Writes an entry back.
const RESTORE: &str = r"
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {0, count(KEYS[1]), redis.call('INCR', KEYS[2])}";

/// KEYS: presence, version; ARGV: dead process. Removes its entries;
/// returns {people with no connection left, head count, version}.
const REAP: &str = r"
local suffix = '|' .. ARGV[1]
local gone = {}
for i, v in ipairs(redis.call('HGETALL', KEYS[1])) do
  if i % 2 == 1 and #v > #suffix and string.sub(v, -#suffix) == suffix then
    redis.call('HDEL', KEYS[1], v)
    table.insert(gone, string.sub(v, 1, #v - #suffix))
  end
end
local left = {}
for _, user in ipairs(gone) do
  if total_for(KEYS[1], user) == 0 then table.insert(left, user) end
end
return {left, count(KEYS[1]), redis.call('INCR', KEYS[2])}";

/// KEYS: the online set, its versions; ARGV: room, head count, version.
/// Applies the count unless a newer one is already there.
const SET_COUNT: &str = r"
local seen = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if tonumber(ARGV[3]) <= seen then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
if tonumber(ARGV[2]) > 0 then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return 1";

/// KEYS: the readers hash; ARGV: field, change. Drops a field at zero.
const READERS: &str = r"
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return n";

pub struct RedisPresence {
    inner: Arc<Inner>,
}

struct Inner {
    /// Every key starts with this (`REDIS_PREFIX`).
    ns: String,
    process: String,
    conn: RedisConn,
    local: MemoryPresence,
    /// Where the people of dead processes are reported.
    departed: tokio::sync::mpsc::Sender<Departure>,
    join: Script,
    leave: Script,
    restore: Script,
    reap: Script,
    set_count: Script,
    readers: Script,
}

/// What a room's script returns: a person's connections (or the people
/// who left), the room's head count, and the version of that count.
type Changed<T> = (T, i64, i64);

impl RedisPresence {
    /// Connects, and starts the heartbeat; the people of dead processes
    /// are reported on the [`Departures`] returned alongside.
    pub async fn connect(
        target: &RedisTarget,
        prefix: &str,
    ) -> Result<(Self, Departures), redis::RedisError> {
        let (departed, departures) = tokio::sync::mpsc::channel(DEPARTURES_QUEUED);
        let room_script = |body: &str| Script::new(&format!("{COUNT}\n{TOTAL_FOR}\n{body}"));
        let inner = Arc::new(Inner {
            ns: prefix.to_owned(),
            process: format!("{:016x}", uuid::Uuid::new_v4().as_u64_pair().0),
            conn: target.connect().await?,
            local: MemoryPresence::default(),
            departed,
            join: room_script(JOIN),
            leave: room_script(LEAVE),
            restore: room_script(RESTORE),
            reap: room_script(REAP),
            set_count: Script::new(SET_COUNT),
            readers: Script::new(READERS),
        });
        inner.heartbeat().await;
        tokio::spawn(heartbeat(Arc::downgrade(&inner)));
        Ok((Self { inner }, departures))
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
        format!("{}:{{online}}", self.ns)
    }

    /// The version of each room's count in the online set (same slot).
    fn online_version_key(&self) -> String {
        format!("{}:{{online}}:version", self.ns)
    }

    /// `<room>|<process>` → anonymous connections (same slot as the set).
    fn readers_key(&self) -> String {
        format!("{}:{{online}}:readers", self.ns)
    }

    fn reader_field(room: &RoomName, process: &str) -> String {
        format!("{room}|{process}")
    }

    fn presence_key(&self, room: &RoomName) -> String {
        format!("{}:{{{room}}}:presence", self.ns)
    }

    fn version_key(&self, room: &RoomName) -> String {
        format!("{}:{{{room}}}:version", self.ns)
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

    /// Runs one of the room scripts, then writes the room's new count to
    /// the online set.
    async fn in_room<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        room: &RoomName,
        args: &[&str],
    ) -> redis::RedisResult<T> {
        let mut conn = self.conn.clone();
        let mut call = script.key(self.presence_key(room));
        call.key(self.version_key(room));
        for arg in args {
            call.arg(*arg);
        }
        let (answer, count, version): Changed<T> = call.invoke_async(&mut conn).await?;
        let _: i64 = self
            .set_count
            .key(self.online_key())
            .key(self.online_version_key())
            .arg(room.as_str())
            .arg(count)
            .arg(version)
            .invoke_async(&mut conn)
            .await?;
        Ok(answer)
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
                    .sadd(self.rooms_of_key(&self.process), room.as_str())
                    .await?;
                let field = format!("{user}|{}", self.process);
                let _: i64 = self
                    .in_room(&self.restore, &room, &[&field, &n.to_string()])
                    .await?;
            }
            for (room, n) in self.local.reader_snapshot() {
                let _: () = conn
                    .sadd(self.rooms_of_key(&self.process), room.as_str())
                    .await?;
                let field = Self::reader_field(&room, &self.process);
                let _: () = conn.hset(self.readers_key(), field, n).await?;
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

    async fn reap(&self, conn: &mut RedisConn, dead: &str) -> redis::RedisResult<()> {
        let rooms: Vec<String> = conn.smembers(self.rooms_of_key(dead)).await?;
        for room in rooms.iter().filter_map(|r| RoomName::parse(r).ok()) {
            let _: () = conn
                .hdel(self.readers_key(), Self::reader_field(&room, dead))
                .await?;
            let left: Vec<String> = self.in_room(&self.reap, &room, &[dead]).await?;
            for user in left {
                tracing::info!(%room, %user, process = dead, "left with a dead process");
                let room = room.clone();
                // Nobody listening (shutting down): nobody to tell.
                let _ = self.departed.send(Departure { room, user }).await;
            }
        }
        let _: () = conn.del(self.rooms_of_key(dead)).await?;
        let _: () = conn.srem(self.processes_key(), dead).await?;
        Ok(())
    }

    /// Records a connection; the person's connections across all processes.
    async fn joined(&self, room: &RoomName, user: &str) -> redis::RedisResult<i64> {
        // Listed before the entry exists, so a reaper always finds it.
        let _: () = self
            .conn
            .clone()
            .sadd(self.rooms_of_key(&self.process), room.as_str())
            .await?;
        self.in_room(&self.join, room, &[user, &self.process]).await
    }

    /// Adds `change` to this process's anonymous connections in `room`.
    async fn readers_changed(&self, room: &RoomName, change: i64) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        if change > 0 {
            let _: () = conn
                .sadd(self.rooms_of_key(&self.process), room.as_str())
                .await?;
        }
        let _: i64 = self
            .readers
            .key(self.readers_key())
            .arg(Self::reader_field(room, &self.process))
            .arg(change)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Anonymous connections in each room, summed over live processes.
    async fn reader_counts(&self, rooms: &[RoomName]) -> redis::RedisResult<Vec<usize>> {
        let mut conn = self.conn.clone();
        let processes: Vec<String> = conn.smembers(self.processes_key()).await?;
        if processes.is_empty() {
            return Ok(vec![0; rooms.len()]);
        }
        let fields: Vec<String> = rooms
            .iter()
            .flat_map(|room| processes.iter().map(|p| Self::reader_field(room, p)))
            .collect();
        let counts: Vec<Option<i64>> = redis::cmd("HMGET")
            .arg(self.readers_key())
            .arg(&fields)
            .query_async(&mut conn)
            .await?;
        Ok(counts
            .chunks(processes.len())
            .map(|per_process| {
                let total: i64 = per_process.iter().flatten().sum();
                usize::try_from(total).unwrap_or(0)
            })
            .collect())
    }

    async fn left(&self, room: &RoomName, user: &str) -> redis::RedisResult<i64> {
        self.in_room(&self.leave, room, &[user, &self.process])
            .await
    }
}

#[async_trait]
impl Presence for RedisPresence {
    async fn join(&self, room: &RoomName, user: &str) -> bool {
        let inner = &self.inner;
        let first_here = inner.local.join(room, user).await;
        match inner.joined(room, user).await {
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
        match inner.left(room, user).await {
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

    async fn reader_joined(&self, room: &RoomName) {
        self.inner.local.reader_joined(room).await;
        if let Err(e) = self.inner.readers_changed(room, 1).await {
            tracing::debug!("presence reader join: {e}");
        }
    }

    async fn reader_left(&self, room: &RoomName) {
        self.inner.local.reader_left(room).await;
        if let Err(e) = self.inner.readers_changed(room, -1).await {
            tracing::debug!("presence reader leave: {e}");
        }
    }

    async fn readers(&self, rooms: &[RoomName]) -> Vec<usize> {
        if rooms.is_empty() {
            return Vec::new();
        }
        match self.inner.reader_counts(rooms).await {
            Ok(counts) => counts,
            Err(_) => self.inner.local.readers(rooms).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{RedisCluster, RedisServer};

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).unwrap()
    }

    #[tokio::test]
    async fn two_processes_share_one_view_and_tabs_across_them_are_one_person() {
        let redis = RedisServer::start();
        share_one_view(&RedisTarget::Single(redis.url())).await;
    }

    /// The same on a cluster, with rooms on every primary: no script
    /// crosses slots.
    #[tokio::test]
    async fn a_cluster_shares_one_view_with_rooms_on_every_primary() {
        let cluster = RedisCluster::start(3, false);
        let target = RedisTarget::Cluster(cluster.urls());
        share_one_view(&target).await;
        let (one, _) = RedisPresence::connect(&target, "chat").await.unwrap();
        let (two, _) = RedisPresence::connect(&target, "chat").await.unwrap();
        let mut nodes = std::collections::HashMap::new();
        for i in 0.. {
            let r = room(&format!("spread{i}"));
            nodes
                .entry(cluster.primary_for(&format!("chat:{{{r}}}:presence")))
                .or_insert(r);
            if nodes.len() == 3 {
                break;
            }
        }
        let rooms: Vec<RoomName> = nodes.into_values().collect();
        for (n, r) in rooms.iter().enumerate() {
            for k in 0..=n {
                let p = if k % 2 == 0 { &one } else { &two };
                assert!(p.join(r, &format!("u{k}")).await);
            }
        }
        let mut busiest = one.busiest(5).await;
        busiest.sort_by_key(|(_, n)| *n);
        let expected: Vec<(RoomName, usize)> = rooms.iter().cloned().zip([1, 2, 3]).collect();
        assert_eq!(busiest, expected);
        assert_eq!(two.counts(&rooms).await, [1, 2, 3]);
        assert_eq!(two.users(&rooms[2]).await, ["u0", "u1", "u2"]);
    }

    async fn share_one_view(target: &RedisTarget) {
        let (one, _) = RedisPresence::connect(target, "chat").await.unwrap();
        let (two, _) = RedisPresence::connect(target, "chat").await.unwrap();
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
        // Anonymous readers, summed across processes, apart from people.
        let other = room("other");
        one.reader_joined(&r).await;
        two.reader_joined(&r).await;
        two.reader_joined(&other).await;
        assert_eq!(one.readers(&[r.clone(), other.clone()]).await, [2, 1]);
        assert_eq!(one.online(&r).await, 0);
        one.reader_left(&r).await;
        two.reader_left(&other).await;
        assert_eq!(two.readers(&[r, other]).await, [1, 0]);
    }

    #[tokio::test]
    async fn a_dead_process_has_its_people_leave() {
        let redis = RedisServer::start();
        dead_process_people_leave(&RedisTarget::Single(redis.url())).await;
    }

    #[tokio::test]
    async fn a_dead_process_has_its_people_leave_on_a_cluster() {
        let cluster = RedisCluster::start(3, false);
        dead_process_people_leave(&RedisTarget::Cluster(cluster.urls())).await;
    }

    async fn dead_process_people_leave(target: &RedisTarget) {
        let (survivor, mut departures) = RedisPresence::connect(target, "chat").await.unwrap();
        let (doomed, _) = RedisPresence::connect(target, "chat").await.unwrap();
        let r = room("hall");
        survivor.join(&r, "alice").await;
        doomed.join(&r, "bob").await;
        doomed.join(&r, "alice").await;
        doomed.reader_joined(&r).await;
        survivor.reader_joined(&r).await;
        assert_eq!(survivor.readers(std::slice::from_ref(&r)).await, [2]);
        // The process dies without a word: its heartbeat stops.
        drop(doomed);
        // The survivor reaps it and reports bob (`chat/` tells the room:
        // chat::membership's test).
        let left = tokio::time::timeout(ALIVE_FOR + HEARTBEAT * 3, departures.recv())
            .await
            .expect("bob leaves within the expiry")
            .unwrap();
        let bob = Departure {
            room: r.clone(),
            user: "bob".into(),
        };
        assert_eq!(left, bob);
        // Alice still has a connection on the survivor, and so does its reader.
        assert_eq!(survivor.users(&r).await, ["alice"]);
        assert_eq!(survivor.readers(std::slice::from_ref(&r)).await, [1]);
    }

    #[tokio::test]
    async fn entries_come_back_after_redis_restarts_empty() {
        let mut redis = RedisServer::start();
        let (p, _) = RedisPresence::connect(&RedisTarget::Single(redis.url()), "chat")
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
