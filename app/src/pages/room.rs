//! `/chat/<room>/`: the live log, the message box and the connection status.

use crate::{
    ConnStatus,
    names::RoomName,
    protocol::{ChatMessage, ClientFrame, MessageText, ServerEvent},
};
use leptos::{ev::SubmitEvent, html, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// How close to the bottom (px) still counts as "reading the newest", so
/// new messages keep the log scrolled down.
const STICK_TO_BOTTOM_PX: i32 = 48;

#[component]
pub fn RoomPage() -> impl IntoView {
    let params = use_params_map();
    let room = Memo::new(move |_| RoomName::parse(&params.read().get("room").unwrap_or_default()));
    // Keyed on the room: moving to another room builds a fresh page (and socket).
    move || match room.get() {
        Ok(room) => view! { <ChatRoom room /> }.into_any(),
        Err(e) => view! {
            <Title text="Invalid room · Chat" />
            <main class="page narrow">
                <h1>"That is not a room name"</h1>
                <p class="form-error">{e.to_string()}</p>
                <p>
                    <a href="/chat/">"Back to the lobby"</a>
                </p>
            </main>
        }
        .into_any(),
    }
}

#[component]
fn ChatRoom(room: RoomName) -> impl IntoView {
    let messages = RwSignal::new(Vec::<ChatMessage>::new());
    let status = RwSignal::new(ConnStatus::Connecting);
    let notice = RwSignal::new(None::<String>);
    let input = NodeRef::<html::Input>::new();
    let log = NodeRef::<html::Ol>::new();
    let stick_to_bottom = StoredValue::new(true);

    let on_event = move |event: ServerEvent| match event {
        ServerEvent::ChatMessage(m) => messages.update(|log| insert_in_order(log, m)),
        ServerEvent::Error(e) => notice.set(Some(e.message)),
    };
    let socket = connect(&room, on_event, move |s| status.set(s));

    Effect::new(move |_| {
        if let Some(input) = input.get() {
            let _ = input.focus();
        }
    });
    // Follow new messages, unless the reader has scrolled up to read older ones.
    Effect::new(move |_| {
        messages.track();
        if let Some(log) = log.get()
            && stick_to_bottom.get_value()
        {
            log.set_scroll_top(log.scroll_height());
        }
    });
    let on_scroll = move |_| {
        if let Some(log) = log.get() {
            let from_bottom = log.scroll_height() - log.scroll_top() - log.client_height();
            stick_to_bottom.set_value(from_bottom < STICK_TO_BOTTOM_PX);
        }
    };

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(field) = input.get() else { return };
        match MessageText::parse(&field.value()) {
            Ok(text) => {
                socket.send(ClientFrame::Chat(text).to_json());
                field.set_value("");
                notice.set(None);
                stick_to_bottom.set_value(true);
            }
            Err(e) => notice.set(Some(e.message)),
        }
        let _ = field.focus();
    };

    let title = format!("{room} · Chat");
    view! {
        <Title text=title />
        <main class="page room">
            <div class="room-head">
                <a class="back" href="/chat/" aria-label="Back to the lobby">
                    "←"
                </a>
                <h1 class="room-title">{room.to_string()}</h1>
                <p id="status" class="status" role="status" data-state=move || status.get().as_str()>
                    <span class="dot" aria-hidden="true"></span>
                    <span class="label">{move || status.get().label()}</span>
                </p>
            </div>
            <ol id="log" class="log" node_ref=log aria-label="Messages" aria-live="polite" tabindex="0" on:scroll=on_scroll>
                <Show when=move || messages.with(Vec::is_empty)>
                    <li class="empty">"No messages yet. Say hello!"</li>
                </Show>
                <For each=move || messages.get() key=|m| m.seq let:m>
                    <MessageItem m />
                </For>
            </ol>
            <p id="notice" class="notice" role="alert">
                {move || notice.get()}
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
                    maxlength=crate::protocol::MESSAGE_MAX_CHARS.to_string()
                />
                <button type="submit">"Send"</button>
            </form>
        </main>
    }
}

#[component]
fn MessageItem(m: ChatMessage) -> impl IntoView {
    let time = short_time(&m.ts);
    view! {
        <li class="msg" data-seq=m.seq>
            <div class="meta">
                <span class="author">{m.user}</span>
                <time datetime=m.ts.clone() title=m.ts>
                    {time}
                </time>
            </div>
            <p class="text">{m.message}</p>
        </li>
    }
}

/// Keeps the log ordered by `seq` and free of duplicates, whatever order
/// messages arrive in.
fn insert_in_order(log: &mut Vec<ChatMessage>, m: ChatMessage) {
    match log.last() {
        None => log.push(m),
        Some(last) if last.seq < m.seq => log.push(m),
        _ => {
            if let Err(at) = log.binary_search_by_key(&m.seq, |x| x.seq) {
                log.insert(at, m);
            }
        }
    }
}

/// The page's connection: a real socket in the browser, nothing during
/// server-side rendering (the page renders as "Connecting…").
#[derive(Clone, Copy)]
struct Connection {
    #[cfg(feature = "browser")]
    socket: StoredValue<Option<crate::client::RoomSocket>>,
}

impl Connection {
    fn send(&self, _frame: String) {
        #[cfg(feature = "browser")]
        self.socket.with_value(|s| {
            if let Some(s) = s {
                s.send(_frame)
            }
        });
    }
}

#[cfg(feature = "browser")]
fn connect(
    room: &RoomName,
    on_event: impl Fn(ServerEvent) + 'static,
    on_status: impl Fn(ConnStatus) + 'static,
) -> Connection {
    let socket = crate::client::RoomSocket::open(room, on_event, on_status);
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
fn connect(
    _room: &RoomName,
    _on_event: impl Fn(ServerEvent) + 'static,
    _on_status: impl Fn(ConnStatus) + 'static,
) -> Connection {
    Connection {}
}

/// `HH:MM` in the reader's time zone (in the browser), from an RFC 3339 time.
fn short_time(ts: &str) -> String {
    #[cfg(feature = "browser")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(ts));
        if !date.get_time().is_nan() {
            return format!("{:02}:{:02}", date.get_hours(), date.get_minutes());
        }
    }
    ts.get(11..16).unwrap_or(ts).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(seq: u64) -> ChatMessage {
        ChatMessage {
            room: RoomName::parse("r").unwrap(),
            seq,
            id: seq.to_string(),
            user: "u".into(),
            message: "m".into(),
            ts: "2026-11-21T10:05:00Z".into(),
        }
    }

    #[test]
    fn log_stays_ordered_without_duplicates() {
        let mut log = Vec::new();
        for seq in [1, 3, 2, 3, 5, 4, 1] {
            insert_in_order(&mut log, msg(seq));
        }
        assert_eq!(
            log.iter().map(|m| m.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn server_side_time_falls_back_to_utc_clock() {
        assert_eq!(short_time("2026-11-21T10:05:00Z"), "10:05");
    }
}
