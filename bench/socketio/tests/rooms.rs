//! The peer must deliver what ours and the reference deliver, or the bench
//! compares unlike things: a post reaches everyone in its room, the sender
//! included, with the fields of our `chat_message`, and no one elsewhere.
//! Starts the real binary on a free port and speaks Socket.IO 4 to it as
//! the load tool does (`loadtest/src/wire.rs`).

use futures::{SinkExt, StreamExt};
use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};
use tokio::time::timeout;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

struct Peer(Child, u16);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start() -> Peer {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_socketio-peer"))
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .spawn()
        .expect("the peer starts");
    // Owned from here, so that a failure below still stops it.
    let peer = Peer(child, port);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return peer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the peer never listened on {port}");
}

/// The next text frame but Engine.IO's pings (socketioxide sends one as
/// soon as a socket opens), which are answered.
async fn next_text(socket: &mut Socket) -> String {
    loop {
        let frame = timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a frame within 5 s")
            .expect("the socket open")
            .expect("a good frame");
        let text = frame.into_text().expect("a text frame").to_string();
        if text != "2" {
            return text;
        }
        socket.send(Message::text("3")).await.expect("pongs");
    }
}

/// Connects to the namespace as `user` in `room` and waits for the user list.
async fn join(peer: &Peer, room: &str, user: &str) -> Socket {
    let url = format!(
        "ws://127.0.0.1:{}/socket.io/?EIO=4&transport=websocket",
        peer.1
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connects");
    assert!(
        next_text(&mut socket).await.starts_with("0{"),
        "Engine.IO open"
    );
    let hello = format!(r#"40{{"room":"{room}","user":"{user}"}}"#);
    socket.send(Message::text(hello)).await.expect("sends");
    let mut frames = vec![next_text(&mut socket).await, next_text(&mut socket).await];
    frames.sort();
    assert!(frames[0].starts_with(r#"40{"sid":"#), "{frames:?}");
    assert_eq!(
        frames[1],
        format!(r#"42["user_list",{{"users":["{user}"]}}]"#)
    );
    socket
}

#[tokio::test]
async fn a_post_reaches_its_room_and_no_other() {
    let peer = start().await;
    let mut alice = join(&peer, "r1", "alice").await;
    let mut bob = join(&peer, "r1", "bob").await;
    let mut carol = join(&peer, "r2", "carol").await;
    let post = r#"42["chat_message",{"message":"t:1|hi"}]"#;
    alice.send(Message::text(post)).await.expect("sends");
    for socket in [&mut alice, &mut bob] {
        let got = next_text(socket).await;
        for part in [
            r#"42["chat_message",{"room":"r1","seq":1,"#,
            r#""user":"alice","message":"t:1|hi","ts":"#,
        ] {
            assert!(got.contains(part), "{got} lacks {part}");
        }
    }
    let elsewhere = timeout(Duration::from_millis(300), next_text(&mut carol)).await;
    assert!(elsewhere.is_err(), "carol, in r2, got {elsewhere:?}");
}
