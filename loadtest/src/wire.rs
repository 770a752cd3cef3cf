//! The two wire formats the chat scenarios speak: ours (`/ws/chat/{room}/`,
//! a session cookie, bare JSON frames) and Socket.IO 4 over Engine.IO 4's
//! WebSocket transport (`/socket.io/`, the room and user in the connect
//! packet's auth, `42[event, data]` frames), so that `bench/socketio` is
//! measured with the same clients, clock and counting as everyone else.
//! Only framing lives here; nothing about timing or counting.

use std::fmt::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    Ours,
    /// Ours, each post with a `client_id` (the web page's outbox sends
    /// them), so the server's id check and acks are measured too.
    OursWithIds,
    SocketIo,
}

/// Numbers the posts of a run with ids: unique per sender (and beyond).
static POSTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Wire {
    /// `--protocol chat` (the default), `chat-ids` or `socketio`.
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "chat" => Ok(Self::Ours),
            "chat-ids" => Ok(Self::OursWithIds),
            "socketio" => Ok(Self::SocketIo),
            other => Err(format!(
                "--protocol: {other:?} is not chat, chat-ids or socketio"
            )),
        }
    }

    /// Whether this is our own protocol (either way of posting).
    pub fn is_ours(self) -> bool {
        self != Self::SocketIo
    }

    /// Where a member of `room` connects, from `ws://host:port`.
    pub fn url(self, ws_base: &str, room: &str) -> String {
        match self {
            Self::Ours | Self::OursWithIds => format!("{ws_base}/ws/chat/{room}/"),
            Self::SocketIo => format!("{ws_base}/socket.io/?EIO=4&transport=websocket"),
        }
    }

    /// The first frame a client sends once the socket is open, if any:
    /// Socket.IO's namespace connect, naming the room and the user.
    pub fn hello(self, room: &str, user: &str) -> Option<String> {
        (self == Self::SocketIo).then(|| format!(r#"40{{"room":"{room}","user":"{user}"}}"#))
    }

    /// Whether `frame` is the one that ends the join (the user list), after
    /// which messages reach the client live.
    pub fn joined(self, frame: &str) -> bool {
        match self {
            Self::Ours | Self::OursWithIds => frame.contains(r#""type":"user_list""#),
            Self::SocketIo => frame.starts_with(r#"42["user_list""#),
        }
    }

    /// Whether `frame` is an Engine.IO ping, to be answered with [`PONG`].
    pub fn is_ping(self, frame: &str) -> bool {
        self == Self::SocketIo && frame == "2"
    }

    /// Writes a post carrying its send time into `out` (cleared first).
    pub fn post(self, out: &mut String, sent_at_micros: u128) {
        out.clear();
        let _ = match self {
            Self::Ours => write!(out, r#"{{"message":"t:{sent_at_micros}|load"}}"#),
            Self::OursWithIds => {
                let n = POSTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                write!(
                    out,
                    r#"{{"message":"t:{sent_at_micros}|load","client_id":"l{n}"}}"#
                )
            }
            Self::SocketIo => write!(
                out,
                r#"42["chat_message",{{"message":"t:{sent_at_micros}|load"}}]"#
            ),
        };
    }
}

/// Engine.IO's answer to a ping.
pub const PONG: &str = "3";

#[cfg(test)]
mod tests {
    use super::Wire;

    #[test]
    fn socketio_frames_are_engineio_packets() {
        let w = Wire::SocketIo;
        assert_eq!(
            w.hello("r1", "u1").as_deref(),
            Some(r#"40{"room":"r1","user":"u1"}"#)
        );
        let mut post = String::new();
        w.post(&mut post, 42);
        assert_eq!(post, r#"42["chat_message",{"message":"t:42|load"}]"#);
        assert!(w.joined(r#"42["user_list",{"users":["u1"]}]"#));
        assert!(!w.joined(r#"40{"sid":"x"}"#));
        assert!(w.is_ping("2") && !Wire::Ours.is_ping("2"));
    }

    #[test]
    fn ours_is_bare_json() {
        let mut post = String::new();
        Wire::Ours.post(&mut post, 7);
        assert_eq!(post, r#"{"message":"t:7|load"}"#);
        assert_eq!(Wire::Ours.hello("r", "u"), None);
        assert!(Wire::Ours.joined(r#"{"type":"user_list","users":[]}"#));
    }

    #[test]
    fn with_ids_each_post_has_its_own() {
        let (mut a, mut b) = (String::new(), String::new());
        Wire::OursWithIds.post(&mut a, 7);
        Wire::OursWithIds.post(&mut b, 7);
        assert!(
            a.starts_with(r#"{"message":"t:7|load","client_id":"l"#),
            "{a}"
        );
        assert_ne!(a, b);
        assert_eq!(Wire::parse("chat-ids").ok(), Some(Wire::OursWithIds));
    }
}
