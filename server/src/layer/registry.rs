//! Local membership and delivery: the channels of this process, the groups
//! they are in, and fan-out into their bounded queues. The in-memory layer is
//! this and nothing else; a networked layer uses it for its local members.

use super::{
    Channel, ChannelName, Delivery, GroupName, Payload,
    queue::{QueueTx, queue},
};
use std::collections::{HashMap, HashSet};
use std::sync::{
    Mutex,
    atomic::{AtomicU64, Ordering},
};
use tokio::sync::{mpsc::error::TrySendError, watch};

pub(crate) struct Registry {
    prefix: String,
    capacity: usize,
    next_id: AtomicU64,
    lagging_total: AtomicU64,
    // Held only for non-blocking work (try_send), never across an await.
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    channels: HashMap<ChannelName, Member>,
    /// Each group's members with their queues, so a group send goes
    /// straight to the queues (looking each member up by name in
    /// `channels` hashed every name: 1 % of the CPU of a busy room).
    groups: HashMap<GroupName, HashMap<ChannelName, QueueTx>>,
}

struct Member {
    queue: QueueTx,
    lagging: watch::Sender<bool>,
    groups: HashSet<GroupName>,
}

/// Outcome of offering a payload to one member.
enum Offer {
    Queued,
    Full,
    Gone,
}

/// Offers a payload to one member's queue without waiting.
fn offer(queue: &QueueTx, payload: Payload) -> Offer {
    match queue.try_send(payload) {
        Ok(()) => Offer::Queued,
        Err(TrySendError::Full(_)) => Offer::Full,
        Err(TrySendError::Closed(_)) => Offer::Gone,
    }
}

impl Registry {
    /// `prefix` makes channel names unique to this layer instance.
    pub(crate) fn new(prefix: impl Into<String>, capacity: usize) -> Self {
        Self {
            prefix: prefix.into(),
            capacity: capacity.max(1),
            next_id: AtomicU64::new(1),
            lagging_total: AtomicU64::new(0),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated
        // in a way that matters more than stopping the whole server would.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn new_channel(&self) -> Channel {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let name = ChannelName::new(format!("{}!{id}", self.prefix));
        let (queue, rx) = queue(self.capacity);
        let (lagging, lagging_rx) = watch::channel(false);
        self.lock().channels.insert(
            name.clone(),
            Member {
                queue,
                lagging,
                groups: HashSet::new(),
            },
        );
        Channel {
            name,
            queue: rx,
            lagging: lagging_rx,
        }
    }

    /// Returns false if the channel is unknown (already closed).
    pub(crate) fn group_add(&self, group: &GroupName, channel: &ChannelName) -> bool {
        let mut inner = self.lock();
        let Some(member) = inner.channels.get_mut(channel) else {
            return false;
        };
        member.groups.insert(group.clone());
        let queue = member.queue.clone();
        inner
            .groups
            .entry(group.clone())
            .or_default()
            .insert(channel.clone(), queue);
        true
    }

    pub(crate) fn group_discard(&self, group: &GroupName, channel: &ChannelName) {
        let mut inner = self.lock();
        if let Some(member) = inner.channels.get_mut(channel) {
            member.groups.remove(group);
        }
        inner.leave(group, channel);
    }

    pub(crate) fn send(&self, to: &ChannelName, payload: Payload) -> Delivery {
        let mut inner = self.lock();
        let offer = match inner.channels.get(to) {
            Some(member) => offer(&member.queue, payload),
            None => Offer::Gone,
        };
        let mut delivery = Delivery::default();
        match offer {
            Offer::Queued => delivery.delivered = 1,
            Offer::Full => {
                self.drop_lagging(&mut inner, to);
                delivery.lagging.push(to.clone());
            }
            Offer::Gone => {
                inner.remove(to);
            }
        }
        delivery
    }

    pub(crate) fn group_send(&self, group: &GroupName, payload: Payload) -> Delivery {
        let mut inner = self.lock();
        let mut delivery = Delivery::default();
        let mut gone = Vec::new();
        if let Some(members) = inner.groups.get(group) {
            for (name, queue) in members {
                match offer(queue, payload.clone()) {
                    Offer::Queued => delivery.delivered += 1,
                    Offer::Full => delivery.lagging.push(name.clone()),
                    Offer::Gone => gone.push(name.clone()),
                }
            }
        }
        for name in &delivery.lagging {
            self.drop_lagging(&mut inner, name);
        }
        for name in &gone {
            inner.remove(name);
        }
        delivery
    }

    pub(crate) fn close_channel(&self, channel: &ChannelName) -> Vec<GroupName> {
        self.lock()
            .remove(channel)
            .map(|m| m.groups.into_iter().collect())
            .unwrap_or_default()
    }

    /// Whether any local channel is in the group.
    pub(crate) fn has_members(&self, group: &GroupName) -> bool {
        self.lock().groups.contains_key(group)
    }

    /// Whether the channel lives in this registry.
    pub(crate) fn owns(&self, channel: &ChannelName) -> bool {
        channel
            .as_str()
            .strip_prefix(self.prefix.as_str())
            .is_some_and(|rest| rest.starts_with('!'))
    }

    pub(crate) fn lagging_total(&self) -> u64 {
        self.lagging_total.load(Ordering::Relaxed)
    }

    fn drop_lagging(&self, inner: &mut Inner, name: &ChannelName) {
        if let Some(member) = inner.remove(name) {
            let _ = member.lagging.send(true);
            self.lagging_total.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(channel = %name, "dropping a member whose queue is full (lagging)");
        }
    }
}

impl Inner {
    fn leave(&mut self, group: &GroupName, channel: &ChannelName) {
        if let Some(members) = self.groups.get_mut(group) {
            members.remove(channel);
            if members.is_empty() {
                self.groups.remove(group);
            }
        }
    }

    fn remove(&mut self, channel: &ChannelName) -> Option<Member> {
        let member = self.channels.remove(channel)?;
        // A crowd that left would otherwise keep its table for good
        // (10,000 sockets: 1.3 MB, heaptrack); shrinking at a quarter full
        // keeps the cost amortised.
        if self.channels.capacity() > 4 * self.channels.len() + 64 {
            self.channels.shrink_to(2 * self.channels.len());
        }
        for group in &member.groups {
            self.leave(group, channel);
        }
        Some(member)
    }
}
