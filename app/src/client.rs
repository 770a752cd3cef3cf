//! The browser end of a room's WebSocket: opens `/ws/chat/<room>/` (or a
//! direct conversation's `/ws/dm/<peer>/`), hands
//! every decoded [`ServerEvent`] to the page, and reconnects by itself with
//! jittered backoff (1 s, growing to 5 s) whenever the socket drops, or
//! has not opened within 3 s.
//!
//! Browser-only (features `hydrate`/`csr`): the server never links it.

use crate::{ConnStatus, protocol::ServerEvent};
use futures::{
    FutureExt, StreamExt,
    channel::{mpsc, oneshot},
    future::poll_fn,
    select,
};
use futures::{Sink, SinkExt};
use gloo_net::websocket::{Message, State, futures::WebSocket};
use std::pin::Pin;
use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicU32, Ordering},
};
use std::time::Duration;

const BACKOFF_MIN_MS: f64 = 1_000.0;
const BACKOFF_MAX_MS: f64 = 5_000.0;
/// A socket still connecting after this long is given up and tried again:
/// a server (or network) that never answers can otherwise leave it
/// connecting for minutes, with the page stuck on "Reconnecting…".
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A frame for the socket, and the session it was meant for: `None` goes
/// out whenever a socket is open; `Some(n)` only on session `n`, and is
/// dropped if that session died first (the page's outbox sends it again,
/// in order, on the next one).
type Frame = (String, Option<u32>);

/// The page's handle on its room connection: frames to send, and a switch
/// to stop for good when the page goes away.
pub struct RoomSocket {
    outbox: mpsc::UnboundedSender<Frame>,
    stopped: Arc<AtomicBool>,
    /// Counts the sessions opened so far (the current one's number).
    session: Arc<AtomicU32>,
}

impl RoomSocket {
    /// Opens the room's socket in the background and keeps it open until
    /// [`RoomSocket::close`]. Frames sent while disconnected wait in order and
    /// go out once the socket is back.
    ///
    /// `resume_from` is asked at every (re)connect: the highest seq the page
    /// shows with nothing missing before it. The server then sends
    /// everything after it (`?after_seq=`), so a reconnect loses nothing and
    /// repeats nothing.
    pub fn open(
        path: &str,
        resume_from: impl Fn() -> Option<u64> + 'static,
        on_event: impl Fn(ServerEvent) + 'static,
        on_status: impl Fn(ConnStatus) + 'static,
    ) -> Self {
        let (outbox, frames) = mpsc::unbounded();
        let stopped = Arc::new(AtomicBool::new(false));
        let session = Arc::new(AtomicU32::new(0));
        let url = ws_url(path);
        let url = move || match resume_from() {
            Some(seq) => format!("{url}?after_seq={seq}"),
            None => url.clone(),
        };
        let run = run(
            url,
            frames,
            stopped.clone(),
            session.clone(),
            on_event,
            on_status,
        );
        leptos::task::spawn_local(run);
        Self {
            outbox,
            stopped,
            session,
        }
    }

    /// Sends on the open socket, or on the next one if it is down.
    pub fn send(&self, frame: String) {
        // Fails only after `close`, when nobody is listening any more.
        let _ = self.outbox.unbounded_send((frame, None));
    }

    /// Sends on the socket opened last, or not at all if it has died: for
    /// posts the page sends again itself after every reconnect, which
    /// must not overtake the resends.
    pub fn send_on_this_session(&self, frame: String) {
        let session = self.session.load(Ordering::Relaxed);
        let _ = self.outbox.unbounded_send((frame, Some(session)));
    }

    pub fn close(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.outbox.close_channel();
    }
}

fn ws_url(path: &str) -> String {
    let location = leptos::prelude::window().location();
    let scheme = match location.protocol().as_deref() {
        Ok("https:") => "wss",
        _ => "ws",
    };
    let host = location.host().unwrap_or_default();
    format!("{scheme}://{host}{path}")
}

enum SessionEnd {
    /// The page closed the socket on purpose.
    Stopped,
    /// The server ended it for good (`session_ended`): do not reconnect.
    EndedByServer,
    /// The socket was open and then dropped: reconnect promptly.
    WasLive,
    /// The socket never opened: back off further.
    NeverOpened,
}

async fn run(
    url: impl Fn() -> String,
    mut frames: mpsc::UnboundedReceiver<Frame>,
    stopped: Arc<AtomicBool>,
    sessions: Arc<AtomicU32>,
    on_event: impl Fn(ServerEvent),
    on_status: impl Fn(ConnStatus),
) {
    let mut failures: u32 = 0;
    loop {
        let ended = session(&url(), &mut frames, &sessions, &on_event, &on_status).await;
        match ended {
            SessionEnd::Stopped => return,
            SessionEnd::EndedByServer => {
                on_status(ConnStatus::Ended);
                return;
            }
            SessionEnd::WasLive => failures = 0,
            SessionEnd::NeverOpened => failures += 1,
        }
        if stopped.load(Ordering::Relaxed) {
            return;
        }
        on_status(ConnStatus::Reconnecting);
        sleep(backoff(failures)).await;
        if stopped.load(Ordering::Relaxed) {
            return;
        }
    }
}

/// 1 s after a drop, doubling per failed attempt up to 5 s, each ±25 % so
/// that a restarted server is not hit by every client in the same instant.
fn backoff(failures: u32) -> Duration {
    let base = (BACKOFF_MIN_MS * 2f64.powi(failures.min(8) as i32)).min(BACKOFF_MAX_MS);
    let jitter = 0.75 + 0.5 * js_sys::Math::random();
    let ms = (base * jitter).clamp(BACKOFF_MIN_MS, BACKOFF_MAX_MS);
    Duration::from_millis(ms as u64)
}

async fn session(
    url: &str,
    frames: &mut mpsc::UnboundedReceiver<Frame>,
    sessions: &AtomicU32,
    on_event: &impl Fn(ServerEvent),
    on_status: &impl Fn(ConnStatus),
) -> SessionEnd {
    let Ok(mut ws) = WebSocket::open(url) else {
        return SessionEnd::NeverOpened;
    };
    // gloo's sink is ready once the socket has left CONNECTING, open or not.
    let settled = select! {
        _ = poll_fn(|cx| Pin::new(&mut ws).poll_ready(cx)).fuse() => true,
        () = sleep(CONNECT_TIMEOUT).fuse() => false,
    };
    if !settled || !matches!(ws.state(), State::Open) {
        return SessionEnd::NeverOpened;
    }
    // A new session: frames meant for the one before are dropped from
    // here on, and what the page sends on hearing "live" is for this one.
    let this = sessions.fetch_add(1, Ordering::Relaxed) + 1;
    on_status(ConnStatus::Live);
    let (mut write, read) = ws.split();
    let mut read = read.fuse();
    loop {
        select! {
            incoming = read.next() => match incoming {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<ServerEvent>(&text) {
                    Ok(event @ ServerEvent::SessionEnded { .. }) => {
                        on_event(event);
                        return SessionEnd::EndedByServer;
                    }
                    Ok(event) => on_event(event),
                    // A newer server may send events this page does not know yet.
                    Err(e) => leptos::logging::debug_warn!("ignoring event: {e}"),
                },
                Some(Ok(Message::Bytes(_))) => {}
                Some(Err(_)) | None => return SessionEnd::WasLive,
            },
            outgoing = frames.next() => match outgoing {
                Some((_, Some(meant_for))) if meant_for != this => {}
                Some((frame, _)) => {
                    if write.send(Message::Text(frame)).await.is_err() {
                        return SessionEnd::WasLive;
                    }
                }
                None => {
                    let _ = write.close().await;
                    return SessionEnd::Stopped;
                }
            },
        }
    }
}

/// Waits `duration` on the browser's timer (the lobby feed uses it too).
pub(crate) async fn sleep(duration: Duration) {
    let (done, wait) = oneshot::channel::<()>();
    leptos::prelude::set_timeout(
        move || {
            let _ = done.send(());
        },
        duration,
    );
    let _ = wait.fuse().await;
}
