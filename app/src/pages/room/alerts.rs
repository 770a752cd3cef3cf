//! What reaches a person who is not looking at the room: the page's
//! hidden/shown signal (which drives the tab title's count and the "New
//! messages" divider, `unread.rs`), the unread PM badge, and the
//! "Notify me" switch for desktop notifications, which asks the browser's
//! permission only when clicked, never on page load.

use super::state::RoomState;
use crate::browser::{notifications_on, notifications_supported, page_hidden, set_notifications};
use crate::lang::{t_string, tf, tr};
use leptos::prelude::*;

/// Tells the room state whenever the page is hidden or shown (browser only).
pub fn follow_visibility(state: RoomState) {
    Effect::new(move |_| {
        let handle = window_event_listener_untyped("visibilitychange", move |_| {
            state.unread.on_visibility(page_hidden());
            state.report_reading();
        });
        on_cleanup(move || handle.remove());
    });
}

/// "✉ 2": private messages that came while the page was hidden. Clicking
/// scrolls to them and clears it; so does answering with `/pm`.
#[component]
pub fn PmBadge() -> impl IntoView {
    let state = expect_context::<RoomState>();
    let show_newest = move |_| {
        state.unread.pms_read();
        // A PM goes after the newest room message: at the bottom.
        state.scroll.to_bottom();
    };
    view! {
        <button type="button" id="pm-badge" class="pm-badge"
            hidden=move || state.unread.pms.get() == 0
            aria-label=Signal::derive(move || tf!(state.i18n.get_locale(), alerts.pm_badge, n = state.unread.pms.get()))
            on:click=show_newest>
            <span aria-hidden="true">"✉ "</span>
            <span class="n">{move || state.unread.pms.get()}</span>
        </button>
    }
}

/// In a direct conversation: whether the person shows the people they talk
/// to what they have read ("Seen"), and the switch to change it.
#[component]
pub fn ReceiptsButton() -> impl IntoView {
    let state = expect_context::<RoomState>();
    let on = RwSignal::new(None::<bool>);
    // After hydration: asked once, then the button says what it is.
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            if let Ok(now) = crate::server_fns::read_receipts().await {
                on.set(Some(now));
            }
        });
    });
    let toggle = move |_| {
        let Some(now) = on.get_untracked() else {
            return;
        };
        leptos::task::spawn_local(async move {
            if crate::server_fns::set_read_receipts(!now).await.is_ok() {
                on.set(Some(!now));
            }
        });
    };
    view! {
        <button type="button" id="receipts" class="notify"
            hidden=move || on.get().is_none()
            aria-pressed=move || on.get().unwrap_or(false).to_string()
            title=tr!(state.i18n, direct.receipts_title)
            on:click=toggle>
            {move || if on.get().unwrap_or(false) {
                t_string!(state.i18n, direct.receipts_on)
            } else {
                t_string!(state.i18n, direct.receipts_off)
            }}
        </button>
    }
}

/// Turns desktop notifications for PMs and mentions on or off.
#[component]
pub fn NotifyButton() -> impl IntoView {
    let state = expect_context::<RoomState>();
    let on = RwSignal::new(false);
    let supported = RwSignal::new(false);
    // After hydration: the server cannot know this browser's choice.
    Effect::new(move |_| {
        supported.set(notifications_supported());
        on.set(notifications_on());
    });
    let toggle = move |_| set_notifications(!on.get_untracked(), move |now| on.set(now));
    view! {
        <button type="button" id="notify" class="notify"
            hidden=move || !supported.get() || state.me.get().is_none()
            aria-pressed=move || on.get().to_string()
            title=tr!(state.i18n, alerts.notify_title)
            on:click=toggle>
            {move || if on.get() {
                t_string!(state.i18n, alerts.notify_on)
            } else {
                t_string!(state.i18n, alerts.notify_off)
            }}
        </button>
    }
}
