//! The page's connection: a real socket in the browser (it reconnects by
//! itself and resumes after what the log has), nothing during server-side
//! rendering (the page renders as "Connecting…"). The two arms of
//! [`connect`] sit side by side so they stay alike.

use crate::{ConnStatus, protocol::ServerEvent};
use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct Connection {
    #[cfg(feature = "browser")]
    socket: StoredValue<Option<crate::client::RoomSocket>>,
}

impl Connection {
    /// Sends a frame now, or once the socket is back if it is down.
    pub fn send(&self, _frame: String) {
        #[cfg(feature = "browser")]
        self.socket.with_value(|s| {
            if let Some(s) = s {
                s.send(_frame)
            }
        });
    }

    /// Sends a frame on the socket open now, or drops it if that socket
    /// has died (the outbox sends its posts again on the next one).
    pub fn send_on_this_session(&self, _frame: String) {
        #[cfg(feature = "browser")]
        self.socket.with_value(|s| {
            if let Some(s) = s {
                s.send_on_this_session(_frame)
            }
        });
    }
}

/// Connects to the socket at `path` (`/ws/chat/<room>/`, `/ws/dm/<peer>/`).
#[cfg(feature = "browser")]
pub fn connect(
    path: &str,
    resume_from: impl Fn() -> Option<u64> + 'static,
    on_event: impl Fn(ServerEvent) + 'static,
    on_status: impl Fn(ConnStatus) + 'static,
) -> Connection {
    let socket = crate::client::RoomSocket::open(path, resume_from, on_event, on_status);
    let socket = StoredValue::new(Some(socket));
    on_cleanup(move || {
        socket.update_value(|s| {
            if let Some(s) = s.take() {
                s.close()
            }
        })
    });
    Connection { socket }
}

#[cfg(not(feature = "browser"))]
pub fn connect(
    _path: &str,
    _resume_from: impl Fn() -> Option<u64> + 'static,
    _on_event: impl Fn(ServerEvent) + 'static,
    _on_status: impl Fn(ConnStatus) + 'static,
) -> Connection {
    Connection {}
}

/// The connection indicator in the room's header: "Connecting…", "Live",
/// "Reconnecting…", "Back online — 3 missed messages loaded".
#[component]
pub fn ConnectionStatus() -> impl IntoView {
    let state = expect_context::<super::state::RoomState>();
    view! {
        <p id="status" class="status" role="status" data-state=move || state.status.get().as_str()>
            <span class="dot" aria-hidden="true"></span>
            <span class="label">{move || state.status.get().label(state.i18n.get_locale())}</span>
        </p>
    }
}
