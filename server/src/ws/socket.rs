//! The sending half of a WebSocket, so the consumer talks in events and
//! batches rather than `Message`s: one event at a time while greeting, then
//! batches of already-encoded frames written with a single flush. Every
//! write gives up after `WRITE_TIMEOUT_SECS`: a client that stops reading
//! cannot hold the consumer (or what it would send) forever.
//! Must never import storage or the layer.

use app::protocol::ServerEvent;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::SinkExt;
use std::{pin::pin, task::Poll, time::Duration};

/// Most frames put into one socket write.
pub(super) const WRITE_BATCH: usize = 64;

/// How long a close frame may take to go out before we just drop the socket.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Both halves of the socket in one: the consumer reads and writes from
/// one task and never at the same time, so it is not split (a split socket
/// takes a lock for every read and write: measured 1.5 % of the server's
/// CPU with 100 busy sockets). Boxed: an idle connection's task stays small.
pub(super) struct Socket {
    ws: Box<WebSocket>,
    /// Frames waiting for the next [`Socket::write_batch`].
    queued: Vec<Utf8Bytes>,
    write_timeout: Duration,
}

impl Socket {
    pub(super) fn new(ws: Box<WebSocket>, write_timeout: Duration) -> Self {
        Self {
            ws,
            // Grown on first use: an idle socket should not hold 2 KiB of
            // empty slots (64 frames × 32 bytes).
            queued: Vec::new(),
            write_timeout,
        }
    }

    /// The client's next frame; `None` once it is gone. Safe to drop
    /// unfinished (a `select!` branch): nothing read is lost.
    pub(super) async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        self.ws.recv().await
    }

    /// Sends one event at once.
    pub(super) async fn send_event(&mut self, event: &ServerEvent) -> Result<(), axum::Error> {
        let frame = Message::Text(event.to_json().into());
        in_time(self.write_timeout, self.ws.send(frame)).await
    }

    /// Asks the client for a pong (any frame back shows it is there).
    pub(super) async fn ping(&mut self) -> Result<(), axum::Error> {
        let ping = Message::Ping(Default::default());
        in_time(self.write_timeout, self.ws.send(ping)).await
    }

    /// Queues frames for the next batch.
    pub(super) fn queue(&mut self, frames: impl IntoIterator<Item = Utf8Bytes>) {
        self.queued.extend(frames);
    }

    /// Whether the next batch may take more frames.
    pub(super) fn has_room(&self) -> bool {
        self.queued.len() < WRITE_BATCH
    }

    pub(super) fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Writes the queued frames and flushes once: tungstenite buffers each
    /// frame, so the socket sees one write for the lot.
    pub(super) async fn write_batch(&mut self) -> Result<(), axum::Error> {
        let timeout = self.write_timeout;
        let (ws, queued) = (&mut self.ws, &mut self.queued);
        let write = async move {
            for text in queued.drain(..) {
                ws.feed(Message::Text(text)).await?;
            }
            ws.flush().await
        };
        in_time(timeout, write).await
    }

    /// Answers the client's Close frame, as RFC 6455 §5.5.1 requires (a
    /// polite client otherwise sees 1006, "abnormal closure"): tungstenite
    /// queued the reply, echoing the client's code, when it read the frame;
    /// a flush sends it. Waits at most [`CLOSE_TIMEOUT`].
    pub(super) async fn answer_close(&mut self) {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.ws.flush()).await;
    }

    /// Says goodbye with a close code, waiting at most [`CLOSE_TIMEOUT`].
    pub(super) async fn close(&mut self, code: u16, reason: &'static str) {
        let frame = Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }));
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.ws.send(frame)).await;
    }
}

/// Runs one write, or fails once it has waited `timeout`. Most writes
/// finish at once (the kernel takes the bytes), so the timer is made only
/// for one that has to wait: making one per write cost 1.5 % of the
/// server's CPU with 100 busy sockets (a runtime-handle lookup each).
async fn in_time(
    timeout: Duration,
    write: impl Future<Output = Result<(), axum::Error>>,
) -> Result<(), axum::Error> {
    let mut write = pin!(write);
    if let Poll::Ready(done) = futures::poll!(write.as_mut()) {
        return done;
    }
    tokio::time::timeout(timeout, write)
        .await
        .unwrap_or_else(|elapsed| Err(axum::Error::new(elapsed)))
}

/// Closes a socket the consumer never started on (no channel, no group).
pub(super) async fn refuse(socket: Box<WebSocket>, code: u16, reason: &'static str) {
    Socket::new(socket, CLOSE_TIMEOUT).close(code, reason).await;
}

/// How to close after a read failed on what the client sent, as RFC 6455
/// §7.4.1 names it: a frame over the limit (1009), a broken frame or
/// closing handshake (1002: a one-byte Close, a reserved opcode), text
/// that is not UTF-8 (1007). `None`: the connection itself failed, and
/// there is nobody to tell.
pub(super) fn refusal_of(e: &axum::Error) -> Option<(u16, &'static str)> {
    use super::close_code::{INVALID_DATA, PROTOCOL, TOO_BIG};
    use std::error::Error;
    match e
        .source()
        .and_then(|e| e.downcast_ref::<tungstenite::Error>())?
    {
        tungstenite::Error::Capacity(_) => Some((TOO_BIG, "frames are limited to 64 KiB")),
        tungstenite::Error::Protocol(_) => Some((PROTOCOL, "protocol error")),
        tungstenite::Error::Utf8(_) => Some((INVALID_DATA, "text must be UTF-8")),
        _ => None,
    }
}
