//! The browser end of the lobby's live room list: an `EventSource` on
//! `/api/rooms/live` handing each [`LobbyEvent`] to the page. After a drop
//! the browser reconnects by itself (the server asks for 2 s) and the
//! server sends the whole list again; a feed the server refused outright
//! (503 busy, 429 too many connections) the browser gives up on, so this
//! opens a new one after [`REFUSED_PAUSE`]. One long request, never polling.
//!
//! Browser-only (features `hydrate`/`csr`): the server never links it.

use crate::protocol::LobbyEvent;
use futures::{FutureExt, StreamExt, channel::oneshot, select};
use gloo_net::eventsource::{State, futures::EventSource};
use std::time::Duration;

/// Follows the feed while the page is visible: a tab in the background
/// gives its connection back, and takes it again when shown (the server
/// then sends the whole list, so nothing missed meanwhile matters).
/// Browsers allow six HTTP/1.1 connections per host and an `EventSource`
/// holds one: with a feed in every room tab (the sidebar), a seventh tab
/// would stall on plain HTTP. Call it where an effect may be made; it
/// ends with the owner.
pub fn follow_while_visible(on_event: impl Fn(LobbyEvent) + 'static) {
    use leptos::prelude::*;
    let on_event = std::rc::Rc::new(on_event);
    let visible = RwSignal::new(!crate::browser::page_hidden());
    let handle = window_event_listener_untyped("visibilitychange", move |_| {
        visible.set(!crate::browser::page_hidden());
    });
    on_cleanup(move || handle.remove());
    Effect::new(move |_| {
        if !visible.get() {
            return;
        }
        let on_event = on_event.clone();
        let feed = LobbyFeed::follow(move |event| on_event(event));
        let feed = StoredValue::new_local(Some(feed));
        on_cleanup(move || feed.update_value(|f| drop(f.take())));
    });
}

/// How long after a refusal the feed is tried again.
const REFUSED_PAUSE: Duration = Duration::from_secs(10);

/// The page's handle: dropping it (or [`LobbyFeed::close`]) ends the feed.
pub struct LobbyFeed {
    stop: Option<oneshot::Sender<()>>,
}

impl LobbyFeed {
    /// Opens the feed in the background.
    pub fn follow(on_event: impl Fn(LobbyEvent) + 'static) -> Self {
        let (stop, stopped) = oneshot::channel();
        leptos::task::spawn_local(run(stopped, on_event));
        Self { stop: Some(stop) }
    }

    pub fn close(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for LobbyFeed {
    fn drop(&mut self) {
        self.close();
    }
}

async fn run(stopped: oneshot::Receiver<()>, on_event: impl Fn(LobbyEvent)) {
    let mut stopped = stopped.fuse();
    loop {
        let refused = select! {
            refused = follow(&on_event).fuse() => refused,
            _ = stopped => return,
        };
        if !refused {
            return;
        }
        select! {
            () = crate::client::sleep(REFUSED_PAUSE).fuse() => {}
            _ = stopped => return,
        }
    }
}

/// Follows one `EventSource` until the browser gives up on it (true) or
/// it cannot be made at all (false: nothing to retry).
async fn follow(on_event: &impl Fn(LobbyEvent)) -> bool {
    let Ok(mut source) = EventSource::new("/api/rooms/live") else {
        return false;
    };
    let Ok(mut messages) = source.subscribe("message") else {
        return false;
    };
    while let Some(item) = messages.next().await {
        match item {
            Ok((_, message)) => {
                let text = message.data().as_string().unwrap_or_default();
                match serde_json::from_str::<LobbyEvent>(&text) {
                    Ok(event) => on_event(event),
                    // A newer server may send events this page does not know yet.
                    Err(e) => leptos::logging::debug_warn!("ignoring lobby event: {e}"),
                }
            }
            // A drop the browser retries by itself, unless it has given up.
            Err(_) if matches!(source.state(), State::Closed) => return true,
            Err(_) => {}
        }
    }
    true
}
