//! Several server processes over one Redis and one database: a room is one
//! room however many processes serve it. The suite runs over one
//! redis-server, or, when `CHAT_TEST_REDIS=cluster` (what `make test`'s
//! cluster pass sets), over a 3-primary Redis Cluster with the rooms spread
//! over every primary.

use crate::common::{Client, Database, Endpoint, ServerProcess, post_many};
use futures::future::join_all;
use serde_json::json;
use server::testing::{RedisCluster, RedisServer};
use std::time::Duration;

/// The Redis the processes share.
enum Redis {
    Single(RedisServer),
    Cluster(RedisCluster),
}

impl Redis {
    /// What `CHAT_TEST_REDIS` asks for.
    fn start() -> Self {
        match std::env::var("CHAT_TEST_REDIS").as_deref() {
            Ok("cluster") => Self::Cluster(RedisCluster::start(3, false)),
            Ok("single") | Ok("") | Err(_) => Self::Single(RedisServer::start()),
            Ok(other) => panic!("CHAT_TEST_REDIS={other}: expected single or cluster"),
        }
    }

    /// The server's setting that points it here.
    fn env(&self) -> (&'static str, String) {
        match self {
            Self::Single(server) => ("REDIS_URL", server.url()),
            Self::Cluster(cluster) => ("REDIS_CLUSTER_URLS", cluster.urls_env()),
        }
    }

    /// `n` room names; on a cluster, chosen so that every primary serves
    /// at least one of their groups (asserted).
    fn rooms(&self, n: usize) -> Vec<String> {
        let Self::Cluster(cluster) = self else {
            return (0..n).map(|i| format!("spread{i}")).collect();
        };
        let node_of = |room: &str| cluster.primary_for(&format!("chat:g:room.{room}"));
        let primaries = cluster.primaries().len();
        let mut rooms: Vec<String> = Vec::new();
        let mut nodes = std::collections::HashSet::new();
        for i in 0.. {
            let room = format!("spread{i}");
            let node = node_of(&room);
            if nodes.insert(node) || (nodes.len() == primaries && rooms.len() < n) {
                rooms.push(room);
            }
            if nodes.len() == primaries && rooms.len() >= n {
                break;
            }
        }
        let served: std::collections::HashSet<u16> = rooms.iter().map(|r| node_of(r)).collect();
        assert_eq!(served.len(), primaries, "a room on every primary");
        rooms
    }
}

struct Cluster {
    redis: Redis,
    processes: Vec<ServerProcess>,
    database: Database,
}

async fn cluster(n: usize) -> Cluster {
    let redis = Redis::start();
    let processes = processes(n, &redis, &[]).await;
    Cluster {
        redis,
        processes: processes.0,
        database: processes.1,
    }
}

/// `n` processes over one database of their own and `redis`.
async fn processes(
    n: usize,
    redis: &Redis,
    env: &[(&str, &str)],
) -> (Vec<ServerProcess>, Database) {
    let database = Database::new().await;
    let (name, value) = redis.env();
    let env: Vec<(&str, &str)> = [(name, value.as_str())]
        .into_iter()
        .chain(env.iter().copied())
        .collect();
    let mut processes = Vec::new();
    for _ in 0..n {
        processes.push(ServerProcess::start_with(&database.url, "", &env).await);
    }
    (processes, database)
}

impl Cluster {
    /// `n` processes over one redis-server, whatever the suite runs over.
    async fn over(redis: RedisServer, n: usize) -> Self {
        let redis = Redis::Single(redis);
        let (processes, database) = processes(n, &redis, &[]).await;
        Self {
            redis,
            processes,
            database,
        }
    }

    fn at(&self, i: usize) -> &Endpoint {
        &self.processes[i]
    }
}

/// Reads chat messages until `last` arrives; returns their seqs in arrival order.
async fn seqs_until(client: &mut Client, last: u64) -> Vec<u64> {
    let mut seqs = Client::seqs(&client.history);
    while seqs.last() != Some(&last) {
        let m = client.expect("chat_message").await;
        seqs.push(m["seq"].as_u64().unwrap());
    }
    seqs
}

/// Three rooms (on a cluster, on every primary), each with readers on
/// every process and a poster on every process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_reaches_every_client_once_in_seq_order_across_three_processes() {
    let c = cluster(3).await;
    let rooms = c.redis.rooms(3);
    let mut posters = Vec::new();
    for i in 0..3 {
        posters.push(c.at(i).user(&format!("poster{i}")).await);
    }
    let reader = c.at(0).user("reader").await;
    let mut clients = Vec::new();
    for room in &rooms {
        for i in 0..3 {
            for _ in 0..2 {
                clients.push(c.at(i).join_as(&reader, room).await);
            }
        }
    }
    join_all(
        rooms
            .iter()
            .flat_map(|room| (0..3).map(move |i| (room, i)))
            .map(|(room, i)| post_many(c.at(i), &posters[i], room, 10)),
    )
    .await;
    for client in &mut clients {
        assert_eq!(seqs_until(client, 30).await, (1..=30).collect::<Vec<_>>());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_and_private_messages_cross_processes() {
    let c = cluster(2).await;
    let (alice, bob) = (c.at(0).user("alice").await, c.at(1).user("bob").await);
    let mut a = c.at(0).join_as(&alice, "hall").await;
    let b = c.at(1).join_as(&bob, "hall").await;
    assert_eq!(b.users["users"], json!(["alice", "bob"]));
    assert_eq!(a.expect("user_join").await["user"], "bob");

    // Bob's second tab, on the other process, is still one Bob.
    let mut b2 = c.at(0).join_as(&bob, "hall").await;
    a.assert_silent().await;
    let rooms: serde_json::Value = reqwest::get(c.at(1).http("/api/rooms"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rooms[0]["online"], 2);

    a.say("/pm bob across the wire").await;
    assert_eq!(a.expect("private_message_delivered").await["target"], "bob");
    assert_eq!(a.expect("read").await["seq"], 1);
    let mut b = b;
    for tab in [&mut b, &mut b2] {
        let pm = tab.expect("private_message").await;
        assert_eq!(pm["user"], "alice");
        assert_eq!(pm["message"], "across the wire");
    }

    drop(b);
    a.assert_silent().await;
    drop(b2);
    assert_eq!(a.expect("user_leave").await["user"], "bob");
}

/// Past `USER_LIST_MAX` people a room hears its head count, gathered,
/// instead of each arrival and departure by name (a restart of a big room
/// would cost n² deliveries), across processes; a joiner gets some names
/// and the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_room_hears_counts_not_names_across_processes() {
    let redis = Redis::start();
    let (processes, _database) = processes(2, &redis, &[("USER_LIST_MAX", "3")]).await;
    let mut people = Vec::new();
    for n in 0..6 {
        people.push(processes[n % 2].user(&format!("person{n}")).await);
    }
    let mut watcher = processes[0].join_as(&people[0], "big").await;
    let mut sockets = Vec::new();
    for n in 1..3 {
        sockets.push(processes[n % 2].join_as(&people[n], "big").await);
        let joined = watcher.expect("user_join").await;
        assert_eq!(joined["online"], n + 1, "{joined}");
    }
    for n in 3..6 {
        sockets.push(processes[n % 2].join_as(&people[n], "big").await);
    }
    let last = sockets.last().unwrap();
    assert_eq!(last.users["online"], 6);
    assert_eq!(
        last.users["users"].as_array().unwrap().len(),
        3,
        "{}",
        last.users
    );
    let quiet = Duration::from_millis(1500);
    let heard = watcher.events_until_quiet(quiet).await;
    assert!(heard.iter().all(|e| e["type"] == "user_count"), "{heard:?}");
    assert!(heard.len() <= 4, "gathered: {heard:?}");
    assert_eq!(heard.last().unwrap()["count"], 6);
    // Three leave: the last departure brings the room back to a size it
    // lists, and is told by name.
    sockets.truncate(2);
    let heard = watcher.events_until_quiet(quiet).await;
    let named: Vec<_> = heard.iter().filter(|e| e["type"] != "user_count").collect();
    assert_eq!(named.len(), 1, "{heard:?}");
    assert_eq!(named[0]["type"], "user_leave");
    assert_eq!(named[0]["online"], 3);
    let counts = heard.iter().filter(|e| e["type"] == "user_count");
    assert!(
        counts.clone().all(|e| e["count"].as_u64() >= Some(3)),
        "{heard:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_process_has_its_people_leave_on_the_others_within_30_seconds() {
    let mut c = cluster(2).await;
    let (alice, carol) = (c.at(0).user("alice").await, c.at(1).user("carol").await);
    let mut a = c.at(0).join_as(&alice, "hall").await;
    let _carol = c.at(1).join_as(&carol, "hall").await;
    assert_eq!(a.expect("user_join").await["user"], "carol");

    c.processes[1].kill();
    let started = std::time::Instant::now();
    let frame = a
        .next_frame_within(Duration::from_secs(30))
        .await
        .expect("carol leaves within 30 s");
    let left: serde_json::Value = match frame {
        Some(tokio_tungstenite::tungstenite::Message::Text(t)) => serde_json::from_str(&t).unwrap(),
        other => panic!("expected user_leave, got {other:?}"),
    };
    assert_eq!(
        left,
        json!({"type": "user_leave", "user": "carol", "online": 1})
    );
    eprintln!("user_leave after the kill: {:?}", started.elapsed());
    let rooms: serde_json::Value = reqwest::get(c.at(0).http("/api/rooms"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rooms[0]["online"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_mid_traffic_loses_nothing_once_recovered() {
    let mut c = Cluster::over(RedisServer::start(), 2).await;
    let (p0, p1) = (c.at(0).user("poster0").await, c.at(1).user("poster1").await);
    let reader = c.at(0).user("reader").await;
    let mut readers = vec![
        c.at(0).join_as(&reader, "busy").await,
        c.at(1).join_as(&reader, "busy").await,
    ];
    let (e0, e1) = (*c.at(0), *c.at(1));
    post_many(&e0, &p0, "busy", 10).await;

    let Redis::Single(redis) = &mut c.redis else {
        unreachable!()
    };
    redis.stop();
    // Both keep serving their own people while Redis is away.
    let during = async {
        post_many(&e0, &p0, "busy", 10).await;
        post_many(&e1, &p1, "busy", 10).await;
    };
    let (_, ()) = tokio::join!(during, tokio::time::sleep(Duration::from_secs(3)));
    let (_, health) = e0.page("/healthz", None).await;
    assert!(health.starts_with("degraded"), "{health}");
    let (_, metrics) = e0.page("/metrics", None).await;
    assert!(
        metrics.lines().any(|l| l == "chat_layer_degraded 1"),
        "{metrics}"
    );
    redis.restart();

    for e in [e0, e1] {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while reqwest::get(e.http("/healthz"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            != "ok"
        {
            assert!(
                std::time::Instant::now() < deadline,
                "group traffic resumes within 5 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    join_all([
        post_many(&e0, &p0, "busy", 5),
        post_many(&e1, &p1, "busy", 5),
    ])
    .await;
    for r in &mut readers {
        assert_eq!(seqs_until(r, 40).await, (1..=40).collect::<Vec<_>>());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_reactions_deletes_and_disabling_cross_processes() {
    let c = cluster(2).await;
    let alice = c.at(0).user("alice").await;
    let bob = c.at(1).user("bob").await;
    let storage = c.database.open().await;
    server::auth::create_admin(&storage, "root", crate::common::PASSWORD)
        .await
        .unwrap();
    let root = c.at(0).login("root").await;

    let mut a = c.at(0).join_as(&alice, "both").await;
    let mut b = c.at(1).join_as(&bob, "both").await;
    a.say("frist").await;
    let seq = a.expect("chat_message").await["seq"].clone();
    b.expect("chat_message").await;

    a.send_json(json!({"type": "edit", "seq": seq, "message": "first"}))
        .await;
    assert_eq!(b.expect("message_edited").await["message"], "first");
    a.expect("message_edited").await;
    b.send_json(json!({"type": "react", "seq": seq, "emoji": "🎉"}))
        .await;
    assert_eq!(a.expect("reaction").await["users"], json!(["bob"]));
    a.send_json(json!({"type": "delete", "seq": seq})).await;
    b.expect("reaction").await;
    assert_eq!(b.expect("message_deleted").await["seq"], seq);

    // Disabled on process 0, thrown out of process 1.
    let status = reqwest::Client::new()
        .post(c.at(0).http("/api/admin"))
        .header("cookie", &root.cookie)
        .json(&json!({"action": "disable_user", "username": "bob", "disabled": true}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    assert_eq!(b.expect("session_ended").await["type"], "session_ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_deployments_with_different_prefixes_share_nothing_on_one_redis() {
    let redis = Redis::start();
    let (one, _one_data) = processes(2, &redis, &[("REDIS_PREFIX", "one")]).await;
    let (two, _two_data) = processes(2, &redis, &[("REDIS_PREFIX", "two")]).await;
    // The same names on both: only the prefix keeps them apart.
    let (alice1, bob1) = (one[0].user("alice").await, one[1].user("bob").await);
    let (alice2, bob2) = (two[0].user("alice").await, two[1].user("bob").await);
    let mut a1 = one[0].join_as(&alice1, "hall").await;
    let mut b1 = one[1].join_as(&bob1, "hall").await;
    let mut a2 = two[0].join_as(&alice2, "hall").await;
    assert_eq!(
        a2.users["users"],
        json!(["alice"]),
        "deployment two sees only its own"
    );
    let mut b2 = two[1].join_as(&bob2, "hall").await;
    assert_eq!(b1.users["users"], json!(["alice", "bob"]));

    // Within a deployment, across its processes: messages and PMs arrive.
    a1.say("one says hi").await;
    assert_eq!(b1.expect("chat_message").await["message"], "one says hi");
    a1.say("/pm bob psst").await;
    assert_eq!(b1.expect("private_message").await["message"], "psst");
    // The other deployment hears none of it: not the message, not the PM,
    // not the joins.
    a2.say("two says hi").await;
    assert_eq!(b2.expect("chat_message").await["message"], "two says hi");
    assert_eq!(b2.history["messages"], json!([]));
    b2.assert_silent().await;
    assert_eq!(a1.expect("chat_message").await["message"], "one says hi");
    a1.expect("private_message_delivered").await;
    // What Alice wrote is read for her.
    assert_eq!(a1.expect("read").await["room"], "@alice+bob");
    a1.assert_silent().await;
    let rooms: serde_json::Value = reqwest::get(two[0].http("/api/rooms"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rooms[0]["online"], 2, "two's own count: {rooms}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rights_taken_on_one_process_count_at_once_on_the_other() {
    let c = cluster(2).await;
    let alice = c.at(0).user("alice").await;
    let storage = c.database.open().await;
    for admin in ["root", "boss"] {
        server::auth::create_admin(&storage, admin, crate::common::PASSWORD)
            .await
            .unwrap();
    }
    let root = c.at(0).login("root").await;
    let boss = c.at(1).login("boss").await;
    let act = |action: serde_json::Value| {
        reqwest::Client::new()
            .post(c.at(0).http("/api/admin"))
            .header("cookie", &root.cookie)
            .json(&action)
            .send()
    };
    let mut a = c.at(1).join_as(&alice, "war-room").await;
    let mut b = c.at(1).join_as(&boss, "war-room").await;
    a.say("plans").await;
    a.expect("chat_message").await;
    b.expect("chat_message").await;

    // Made admin-only on process 0: alice (process 1) is ended, boss stays.
    let made = json!({"action": "set_room_admin_only", "room": "war-room", "admin_only": true});
    assert_eq!(act(made).await.unwrap().status(), 204);
    assert_eq!(a.expect("session_ended").await["type"], "session_ended");
    // Boss demoted on process 0: his socket on process 1 is ended too, as
    // the room is admin-only and he no longer is.
    let demote = json!({"action": "set_admin", "username": "boss", "is_admin": false});
    assert_eq!(act(demote).await.unwrap().status(), 204);
    let ended = b.expect("session_ended").await;
    assert!(
        ended["reason"].as_str().unwrap().contains("admins only"),
        "{ended}"
    );

    // Logging out on process 0 ends the session's socket on process 1.
    let mut elsewhere = c.at(1).join_as(&alice, "hall").await;
    assert_eq!(c.at(0).logout(&alice).await, 204);
    let ended = elsewhere.expect("session_ended").await;
    assert!(ended["reason"].as_str().unwrap().contains("logged out"));
}

/// Posts `n` messages one after another, each waiting (through an outage)
/// for its own echo; an `error` event fails the test.
async fn post_patiently(server: Endpoint, user: crate::common::User, room: &str, n: usize) {
    use tokio_tungstenite::tungstenite::Message;
    let mut client = server.join_as(&user, room).await;
    for i in 0..n {
        // A steady trickle, so that posts are in flight during the outage.
        tokio::time::sleep(Duration::from_millis(60)).await;
        let text = format!("{} #{i}", user.name);
        client.say(&text).await;
        loop {
            let frame = client.next_frame_within(Duration::from_secs(30)).await;
            let Ok(Some(Message::Text(frame))) = frame else {
                panic!("{text}: no echo within 30 s ({frame:?})");
            };
            let event: serde_json::Value = serde_json::from_str(&frame).unwrap();
            assert_ne!(event["type"], "error", "{text}: {event}");
            if event["type"] == "chat_message" && event["message"] == text.as_str() {
                break;
            }
        }
    }
}

/// Three processes over PostgreSQL and Redis; PostgreSQL stops as a crash
/// would (every connection drops) for 6.5 s and comes back while posters on
/// every process keep posting. Posts wait and are stored once the database is
/// back: every reader, live and from storage, has 1..N exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_mid_traffic_loses_and_doubles_nothing() {
    let redis = Redis::start();
    let mut database = Database::postgres().await;
    let mut processes = Vec::new();
    let (name, value) = redis.env();
    for _ in 0..3 {
        processes.push(ServerProcess::start_with(&database.url, "", &[(name, &value)]).await);
    }
    let ends: Vec<Endpoint> = processes.iter().map(|p| **p).collect();
    let reader = ends[0].user("reader").await;
    let mut readers = Vec::new();
    let mut posters = Vec::new();
    for (i, end) in ends.iter().enumerate() {
        readers.push(end.join_as(&reader, "durable").await);
        posters.push(end.user(&format!("poster{i}")).await);
    }
    const EACH: usize = 15;
    let posting = join_all(
        posters
            .into_iter()
            .zip(&ends)
            .map(|(poster, end)| post_patiently(*end, poster, "durable", EACH)),
    );
    let outage = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let crate::common::Backend::Postgres(cluster) = &mut database.backend else {
            unreachable!("a PostgreSQL database")
        };
        cluster.stop();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (_, health) = ends[1].page("/healthz", None).await;
        // Longer than a query waits for a connection (5 s), so the writer's
        // own retries, not just the pool's, carry the posts through.
        tokio::time::sleep(Duration::from_secs(5)).await;
        cluster.restart();
        health
    };
    let (_, health) = tokio::join!(posting, outage);
    assert!(health.starts_with("degraded: database"), "{health}");

    let all = (3 * EACH) as u64;
    for r in &mut readers {
        assert_eq!(seqs_until(r, all).await, (1..=all).collect::<Vec<_>>());
    }
    let (_, stored) = ends[2].rejoin_as(&reader, "durable", 0).await;
    assert_eq!(
        stored,
        (1..=all).collect::<Vec<_>>(),
        "storage has each once"
    );
    let (_, health) = ends[0].page("/healthz", None).await;
    assert_eq!(health, "ok");
    let mut retried = 0;
    for end in &ends {
        let (_, metrics) = end.page("/metrics", None).await;
        assert!(
            metrics.contains("chat_storage_commit_seconds_count"),
            "{metrics}"
        );
        retried += end.metric("chat_storage_retries_total").await;
        assert_eq!(end.metric("chat_storage_failures_total").await, 0);
    }
    assert!(
        retried > 0,
        "posts were in flight while the database was away"
    );
}

/// A Redis Cluster primary (with a replica) killed as a crash would, while
/// people post in three rooms spread over every primary: the rooms on its
/// slots fall back to each process's own people until the replica takes
/// over, the others carry on, and every reader on every process ends with
/// 1..N of every room exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_primary_killed_mid_traffic_loses_nothing() {
    let redis = Redis::Cluster(RedisCluster::start(3, true));
    let (processes, _database) = processes(2, &redis, &[]).await;
    let rooms = redis.rooms(3);
    let Redis::Cluster(mut cluster) = redis else {
        unreachable!()
    };
    let ends: Vec<Endpoint> = processes.iter().map(|p| **p).collect();
    let posters = [ends[0].user("poster0").await, ends[1].user("poster1").await];
    let reader = ends[0].user("reader").await;
    let mut readers = Vec::new();
    for room in &rooms {
        for end in &ends {
            readers.push((room.clone(), end.join_as(&reader, room).await));
        }
    }
    let (ends, posters) = (&ends, &posters);
    let post_round =
        |n: usize| {
            join_all(rooms.iter().flat_map(move |room| {
                (0..2).map(move |i| post_many(&ends[i], &posters[i], room, n))
            }))
        };
    post_round(3).await;

    cluster.kill(cluster.primary_for(&format!("chat:g:room.{}", rooms[0])));
    let (_, health) = tokio::join!(post_round(3), async {
        // Told as soon as a send to the lost node has failed.
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        loop {
            let health = ends[0].page("/healthz", None).await.1;
            if health.starts_with("degraded") || std::time::Instant::now() > deadline {
                return health;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    assert!(health.starts_with("degraded"), "{health}");
    cluster.wait_until_ok(3);
    for end in ends {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while end.page("/healthz", None).await.1 != "ok" {
            assert!(std::time::Instant::now() < deadline, "healthy again");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    post_round(3).await;
    for (room, r) in &mut readers {
        assert_eq!(
            seqs_until(r, 18).await,
            (1..=18).collect::<Vec<_>>(),
            "{room}"
        );
    }
}

/// One Redis or a cluster, never both: a server given both refuses to
/// start and says why, rather than picking one silently.
#[test]
fn both_redis_settings_are_refused_at_start() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .env("LEPTOS_OUTPUT_NAME", "chat")
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("REDIS_URL", "redis://127.0.0.1:1/")
        .env("REDIS_CLUSTER_URLS", "redis://127.0.0.1:2/")
        .output()
        .expect("run the server binary");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("REDIS_URL") && said.contains("REDIS_CLUSTER_URLS"),
        "{said}"
    );
}

/// The lobby on one process follows rooms on another: people, anonymous
/// readers (summed over processes) and posts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_lobby_follows_rooms_on_other_processes() {
    let c = cluster(2).await;
    let alice = c.at(1).user("alice").await;
    let mut lobby = c.at(0).watch_lobby(None).await;
    assert_eq!(lobby.event().await["type"], "rooms");
    let within = Duration::from_secs(1);
    let mut a = c.at(1).join_as(&alice, "hall").await;
    let _near = c.at(0).join("hall").await;
    let _far = c.at(1).join("hall").await;
    lobby
        .line_within(within, "hall", |l| l["online"] == 1 && l["readers"] == 2)
        .await;
    a.say("heard over there").await;
    lobby
        .line_within(within, "hall", |l| l["last_message_at"].is_string())
        .await;
}
