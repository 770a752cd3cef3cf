//! The message box under the log: Enter sends (or saves an edit), Esc
//! cancels an edit, typing is signalled to the room at most every 2 s, and
//! refusals show in the notice line above it (with a log-in link when the
//! server says to log in first).

use super::state::{Notice, RoomState};
use crate::{
    browser::now_ms,
    names::{RoomName, percent_encode},
    protocol::{ClientFrame, MESSAGE_MAX_CHARS, MessageText},
};
use leptos::{ev::SubmitEvent, prelude::*};

/// At most one typing signal per this many milliseconds.
const TYPING_EVERY_MS: f64 = 2_000.0;

#[component]
pub fn Composer(room: RoomName) -> impl IntoView {
    let state = expect_context::<RoomState>();
    let input = state.input;
    let typing_last_sent = StoredValue::new(f64::MIN);
    // Focus the message box once it is in the document: the room renders
    // inside a Suspense (the admin-only check), which may build it detached
    // first, and a detached input cannot take focus.
    Effect::new(move |_| {
        if input.get().is_some() {
            request_animation_frame(move || {
                if let Some(input) = input.get_untracked() {
                    let _ = input.focus();
                }
            });
        }
    });
    // Tell the room we are typing, at most every 2 s (signed-in people only).
    let on_input = move |_| {
        let typed = input.get().is_some_and(|i| !i.value().trim().is_empty());
        let now = now_ms();
        if typed
            && state.me.get().is_some()
            && now - typing_last_sent.get_value() >= TYPING_EVERY_MS
        {
            typing_last_sent.set_value(now);
            state.send(ClientFrame::Typing);
        }
    };
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if submit(state) {
            // The next keystroke may signal typing again at once.
            typing_last_sent.set_value(f64::MIN);
        }
    };
    // Escape leaves editing without changing the message.
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" && state.editing.get_untracked().is_some() {
            state.editing.set(None);
            if let Some(field) = input.get() {
                field.set_value("");
            }
        }
    };
    view! {
        <NoticeLine room />
        <p class="editing" hidden=move || state.editing.get().is_none()>
            "Editing your message — Enter saves, Esc cancels."
        </p>
        <form class="composer" on:submit=on_submit>
            <label for="message-input" class="visually-hidden">
                "Message"
            </label>
            <input
                id="message-input"
                node_ref=input
                type="text"
                autofocus
                autocomplete="off"
                placeholder="Write a message…"
                maxlength=MESSAGE_MAX_CHARS.to_string()
                on:input=on_input
                on:keydown=on_keydown
            />
            <button type="submit">{move || if state.editing.get().is_some() { "Save" } else { "Send" }}</button>
        </form>
     }
    // Erased: the room's view type stays shallow enough for release builds.
    .into_any()
}

/// Sends what is in the box (a message, or the edit being made); says
/// what is wrong instead if it cannot be sent. True if it was sent.
fn submit(state: RoomState) -> bool {
    let Some(field) = state.input.get() else {
        return false;
    };
    let sent = match MessageText::parse(&field.value()) {
        Ok(text) => {
            let frame = match state.editing.get_untracked() {
                Some(seq) => ClientFrame::Edit { seq, text },
                None => ClientFrame::Chat(text),
            };
            state.editing.set(None);
            state.send(frame);
            field.set_value("");
            let expired = |n: &Option<Notice>| n.as_ref().is_some_and(|n| n.keep_until <= now_ms());
            if state.notice.with_untracked(expired) {
                state.notice.set(None);
            }
            state.follow();
            true
        }
        Err(e) => {
            state.notice.set(Some(Notice::brief(e.message)));
            false
        }
    };
    let _ = field.focus();
    sent
}

/// The server's (or the page's) latest refusal.
#[component]
fn NoticeLine(room: RoomName) -> impl IntoView {
    let state = expect_context::<RoomState>();
    let login_href = format!("/login?next={}", percent_encode(&room.page_path()));
    view! {
        <p id="notice" class="notice" role="alert">
            {move || state.notice.get().map(|n| view! {
                {n.text}
                {n.login.then(|| view! { " " <a href=login_href.clone()>"Log in"</a> })}
            })}
        </p>
    }
}
