//! The same test bodies against every channel-layer implementation: the
//! in-memory layer, the Redis layer over a real redis-server, and the
//! cluster layer over a real 3-primary Redis Cluster.

use super::*;
use std::time::Duration;

fn group(name: &str) -> GroupName {
    GroupName::new(format!("room.{name}"))
}

fn payload(s: &str) -> Payload {
    Payload::event(s.to_owned())
}

/// Nothing arrives within a short wait.
async fn assert_silent(channel: &mut Channel) {
    let got = tokio::time::timeout(Duration::from_millis(100), channel.receive()).await;
    assert!(got.is_err(), "expected nothing, got {got:?}");
}

async fn receive(channel: &mut Channel) -> Payload {
    tokio::time::timeout(Duration::from_secs(5), channel.receive())
        .await
        .expect("a message should arrive")
        .expect("the channel is open")
}

async fn groups_isolate(layer: &dyn ChannelLayer) {
    let mut a1 = layer.new_channel().await.unwrap();
    let mut a2 = layer.new_channel().await.unwrap();
    let mut b = layer.new_channel().await.unwrap();
    layer.group_add(&group("a"), a1.name()).await.unwrap();
    layer.group_add(&group("a"), a2.name()).await.unwrap();
    layer.group_add(&group("b"), b.name()).await.unwrap();

    layer
        .group_send(&group("a"), payload("hi a"))
        .await
        .unwrap();
    assert_eq!(receive(&mut a1).await, "hi a");
    assert_eq!(receive(&mut a2).await, "hi a");
    assert_silent(&mut b).await;
}

async fn unicode_group_names_work(layer: &dyn ChannelLayer) {
    let mut c = layer.new_channel().await.unwrap();
    layer.group_add(&group("聊天室"), c.name()).await.unwrap();
    layer
        .group_send(&group("聊天室"), payload("你好"))
        .await
        .unwrap();
    assert_eq!(receive(&mut c).await, "你好");
}

async fn seq_travels_with_the_payload(layer: &dyn ChannelLayer) {
    let mut c = layer.new_channel().await.unwrap();
    layer.group_add(&group("log"), c.name()).await.unwrap();
    layer
        .group_send(&group("log"), Payload::logged(42, r#"{"seq":42}"#))
        .await
        .unwrap();
    let got = receive(&mut c).await;
    assert_eq!(got.seq(), Some(42));
    assert_eq!(got, r#"{"seq":42}"#);
}

async fn discard_removes_from_that_group_only(layer: &dyn ChannelLayer) {
    let mut c = layer.new_channel().await.unwrap();
    layer.group_add(&group("a"), c.name()).await.unwrap();
    layer.group_add(&group("b"), c.name()).await.unwrap();
    layer.group_discard(&group("a"), c.name()).await.unwrap();

    layer
        .group_send(&group("a"), payload("to a"))
        .await
        .unwrap();
    assert_silent(&mut c).await;
    layer
        .group_send(&group("b"), payload("to b"))
        .await
        .unwrap();
    assert_eq!(receive(&mut c).await, "to b");
}

async fn send_addresses_one_channel(layer: &dyn ChannelLayer) {
    let mut one = layer.new_channel().await.unwrap();
    let mut other = layer.new_channel().await.unwrap();
    layer.send(one.name(), payload("just you")).await.unwrap();
    assert_eq!(receive(&mut one).await, "just you");
    assert_silent(&mut other).await;
}

async fn a_full_member_is_dropped_counted_and_told(layer: &dyn ChannelLayer) {
    // The layer was made with a queue of 2 per channel.
    let mut slow = layer.new_channel().await.unwrap();
    let mut quick = layer.new_channel().await.unwrap();
    layer.group_add(&group("a"), slow.name()).await.unwrap();
    layer.group_add(&group("a"), quick.name()).await.unwrap();
    for i in 0..3 {
        layer
            .group_send(&group("a"), payload(&i.to_string()))
            .await
            .unwrap();
        assert_eq!(receive(&mut quick).await, i.to_string().as_str());
    }
    // `slow` read nothing: the third message found its queue full.
    assert_eq!(layer.lagging_total(), 1);
    // Told at once, not after draining its queue; nothing was skipped silently.
    assert_eq!(slow.receive().await, Err(ChannelClosed::Lagging));
    // Out of the group: the others carry on.
    layer.group_send(&group("a"), payload("3")).await.unwrap();
    assert_eq!(receive(&mut quick).await, "3");
    assert_eq!(layer.lagging_total(), 1);
}

async fn closed_channels_leave_their_groups(layer: &dyn ChannelLayer) {
    let gone = layer.new_channel().await.unwrap();
    let mut stays = layer.new_channel().await.unwrap();
    layer.group_add(&group("a"), gone.name()).await.unwrap();
    layer.group_add(&group("a"), stays.name()).await.unwrap();
    layer.close_channel(gone.name()).await;
    assert!(layer.group_add(&group("a"), gone.name()).await.is_err());
    layer.group_send(&group("a"), payload("x")).await.unwrap();
    assert_eq!(receive(&mut stays).await, "x");
    drop(gone);
    assert_eq!(layer.lagging_total(), 0);
}

async fn send_all_delivers_each_to_its_group_in_order(layer: &dyn ChannelLayer) {
    let mut a = layer.new_channel().await.unwrap();
    let mut b = layer.new_channel().await.unwrap();
    layer.group_add(&group("a"), a.name()).await.unwrap();
    layer.group_add(&group("b"), b.name()).await.unwrap();
    let sends = vec![
        (group("a"), Payload::logged(1, "a1")),
        (group("b"), Payload::logged(1, "b1")),
        (group("a"), Payload::logged(2, "a2")),
        (group("b"), Payload::logged(2, "b2")),
    ];
    layer.group_send_all(sends).await.unwrap();
    assert_eq!(receive(&mut a).await, Payload::logged(1, "a1"));
    assert_eq!(receive(&mut a).await, Payload::logged(2, "a2"));
    assert_eq!(receive(&mut b).await, Payload::logged(1, "b1"));
    assert_eq!(receive(&mut b).await, Payload::logged(2, "b2"));
    assert_silent(&mut a).await;
}

macro_rules! layer_tests {
    ($module:ident, $make:expr) => {
        mod $module {
            use super::*;

            layer_tests!(@each $make,
                groups_isolate,
                unicode_group_names_work,
                seq_travels_with_the_payload,
                discard_removes_from_that_group_only,
                send_addresses_one_channel,
                a_full_member_is_dropped_counted_and_told,
                closed_channels_leave_their_groups,
                send_all_delivers_each_to_its_group_in_order);
        }
    };
    (@each $make:expr, $($body:ident),*) => {
        $(
            #[tokio::test]
            async fn $body() {
                let (layer, _backend) = $make.await;
                super::$body(&*layer).await;
            }
        )*
    };
}

async fn memory() -> (Box<dyn ChannelLayer>, ()) {
    (Box::new(MemoryLayer::new(2)), ())
}

async fn redis() -> (Box<dyn ChannelLayer>, crate::testing::RedisServer) {
    let server = crate::testing::RedisServer::start();
    let layer = RedisLayer::connect(&server.url(), "chat", 2).await.unwrap();
    (Box::new(layer), server)
}

async fn redis_cluster() -> (Box<dyn ChannelLayer>, crate::testing::RedisCluster) {
    let cluster = crate::testing::RedisCluster::start(3, false);
    let layer = ClusterLayer::connect(&cluster.urls(), "chat", 2)
        .await
        .unwrap();
    (Box::new(layer), cluster)
}

layer_tests!(in_memory, memory());
layer_tests!(over_redis, redis());
layer_tests!(over_redis_cluster, redis_cluster());

/// Two layers on one Redis are two processes: groups span them, and a
/// channel on one can be addressed from the other.
#[tokio::test]
async fn redis_groups_span_processes() {
    let server = crate::testing::RedisServer::start();
    let one = RedisLayer::connect(&server.url(), "chat", 8).await.unwrap();
    let two = RedisLayer::connect(&server.url(), "chat", 8).await.unwrap();
    let mut here = one.new_channel().await.unwrap();
    let mut there = two.new_channel().await.unwrap();
    one.group_add(&group("shared"), here.name()).await.unwrap();
    two.group_add(&group("shared"), there.name()).await.unwrap();

    let d = one
        .group_send(&group("shared"), payload("both"))
        .await
        .unwrap();
    assert_eq!(d.delivered, 2, "published once, received by both processes");
    assert_eq!(receive(&mut here).await, "both");
    assert_eq!(receive(&mut there).await, "both");

    one.send(there.name(), payload("direct")).await.unwrap();
    assert_eq!(receive(&mut there).await, "direct");
    assert_silent(&mut here).await;

    // The last local member leaving unsubscribes that process only.
    two.group_discard(&group("shared"), there.name())
        .await
        .unwrap();
    let d = one
        .group_send(&group("shared"), payload("one only"))
        .await
        .unwrap();
    assert_eq!(d.delivered, 1);
    assert_eq!(receive(&mut here).await, "one only");
}

/// Losing Redis degrades to local delivery; traffic across processes flows
/// again once it is back.
#[tokio::test]
async fn redis_loss_degrades_then_recovers() {
    let mut server = crate::testing::RedisServer::start();
    let one = RedisLayer::connect(&server.url(), "chat", 64)
        .await
        .unwrap();
    let two = RedisLayer::connect(&server.url(), "chat", 64)
        .await
        .unwrap();
    let mut here = one.new_channel().await.unwrap();
    let mut there = two.new_channel().await.unwrap();
    one.group_add(&group("r"), here.name()).await.unwrap();
    two.group_add(&group("r"), there.name()).await.unwrap();
    assert_eq!(one.degraded(), None);

    server.stop();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while one.degraded().is_none() {
        assert!(tokio::time::Instant::now() < deadline, "loss noticed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Local members still hear each other.
    one.group_send(&group("r"), payload("local")).await.unwrap();
    assert_eq!(receive(&mut here).await, "local");
    assert_silent(&mut there).await;

    server.restart();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while one.degraded().is_some() || two.degraded().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "back within 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Both resubscribed: a message crosses again.
    let mut crossed = false;
    for _ in 0..50 {
        one.group_send(&group("r"), payload("again")).await.unwrap();
        assert_eq!(receive(&mut here).await, "again");
        if let Ok(Ok(p)) = tokio::time::timeout(Duration::from_millis(50), there.receive()).await {
            assert_eq!(p, "again");
            crossed = true;
            break;
        }
    }
    assert!(crossed, "group traffic flows again after redis returns");
}

/// Two cluster layers are two processes: groups on every primary span
/// them, a channel on one is addressed from the other, and a batch spread
/// over all the slots arrives in order.
#[tokio::test]
async fn cluster_groups_on_every_primary_span_processes() {
    let cluster = crate::testing::RedisCluster::start(3, false);
    let one = ClusterLayer::connect(&cluster.urls(), "chat", 64)
        .await
        .unwrap();
    let two = ClusterLayer::connect(&cluster.urls(), "chat", 64)
        .await
        .unwrap();
    let groups = groups_on_every_primary(&cluster, 3);
    let mut here = one.new_channel().await.unwrap();
    let mut there = two.new_channel().await.unwrap();
    for g in &groups {
        one.group_add(g, here.name()).await.unwrap();
        two.group_add(g, there.name()).await.unwrap();
    }
    let mut sends = Vec::new();
    for seq in 1..=5 {
        for g in &groups {
            sends.push((g.clone(), Payload::logged(seq, format!("{g} {seq}"))));
        }
    }
    one.group_send_all(sends.clone()).await.unwrap();
    for channel in [&mut here, &mut there] {
        let mut got = Vec::new();
        for _ in 0..sends.len() {
            got.push(receive(channel).await);
        }
        for g in &groups {
            let mine: Vec<u64> = got
                .iter()
                .filter(|p| p.text().as_str().starts_with(&format!("{g} ")))
                .filter_map(Payload::seq)
                .collect();
            assert_eq!(mine, [1, 2, 3, 4, 5], "{g}, in order, once");
        }
    }
    one.send(there.name(), payload("direct")).await.unwrap();
    assert_eq!(receive(&mut there).await, "direct");
    assert_silent(&mut here).await;

    // The last local member leaving unsubscribes that process only.
    two.group_discard(&groups[0], there.name()).await.unwrap();
    let d = one
        .group_send(&groups[0], payload("one only"))
        .await
        .unwrap();
    assert_eq!(d.delivered, 1);
    assert_eq!(receive(&mut here).await, "one only");
}

/// `n` group names per primary of `cluster` (by their topic's slot).
fn groups_on_every_primary(cluster: &crate::testing::RedisCluster, n: usize) -> Vec<GroupName> {
    let primaries = cluster.primaries();
    let mut per_node: std::collections::HashMap<u16, usize> = Default::default();
    let mut picked = Vec::new();
    for i in 0.. {
        let g = group(&format!("spread{i}"));
        let node = cluster.primary_for(&format!("chat:g:{g}"));
        let taken = per_node.entry(node).or_default();
        if *taken < n {
            *taken += 1;
            picked.push(g);
        }
        if per_node.len() == primaries.len() && per_node.values().all(|k| *k == n) {
            return picked;
        }
    }
    unreachable!()
}

/// A primary killed: only its groups fall back to local delivery, the
/// others still cross; once its replica takes over, its groups cross again.
#[tokio::test]
async fn a_killed_cluster_primary_degrades_only_its_groups_until_failover() {
    let mut cluster = crate::testing::RedisCluster::start(3, true);
    let one = ClusterLayer::connect(&cluster.urls(), "chat", 256)
        .await
        .unwrap();
    let two = ClusterLayer::connect(&cluster.urls(), "chat", 256)
        .await
        .unwrap();
    let groups = groups_on_every_primary(&cluster, 1);
    let mut here = one.new_channel().await.unwrap();
    let mut there = two.new_channel().await.unwrap();
    for g in &groups {
        one.group_add(g, here.name()).await.unwrap();
        two.group_add(g, there.name()).await.unwrap();
    }
    let (doomed, spared) = (&groups[0], &groups[1]);
    cluster.kill(cluster.primary_for(&format!("chat:g:{doomed}")));

    // The doomed group's sends fail over to local members at once ...
    one.group_send(doomed, payload("local")).await.unwrap();
    assert_eq!(receive(&mut here).await, "local");
    assert!(one.degraded().is_some());
    // ... while another primary's group still crosses.
    one.group_send(spared, payload("spared")).await.unwrap();
    assert_eq!(receive(&mut here).await, "spared");
    assert_eq!(receive(&mut there).await, "spared");

    cluster.wait_until_ok(3);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "crosses again after the failover"
        );
        one.group_send(doomed, payload("again")).await.unwrap();
        // Each side hears it once its subscription has moved to the new primary.
        let wait = Duration::from_millis(100);
        let a = tokio::time::timeout(wait, here.receive()).await;
        let b = tokio::time::timeout(wait, there.receive()).await;
        if let (Ok(Ok(a)), Ok(Ok(b))) = (a, b) {
            assert_eq!((a, b), (payload("again"), payload("again")));
            break;
        }
    }
}

/// A group joined while Redis is away is subscribed once it is back: its
/// traffic from the other process arrives.
#[tokio::test]
async fn a_group_joined_while_redis_is_away_crosses_once_it_is_back() {
    let mut server = crate::testing::RedisServer::start();
    let one = RedisLayer::connect(&server.url(), "chat", 64)
        .await
        .unwrap();
    let two = RedisLayer::connect(&server.url(), "chat", 64)
        .await
        .unwrap();
    server.stop();
    let mut here = one.new_channel().await.unwrap();
    one.group_add(&group("late"), here.name()).await.unwrap();
    server.restart();
    let there = two.new_channel().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "crosses within 10 s"
        );
        if one.degraded().is_none() && two.degraded().is_none() {
            two.group_add(&group("late"), there.name()).await.unwrap();
            two.group_send(&group("late"), payload("found you"))
                .await
                .unwrap();
            if let Ok(Ok(p)) =
                tokio::time::timeout(Duration::from_millis(100), here.receive()).await
            {
                assert_eq!(p, "found you");
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
