//! Presence shared by every process on one Redis or one Redis Cluster.
//!
//! Every key starts with `REDIS_PREFIX` (`chat` below, the default). A
//! room's own keys are under `chat:room:`, the service's never are, so no
//! room name can reach a service key (a room named `online` once did).
//! Every script touches the keys of one room only, hash-tagged by the room
//! (`{<room>}`) so that they share a cluster slot; what spans rooms or
//! processes is separate single-key commands. Nothing a visitor does
//! leaves a key behind: a room's keys go when its last person leaves.
//!
//! - `chat:room:{<room>}:presence` is a hash of `<user>|<process>` → open
//!   connections (gone when empty), and `chat:room:{<room>}:people` a hash
//!   of `<user>` → their connections on every process. Joins and leaves
//!   are Lua scripts on both, so "first connection of this person
//!   anywhere" and "last one" are decided atomically across processes: two
//!   tabs on two processes are still one person. Each touches the two
//!   fields it changes and returns the room's head count (`HLEN` of
//!   people) with a version: the room's node's clock in microseconds,
//!   which keeps growing after the room's keys are gone. No join or leave
//!   reads the whole room: when a process restarts, all of a room of
//!   10,000 comes back at once.
//! - `chat:{online}` is a sorted set of rooms by how many people are in
//!   them, so the lobby reads the busiest rooms in one command however many
//!   rooms exist. It lives on another slot than the rooms, so each count is
//!   written after the room's script, by a script that keeps the highest
//!   version seen per room (`chat:{online}:seen:<room>`, expiring a minute
//!   after the room's last change): counts from two processes that arrive
//!   out of order cannot leave the older one.
//! - `chat:{online}:readers` is a hash of `<room>|<process>` → anonymous
//!   connections: one key, so a lobby reads every listed room's readers
//!   with one `HMGET` (fields for each live process).
//! - `chat:rooms-of:<process>` lists the rooms a process has people or
//!   readers in now (a room leaves it with its last one there).
//!   Each process refreshes `chat:alive:<process>` (expiring after
//!   [`ALIVE_FOR`]) every [`HEARTBEAT`]. Any process that finds another's
//!   key gone claims it, removes its entries in batches of rooms (its own
//!   key refreshed between batches, so a long reap never makes the reaper
//!   look dead), and reports a
//!   [`Departure`] for each person who had no other connection (`chat/`
//!   tells the room `user_leave`): a crashed process leaves no ghosts for
//!   longer than about `ALIVE_FOR + HEARTBEAT`.
//! - The process keeps its own entries in memory too, and writes them back
//!   if Redis comes back empty (restarted).
//!
//! While Redis is unreachable, answers come from this process's own entries.

use super::{Change, Departure, Departures, MemoryPresence, Presence};
use crate::layer::{RedisConn, RedisTarget};
use app::names::RoomName;
use async_trait::async_trait;
use redis::{AsyncCommands, Script};
use std::{
    sync::{Arc, Weak},
    time::Duration,
};

/// How often a process says it is alive (and looks for dead ones).
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long a process counts as alive after its last heartbeat.
pub const ALIVE_FOR: Duration = Duration::from_secs(6);
/// Departures reported and not yet told; reaping waits when it is full.
const DEPARTURES_QUEUED: usize = 1024;
/// Rooms of a dead process reaped at once (their calls pipelined).
const REAP_BATCH: usize = 200;
/// How long a room's last count version is kept after its last change:
/// far longer than a count can take from its script to the online set.
const SEEN_FOR_SECS: u64 = 60;

/// `now()`: the room's node's clock in microseconds, the version of a
/// count (it keeps growing across the room's keys being removed).
const NOW: &str = r"
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end";

/// KEYS: presence, people; ARGV: user, process. Returns {the person's
/// connections, head count, version}.
const JOIN: &str = r"
redis.call('HINCRBY', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 1)
local total = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
return {total, redis.call('HLEN', KEYS[2]), now()}";

/// KEYS: presence, people; ARGV: user, process. A connection that was not
/// counted (Redis lost it) takes nothing from the person's total.
const LEAVE: &str = r"
local field = ARGV[1] .. '|' .. ARGV[2]
local here = redis.call('HINCRBY', KEYS[1], field, -1)
if here <= 0 then redis.call('HDEL', KEYS[1], field) end
if here >= 0 and redis.call('HINCRBY', KEYS[2], ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
end
local total = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
return {total, redis.call('HLEN', KEYS[2]), now()}";

/// KEYS: presence, people; ARGV: field, connections, user. Writes an
/// entry back.
const RESTORE: &str = r"
local old = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[2], ARGV[3], tonumber(ARGV[2]) - old)
return {0, redis.call('HLEN', KEYS[2]), now()}";

/// KEYS: presence, people; ARGV: dead process. Removes its entries (the
/// one script that reads the whole room: once per room of a dead process);
/// returns {people with no connection left, head count, version}.
const REAP: &str = r"
local suffix = '|' .. ARGV[1]
local left = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local field = all[i]
  if #field > #suffix and string.sub(field, -#suffix) == suffix then
    redis.call('HDEL', KEYS[1], field)
    local user = string.sub(field, 1, #field - #suffix)
    if redis.call('HINCRBY', KEYS[2], user, -tonumber(all[i + 1])) <= 0 then
      redis.call('HDEL', KEYS[2], user)
      table.insert(left, user)
    end
  end
end
return {left, redis.call('HLEN', KEYS[2]), now()}";

/// KEYS: the online set, the room's last version there; ARGV: room, head
/// count, version, how long to keep the version. Applies the count unless
/// a newer one is already there.
const SET_COUNT: &str = r"
local seen = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[3]) <= seen then return 0 end
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
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
        let room_script = |body: &str| Script::new(&format!("{NOW}\n{body}"));
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

    /// The version of a room's count in the online set (same slot).
    fn seen_key(&self, room: &RoomName) -> String {
        format!("{}:{{online}}:seen:{room}", self.ns)
    }

    /// `<room>|<process>` → anonymous connections (same slot as the set).
    fn readers_key(&self) -> String {
        format!("{}:{{online}}:readers", self.ns)
    }

    fn reader_field(room: &RoomName, process: &str) -> String {
        format!("{room}|{process}")
    }

    /// A room's own key: under `room:`, where no service key is.
    fn presence_key(&self, room: &RoomName) -> String {
        format!("{}:room:{{{room}}}:presence", self.ns)
    }

    /// The room's people and their connections (same slot as presence).
    fn people_key(&self, room: &RoomName) -> String {
        format!("{}:room:{{{room}}}:people", self.ns)
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
    /// the online set; the script's answer and that count.
    async fn in_room<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        room: &RoomName,
        args: &[&str],
    ) -> redis::RedisResult<(T, usize)> {
        let mut conn = self.conn.clone();
        let mut call = script.key(self.presence_key(room));
        call.key(self.people_key(room));
        for arg in args {
            call.arg(*arg);
        }
        let (answer, count, version): Changed<T> = call.invoke_async(&mut conn).await?;
        let _: i64 = self
            .set_count
            .key(self.online_key())
            .key(self.seen_key(room))
            .arg(room.as_str())
            .arg(count)
            .arg(version)
            .arg(SEEN_FOR_SECS)
            .invoke_async(&mut conn)
            .await?;
        Ok((answer, usize::try_from(count).unwrap_or(0)))
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
        let was_gone = self.say_alive(&mut conn).await?;
        let _: () = conn.sadd(self.processes_key(), &self.process).await?;
        if was_gone {
            // First beat, or Redis restarted empty: write our entries (back).
            for (room, user, n) in self.local.snapshot() {
                let _: () = conn
                    .sadd(self.rooms_of_key(&self.process), room.as_str())
                    .await?;
                let field = format!("{user}|{}", self.process);
                let _: (i64, usize) = self
                    .in_room(&self.restore, &room, &[&field, &n.to_string(), &user])
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

    /// Removes a dead process's entries, [`REAP_BATCH`] rooms at a time
    /// (each batch's calls in flight together on the multiplexed
    /// connection), saying this process is alive between batches.
    async fn reap(&self, conn: &mut RedisConn, dead: &str) -> redis::RedisResult<()> {
        loop {
            let batch: Vec<String> = redis::cmd("SRANDMEMBER")
                .arg(self.rooms_of_key(dead))
                .arg(REAP_BATCH)
                .query_async(conn)
                .await?;
            if batch.is_empty() {
                break;
            }
            let reaped = batch.iter().map(|room| self.reap_room(dead, room));
            for result in futures::future::join_all(reaped).await {
                result?;
            }
            let _: () = conn.srem(self.rooms_of_key(dead), &batch).await?;
            self.say_alive(conn).await?;
        }
        let _: () = conn.del(self.rooms_of_key(dead)).await?;
        let _: () = conn.srem(self.processes_key(), dead).await?;
        Ok(())
    }

    /// One room of a dead process: its readers and people out, and each
    /// person with no connection left reported.
    async fn reap_room(&self, dead: &str, room: &str) -> redis::RedisResult<()> {
        let Ok(room) = RoomName::parse_stored(room) else {
            return Ok(());
        };
        let mut conn = self.conn.clone();
        let _: () = conn
            .hdel(self.readers_key(), Self::reader_field(&room, dead))
            .await?;
        let (left, online): (Vec<String>, usize) = self.in_room(&self.reap, &room, &[dead]).await?;
        for user in left {
            tracing::info!(%room, %user, process = dead, "left with a dead process");
            let room = room.clone();
            // Nobody listening (shutting down): nobody to tell.
            let gone = Departure { room, user, online };
            let _ = self.departed.send(gone).await;
        }
        Ok(())
    }

    /// This process is alive for [`ALIVE_FOR`] more; whether it had been
    /// taken for dead (its key was gone).
    async fn say_alive(&self, conn: &mut RedisConn) -> redis::RedisResult<bool> {
        let previous: Option<String> = redis::cmd("SET")
            .arg(self.alive_key(&self.process))
            .arg(1)
            .arg("EX")
            .arg(ALIVE_FOR.as_secs())
            .arg("GET")
            .query_async(conn)
            .await?;
        Ok(previous.is_none())
    }

    /// Takes `room` off this process's list once nobody (person or reader)
    /// is in it here. A join racing with this adds it back: it counts
    /// itself locally before it lists the room, so the second look sees it.
    async fn unlist_if_empty(&self, room: &RoomName) -> redis::RedisResult<()> {
        if !self.local.is_empty_in(room) {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let key = self.rooms_of_key(&self.process);
        let _: () = conn.srem(&key, room.as_str()).await?;
        if !self.local.is_empty_in(room) {
            let _: () = conn.sadd(&key, room.as_str()).await?;
        }
        Ok(())
    }

    /// Records a connection; the person's connections across all
    /// processes, and the room's head count.
    async fn joined(&self, room: &RoomName, user: &str) -> redis::RedisResult<(i64, usize)> {
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
        if change < 0 {
            self.unlist_if_empty(room).await?;
        }
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

    async fn left(&self, room: &RoomName, user: &str) -> redis::RedisResult<(i64, usize)> {
        let changed = self
            .in_room(&self.leave, room, &[user, &self.process])
            .await?;
        self.unlist_if_empty(room).await?;
        Ok(changed)
    }
}

#[async_trait]
impl Presence for RedisPresence {
    async fn join(&self, room: &RoomName, user: &str) -> Change {
        let inner = &self.inner;
        let here = inner.local.join(room, user).await;
        match inner.joined(room, user).await {
            Ok((total, online)) => Change {
                person: total == 1,
                online,
            },
            Err(e) => {
                tracing::debug!("presence join: {e}");
                here
            }
        }
    }

    async fn leave(&self, room: &RoomName, user: &str) -> Change {
        let inner = &self.inner;
        let here = inner.local.leave(room, user).await;
        match inner.left(room, user).await {
            Ok((total, online)) => Change {
                person: total <= 0,
                online,
            },
            Err(e) => {
                tracing::debug!("presence leave: {e}");
                here
            }
        }
    }

    async fn users(&self, room: &RoomName) -> Vec<String> {
        let people: redis::RedisResult<Vec<String>> = self
            .inner
            .conn
            .clone()
            .hkeys(self.inner.people_key(room))
            .await;
        match people {
            Ok(mut people) => {
                people.sort_unstable();
                people
            }
            Err(_) => self.inner.local.users(room).await,
        }
    }

    async fn some_users(&self, room: &RoomName, max: usize) -> Vec<String> {
        let people: redis::RedisResult<Vec<String>> = redis::cmd("HRANDFIELD")
            .arg(self.inner.people_key(room))
            .arg(max)
            .query_async(&mut self.inner.conn.clone())
            .await;
        match people {
            Ok(mut people) => {
                people.sort_unstable();
                people
            }
            Err(_) => self.inner.local.some_users(room, max).await,
        }
    }

    async fn online(&self, room: &RoomName) -> usize {
        let people: redis::RedisResult<usize> = self
            .inner
            .conn
            .clone()
            .hlen(self.inner.people_key(room))
            .await;
        match people {
            Ok(n) => n,
            Err(_) => self.inner.local.online(room).await,
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
                .filter_map(|(room, n)| Some((RoomName::parse_stored(&room).ok()?, n as usize)))
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
    use futures::StreamExt;

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
                .entry(cluster.primary_for(&format!("chat:room:{{{r}}}:presence")))
                .or_insert(r);
            if nodes.len() == 3 {
                break;
            }
        }
        let rooms: Vec<RoomName> = nodes.into_values().collect();
        for (n, r) in rooms.iter().enumerate() {
            for k in 0..=n {
                let p = if k % 2 == 0 { &one } else { &two };
                assert!(p.join(r, &format!("u{k}")).await.person);
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
        let change = |person, online| Change { person, online };
        assert_eq!(one.join(&r, "alice").await, change(true, 1));
        let second_tab = two.join(&r, "alice").await;
        assert_eq!(second_tab, change(false, 1), "second tab, other process");
        assert_eq!(two.join(&r, "bob").await, change(true, 2));
        assert_eq!(one.users(&r).await, ["alice", "bob"]);
        assert_eq!(one.some_users(&r, 1).await.len(), 1);
        assert_eq!(two.some_users(&r, 5).await, ["alice", "bob"]);
        assert_eq!(two.online(&r).await, 2);
        let tab_left = one.leave(&r, "alice").await;
        assert_eq!(tab_left, change(false, 2), "a tab is still open on two");
        assert_eq!(two.leave(&r, "alice").await, change(true, 1));
        assert_eq!(one.users(&r).await, ["bob"]);
        // The lobby's view, without reading each room.
        let quiet = room("quiet");
        assert_eq!(one.busiest(5).await, [(r.clone(), 1)]);
        assert_eq!(two.counts(&[r.clone(), quiet]).await, [1, 0]);
        assert_eq!(two.leave(&r, "bob").await, change(true, 0));
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

    /// Every key in the Redis at `url`.
    async fn keys(url: &str) -> Vec<String> {
        let client = redis::Client::open(url).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut conn)
            .await
            .unwrap();
        keys.sort();
        keys
    }

    #[tokio::test]
    async fn no_room_name_reaches_a_service_key() {
        let redis = RedisServer::start();
        let (p, _) = RedisPresence::connect(&RedisTarget::Single(redis.url()), "chat")
            .await
            .unwrap();
        let names = [
            "online",
            "processes",
            "alive",
            "rooms-of",
            "reaping",
            "readers",
            "seen",
        ];
        let rooms: Vec<RoomName> = names.iter().map(|n| room(n)).collect();
        for (n, r) in rooms.iter().enumerate() {
            for k in 0..=n {
                assert!(p.join(r, &format!("u{k}")).await.person, "{r}");
            }
            p.reader_joined(r).await;
        }
        let mut busiest = p.busiest(10).await;
        busiest.sort_by_key(|(_, n)| *n);
        let expected: Vec<(RoomName, usize)> = rooms.iter().cloned().zip(1..).collect();
        assert_eq!(busiest, expected);
        assert_eq!(p.readers(&rooms).await, vec![1; rooms.len()]);
        assert_eq!(p.users(&rooms[0]).await, ["u0"]);
        // The heartbeat still works around a room named like its keys.
        p.inner.try_heartbeat().await.unwrap();
    }

    #[tokio::test]
    async fn ten_thousand_visits_to_made_up_rooms_leave_no_keys() {
        let redis = RedisServer::start();
        let (p, _) = RedisPresence::connect(&RedisTarget::Single(redis.url()), "chat")
            .await
            .unwrap();
        let before = keys(&redis.url()).await;
        let visits = (0..10_000).map(|n| {
            let p = &p;
            async move {
                let r = room(&format!("made-up-{n}"));
                match n % 2 {
                    0 => {
                        p.reader_joined(&r).await;
                        p.reader_left(&r).await;
                    }
                    _ => {
                        p.join(&r, "alice").await;
                        p.leave(&r, "alice").await;
                    }
                }
            }
        });
        futures::stream::iter(visits)
            .buffer_unordered(64)
            .collect::<Vec<()>>()
            .await;
        // What is left: the service's own keys, and the versions of the
        // signed-in visits' counts, which expire within a minute.
        let after: Vec<String> = keys(&redis.url())
            .await
            .into_iter()
            .filter(|k| !k.starts_with("chat:{online}:seen:"))
            .collect();
        assert_eq!(after, before, "keys a crowd of visits left");
        let client = redis::Client::open(redis.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let ttl: i64 = conn.ttl("chat:{online}:seen:made-up-1").await.unwrap();
        assert!((1..=SEEN_FOR_SECS as i64).contains(&ttl), "ttl {ttl}");
    }

    #[tokio::test]
    async fn a_long_reap_keeps_the_reaper_alive() {
        let redis = RedisServer::start();
        let target = RedisTarget::Single(redis.url());
        let (reaper, mut departures) = RedisPresence::connect(&target, "chat").await.unwrap();
        let (doomed, _) = RedisPresence::connect(&target, "chat").await.unwrap();
        let rooms = 3 * REAP_BATCH;
        for n in 0..rooms {
            doomed.join(&room(&format!("r{n}")), "bob").await;
        }
        let dead = doomed.inner.process.clone();
        drop(doomed);
        let mut left = 0;
        while left < rooms {
            tokio::time::timeout(ALIVE_FOR + HEARTBEAT * 3, departures.recv())
                .await
                .expect("bob leaves each room")
                .unwrap();
            left += 1;
        }
        assert!(reaper.busiest(5).await.is_empty());
        let listed: Vec<String> = keys(&redis.url())
            .await
            .into_iter()
            .filter(|k| k.contains(&dead) || k.starts_with("chat:room:"))
            .filter(|k| !k.starts_with("chat:reaping:"))
            .collect();
        assert_eq!(listed, Vec::<String>::new());
    }

    /// A big room: every join and leave is answered with the head count
    /// without reading the room (no command that reads a whole hash runs,
    /// as Redis counts them), and the people of a process that dies leave
    /// with the count after them.
    #[tokio::test]
    async fn a_big_room_is_counted_without_reading_it() {
        let redis = RedisServer::start();
        let target = RedisTarget::Single(redis.url());
        let (one, mut departures) = RedisPresence::connect(&target, "chat").await.unwrap();
        let (doomed, _) = RedisPresence::connect(&target, "chat").await.unwrap();
        let client = redis::Client::open(redis.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let _: () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query_async(&mut conn)
            .await
            .unwrap();
        let r = room("big");
        let joins = (0..1000).map(|n| {
            let p = if n % 2 == 0 { &one } else { &doomed };
            let r = &r;
            async move { p.join(r, &format!("u{n:04}")).await }
        });
        let changes = futures::future::join_all(joins).await;
        assert!(changes.iter().all(|c| c.person));
        assert_eq!(changes.iter().map(|c| c.online).max(), Some(1000));
        assert_eq!(one.leave(&r, "u0000").await.online, 999);
        let stats: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut conn)
            .await
            .unwrap();
        for whole in ["hgetall", "hkeys", "hvals", "hscan"] {
            assert!(
                !stats.contains(&format!("cmdstat_{whole}:")),
                "{whole} ran:\n{stats}"
            );
        }
        assert_eq!(one.online(&r).await, 999);
        let some = one.some_users(&r, 100).await;
        assert_eq!(some.len(), 100);
        assert!(some.is_sorted() && some.iter().all(|u| u.starts_with('u')));
        drop(doomed);
        let mut last = None;
        for _ in 0..500 {
            let gone = tokio::time::timeout(ALIVE_FOR + HEARTBEAT * 3, departures.recv());
            last = gone
                .await
                .expect("the dead process's people leave")
                .map(|d| d.online);
        }
        assert_eq!(last, Some(499));
        assert_eq!(one.online(&r).await, 499);
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
            online: 1,
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
