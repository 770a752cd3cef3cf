//! `/chat/<room>/`: the live log, the message box, who is online and the
//! connection status. `ChatRoom` makes the page's [`RoomState`], connects
//! the socket to it, shares it through context and lays out the children,
//! each in its own file:
//!
//! - [`log`]: the log as a plain type ([`log::RoomLog`]) with its unit tests;
//! - [`state`]: [`RoomState`], one method per server event, routing each
//!   to its part: [`scroll`] (following the newest, keeping one's place),
//!   [`unread`] (what arrived unseen), [`draft`] (the composer's box, edit,
//!   waits and notice), [`typing`]'s `WhoTypes`, [`sending`] (posts on
//!   their way, kept in [`outbox`] until the server has them), [`reading`]
//!   (the read marker every device of the person shares);
//! - [`message`]: the list, one message, its reactions and toolbar;
//! - [`composer`]: the message box and the notice line; [`mentions`]: the
//!   `@name` list under it;
//! - [`rich`]: a message's text as text, links and mentions;
//! - [`people`]: who is online; [`typing`]: who is typing;
//! - [`connection`]: the socket (browser) or nothing (server), and the
//!   status indicator;
//! - [`sidebar`]: the person's rooms and conversations with their unread
//!   counts (Alt+↑/↓ between them; a drawer on phones);
//! - [`alerts`]: what reaches a person not looking: the unread PM badge,
//!   "Notify me", and the page's hidden/shown signal.

mod alerts;
mod composer;
mod connection;
mod draft;
mod log;
mod mentions;
mod message;
mod outbox;
mod people;
mod reading;
pub(crate) mod rich;
mod scroll;
mod sending;
mod sidebar;
mod state;
mod typing;
mod unread;

use crate::{
    CurrentUser,
    lang::{page_title, room_name_error_text, t_string, tf, tr, use_i18n},
    names::{RoomName, Username, percent_encode},
    protocol::History,
    server_fns::{Entry, may_enter, room_preview},
};
use alerts::{NotifyButton, PmBadge, ReceiptsButton};
use composer::Composer;
use connection::{ConnectionStatus, connect};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use message::Messages;
use people::People;
use sidebar::{Sidebar, SidebarToggle};
use state::RoomState;
use typing::Typing;

#[component]
pub fn RoomPage() -> impl IntoView {
    let i18n = use_i18n();
    let params = use_params_map();
    let room = Memo::new(move |_| RoomName::parse(&params.read().get("room").unwrap_or_default()));
    // Keyed on the room: moving to another room builds a fresh page (and socket).
    move || {
        match room.get() {
        Ok(room) => view! { <AllowedRoom room /> }.into_any(),
        Err(e) => view! {
            <Title text=move || page_title(i18n.get_locale(), t_string!(i18n, room.invalid_title)) />
            <main class="page narrow">
                <h1>{tr!(i18n, room.invalid_heading)}</h1>
                <p class="form-error">{move || room_name_error_text(i18n.get_locale(), &e)}</p>
                <p>
                    <a href="/chat/">{tr!(i18n, back_to_lobby)}</a>
                </p>
            </main>
        }
        .into_any(),
    }
    }
}

/// The room, or a refusal (HTTP 403) if it is for admins only and the
/// visitor is not one.
#[component]
fn AllowedRoom(room: RoomName) -> impl IntoView {
    let i18n = use_i18n();
    let me = expect_context::<CurrentUser>();
    let asked = room.clone();
    let access = Resource::new_blocking(move || asked.clone(), may_enter);
    // Asked beside `access`, not after it: it checks the same rule itself.
    let asked = room.clone();
    let preview = Resource::new_blocking(move || asked.clone(), room_preview);
    let named = room.to_string();
    view! {
        // The room's name as the title, whatever the Suspense below does
        // while the server renders (it may build the page twice, and the
        // discarded `<Title>` can be gone when the head is written); the
        // page's own `<Title>`, with the unread count, comes later and wins.
        <Title text=move || page_title(i18n.get_locale(), &named) />
        <Suspense fallback=|| view! { <main class="page room"></main> }>
            {move || {
                let room = room.clone();
                Suspend::new(async move {
                match access.await {
                    Ok(Entry::Open) => {
                        // Who is reading decides how each message renders
                        // (own, mentions): known before the first one is.
                        let _ = me.0.await;
                        let preview = preview.await.ok().flatten();
                        view! { <ChatRoom room preview=preview /> }.into_any()
                    }
                    Ok(Entry::LooksLike(like)) => {
                        let (room, href, like) = (room.to_string(), like.page_path(), like.to_string());
                        let go_to = like.clone();
                        view! {
                        <Title text=move || page_title(i18n.get_locale(), t_string!(i18n, room.lookalike_title)) />
                        <main class="page narrow">
                            <h1>{tr!(i18n, room.lookalike_heading)}</h1>
                            <p class="form-error">
                                {Signal::derive(move || tf!(i18n.get_locale(), room.lookalike_body, room = &room, like = &like))}
                            </p>
                            <p><a href=href>{Signal::derive(move || tf!(i18n.get_locale(), room.go_to, room = &go_to))}</a></p>
                            <p><a href="/chat/">{tr!(i18n, back_to_lobby)}</a></p>
                        </main>
                    }.into_any()
                    }
                    Ok(Entry::AdminsOnly) => {
                        let room = room.to_string();
                        view! {
                        <Title text=move || page_title(i18n.get_locale(), t_string!(i18n, room.admins_title)) />
                        <main class="page narrow">
                            <h1>{tr!(i18n, room.admins_heading)}</h1>
                            <p class="form-error">
                                {Signal::derive(move || tf!(i18n.get_locale(), room.admins_body, room = &room))}
                            </p>
                            <p><a href="/chat/">{tr!(i18n, back_to_lobby)}</a></p>
                        </main>
                    }.into_any()
                    }
                    Err(e) => view! {
                        <main class="page narrow">
                            <h1>{tr!(i18n, room.cannot_open)}</h1>
                            <p class="form-error">{e.to_string()}</p>
                        </main>
                    }.into_any(),
                }
            })}}
        </Suspense>
    }
}

/// `/chat/dm/<peer>/`: the signed-in person's direct conversation with
/// `peer`, a room only the two of them can join. A visitor is asked to
/// log in; a name that cannot be a person's, or one's own, is explained.
#[component]
pub fn DirectPage() -> impl IntoView {
    let i18n = use_i18n();
    let params = use_params_map();
    let me = expect_context::<CurrentUser>();
    let peer = move || params.read().get("peer").unwrap_or_default();
    view! {
        // As in [`AllowedRoom`]: a title whatever the Suspense does.
        <Title text=move || page_title(i18n.get_locale(), &peer()) />
        <Suspense fallback=|| view! { <main class="page room"></main> }>
            {move || {
                let peer = peer();
                Suspend::new(async move {
                    let me = me.0.await.ok().flatten();
                    let mine = me.as_ref().and_then(|m| Username::parse_existing(&m.username).ok());
                    match (mine, Username::parse_existing(&peer)) {
                        (Some(mine), Ok(peer)) if mine != peer => {
                            let room = RoomName::direct(&mine, &peer);
                            view! { <ChatRoom room peer=peer.to_string() /> }.into_any()
                        }
                        (None, _) => {
                            let login = format!("/login?next={}", percent_encode(&RoomName::direct_page_path(&peer)));
                            view! {
                                <Title text=move || page_title(i18n.get_locale(), t_string!(i18n, direct.title)) />
                                <main class="page narrow">
                                    <h1>{tr!(i18n, direct.log_in_heading)}</h1>
                                    <p><a href=login>{tr!(i18n, composer.log_in)}</a></p>
                                </main>
                            }.into_any()
                        }
                        _ => view! {
                            <Title text=move || page_title(i18n.get_locale(), t_string!(i18n, direct.title)) />
                            <main class="page narrow">
                                <h1>{tr!(i18n, direct.invalid_heading)}</h1>
                                <p><a href="/chat/">{tr!(i18n, back_to_lobby)}</a></p>
                            </main>
                        }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// A room's page, or a direct conversation's (`peer`: the other person).
#[component]
fn ChatRoom(
    room: RoomName,
    #[prop(optional, into)] peer: Option<String>,
    /// The newest messages, as the server rendered them with the page.
    #[prop(default = None)]
    preview: Option<History>,
) -> impl IntoView {
    let path = match &peer {
        Some(peer) => RoomName::direct_ws_path(peer),
        None => room.ws_path(),
    };
    let state = RoomState::new(expect_context::<CurrentUser>(), room.clone(), peer.clone());
    if let Some(page) = preview {
        state.seed(page);
    }
    let socket = connect(
        &path,
        move || state.resume_from(),
        move |event| state.apply(event),
        move |status| state.on_status(status),
    );
    state.set_connection(socket);
    provide_context(state);
    // In the browser only: what an earlier visit left unsent goes now.
    Effect::new(move |_| state.restore_outbox());
    alerts::follow_visibility(state);
    let drawer = RwSignal::new(false);
    let (i18n, label) = (state.i18n, state.label());
    let title = move || {
        state
            .title()
            .unwrap_or_else(|| page_title(i18n.get_locale_untracked(), &label))
    };
    view! {
        <Title text=title />
        <main class="page room">
            <div class="room-head">
                <SidebarToggle open=drawer />
                <a class="back" href="/chat/" aria-label=tr!(state.i18n, back_to_lobby)>
                    "←"
                </a>
                <h1 class="room-title" class:direct=peer.is_some()>
                    {peer.is_some().then(|| view! {
                        <span class="direct-mark" aria-hidden="true">"✉ "</span>
                        <span class="visually-hidden">{tr!(state.i18n, direct.with)} " "</span>
                    })}
                    {state.label()}
                </h1>
                <PmBadge />
                {peer.is_some().then(|| view! { <ReceiptsButton /> })}
                <NotifyButton />
                <ConnectionStatus />
            </div>
            <div class="room-body">
                <Sidebar open=drawer />
                <section class="conversation" aria-label=tr!(state.i18n, room.conversation)>
                    <Messages />
                    <Typing />
                    <Composer room />
                </section>
                <People />
            </div>
        </main>
    }
}
