//! The message box under the log: Enter sends (or saves an edit), Esc
//! cancels an edit, typing is signalled to the room at most every 2 s, and
//! refusals show in the notice line above it (with a log-in link when the
//! server says to log in first). `@` offers the people in the room
//! (`mentions.rs`). A chat message goes through the outbox
//! (`sending.rs`). After a `rate_limited` refusal the button counts down
//! from `retry_after_ms`; messages typed meanwhile wait in the outbox,
//! and everything due goes when it ends (a refused `/pm`, put back in
//! the box, too).

use super::{
    draft::Notice,
    mentions::{MentionList, Suggestions, on_suggestion_key, suggest},
    state::RoomState,
};
use crate::{
    browser::now_ms,
    lang::{error_text, td_string, tf, tr},
    names::{RoomName, percent_encode},
    protocol::{ClientFrame, MESSAGE_MAX_CHARS, MessageText},
};
use leptos::{ev::SubmitEvent, prelude::*};

/// At most one typing signal per this many milliseconds.
const TYPING_EVERY_MS: f64 = 2_000.0;
/// How often the countdown redraws.
const COUNTDOWN_TICK: std::time::Duration = std::time::Duration::from_millis(200);

#[component]
pub fn Composer(room: RoomName) -> impl IntoView {
    let state = expect_context::<RoomState>();
    let i18n = state.i18n;
    let draft = state.draft;
    let input = draft.input;
    let typing_last_sent = StoredValue::new(f64::MIN);
    focus_when_attached(input);
    let suggestions = RwSignal::new(None::<Suggestions>);
    let tick = countdown(state);
    // Tell the room we are typing, at most every 2 s (signed-in people only).
    let on_input = move |_| {
        suggestions.set(suggest(state));
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
        if suggestions.with_untracked(Option::is_some) && on_suggestion_key(state, suggestions, &ev)
        {
            ev.prevent_default();
            return;
        }
        if ev.key() == "Escape" && draft.editing.get_untracked().is_some() {
            draft.editing.set(None);
            if let Some(field) = input.get() {
                field.set_value("");
            }
        }
    };
    view! {
        <NoticeLine room />
        <p class="editing" hidden=move || draft.editing.get().is_none()>
            {tr!(i18n, composer.editing)}
        </p>
        <form class="composer" on:submit=on_submit>
            <label for="message-input" class="visually-hidden">
                {tr!(i18n, composer.label)}
            </label>
            <MentionList suggestions />
            <input
                id="message-input"
                node_ref=input
                type="text"
                autofocus
                autocomplete="off"
                placeholder=tr!(i18n, composer.placeholder)
                maxlength=MESSAGE_MAX_CHARS.to_string()
                role="combobox"
                aria-autocomplete="list"
                aria-controls="mention-list"
                aria-expanded=move || suggestions.with(Option::is_some).to_string()
                aria-activedescendant=move || suggestions.with(|s| s.as_ref().map(Suggestions::chosen_id))
                on:input=on_input
                on:keydown=on_keydown
                on:blur=move |_| suggestions.set(None)
            />
            <button type="submit" id="send" aria-live="polite">{move || send_label(state, tick)}</button>
        </form>
     }
    // Erased: the room's view type stays shallow enough for release builds.
    .into_any()
}

/// Focuses the message box once it is in the document: the room renders
/// inside a Suspense (the admin-only check), which may build it detached
/// first, and a detached input cannot take focus.
fn focus_when_attached(input: NodeRef<leptos::html::Input>) {
    Effect::new(move |_| {
        if input.get().is_some() {
            request_animation_frame(move || {
                if let Some(input) = input.get_untracked() {
                    let _ = input.focus();
                }
            });
        }
    });
}

/// "Send", "Save", or while the server asks us to wait: "Sending in 3 s".
/// `tick` redraws it while counting down.
fn send_label(state: RoomState, tick: Trigger) -> String {
    let locale = state.i18n.get_locale();
    tick.track();
    match state.draft.wait_until.get() {
        Some(until) => {
            let s = ((until - now_ms()) / 1000.0).ceil().max(1.0);
            tf!(locale, composer.sending_in, s = s)
        }
        None if state.draft.editing.get().is_some() => td_string!(locale, composer.save).into(),
        None => td_string!(locale, composer.send).into(),
    }
}

/// Counts down while there is a wait, and sends what is due when it
/// ends. One timer at a time: a newer wait (every refused post of a
/// burst brings one) takes over from the timer of the one before.
fn countdown(state: RoomState) -> Trigger {
    let tick = Trigger::new();
    Effect::new(move |_| {
        if let Some(until) = state.draft.wait_until.get() {
            count_down(state, until, tick);
        }
    });
    tick
}

fn count_down(state: RoomState, until: f64, tick: Trigger) {
    let draft = state.draft;
    let left = std::time::Duration::from_millis((until - now_ms()).max(0.0) as u64);
    set_timeout(
        move || {
            if draft.wait_until.get_untracked() != Some(until) {
                return; // Replaced by a newer wait, whose own timer runs.
            }
            if now_ms() < until {
                tick.notify();
                return count_down(state, until, tick);
            }
            draft.wait_until.set(None);
            state.flush();
        },
        COUNTDOWN_TICK.min(left),
    );
}

/// Sends what is in the box (a message, or the edit being made); says
/// what is wrong instead if it cannot be sent. True if it was sent.
fn submit(state: RoomState) -> bool {
    let draft = state.draft;
    let Some(field) = draft.input.get() else {
        return false;
    };
    let sent = match MessageText::parse(&field.value()) {
        Ok(text) => {
            match draft.editing.get_untracked() {
                Some(seq) => state.edit(seq, text),
                None => state.post(text),
            }
            draft.editing.set(None);
            field.set_value("");
            let expired = |n: &Option<Notice>| n.as_ref().is_some_and(Notice::expired);
            if draft.notice.with_untracked(expired) {
                draft.notice.set(None);
            }
            state.scroll.follow();
            true
        }
        // An empty box (the countdown may just have sent it) does not hide
        // a notice that must stay readable ("slow down").
        Err(e) => {
            let kept = |n: &Option<Notice>| n.as_ref().is_some_and(|n| !n.expired());
            if !draft.notice.with_untracked(kept) {
                let text = error_text(state.i18n.get_locale_untracked(), &e.into_event());
                draft.notice.set(Some(Notice::brief(text)));
            }
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
            {move || state.draft.notice.get().map(|n| view! {
                {n.text}
                {n.login.then(|| view! {
                    " " <a href=login_href.clone()>{tr!(state.i18n, composer.log_in)}</a>
                })}
            })}
        </p>
    }
}
