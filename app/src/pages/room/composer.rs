//! The message box under the log: Enter sends (or saves an edit), Esc
//! cancels an edit, typing is signalled to the room at most every 2 s, and
//! refusals show in the notice line above it (with a log-in link when the
//! server says to log in first). `@` offers the people in the room
//! (arrows choose, Tab or Enter completes, Esc closes). After a
//! `rate_limited` refusal the button counts down from `retry_after_ms`
//! and sends what is in the box when it ends.

use super::{
    rich::{candidates, mention_at},
    state::{Notice, RoomState},
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
/// Most names the `@` list offers at once.
const SUGGESTED: usize = 6;
/// How often the countdown redraws.
const COUNTDOWN_TICK: std::time::Duration = std::time::Duration::from_millis(200);

/// The `@name` list under the cursor: what was typed, where its `@` is,
/// the names offered and which is chosen.
#[derive(Clone, Debug, Default, PartialEq)]
struct Suggestions {
    at: usize,
    names: Vec<String>,
    chosen: usize,
}

#[component]
pub fn Composer(room: RoomName) -> impl IntoView {
    let state = expect_context::<RoomState>();
    let i18n = state.i18n;
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
    let suggestions = RwSignal::new(None::<Suggestions>);
    countdown(state);
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
        if state.wait_until.get_untracked().is_some() {
            // Sent when the wait is over, with whatever the box holds then.
            return;
        }
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
                aria-activedescendant=move || suggestions.with(|s| s.as_ref().map(|s| format!("mention-{}", s.chosen)))
                on:input=on_input
                on:keydown=on_keydown
                on:blur=move |_| suggestions.set(None)
            />
            <button type="submit" id="send" aria-live="polite">{move || send_label(state)}</button>
        </form>
     }
    // Erased: the room's view type stays shallow enough for release builds.
    .into_any()
}

/// "Send", "Save", or while the server asks us to wait: "Sending in 3 s".
fn send_label(state: RoomState) -> String {
    let locale = state.i18n.get_locale();
    match state.wait_until.get() {
        Some(until) => {
            let s = ((until - now_ms()) / 1000.0).ceil().max(1.0);
            tf!(locale, composer.sending_in, s = s)
        }
        None if state.editing.get().is_some() => td_string!(locale, composer.save).into(),
        None => td_string!(locale, composer.send).into(),
    }
}

/// Redraws the countdown while there is one, and sends when it ends.
fn countdown(state: RoomState) {
    Effect::new(move |_| {
        let Some(until) = state.wait_until.get() else {
            return;
        };
        let tick = COUNTDOWN_TICK.min(std::time::Duration::from_millis(
            (until - now_ms()).max(0.0) as u64,
        ));
        set_timeout(
            move || {
                if now_ms() < until {
                    // Read again: a longer wait may have replaced this one.
                    state.wait_until.update(|_| {});
                    return;
                }
                state.wait_until.set(None);
                if state
                    .input
                    .get_untracked()
                    .is_some_and(|i| !i.value().trim().is_empty())
                {
                    submit(state);
                }
            },
            tick,
        );
    });
}

/// The names to offer for the `@name` at the cursor, if one is being typed.
fn suggest(state: RoomState) -> Option<Suggestions> {
    let field = state.input.get_untracked()?;
    let text = field.value();
    let cursor = field.selection_start().ok().flatten()? as usize;
    let (at, typed) = mention_at(&text, utf16_to_chars(&text, cursor))?;
    let me = state.me.name();
    let names: Vec<String> = state.users.with_untracked(|people| {
        candidates(people, typed, me.as_deref(), SUGGESTED)
            .into_iter()
            .map(str::to_owned)
            .collect()
    });
    (!names.is_empty()).then_some(Suggestions {
        at,
        names,
        chosen: 0,
    })
}

/// The browser counts the cursor in UTF-16 units; the text is chars.
fn utf16_to_chars(text: &str, units: usize) -> usize {
    let mut seen = 0;
    text.chars()
        .take_while(|c| {
            seen += c.len_utf16();
            seen <= units
        })
        .count()
}

/// Arrows, Tab, Enter and Esc while the `@` list is open; true if handled.
fn on_suggestion_key(
    state: RoomState,
    suggestions: RwSignal<Option<Suggestions>>,
    ev: &leptos::ev::KeyboardEvent,
) -> bool {
    let len = suggestions.with_untracked(|s| s.as_ref().map_or(0, |s| s.names.len()));
    let step = |by: usize| {
        suggestions.update(|s| {
            if let Some(s) = s {
                s.chosen = (s.chosen + by) % len;
            }
        })
    };
    match ev.key().as_str() {
        "ArrowDown" => step(1),
        "ArrowUp" => step(len - 1),
        "Tab" | "Enter" => {
            if let Some(s) = suggestions.get_untracked() {
                complete(state, &s);
            }
            suggestions.set(None);
        }
        "Escape" => suggestions.set(None),
        _ => return false,
    }
    true
}

/// Puts the chosen name in place of the `@…` being typed.
fn complete(state: RoomState, s: &Suggestions) {
    let Some(field) = state.input.get_untracked() else {
        return;
    };
    let text = field.value();
    let typed_end = text[s.at + 1..]
        .char_indices()
        .find(|(_, c)| !crate::names::is_name_char(*c))
        .map_or(text.len(), |(i, _)| s.at + 1 + i);
    let name = &s.names[s.chosen];
    let before = format!("{}@{name} ", &text[..s.at]);
    let after = text[typed_end..].trim_start();
    field.set_value(&format!("{before}{after}"));
    let cursor = before.encode_utf16().count() as u32;
    let _ = field.set_selection_range(cursor, cursor);
}

/// The names offered for the `@` being typed.
#[component]
fn MentionList(suggestions: RwSignal<Option<Suggestions>>) -> impl IntoView {
    let state = expect_context::<RoomState>();
    view! {
        <ul id="mention-list" class="mentions" role="listbox" aria-label=tr!(state.i18n, composer.mentions)
            hidden=move || suggestions.with(Option::is_none)>
            {move || suggestions.get().map(|s| s.names.iter().enumerate().map(|(i, name)| {
                let chosen = i == s.chosen;
                let pick = s.clone();
                view! {
                    // mousedown, not click: the box must not lose focus first.
                    <li id=format!("mention-{i}") role="option" aria-selected=chosen.to_string()
                        class:chosen=chosen
                        on:mousedown=move |ev| {
                            ev.prevent_default();
                            complete(state, &Suggestions { chosen: i, ..pick.clone() });
                            suggestions.set(None);
                        }>
                        "@" {name.clone()}
                    </li>
                }
            }).collect_view())}
        </ul>
    }
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
                None => {
                    state.pending.set_value(Some(text.as_str().to_owned()));
                    ClientFrame::Chat(text)
                }
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
        // An empty box (the countdown may just have sent it) does not hide
        // a notice that must stay readable ("slow down").
        Err(e) => {
            let kept = |n: &Option<Notice>| n.as_ref().is_some_and(|n| n.keep_until > now_ms());
            if !state.notice.with_untracked(kept) {
                let text = error_text(state.i18n.get_locale_untracked(), &e.into_event());
                state.notice.set(Some(Notice::brief(text)));
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
            {move || state.notice.get().map(|n| view! {
                {n.text}
                {n.login.then(|| view! {
                    " " <a href=login_href.clone()>{tr!(state.i18n, composer.log_in)}</a>
                })}
            })}
        </p>
    }
}
