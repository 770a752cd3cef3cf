//! `/chat/<room>/`: the live log, the message box and the connection status.

use crate::{
    ConnStatus, CurrentUser,
    names::{RoomName, percent_encode},
    protocol::{
        ChatMessage, ClientFrame, EDIT_WINDOW_SECS, Emoji, ErrorCode, HISTORY_PAGE, MessageText,
        Reaction, ServerEvent,
    },
    server_fns::may_enter,
};
use leptos::{ev::SubmitEvent, html, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// How close to the bottom (px) still counts as "reading the newest", so
/// new messages keep the log scrolled down.
const STICK_TO_BOTTOM_PX: i32 = 48;
/// How close to the top (px) starts loading older messages.
const LOAD_OLDER_PX: i32 = 80;

/// A refusal from the server, shown under the log.
#[derive(Clone, Debug, PartialEq)]
struct Notice {
    text: String,
    /// Offer the log-in link (the server said: log in to post).
    login: bool,
    /// Sending again does not clear it before this time (ms since the
    /// epoch): "slow down" must stay readable while someone keeps typing.
    keep_until: f64,
}

/// How long a "slow down" notice stays up at least.
const SLOW_DOWN_SHOWN_MS: f64 = 3_000.0;

#[component]
pub fn RoomPage() -> impl IntoView {
    let params = use_params_map();
    let room = Memo::new(move |_| RoomName::parse(&params.read().get("room").unwrap_or_default()));
    // Keyed on the room: moving to another room builds a fresh page (and socket).
    move || match room.get() {
        Ok(room) => view! { <AllowedRoom room /> }.into_any(),
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

/// The room, or a refusal (HTTP 403) if it is for admins only and the
/// visitor is not one.
#[component]
fn AllowedRoom(room: RoomName) -> impl IntoView {
    let asked = room.clone();
    let access = Resource::new_blocking(move || asked.clone(), may_enter);
    view! {
        <Suspense fallback=|| view! { <main class="page room"></main> }>
            {move || {
                let room = room.clone();
                Suspend::new(async move {
                match access.await {
                    Ok(true) => view! { <ChatRoom room /> }.into_any(),
                    Ok(false) => view! {
                        <Title text="Admins only · Chat" />
                        <main class="page narrow">
                            <h1>"This room is for admins only"</h1>
                            <p class="form-error">{format!("{room} is open to admins only. Ask an admin if you need to be in it.")}</p>
                            <p><a href="/chat/">"Back to the lobby"</a></p>
                        </main>
                    }.into_any(),
                    Err(e) => view! {
                        <main class="page narrow">
                            <h1>"The room cannot be opened right now"</h1>
                            <p class="form-error">{e.to_string()}</p>
                        </main>
                    }.into_any(),
                }
            })}}
        </Suspense>
    }
}

/// One line of the log: a room message, or a private message shown where it
/// arrived among them.
#[derive(Clone, Debug, PartialEq)]
enum Entry {
    Chat(ChatMessage),
    Private {
        /// Sorts after the room message it arrived after.
        key: (u64, u32),
        incoming: bool,
        peer: String,
        message: String,
    },
}

impl Entry {
    fn key(&self) -> (u64, u32) {
        match self {
            Self::Chat(m) => (m.seq, 0),
            Self::Private { key, .. } => *key,
        }
    }

    /// The key the log renders by: changes when a message is edited,
    /// deleted or reacted to, so that line is drawn again.
    fn render_key(&self) -> (u64, u32, u64) {
        use std::hash::{Hash, Hasher};
        let (seq, n) = self.key();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        if let Self::Chat(m) = self {
            (&m.message, &m.edited_at, m.deleted).hash(&mut hasher);
            for r in &m.reactions {
                (&r.emoji, &r.users).hash(&mut hasher);
            }
        }
        (seq, n, hasher.finish())
    }
}

/// Applies `change` to the room message `seq`, if shown.
fn change_message(log: &mut [Entry], seq: u64, change: impl FnOnce(&mut ChatMessage)) {
    if let Ok(at) = log.binary_search_by_key(&(seq, 0), Entry::key)
        && let Entry::Chat(m) = &mut log[at]
    {
        change(m);
    }
}

/// What a person can do to a message from its toolbar.
#[derive(Clone, Debug, PartialEq)]
enum MessageAction {
    React(u64, String),
    Edit(u64, String),
    Delete(u64),
}

/// The reactions offered on every message.
const REACTIONS: [&str; 5] = ["👍", "❤️", "😂", "🎉", "😮"];

fn oldest_seq(log: &[Entry]) -> Option<u64> {
    log.iter().find_map(|e| match e {
        Entry::Chat(m) => Some(m.seq),
        Entry::Private { .. } => None,
    })
}

fn newest_seq(log: &[Entry]) -> u64 {
    log.iter()
        .rev()
        .find_map(|e| match e {
            Entry::Chat(m) => Some(m.seq),
            Entry::Private { .. } => None,
        })
        .unwrap_or(0)
}

/// The newest seq with nothing missing between it and the oldest message
/// shown: where a reconnect resumes from.
fn contiguous_up_to(log: &[Entry]) -> Option<u64> {
    let mut seqs = log.iter().filter_map(|e| match e {
        Entry::Chat(m) => Some(m.seq),
        Entry::Private { .. } => None,
    });
    let mut last = seqs.next()?;
    for seq in seqs {
        if seq != last + 1 {
            break;
        }
        last = seq;
    }
    Some(last)
}

/// How long a hole in the log may wait for its message before the page
/// asks for it (messages can overtake each other on the way).
const HOLE_WAIT: std::time::Duration = std::time::Duration::from_millis(600);

/// Milliseconds since the epoch, in the browser (typing signals are timed).
fn now_ms() -> f64 {
    #[cfg(feature = "browser")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "browser"))]
    {
        0.0
    }
}

/// At most one typing signal per this many milliseconds.
const TYPING_EVERY_MS: f64 = 2_000.0;
/// A typing indicator disappears this long after the person's last signal.
const TYPING_SHOWN: std::time::Duration = std::time::Duration::from_secs(5);

#[component]
fn ChatRoom(room: RoomName) -> impl IntoView {
    let me = expect_context::<CurrentUser>();
    let entries = RwSignal::new(Vec::<Entry>::new());
    let users = RwSignal::new(Vec::<String>::new());
    let typing = RwSignal::new(Vec::<String>::new());
    // Per person, which typing signal is the latest: only its timer clears them.
    let typing_generation = StoredValue::new(std::collections::HashMap::<String, u64>::new());
    let typing_last_sent = StoredValue::new(f64::MIN);
    let private_count = StoredValue::new(0u32);
    let status = RwSignal::new(ConnStatus::Connecting);
    // Set when the socket drops; the catch-up after reconnecting counts the
    // messages it brings until the user list marks its end.
    let recovering = StoredValue::new(None::<usize>);
    let notice = RwSignal::new(None::<Notice>);
    // The message being edited in the composer, if any.
    let editing = RwSignal::new(None::<u64>);
    // Whether the server has older messages than the oldest shown, and
    // whether a request for them is on its way.
    let older_available = RwSignal::new(false);
    let loading_older = RwSignal::new(false);
    let input = NodeRef::<html::Input>::new();
    let log = NodeRef::<html::Ol>::new();
    let stick_to_bottom = StoredValue::new(true);
    // Scroll height before older messages were put on top, to keep the view still.
    let height_before_prepend = StoredValue::new(None::<i32>);

    let add_private = move |incoming: bool, peer: String, message: String| {
        private_count.update_value(|n| *n += 1);
        let key = (
            entries.with_untracked(|l| newest_seq(l)),
            private_count.get_value(),
        );
        entries.update(|l| {
            insert_in_order(
                l,
                Entry::Private {
                    key,
                    incoming,
                    peer,
                    message,
                },
            )
        });
    };
    let stop_typing = move |user: &str| {
        if typing.with_untracked(|t| t.iter().any(|u| u == user)) {
            typing.update(|t| t.retain(|u| u != user));
        }
    };

    // Holds seqs just past a hole; asks the server for the hole if it lasts.
    let socket_cell = StoredValue::new(None::<Connection>);
    let check_hole = move |seq: u64| {
        set_timeout(
            move || {
                let newest_before = entries.with_untracked(|l| {
                    l.iter()
                        .filter_map(|e| match e {
                            Entry::Chat(m) if m.seq < seq => Some(m.seq),
                            _ => None,
                        })
                        .max()
                });
                let Some(before) = newest_before else { return };
                let missing = seq - before - 1;
                if missing > 0
                    && let Some(socket) = socket_cell.get_value()
                {
                    socket.send(
                        ClientFrame::History {
                            before_seq: Some(seq),
                            limit: missing.min(u64::from(crate::protocol::HISTORY_MAX)) as u32,
                        }
                        .to_json(),
                    );
                }
            },
            HOLE_WAIT,
        );
    };

    let on_event = move |event: ServerEvent| match event {
        ServerEvent::ChatMessage(m) => {
            stop_typing(&m.user);
            let newest = entries.with_untracked(|l| newest_seq(l));
            if newest > 0 && m.seq > newest + 1 {
                check_hole(m.seq);
            }
            entries.update(|log| insert_in_order(log, Entry::Chat(m)))
        }
        ServerEvent::History(page) => {
            let oldest_shown = entries.with_untracked(|l| oldest_seq(l));
            let reaches_back = match (page.messages.first(), oldest_shown) {
                (Some(first), Some(oldest)) => first.seq < oldest,
                (_, None) => true,
                (None, Some(_)) => false,
            };
            if reaches_back {
                older_available.set(page.has_more);
                if oldest_shown.is_some() && !page.messages.is_empty() {
                    height_before_prepend.set_value(log.get_untracked().map(|l| l.scroll_height()));
                }
            }
            loading_older.set(false);
            let before = entries.with_untracked(Vec::len);
            entries.update(|log| {
                for m in page.messages {
                    insert_in_order(log, Entry::Chat(m));
                }
            });
            let added = entries.with_untracked(Vec::len) - before;
            recovering.update_value(|r| {
                if let Some(n) = r {
                    *n += added;
                }
            });
        }
        ServerEvent::UserList { users: mut list } => {
            list.sort();
            list.dedup();
            users.set(list);
            // The user list ends what the server sends on (re)connecting.
            if let Some(missed) = recovering.get_value() {
                recovering.set_value(None);
                status.set(ConnStatus::BackOnline(missed));
            }
        }
        ServerEvent::UserJoin { user } => users.update(|list| {
            if let Err(at) = list.binary_search(&user) {
                list.insert(at, user);
            }
        }),
        ServerEvent::UserLeave { user } => {
            stop_typing(&user);
            users.update(|list| list.retain(|u| *u != user));
        }
        ServerEvent::PrivateMessage { user, message } => add_private(true, user, message),
        ServerEvent::PrivateMessageDelivered { target, message } => {
            add_private(false, target, message)
        }
        ServerEvent::Typing { user } => {
            if me.name().as_deref() == Some(user.as_str()) {
                return;
            }
            let mut generation = 0;
            typing_generation.update_value(|g| {
                let n = g.entry(user.clone()).or_insert(0);
                *n += 1;
                generation = *n;
            });
            if typing.with_untracked(|t| !t.contains(&user)) {
                typing.update(|t| t.push(user.clone()));
            }
            set_timeout(
                move || {
                    let latest =
                        typing_generation.with_value(|g| g.get(&user) == Some(&generation));
                    if latest {
                        stop_typing(&user);
                    }
                },
                TYPING_SHOWN,
            );
        }
        ServerEvent::MessageEdited {
            seq,
            message,
            edited_at,
            ..
        } => entries.update(|log| {
            change_message(log, seq, |m| {
                m.message = message;
                m.edited_at = Some(edited_at);
            })
        }),
        ServerEvent::MessageDeleted { seq, .. } => entries.update(|log| {
            change_message(log, seq, |m| {
                m.message.clear();
                m.deleted = true;
                m.reactions.clear();
            })
        }),
        ServerEvent::Reaction {
            seq, emoji, users, ..
        } => entries.update(|log| {
            change_message(log, seq, |m| {
                match m.reactions.iter().position(|r| r.emoji == emoji) {
                    Some(at) if users.is_empty() => {
                        m.reactions.remove(at);
                    }
                    Some(at) => m.reactions[at].users = users,
                    None if users.is_empty() => {}
                    None => m.reactions.push(Reaction { emoji, users }),
                }
            })
        }),
        ServerEvent::SessionEnded { reason } => notice.set(Some(Notice {
            text: reason,
            login: false,
            keep_until: f64::INFINITY,
        })),
        ServerEvent::Error(e) => {
            loading_older.set(false);
            let slow_down = e.code == ErrorCode::RateLimited.as_str();
            notice.set(Some(Notice {
                login: e.code == ErrorCode::NotAuthenticated.as_str(),
                text: e.message,
                keep_until: if slow_down {
                    now_ms() + SLOW_DOWN_SHOWN_MS
                } else {
                    0.0
                },
            }))
        }
    };
    let on_status = move |s: ConnStatus| {
        if s == ConnStatus::Reconnecting {
            recovering.set_value(Some(0));
        }
        // While catching up, keep saying "reconnecting" until it is done.
        if !(s == ConnStatus::Live && recovering.get_value().is_some()) {
            status.set(s);
        }
    };
    let resume_from = move || entries.with_untracked(|l| contiguous_up_to(l));
    let socket = connect(&room, resume_from, on_event, on_status);
    socket_cell.set_value(Some(socket));

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
    // Follow new messages, unless the reader has scrolled up to read older
    // ones; when older ones were put on top, keep what the reader was looking at.
    Effect::new(move |_| {
        entries.track();
        let Some(log) = log.get() else { return };
        if let Some(before) = height_before_prepend.get_value() {
            height_before_prepend.set_value(None);
            log.set_scroll_top(log.scroll_top() + log.scroll_height() - before);
        } else if stick_to_bottom.get_value() {
            log.set_scroll_top(log.scroll_height());
        }
    });
    let load_older = move || {
        if !older_available.get_untracked() || loading_older.get_untracked() {
            return;
        }
        let Some(oldest) = entries.with_untracked(|l| oldest_seq(l)) else {
            return;
        };
        loading_older.set(true);
        socket.send(
            ClientFrame::History {
                before_seq: Some(oldest),
                limit: HISTORY_PAGE,
            }
            .to_json(),
        );
    };
    let on_scroll = move |_| {
        if let Some(log) = log.get() {
            let from_bottom = log.scroll_height() - log.scroll_top() - log.client_height();
            stick_to_bottom.set_value(from_bottom < STICK_TO_BOTTOM_PX);
            if log.scroll_top() < LOAD_OLDER_PX {
                load_older();
            }
        }
    };

    // Tell the room we are typing, at most every 2 s (signed-in people only).
    let on_input = move |_| {
        let typed = input.get().is_some_and(|i| !i.value().trim().is_empty());
        let now = now_ms();
        if typed && me.get().is_some() && now - typing_last_sent.get_value() >= TYPING_EVERY_MS {
            typing_last_sent.set_value(now);
            socket.send(ClientFrame::Typing.to_json());
        }
    };

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(field) = input.get() else { return };
        match MessageText::parse(&field.value()) {
            Ok(text) => {
                let frame = match editing.get_untracked() {
                    Some(seq) => ClientFrame::Edit { seq, text },
                    None => ClientFrame::Chat(text),
                };
                editing.set(None);
                socket.send(frame.to_json());
                field.set_value("");
                if notice.with_untracked(|n| n.as_ref().is_some_and(|n| n.keep_until <= now_ms())) {
                    notice.set(None);
                }
                stick_to_bottom.set_value(true);
                // The next keystroke may signal typing again at once.
                typing_last_sent.set_value(f64::MIN);
            }
            Err(e) => notice.set(Some(Notice {
                text: e.message,
                login: false,
                keep_until: 0.0,
            })),
        }
        let _ = field.focus();
    };

    let on_action = Callback::new(move |action: MessageAction| match action {
        MessageAction::React(seq, emoji) => {
            if let Ok(emoji) = Emoji::parse(&emoji) {
                socket.send(ClientFrame::React { seq, emoji }.to_json());
            }
        }
        MessageAction::Delete(seq) => socket.send(ClientFrame::Delete { seq }.to_json()),
        MessageAction::Edit(seq, text) => {
            if let Some(field) = input.get() {
                editing.set(Some(seq));
                field.set_value(&text);
                let _ = field.focus();
            }
        }
    });
    // Escape leaves editing without changing the message.
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" && editing.get_untracked().is_some() {
            editing.set(None);
            if let Some(field) = input.get() {
                field.set_value("");
            }
        }
    };

    // Clicking a name starts a private message to them.
    let start_pm = Callback::new(move |name: String| {
        if let Some(field) = input.get() {
            field.set_value(&format!("/pm {name} "));
            let _ = field.focus();
        }
    });

    let login_href = format!("/login?next={}", percent_encode(&room.page_path()));
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
            <div class="room-body">
                <section class="conversation" aria-label="Conversation">
                    <ol id="log" class="log" node_ref=log aria-label="Messages" aria-live="polite" tabindex="0" on:scroll=on_scroll>
                        <li class="log-top">
                            {move || if loading_older.get() {
                                "Loading older messages…"
                            } else if older_available.get() {
                                "Scroll up for older messages"
                            } else if entries.with(Vec::is_empty) {
                                "No messages yet. Say hello!"
                            } else {
                                "This is the start of the room."
                            }}
                        </li>
                        <For each=move || entries.get() key=Entry::render_key let:entry>
                            {match entry {
                                Entry::Chat(m) => {
                                    let own = me.name().is_some_and(|me| me == m.user);
                                    let admin = me.get().is_some_and(|me| me.is_admin);
                                    let me = me.name();
                                    view! { <MessageItem own admin me m on_action /> }.into_any()
                                }
                                Entry::Private { incoming, peer, message, .. } => {
                                    view! { <PrivateItem incoming peer message /> }.into_any()
                                }
                            }}
                        </For>
                    </ol>
                    <p id="typing" class="typing" aria-live="polite">{move || typing_line(&typing.get())}</p>
                    <p id="notice" class="notice" role="alert">
                        {move || notice.get().map(|n| view! {
                            {n.text}
                            {n.login.then(|| view! { " " <a href=login_href.clone()>"Log in"</a> })}
                        })}
                    </p>
                    <p class="editing" hidden=move || editing.get().is_none()>
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
                            maxlength=crate::protocol::MESSAGE_MAX_CHARS.to_string()
                            on:input=on_input
                            on:keydown=on_keydown
                        />
                        <button type="submit">{move || if editing.get().is_some() { "Save" } else { "Send" }}</button>
                    </form>
                </section>
                <aside class="people" aria-labelledby="people-title">
                    <h2 id="people-title">
                        "Online " <span class="count">{move || users.with(Vec::len)}</span>
                    </h2>
                    <ul id="user-list">
                        <For each=move || users.get() key=|u| u.clone() let:name>
                            <Person is_me=me.name().as_deref() == Some(name.as_str()) name on_pick=start_pm />
                        </For>
                    </ul>
                    <p class="hint">"Click a name to send a private message."</p>
                </aside>
            </div>
        </main>
    }
}

/// "alice is typing…", "alice and bob are typing…", "3 people are typing…".
fn typing_line(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("{one} is typing…"),
        [a, b] => format!("{a} and {b} are typing…"),
        many => format!("{} people are typing…", many.len()),
    }
}

#[component]
fn MessageItem(
    m: ChatMessage,
    own: bool,
    admin: bool,
    me: Option<String>,
    on_action: Callback<MessageAction>,
) -> impl IntoView {
    let time = short_time(&m.ts);
    let seq = m.seq;
    let signed_in = me.is_some();
    // Own messages may be changed for 10 minutes (the server checks too).
    let recent = within_edit_window(&m.ts);
    let can_edit = own && recent && !m.deleted;
    let can_delete = !m.deleted && ((own && recent) || admin);
    let text = m.message.clone();
    let reactions = m
        .reactions
        .iter()
        .map(|r| {
            let mine = me.as_ref().is_some_and(|me| r.users.contains(me));
            let emoji = r.emoji.clone();
            let label = format!("{} {} — {}", r.emoji, r.users.len(), r.users.join(", "));
            view! {
                <button type="button" class="reaction" class:mine=mine aria-pressed=mine.to_string()
                    title=label.clone() aria-label=label disabled=!signed_in
                    on:click=move |_| on_action.run(MessageAction::React(seq, emoji.clone()))>
                    {r.emoji.clone()} " " <span class="n">{r.users.len()}</span>
                </button>
            }
        })
        .collect_view();
    view! {
        <li class="msg" class:own=own class:deleted=m.deleted data-seq=m.seq>
            <div class="meta">
                <span class="author">{m.user}</span>
                <time datetime=m.ts.clone() title=m.ts>
                    {time}
                </time>
                {m.edited_at.is_some().then(|| view! { <span class="edited">"(edited)"</span> })}
            </div>
            {if m.deleted {
                view! { <p class="text deleted">"message deleted"</p> }.into_any()
            } else {
                view! { <p class="text">{m.message}</p> }.into_any()
            }}
            <div class="reactions">{reactions}</div>
            {(signed_in && !m.deleted).then(|| view! {
                <div class="actions" role="toolbar" aria-label="Message actions">
                    {REACTIONS.map(|emoji| view! {
                        <button type="button" class="react" aria-label=format!("React with {emoji}")
                            on:click=move |_| on_action.run(MessageAction::React(seq, emoji.to_owned()))>
                            {emoji}
                        </button>
                    })}
                    {can_edit.then(|| view! {
                        <button type="button" class="edit" on:click=move |_| on_action.run(MessageAction::Edit(seq, text.clone()))>
                            "Edit"
                        </button>
                    })}
                    {can_delete.then(|| view! {
                        <button type="button" class="delete" on:click=move |_| on_action.run(MessageAction::Delete(seq))>
                            "Delete"
                        </button>
                    })}
                </div>
            })}
        </li>
    }
}

/// Whether a message sent at `ts` may still be edited or deleted by its author.
fn within_edit_window(ts: &str) -> bool {
    #[cfg(feature = "browser")]
    {
        let sent = js_sys::Date::parse(ts);
        !sent.is_nan() && now_ms() - sent < (EDIT_WINDOW_SECS * 1000) as f64
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = (ts, EDIT_WINDOW_SECS);
        false
    }
}

/// A person in the online list: a button that starts a private message.
#[component]
fn Person(name: String, is_me: bool, on_pick: Callback<String>) -> impl IntoView {
    let data = name.clone();
    if is_me {
        return view! {
            <li data-user=data>
                <span class="user me">{name}" (you)"</span>
            </li>
        }
        .into_any();
    }
    let label = format!("Send {name} a private message");
    let target = name.clone();
    view! {
        <li data-user=data>
            <button type="button" class="user" title=label.clone() aria-label=label
                on:click=move |_| on_pick.run(target.clone())>
                {name}
            </button>
        </li>
    }
    .into_any()
}

#[component]
fn PrivateItem(incoming: bool, peer: String, message: String) -> impl IntoView {
    let label = if incoming {
        format!("PM from {peer}")
    } else {
        format!("PM to {peer}")
    };
    view! {
        <li class="msg pm" class:own=!incoming data-pm=if incoming { "from" } else { "to" }>
            <div class="meta">
                <span class="author">{label}</span>
            </div>
            <p class="text">{message}</p>
        </li>
    }
}

/// Keeps the log ordered (room messages by `seq`) and free of duplicates,
/// whatever order messages arrive in.
fn insert_in_order(log: &mut Vec<Entry>, entry: Entry) {
    let key = entry.key();
    match log.last() {
        Some(last) if last.key() >= key => {
            if let Err(at) = log.binary_search_by_key(&key, Entry::key) {
                log.insert(at, entry);
            }
        }
        _ => log.push(entry),
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
    resume_from: impl Fn() -> Option<u64> + 'static,
    on_event: impl Fn(ServerEvent) + 'static,
    on_status: impl Fn(ConnStatus) + 'static,
) -> Connection {
    let socket = crate::client::RoomSocket::open(room, resume_from, on_event, on_status);
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
    _resume_from: impl Fn() -> Option<u64> + 'static,
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
            edited_at: None,
            deleted: false,
            reactions: Vec::new(),
        }
    }

    #[test]
    fn edits_and_reactions_change_the_render_key_not_the_order() {
        let mut log = vec![Entry::Chat(msg(1)), Entry::Chat(msg(2))];
        let before = log[1].render_key();
        change_message(&mut log, 2, |m| m.edited_at = Some("t".into()));
        assert_ne!(log[1].render_key(), before);
        assert_eq!(log[1].key(), (2, 0));
        change_message(&mut log, 9, |m| m.deleted = true);
        assert!(
            log.iter()
                .all(|e| matches!(e, Entry::Chat(m) if !m.deleted))
        );
    }

    #[test]
    fn log_stays_ordered_without_duplicates() {
        let mut log = Vec::new();
        for seq in [1, 3, 2, 3, 5, 4, 1] {
            insert_in_order(&mut log, Entry::Chat(msg(seq)));
        }
        let pm = Entry::Private {
            key: (3, 1),
            incoming: true,
            peer: "a".into(),
            message: "x".into(),
        };
        insert_in_order(&mut log, pm);
        let keys: Vec<_> = log.iter().map(Entry::key).collect();
        assert_eq!(keys, [(1, 0), (2, 0), (3, 0), (3, 1), (4, 0), (5, 0)]);
        assert_eq!(oldest_seq(&log), Some(1));
        assert_eq!(newest_seq(&log), 5);
        assert_eq!(contiguous_up_to(&log), Some(5));
        insert_in_order(&mut log, Entry::Chat(msg(7)));
        assert_eq!(contiguous_up_to(&log), Some(5), "6 is missing");
        assert_eq!(contiguous_up_to(&[]), None);
    }

    #[test]
    fn typing_line_reads_naturally() {
        assert_eq!(typing_line(&[]), "");
        assert_eq!(typing_line(&["al".into()]), "al is typing…");
        assert_eq!(
            typing_line(&["al".into(), "bo".into()]),
            "al and bo are typing…"
        );
        let three = ["a".into(), "b".into(), "c".into()];
        assert_eq!(typing_line(&three), "3 people are typing…");
    }

    #[test]
    fn server_side_time_falls_back_to_utc_clock() {
        assert_eq!(short_time("2026-11-21T10:05:00Z"), "10:05");
    }
}
