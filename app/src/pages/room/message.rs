//! The log as people see it: the scrolling list ([`Messages`]), one room
//! message with its reactions and its toolbar ([`MessageItem`]), one
//! private message ([`PrivateItem`]). What a toolbar button does is a
//! [`MessageAction`], carried out by [`act`].

use super::{
    log::{Entry, RoomLog},
    outbox::Pending,
    rich::{Piece, mentions_name, pieces},
    state::RoomState,
};
use crate::{
    Hydrated,
    browser::{short_time, utc_clock, within_edit_window},
    lang::{code, tf, tr, use_i18n},
    protocol::{ChatMessage, ClientFrame, Emoji},
};
use leptos::prelude::*;

/// The reactions offered on every message.
const REACTIONS: [&str; 5] = ["👍", "❤️", "😂", "🎉", "😮"];

/// What a person can do to a message from its toolbar.
#[derive(Clone, Debug, PartialEq)]
pub enum MessageAction {
    React(u64, String),
    Edit(u64, String),
    Delete(u64),
}

/// In a direct conversation, the seq of the last of our messages the
/// other person has read: "Seen" goes under it.
#[derive(Clone, Copy)]
struct SeenMark(Memo<Option<u64>>);

/// Carries out a toolbar action: a frame to the server, or editing in the
/// composer.
fn act(state: RoomState, action: MessageAction) {
    match action {
        MessageAction::React(seq, emoji) => {
            if let Ok(emoji) = Emoji::parse(&emoji) {
                state.send(ClientFrame::React { seq, emoji });
            }
        }
        MessageAction::Delete(seq) => state.send(ClientFrame::Delete { seq }),
        MessageAction::Edit(seq, text) => {
            state.draft.edit(seq, &text);
        }
    }
}

/// The scrolling log: newest at the bottom, older pages loaded on the way up.
#[component]
pub fn Messages() -> impl IntoView {
    let state = expect_context::<RoomState>();
    // Follow new messages, unless the reader has scrolled up to read older
    // ones; when older ones were put on top, keep what the reader was looking at.
    Effect::new(move |_| {
        state.log.track();
        state.scroll.keep_place();
    });
    let on_action = Callback::new(move |action| act(state, action));
    // Which of our messages the other person has read last (one memo for
    // the whole log; each message only compares its seq).
    provide_context(SeenMark(Memo::new(move |_| state.seen_mark())));
    view! {
        <ol id="log" class="log" node_ref=state.scroll.view aria-label=tr!(state.i18n, log.label) aria-live="polite"
            tabindex="0" on:scroll=move |_| state.on_scroll()>
            <li class="log-top">{move || state.log_top()}</li>
            <For each=move || state.log.with(|l: &RoomLog| l.entries().to_vec()) key=Entry::render_key let:entry>
                {match entry {
                    Entry::Chat(m) => {
                        let own = state.is_me(&m.user);
                        let admin = state.me.get().is_some_and(|me| me.is_admin);
                        let me = state.me.name();
                        view! { <MessageItem own admin me m on_action /> }.into_any()
                    }
                    Entry::Private { incoming, peer, message, .. } => {
                        view! { <PrivateItem incoming peer message /> }.into_any()
                    }
                }}
            </For>
            <For each=move || state.sending.outbox.with(|o| o.items().to_vec())
                key=|p: &Pending| (p.client_id.clone(), p.failed.clone(), p.stored_as) let:pending>
                <PendingItem pending />
            </For>
        </ol>
     }
    // Erased: the room's view type stays shallow enough for release builds.
    .into_any()
}

#[component]
fn MessageItem(
    m: ChatMessage,
    own: bool,
    admin: bool,
    me: Option<String>,
    on_action: Callback<MessageAction>,
) -> impl IntoView {
    let i18n = use_i18n();
    // The server renders the first messages of a room's page; the browser
    // takes that HTML over as it is, so what only the browser knows (the
    // reader's time zone, the edit window on their clock) is shown once
    // it is live, and both render the same message first.
    let hydrated = expect_context::<Hydrated>();
    let (ts, sent_at) = (m.ts.clone(), m.ts.clone());
    let time = move || {
        if hydrated.get() {
            short_time(&ts, code(i18n.get_locale()))
        } else {
            utc_clock(&ts)
        }
    };
    let signed_in = me.is_some();
    let (seq, text, deleted) = (m.seq, m.message.clone(), m.deleted);
    let toolbar = move || {
        // Own messages may be changed within EDIT_WINDOW_SECS (the server checks too).
        let recent = within_edit_window(&sent_at);
        let can_edit = own && recent && !deleted;
        let can_delete = !deleted && ((own && recent) || admin);
        (hydrated.get() && signed_in && !deleted).then(|| {
            view! { <Toolbar seq text=text.clone() can_edit can_delete on_action /> }
        })
    };
    let mentions_me = !own && me.as_ref().is_some_and(|me| mentions_name(&m.message, me));
    let reactions = view! { <Reactions m=m.clone() me on_action /> };
    let state = expect_context::<RoomState>();
    view! {
        <li class="msg" class:own=own class:deleted=m.deleted class:mentions-me=mentions_me data-seq=m.seq>
            {move || (state.unread.first.get() == Some(seq)).then(|| view! {
                <div class="new-divider" role="separator" aria-label=tr!(i18n, log.new_messages)>
                    <span>{tr!(i18n, log.new_messages)}</span>
                </div>
            })}
            <div class="meta">
                <span class="author" dir="auto">{m.user}</span>
                <time datetime=m.ts.clone() title=m.ts>
                    {time}
                </time>
                {m.edited_at.is_some().then(|| view! { <span class="edited">{tr!(i18n, log.edited)}</span> })}
            </div>
            {if m.deleted {
                view! { <p class="text deleted">{tr!(i18n, log.deleted)}</p> }.into_any()
            } else {
                // Its own direction, isolated: a message in Hebrew or one
                // with direction controls never turns the page around it.
                view! { <p class="text" dir="auto"><RichText text=m.message /></p> }.into_any()
            }}
            {reactions}
            {toolbar}
            {own.then(|| {
                let seen = expect_context::<SeenMark>().0;
                move || (seen.get() == Some(seq)).then(|| view! {
                    <p class="seen">{tr!(i18n, log.seen)}</p>
                })
            })}
        </li>
    }
}

/// A message's text with its links clickable and its mentions marked,
/// each built as an element around a text node (never as HTML).
#[component]
fn RichText(text: String) -> impl IntoView {
    let me = expect_context::<RoomState>().me.name();
    pieces(&text)
        .into_iter()
        .map(|piece| match piece {
            Piece::Text(t) => t.to_owned().into_any(),
            Piece::Link(url) => view! {
                <a href=url.to_owned() target="_blank" rel="noopener noreferrer nofollow">{url.to_owned()}</a>
            }
            .into_any(),
            Piece::Mention(name) => {
                let mine = me.as_ref().is_some_and(|me| me.to_lowercase() == name.to_lowercase());
                view! { <span class="mention" class:me=mine>"@" {name.to_owned()}</span> }.into_any()
            }
        })
        .collect_view()
}

/// The reactions a message has, each a button that toggles one's own.
#[component]
fn Reactions(
    m: ChatMessage,
    me: Option<String>,
    on_action: Callback<MessageAction>,
) -> impl IntoView {
    let seq = m.seq;
    let signed_in = me.is_some();
    let buttons = m
        .reactions
        .into_iter()
        .map(|r| {
            let mine = me.as_ref().is_some_and(|me| r.users.contains(me));
            let emoji = r.emoji.clone();
            let label = format!("{} {} — {}", r.emoji, r.users.len(), r.users.join(", "));
            view! {
                <button type="button" class="reaction" class:mine=mine aria-pressed=mine.to_string()
                    title=label.clone() aria-label=label disabled=!signed_in
                    on:click=move |_| on_action.run(MessageAction::React(seq, emoji.clone()))>
                    {r.emoji} " " <span class="n">{r.users.len()}</span>
                </button>
            }
        })
        .collect_view();
    view! { <div class="reactions">{buttons}</div> }
}

/// React, edit, delete: what the reader may do to this message. Delete
/// asks first, in place: "Yes, delete" takes the focus (Enter deletes),
/// Esc or "Keep" keeps the message.
#[component]
fn Toolbar(
    seq: u64,
    text: String,
    can_edit: bool,
    can_delete: bool,
    on_action: Callback<MessageAction>,
) -> impl IntoView {
    let i18n = use_i18n();
    let confirming = RwSignal::new(false);
    let confirm = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if confirming.get()
            && let Some(button) = confirm.get()
        {
            let _ = button.focus();
        }
    });
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            confirming.set(false);
        }
    };
    let question = move || {
        confirming.get().then(|| view! {
        <div class="confirm" role="group" aria-label=tr!(i18n, log.delete_question) on:keydown=on_keydown>
            <span>{tr!(i18n, log.delete_question)}</span>
            <button type="button" class="confirm-delete" node_ref=confirm
                on:click=move |_| { confirming.set(false); on_action.run(MessageAction::Delete(seq)) }>
                {tr!(i18n, log.yes_delete)}
            </button>
            <button type="button" class="keep" on:click=move |_| confirming.set(false)>{tr!(i18n, log.keep)}</button>
        </div>
    })
    };
    let buttons = view! {
        <div class="actions" role="toolbar" aria-label=tr!(i18n, log.actions)>
            {REACTIONS.map(|emoji| view! {
                <button type="button" class="react" aria-label=Signal::derive(move || tf!(i18n.get_locale(), log.react_with, emoji = emoji))
                    on:click=move |_| on_action.run(MessageAction::React(seq, emoji.to_owned()))>
                    {emoji}
                </button>
            })}
            {can_edit.then(|| view! {
                <button type="button" class="edit" on:click=move |_| on_action.run(MessageAction::Edit(seq, text.clone()))>
                    {tr!(i18n, log.edit)}
                </button>
            })}
            {can_delete.then(|| view! {
                <button type="button" class="delete" aria-expanded=move || confirming.get().to_string()
                    on:click=move |_| confirming.set(true)>
                    {tr!(i18n, log.delete)}
                </button>
            })}
        </div>
    };
    view! { {buttons} {question} }
}

#[component]
fn PrivateItem(incoming: bool, peer: String, message: String) -> impl IntoView {
    let i18n = use_i18n();
    let label = move || {
        let locale = i18n.get_locale();
        if incoming {
            tf!(locale, log.pm_from, peer = &peer)
        } else {
            tf!(locale, log.pm_to, peer = &peer)
        }
    };
    view! {
        <li class="msg pm" class:own=!incoming data-pm=if incoming { "from" } else { "to" }>
            <div class="meta">
                <span class="author">{label}</span>
            </div>
            <p class="text" dir="auto">{message}</p>
        </li>
    }
}

/// A message of ours the server has not stored yet: "Sending…", or why it
/// was refused with Retry and Discard. Drawn like our own messages, after
/// the log; it leaves when its stored copy arrives.
#[component]
fn PendingItem(pending: Pending) -> impl IntoView {
    let state = expect_context::<RoomState>();
    let i18n = state.i18n;
    let id = pending.client_id.clone();
    let sending = pending.failed.is_none() && pending.stored_as.is_none();
    let is_edit = pending.edit_of.is_some();
    let failed = pending.failed.is_some();
    let failure = pending.failed.map(|why| {
        let (retry, discard) = (id.clone(), id.clone());
        let why = Signal::derive(move || tf!(i18n.get_locale(), log.not_sent, why = &why));
        view! {
            <div class="not-sent" role="group" aria-label=why>
                <span class="why">{why}</span>
                <button type="button" class="retry" on:click=move |_| state.retry(&retry)>
                    {tr!(i18n, log.retry)}
                </button>
                <button type="button" class="discard" on:click=move |_| state.discard(&discard)>
                    {tr!(i18n, log.discard)}
                </button>
            </div>
        }
    });
    view! {
        <li class="msg own pending" class:failed=failed class:edit=is_edit data-client-id=id.as_str().to_owned()>
            <div class="meta">
                <span class="author" dir="auto">{pending.user}</span>
                {(sending && !is_edit).then(|| view! { <span class="sending">{tr!(i18n, log.sending)}</span> })}
                {(sending && is_edit).then(|| view! { <span class="sending">{tr!(i18n, log.saving_edit)}</span> })}
            </div>
            <p class="text" dir="auto">{pending.text}</p>
            {failure}
        </li>
    }
}
