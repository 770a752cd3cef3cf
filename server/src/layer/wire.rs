//! What the Redis layer puts on the wire, whichever its backend (one
//! server, [`super::RedisLayer`], or a cluster, [`super::ClusterLayer`]):
//! topic names, the message encoding, and routing what arrives to local
//! members.
//!
//! A group's topic is `<prefix>:g:<group>`; a process's own topic (for
//! `send`s to one of its channels) is `<prefix>:p:<process>`. A message is
//! `<seq> <json>` (seq 0 when the event is not part of a room's log); on a
//! process topic, prefixed with `<channel name>\n`.
//!
//! TRANSPORT only: must never import the chat.

use super::{ChannelName, GroupName, Payload, registry::Registry};
use axum::extract::ws::Utf8Bytes;

/// Topic names and the local members they lead to.
pub(crate) struct Router {
    /// Topic names start with this, so several deployments can share a Redis.
    namespace: String,
    /// `<namespace>:g:`, the start of every group topic (built once: it is
    /// checked for every message that arrives).
    group_prefix: String,
    /// This process's id; its channel names start with it.
    pub(crate) process: String,
    pub(crate) registry: Registry,
}

impl Router {
    pub(crate) fn new(namespace: &str, capacity: usize) -> Self {
        let process = format!("p{:016x}", uuid::Uuid::new_v4().as_u64_pair().0);
        Self {
            namespace: namespace.to_owned(),
            group_prefix: format!("{namespace}:g:"),
            registry: Registry::new(process.clone(), capacity),
            process,
        }
    }

    pub(crate) fn group_topic(&self, group: &GroupName) -> String {
        format!("{}{}", self.group_prefix, group.as_str())
    }

    /// The topic of the process that owns `channel`.
    pub(crate) fn owner_topic(&self, channel: &ChannelName) -> String {
        let process = channel.as_str().split('!').next().unwrap_or_default();
        self.process_topic(process)
    }

    pub(crate) fn own_topic(&self) -> String {
        self.process_topic(&self.process)
    }

    fn process_topic(&self, process: &str) -> String {
        format!("{}:p:{process}", self.namespace)
    }

    /// Routes one published message to local members.
    pub(crate) fn dispatch(&self, topic: &[u8], body: &[u8]) {
        let Ok(topic) = std::str::from_utf8(topic) else {
            return;
        };
        if let Some(group) = topic.strip_prefix(self.group_prefix.as_str()) {
            if let Some(payload) = decode(body) {
                self.registry.group_send(&GroupName(group.into()), payload);
            }
        } else if let Some(at) = body.iter().position(|b| *b == b'\n') {
            let (name, rest) = body.split_at(at);
            if let (Ok(name), Some(payload)) = (std::str::from_utf8(name), decode(&rest[1..])) {
                self.registry
                    .send(&ChannelName::new(name.to_owned()), payload);
            }
        }
    }
}

pub(crate) fn encode(payload: &Payload) -> Vec<u8> {
    let text = payload.text().as_bytes();
    let mut out = Vec::with_capacity(text.len() + 21);
    out.extend_from_slice(payload.seq().unwrap_or(0).to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(text);
    out
}

/// A message to one channel, for its owner's topic.
pub(crate) fn encode_direct(to: &ChannelName, payload: &Payload) -> Vec<u8> {
    let mut body = to.as_str().as_bytes().to_vec();
    body.push(b'\n');
    body.extend_from_slice(&encode(payload));
    body
}

/// Decodes `<seq> <json>` once per process; members share the result.
fn decode(body: &[u8]) -> Option<Payload> {
    let space = body.iter().position(|b| *b == b' ')?;
    let seq: u64 = std::str::from_utf8(&body[..space]).ok()?.parse().ok()?;
    let text = Utf8Bytes::try_from(bytes::Bytes::copy_from_slice(&body[space + 1..])).ok()?;
    Some(if seq == 0 {
        Payload::event(text)
    } else {
        Payload::logged(seq, text)
    })
}
